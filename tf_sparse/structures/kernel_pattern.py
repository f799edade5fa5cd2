"""Kernel-pattern + connectivity sparsity (PatDNN / PCONV) for 3x3 convolutions."""

from __future__ import annotations

import itertools
import numbers

import numpy as np

from tf_sparse.structures.base import Structure, check_finite, register_structure
from tf_sparse.structures.select import num_pruned, prune_lowest

#: Bit of position (y, x) of a 3x3 kernel is ``3 * y + x``; the centre is bit 4.
CENTRE_BIT = 1 << 4

#: The 56 candidate patterns: 4 entries, centre included, in lexicographic order of the three
#: off-centre positions. A pattern's id is its index here.
CANDIDATE_PATTERNS: tuple = tuple(
    CENTRE_BIT | sum(1 << p for p in combo) for combo in itertools.combinations((0, 1, 2, 3, 5, 6, 7, 8), 3)
)


def pattern_to_array(mask: int) -> np.ndarray:
    """A 9-bit pattern as a 3x3 0/1 array."""
    return np.array([(int(mask) >> p) & 1 for p in range(9)], dtype=np.int8).reshape(3, 3)


def _to_mask(p, owner="KernelPattern"):
    if isinstance(p, numbers.Integral) and not isinstance(p, bool):
        mask = int(p)
    else:
        a = np.asarray(p)
        if a.shape != (3, 3) or not np.isin(a, (0, 1)).all():
            raise ValueError(
                f"{owner}: `library` entries must be 9-bit masks (bit 3*y+x) or 3x3 0/1 arrays, got {p!r}"
            )
        mask = int(sum(1 << i for i, v in enumerate(a.ravel()) if v))
    if mask not in CANDIDATE_PATTERNS:
        raise ValueError(
            f"{owner}: `library` entries must have exactly 4 entries including the centre (one of "
            f"the 56 candidates), got {mask:#011b}"
        )
    return mask


def _pattern_matrix(masks) -> np.ndarray:
    """(9, K) 0/1 matrix: column k is pattern k."""
    masks = np.asarray(masks, dtype=np.int64)
    return ((masks[None, :] >> np.arange(9)[:, None]) & 1).astype(np.float64)


def kernels_9(kernel: np.ndarray) -> np.ndarray:
    """A (3, 3, in, out) kernel as (out, in, 9): one row per 3x3 kernel, position ``3*y+x``."""
    cout, cin = kernel.shape[3], kernel.shape[2]
    return np.transpose(kernel, (3, 2, 0, 1)).reshape(cout, cin, 9)


def from_kernels_9(k9: np.ndarray, shape: tuple) -> np.ndarray:
    """Inverse of :func:`kernels_9`."""
    _, _, cin, cout = shape
    return np.ascontiguousarray(np.transpose(k9.reshape(cout, cin, 3, 3), (2, 3, 1, 0)))


def _check_3x3(kernel: np.ndarray, owner: str):
    if kernel.ndim != 4 or kernel.shape[:2] != (3, 3):
        raise ValueError(
            f"{owner}: 4-entry kernel patterns need a 3x3 Conv2D kernel (3, 3, in, out); got kernel "
            f"shape {tuple(kernel.shape)}. Use Filter, Channel or Unstructured for 1x1 convolutions "
            f"and Dense layers."
        )


