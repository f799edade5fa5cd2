"""N:M sparsity: at most n non-zeros in every m consecutive weights of the reduction axis."""

from __future__ import annotations

import numbers

import numpy as np

from tf_sparse.structures.base import Structure, register_structure
from tf_sparse.structures.select import num_pruned


def _check_nm(n, m):
    for name, value in (("n", n), ("m", m)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"NM: `{name}` must be a positive integer, got {value!r}")
    if n > m:
        raise ValueError(f"NM: `n` must be <= `m` (keep n of every m weights), got n={n}, m={m}")
    if m > 256:
        raise ValueError(f"NM: `m` must be at most 256 (indices are stored in one byte), got {m}")
    return int(n), int(m)


def nm_groups(w2: np.ndarray, m: int) -> np.ndarray:
    """The GEMM view as ``(rows, ceil(cols / m), m)``; a ragged last group is zero-padded."""
    rows, cols = w2.shape
    g = -(-cols // m)
    if g * m != cols:
        padded = np.zeros((rows, g * m), dtype=w2.dtype)
        padded[:, :cols] = w2
        w2 = padded
    return w2.reshape(rows, g, m)


@register_structure
class NM(Structure):
    """N:M fine-grained structured sparsity along the reduction axis (2:4, 1:4, 4:8, ...).

    The GEMM view's columns (the reduction axis: inputs of a Dense layer; ``(y, x, in)`` with the
    input channel fastest for a Conv2D) are cut into consecutive groups of ``m``; each group keeps
    at most ``n`` non-zeros. When ``m`` does not divide the number of columns, the last group is
    shorter and treated as zero-padded (it keeps at most ``n`` too).

    Closed form: the projection keeps the ``n`` largest magnitudes of every group, the Euclidean
    projection onto the N:M set. Ties: among equal magnitudes the lower column is pruned first.
    The sparsity is exactly ``1 - n / m`` when ``m`` divides the columns.

    ``sparsity`` passed to ``project``/``mask``/``is_valid`` ramps the pattern for gradual
    schedules: every group keeps ``max(n, m - floor(s * m + 0.5))`` weights, so the constraint
    tightens through ``(m-1):m, (m-2):m, ...`` and never past ``n:m``; ``None`` means ``n:m``.

    Compact format: N:M values + bit-packed in-group positions (``tf_sparse.formats.encode_nm``)
    for ``n`` in 1, 2, 4, 8, 16 and ``n < m``; CSR otherwise.

    Args:
      n: weights kept per group, ``1 <= n <= m``.
      m: group length, ``1 <= m <= 256``.

    Example:
      >>> NM(2, 4).project(np.array([[1.0], [-4.0], [3.0], [2.0]])).ravel().tolist()
      [0.0, -4.0, 3.0, 0.0]
    """

    def __init__(self, n: int = 2, m: int = 4):
        self.n, self.m = _check_nm(n, m)
        super().__init__(1.0 - self.n / self.m)

    def get_config(self):
        return {"n": self.n, "m": self.m}

    def keep_per_group(self, sparsity=None) -> int:
        """Weights kept per group of ``m`` at ``sparsity`` (``n`` for ``None``)."""
        if sparsity is None:
            return self.n
        s = self._resolve_sparsity(sparsity)
        return max(self.n, self.m - num_pruned(self.m, s))

    def _resolve_sparsity(self, sparsity):
        if sparsity is None:
            return None
        return super()._resolve_sparsity(sparsity)

    def _keep_gemm(self, w2, sparsity):
        k = self.keep_per_group(sparsity)
        rows, cols = w2.shape
        groups = np.abs(nm_groups(w2, self.m))
        if k >= self.m:
            return np.ones(w2.shape, dtype=bool)
        # Rank of every entry inside its group: how many entries beat it (larger magnitude, or
        # equal magnitude and a higher column). The k entries of rank < k are kept. O(m^2) per
        # group, vectorised, which beats a sort for small m and is deterministic on ties.
        if self.m <= 8:
            a = groups[..., :, None]
            b = groups[..., None, :]
            j = np.arange(self.m)
            b_later = j[None, :] > j[:, None]
            rank = ((b > a) | ((b == a) & b_later)).sum(axis=-1)
            keep = rank < k
        else:
            # Sorting the reversed group stably by descending magnitude puts, among ties, the
            # higher original column first, so the lower column is pruned first.
            rev = groups[..., ::-1]
            order = np.argsort(-rev, axis=-1, kind="stable")
            keep_rev = np.zeros(groups.shape, dtype=bool)
            np.put_along_axis(keep_rev, order[..., :k], True, axis=-1)
            keep = keep_rev[..., ::-1]
        return keep.reshape(rows, -1)[:, :cols]

    def _is_valid_gemm(self, w2, sparsity):
        k = self.keep_per_group(sparsity)
        counts = np.count_nonzero(nm_groups(w2, self.m), axis=-1)
        return bool(np.all(counts <= k))