def natural_pattern_counts(kernels) -> np.ndarray:
    """Histogram (length 56) of the natural patterns of every non-zero 3x3 kernel.

    A kernel's natural pattern is the candidate of largest ``||w * P||``: the centre plus its three
    largest off-centre magnitudes (ties: the lower candidate id).
    """
    if not isinstance(kernels, (list, tuple)):
        got = type(kernels).__name__ + (f" of shape {tuple(kernels.shape)}" if hasattr(kernels, "shape") else "")
        raise TypeError(
            f"KernelPattern: `kernels` must be a list of (3, 3, in, out) kernels, got {got}; wrap a "
            "single kernel in a list"
        )
    pm = _pattern_matrix(CANDIDATE_PATTERNS)
    counts = np.zeros(len(CANDIDATE_PATTERNS), dtype=np.int64)
    for i, kernel in enumerate(kernels):
        kernel = np.asarray(kernel)
        _check_3x3(kernel, "KernelPattern")
        check_finite(kernel, "KernelPattern library extraction", f"kernels[{i}]")
        k9 = kernels_9(kernel).reshape(-1, 9)
        k9 = k9[np.any(k9 != 0, axis=1)]
        if k9.size:
            best = (np.square(k9, dtype=np.float64) @ pm).argmax(axis=1)
            counts += np.bincount(best, minlength=len(CANDIDATE_PATTERNS))
    return counts


def extract_library(kernels, num_patterns: int = 8) -> list:
    """Pattern library from trained 3x3 kernels: the ``num_patterns`` most frequent natural
    patterns (PatDNN's one-shot frequency method), most frequent first; ties by candidate id.

    Args:
      kernels: a list of (3, 3, in, out) kernels (all 3x3 layers of a model, typically).
      num_patterns: library size K, 1..56.

    Returns:
      A list of K 9-bit masks.
    """
    counts = natural_pattern_counts(kernels)
    order = np.lexsort((np.arange(counts.size), -counts))
    return [CANDIDATE_PATTERNS[i] for i in order[:num_patterns]]


def supports_9(k9: np.ndarray) -> np.ndarray:
    """9-bit support mask of every kernel of a (..., 9) array."""
    return ((k9 != 0).astype(np.int64) << np.arange(9)).sum(axis=-1)


def assign_patterns(supports: np.ndarray, library=None, max_patterns=None):
    """Chooses a pattern for every non-zero kernel support.

    With a ``library``, each support gets the first library pattern that covers it. Without one,
    a small cover is built from the 56 candidates: patterns that are the only cover of some
    support first, then greedily the pattern covering the most uncovered supports (ties: lower
    candidate id); the list is then sorted by candidate id.

    Args:
      supports: 9-bit support masks (0 for an all-zero kernel).
      library: optional list of 9-bit masks.
      max_patterns: optional bound on the cover size (no library only).

    Returns:
      ``(patterns, ids)``: the list of 9-bit masks used and, per support, the index of its pattern
      in that list (-1 for zero kernels), or ``(None, None)`` when some support fits no pattern or
      the cover needs more than ``max_patterns``.
    """
    supports = np.asarray(supports, dtype=np.int64)
    uniq, inverse = np.unique(supports, return_inverse=True)
    nz = uniq != 0
    if library is not None:
        pats = [int(p) for p in library]
    else:
        cand = np.asarray(CANDIDATE_PATTERNS, dtype=np.int64)
        covers = (uniq[nz][:, None] & ~cand[None, :] & 0x1FF) == 0  # (U, 56)
        if covers.shape[0] and not covers.any(axis=1).all():
            return None, None
        chosen = set(np.flatnonzero(covers[covers.sum(axis=1) == 1].any(axis=0)).tolist())
        uncovered = ~covers[:, sorted(chosen)].any(axis=1) if chosen else np.ones(covers.shape[0], bool)
        while uncovered.any():
            gain = covers[uncovered].sum(axis=0)
            best = int(np.argmax(gain))
            chosen.add(best)
            uncovered &= ~covers[:, best]
        pats = [CANDIDATE_PATTERNS[i] for i in sorted(chosen)]
        if max_patterns is not None and len(pats) > max_patterns:
            return None, None
    pm = np.asarray(pats, dtype=np.int64)
    uid = np.full(uniq.size, -1, dtype=np.int64)
    if nz.any():
        fits = (uniq[nz][:, None] & ~pm[None, :] & 0x1FF) == 0 if pm.size else np.zeros((nz.sum(), 0), bool)
        if not fits.any(axis=1).all():
            return None, None
        uid[nz] = fits.argmax(axis=1)
    return pats, uid[inverse].reshape(supports.shape)


def _check_connectivity(value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (0.0 <= float(value) < 1.0):
        raise ValueError(
            f"KernelPattern: `connectivity` (fraction of 3x3 kernels removed) must be in [0, 1), got {value!r}"
        )
    return float(value)


def _check_filter_block(value, owner):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{owner}: `filter_block` must be an integer >= 1, got {value!r}")
    return int(value)


def _block_sums(k9: np.ndarray, block: int) -> np.ndarray:
    """(out, in, 9) -> (ceil(out / block), in, 9): sums over ``block`` consecutive filters (the last
    block may be shorter)."""
    out = k9.shape[0]
    blocks = -(-out // block)
    padded = np.zeros((blocks * block,) + k9.shape[1:], dtype=k9.dtype)
    padded[:out] = k9
    return padded.reshape(blocks, block, *k9.shape[1:]).sum(axis=1)


def _expand_blocks(kb: np.ndarray, block: int, out: int) -> np.ndarray:
    """Inverse shape of :func:`_block_sums`: every filter of a block gets its block's value."""
    return np.repeat(kb, block, axis=0)[:out]


@register_structure
class KernelPattern(Structure):
    """Kernel-pattern pruning with connectivity pruning (PatDNN / PCONV), 3x3 convolutions only.

    Every kept 3x3 kernel ``kernel[:, :, i, o]`` keeps exactly the 4 entries of one pattern of a
    library of ``num_patterns`` patterns; every pattern keeps the centre, so there are 56
    candidates (``CANDIDATE_PATTERNS``). Connectivity pruning removes a fraction
    ``connectivity`` of the ``in * out`` kernels entirely. Weight sparsity:
    ``1 - 4/9 * (1 - connectivity)`` (0.556 with no connectivity pruning).

    Closed form for a fixed library: each kernel's best pattern is ``argmax_P ||w * P||`` (ties: the
    earlier library entry) and the projection keeps the ``n - floor(c * n + 0.5)`` kernels whose
    best-pattern energy is largest (ties: the lower kernel index ``o * in + i`` is pruned
    first). This is the Euclidean projection onto the intersection of the two constraint sets.
    (PatDNN's hardening ranks kernels by their full norm before applying patterns; ranking by the
    pattern-projected norm is what makes the joint projection exact.)

    Library: ``library=None`` extracts one from the kernel being projected (the natural-pattern
    histogram, :func:`extract_library`), a heuristic that makes each call data-dependent. For
    training (ADMM, masks), fix the library once from the pretrained weights of all 3x3 layers
    with :meth:`fit_library`.

    ``sparsity`` passed to ``project``/``mask``/``is_valid`` sets the connectivity that reaches it:
    ``c = max(0, 1 - 9/4 * (1 - s))``; below 5/9 only the patterns are applied and
    ``achieved_sparsity`` reports the 5/9 reached.

    Filter blocks: with ``filter_block = g > 1`` the kernels of ``g`` consecutive filters (output
    channels ``g*b .. g*b + g - 1``) at the same input channel form one unit: they share one
    pattern (the one of largest summed energy) and connectivity keeps or removes them together
    (a fraction ``connectivity`` of the units; the last block of filters may be shorter). The
    projection stays exact (the same closed form over units). On ``SparseDepthwiseConv2D``, whose
    filters are its channels, ``filter_block=16`` lines the patterns up with the delegate's
    AVX-512 channel vectors (8 for AVX2, 4 for NEON): a vector then runs 4 taps instead of the
    union of 16 channels' patterns (nearly all 9), and a removed block costs nothing.

    Compact format: PatDNN's filter-kernel-weight layout (``tf_sparse.formats.encode_fkw``).

    Args:
      num_patterns: library size K, 1..56 (PatDNN reports 8 as the best trade-off).
      connectivity: fraction of 3x3 kernels (or filter blocks of kernels) removed, in [0, 1).
      library: optional list of K patterns, each a 9-bit mask (bit ``3*y+x``) or a 3x3 0/1 array
        with 4 ones including the centre.
      filter_block: consecutive filters whose kernels at one input channel share a pattern and
        are removed together (>= 1; 1: every kernel on its own).

    Raises:
      ValueError: at ``project``/``mask``/``is_valid`` time for a kernel that is not 3x3.

    Example:
      >>> k = np.random.default_rng(0).standard_normal((3, 3, 8, 16)).astype(np.float32)
      >>> s = KernelPattern(num_patterns=4, connectivity=0.5).fit_library([k])
      >>> p = s.project(k)
      >>> int(np.count_nonzero(p)), s.is_valid(p)
      (256, True)
    """

    kernel_ranks = (4,)

    def __init__(self, num_patterns: int = 8, connectivity: float = 0.5, library=None, filter_block: int = 1):
        self.filter_block = _check_filter_block(filter_block, "KernelPattern")
        if (
            isinstance(num_patterns, bool)
            or not isinstance(num_patterns, numbers.Integral)
            or not 1 <= num_patterns <= len(CANDIDATE_PATTERNS)
        ):
            raise ValueError(f"KernelPattern: `num_patterns` must be an integer in [1, 56], got {num_patterns!r}")
        self.num_patterns = int(num_patterns)
        self.connectivity = _check_connectivity(connectivity)
        if library is not None:
            if isinstance(library, (str, bytes)) or not isinstance(library, (list, tuple, np.ndarray)):
                raise TypeError(
                    f"KernelPattern: `library` must be None or a list of {self.num_patterns} patterns "
                    f"(9-bit masks or 3x3 0/1 arrays), got {library!r}"
                )
            library = [_to_mask(p) for p in library]
            if len(set(library)) != len(library):
                raise ValueError(f"KernelPattern: `library` entries must be distinct, got {library}")
            if len(library) != self.num_patterns:
                raise ValueError(
                    f"KernelPattern: `num_patterns` ({self.num_patterns}) must equal the number of "
                    f"`library` entries ({len(library)})"
                )
        self.library = library
        super().__init__(1.0 - 4.0 / 9.0 * (1.0 - self.connectivity))

    def get_config(self):
        return {
            "num_patterns": self.num_patterns,
            "connectivity": self.connectivity,
            "library": None if self.library is None else list(self.library),
            "filter_block": self.filter_block,
        }

    def fit_library(self, kernels) -> "KernelPattern":
        """A copy of this structure whose library is extracted from ``kernels`` (3x3 kernels)."""
        return KernelPattern(
            self.num_patterns, self.connectivity, extract_library(kernels, self.num_patterns), self.filter_block
        )

    def connectivity_for(self, sparsity=None) -> float:
        """Fraction of kernels removed to reach ``sparsity`` (``None``: the own connectivity)."""
        if sparsity is None:
            return self.connectivity
        return max(0.0, 1.0 - 9.0 / 4.0 * (1.0 - float(sparsity)))

    def _resolve_sparsity(self, sparsity):
        return None if sparsity is None else super()._resolve_sparsity(sparsity)

    def _check_kernel(self, kernel):
        kernel = super()._check_kernel(kernel)
        _check_3x3(kernel, "KernelPattern")
        return kernel

    def _library_for(self, kernel):
        return self.library if self.library is not None else extract_library([kernel], self.num_patterns)

    def _keep9(self, kernel, sparsity):
        k9 = kernels_9(kernel)  # (out, in, 9)
        units = _block_sums(np.square(k9, dtype=np.float64), self.filter_block).reshape(-1, 9)
        pm = _pattern_matrix(self._library_for(kernel))  # (9, K)
        energy = units @ pm
        best = energy.argmax(axis=1)
        best_energy = energy[np.arange(energy.shape[0]), best]
        pruned = prune_lowest(best_energy, num_pruned(units.shape[0], self.connectivity_for(sparsity)))
        keep = pm.T[best].astype(bool)
        keep[pruned] = False
        return _expand_blocks(keep.reshape(-1, k9.shape[1], 9), self.filter_block, k9.shape[0])

    def _keep_kernel(self, kernel, sparsity):
        return from_kernels_9(self._keep9(kernel, sparsity), kernel.shape)

    def _is_valid_kernel(self, kernel, sparsity):
        # The support of a unit is the union of its kernels' supports.
        nonzero = (kernels_9(kernel) != 0).astype(np.int64)
        supports = supports_9(_block_sums(nonzero, self.filter_block).reshape(-1, 9))
        n = supports.size
        if np.count_nonzero(supports) > n - num_pruned(n, self.connectivity_for(sparsity)):
            return False
        pats, _ = assign_patterns(supports, self.library, max_patterns=self.num_patterns)
        return pats is not None

    def admm_constraints(self):
        """The two constraint sets of PatDNN's extended ADMM: the pattern set (each kernel on
        one library pattern) and the connectivity set (at most a fraction of the kernels kept),
        each with its own Z and U; ``project`` is their exact joint projection, used when
        hardening."""
        return [
            KernelPattern(self.num_patterns, 0.0, self.library, self.filter_block),
            Connectivity(self.connectivity, self.filter_block),
        ]

    def group_ids(self, kernel) -> np.ndarray:
        """Unit index ``(o // filter_block) * in + i`` of every entry: the connectivity groups."""
        kernel = self._check_kernel(kernel)
        return _unit_ids(kernel, self.filter_block)


def _unit_ids(kernel, block):
    _, _, cin, cout = kernel.shape
    unit = (np.arange(cout)[:, None] // block) * cin + np.arange(cin)[None, :]
    return from_kernels_9(np.repeat(unit[:, :, None], 9, axis=2), kernel.shape)


@register_structure
class Connectivity(Structure):
    """Connectivity pruning alone: removes a fraction ``connectivity`` of the whole 3x3 kernels
    (input-output connections) with the smallest L2 norm (ties: the lower ``o * in + i`` first).

    The Euclidean projection onto "at most k nonzero kernels". ADMM uses it, beside
    ``KernelPattern(..., connectivity=0)``, as the second constraint set of PatDNN's extended
    ADMM (``KernelPattern.admm_constraints``). With ``filter_block = g`` the kernels of ``g``
    consecutive filters at one input channel are removed together (by their summed energy).
    """

    kernel_ranks = (4,)

    def __init__(self, connectivity: float = 0.5, filter_block: int = 1):
        self.connectivity = _check_connectivity(connectivity)
        self.filter_block = _check_filter_block(filter_block, "Connectivity")
        super().__init__(self.connectivity)

    def get_config(self):
        return {"connectivity": self.connectivity, "filter_block": self.filter_block}

    def _check_kernel(self, kernel):
        kernel = super()._check_kernel(kernel)
        _check_3x3(kernel, "Connectivity")
        return kernel

    def _fraction(self, sparsity):
        return self.connectivity if sparsity is None else float(sparsity)

    def _keep_kernel(self, kernel, sparsity):
        k9 = kernels_9(kernel)
        energy = _block_sums(np.square(k9, dtype=np.float64), self.filter_block).sum(axis=2).ravel()
        pruned = prune_lowest(energy, num_pruned(energy.size, self._fraction(sparsity)))
        keep = np.repeat(~pruned.reshape(-1, k9.shape[1], 1), 9, axis=2)
        return from_kernels_9(_expand_blocks(keep, self.filter_block, k9.shape[0]), kernel.shape)

    def _is_valid_kernel(self, kernel, sparsity):
        units = _block_sums((kernels_9(kernel) != 0).astype(np.int64), self.filter_block).reshape(-1, 9)
        nonzero = np.count_nonzero(units.any(axis=1))
        return nonzero <= units.shape[0] - num_pruned(units.shape[0], self._fraction(sparsity))

    def group_ids(self, kernel) -> np.ndarray:
        """Unit index ``(o // filter_block) * in + i`` of every entry."""
        kernel = self._check_kernel(kernel)
        return _unit_ids(kernel, self.filter_block)

