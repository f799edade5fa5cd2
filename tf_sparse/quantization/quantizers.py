"""Weight quantizers: the grids a layer's weights are constrained to, and their projections.

A quantizer describes a symmetric grid ``alpha * {-l_K, ..., -l_1, 0, l_1, ..., l_K}`` (``0``
absent for :class:`Binary`) with one scale ``alpha`` per layer or per output channel. It works
on the GEMM view (rows = output channels, see ``tf_sparse.structures.base``), only on the
entries a ``keep`` mask leaves (pruned weights stay exactly zero), and

* **projects** ``V`` onto the grid: ``Z = alpha * Q`` with ``Q`` the nearest level of every
  entry and ``alpha`` minimising ``||V - alpha Q||_F^2``. That is the Euclidean projection onto
  ``{alpha * Q : alpha > 0, Q in levels}`` used by ADMM quantization (Leng et al.; ADMM-NN):
  the papers alternate ``Q = nearest(V / alpha)`` and ``alpha = <V, Q> / <Q, Q>`` a few times
  from a heuristic start, which can stop at a local optimum. Here the scale is the global
  optimum of the one-dimensional problem: as ``alpha`` falls, an entry ``v`` moves up one level
  each time ``alpha`` crosses ``|v| / mid_j`` (``mid_j`` the midpoint between levels ``j`` and
  ``j + 1``); between two such breakpoints the assignment is fixed and the error is a quadratic
  in ``alpha``, so sorting the breakpoints and minimising each piece finds the optimum exactly
  (``O(n K log(n K))`` for ``n`` entries and ``K`` levels). Above ``2**24`` breakpoints per scale
  the solver starts from the best of 256 scales on a grid and alternates to convergence.
* **quantizes** with a given (frozen) scale, the forward pass of straight-through retraining.

Nearest level: ``r = |w| / alpha``; ``r`` moves to level ``j + 1`` when ``r > mid_j`` (a tie
goes to the smaller magnitude). Uniform grids compute it as ``min(ceil(r - 0.5), K)``, which is
the same rule; the Keras forward pass (``quantize_tensor``) evaluates the same float32 expressions,
so NumPy and the layer agree bit for bit.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

_REGISTRY: dict[str, type] = {}
_EXACT_LIMIT = 1 << 24  # breakpoints per scale solved exactly


def register_quantizer(cls):
    _REGISTRY[cls.__name__] = cls
    return cls


def _check_bool(value, name, owner):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: `{name}` must be True or False, got {value!r}")
    return bool(value)


def _check_int_range(value, name, owner, lo, hi, what=""):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not lo <= value <= hi:
        raise ValueError(f"{owner}: `{name}` must be an integer in [{lo}, {hi}]{what}, got {value!r}")
    return int(value)


class Quantizer:
    """Base class: a symmetric grid of level magnitudes times a scale per layer or channel.

    Subclasses set ``self._magnitudes`` (sorted, non-negative, in units of the scale, ``0``
    first when zero is a level) and ``_int_magnitudes`` / ``_int_divisor`` (the same levels as
    integers over a common divisor, for integer export).

    Args:
      per_channel: one scale per output channel (GEMM row) instead of one per layer.
    """

    _magnitudes: np.ndarray
    _int_magnitudes: np.ndarray
    _int_divisor: int = 1

    def __init__(self, per_channel: bool):
        self.per_channel = _check_bool(per_channel, "per_channel", type(self).__name__)

    # --- description ----------------------------------------------------------------------------
    @property
    def magnitudes(self) -> np.ndarray:
        """Level magnitudes in units of the scale, ascending (``[0, 1, ..., K]`` for uniform)."""
        return self._magnitudes.copy()

    @property
    def has_zero(self) -> bool:
        return bool(self._magnitudes[0] == 0)

    @property
    def num_levels(self) -> int:
        """Distinct weight values of one channel (``2K + 1``, or ``2K`` without zero)."""
        k = len(self._magnitudes)
        return 2 * k - 1 if self.has_zero else 2 * k

    @property
    def bits(self) -> float:
        """Storage bits per weight of a fixed-length code: ``ceil(log2(num_levels))``."""
        return float(max(1, math.ceil(math.log2(self.num_levels))))

    def int_grid(self):
        """``(integers, divisor)``: level magnitudes as ``integers / divisor``. A weight on the
        grid is ``(alpha / divisor) * code`` with integer ``|code| <= integers[-1]``."""
        return self._int_magnitudes.copy(), int(self._int_divisor)

    @property
    def _uniform(self) -> bool:
        m = self._magnitudes
        return self.has_zero and np.array_equal(m, np.arange(len(m), dtype=m.dtype))

    def get_config(self) -> dict:
        return {"per_channel": self.per_channel}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self).__name__, repr(sorted(self.get_config().items()))))

    # --- projection (NumPy, GEMM view) -----------------------------------------------------------
    def solve_scale(self, w2, keep=None) -> np.ndarray:
        """The optimal scale of every GEMM row (``(rows,)`` float32; equal entries per layer).

        Only entries with ``keep`` true count; a row (or layer) with nothing kept gets 0.
        """
        w2, keep = self._check(w2, keep)
        rows = w2.shape[0]
        a = np.abs(w2.astype(np.float64)) * keep
        if not self.per_channel:
            return np.full(rows, self._solve_one(a[keep]), dtype=np.float32)
        return np.array([self._solve_one(a[r][keep[r]]) for r in range(rows)], dtype=np.float32)

    def codes(self, w2, scale, keep=None) -> np.ndarray:
        """Signed level numbers (int32) of ``w2`` for per-row ``scale``: ``±j`` stands for
        ``±magnitudes[j]`` (binary: ``±1`` for ``±magnitudes[0]``); 0 where not kept."""
        w2, keep = self._check(w2, keep)
        scale = np.asarray(scale, dtype=np.float32).reshape(-1, 1)
        safe = np.where(scale > 0, scale, np.float32(1))
        r = np.abs(w2.astype(np.float32)) / safe
        if self.has_zero:
            out = np.sign(w2).astype(np.int32) * self._level_index(r)
        else:
            out = np.where(w2 < 0, -1, 1).astype(np.int32)
        return np.where(keep & (scale > 0), out, 0).astype(np.int32)

    def _magnitude_of(self, codes) -> np.ndarray:
        """``magnitudes[...]`` of signed level numbers, 0 for a binary code 0 (not kept)."""
        n = np.abs(np.asarray(codes))
        if self.has_zero:
            return self._magnitudes.astype(np.float32)[n]
        return np.where(n > 0, self._magnitudes.astype(np.float32)[np.maximum(n - 1, 0)], np.float32(0))

    def values(self, codes, scale) -> np.ndarray:
        """``scale * sign(code) * magnitude(code)`` in float32, the weight a code stands for."""
        codes = np.asarray(codes)
        sign = np.sign(codes).astype(np.float32)
        return (np.asarray(scale, dtype=np.float32).reshape(-1, 1) * (sign * self._magnitude_of(codes))).astype(np.float32)

    def quantize(self, w2, scale, keep=None) -> np.ndarray:
        """``w2`` on the grid of the given per-row ``scale`` (float32), zeros where not kept."""
        w2, keep = self._check(w2, keep)
        q = self.values(self.codes(w2, scale, keep), scale)
        return np.where(keep, q, np.float32(0)).astype(np.float32)

    def project(self, w2, keep=None):
        """``(Z, scale)``: the nearest point of the grid with the optimal scale(s)."""
        scale = self.solve_scale(w2, keep)
        return self.quantize(w2, scale, keep), scale

    def integer_codes(self, w2, scale, keep=None):
        """``(codes, step)`` for integer export: ``value == step * code`` with ``step`` per row
        ``scale / divisor`` and ``|code| <= int_grid()[0][-1]``."""
        n = self.codes(w2, scale, keep)
        ints, div = self.int_grid()
        mag = np.abs(n) if self.has_zero else np.maximum(np.abs(n) - 1, 0)
        codes = np.where(n == 0, 0, np.sign(n) * ints[mag])
        return codes.astype(np.int32), (np.asarray(scale, dtype=np.float32) / np.float32(div)).astype(np.float32)

    # --- internals -----------------------------------------------------------------------------
    def _check(self, w2, keep):
        owner = repr(self)
        w2 = np.asarray(w2)
        if w2.ndim != 2 or not np.issubdtype(w2.dtype, np.floating):
            raise ValueError(f"{owner}: expected a 2-D float GEMM view (rows = output channels), got {w2.dtype} {w2.shape}")
        if not np.isfinite(w2).all():
            raise ValueError(f"{owner}: the weights contain NaN/Inf; weights must be finite")
        if keep is None:
            keep = np.ones(w2.shape, dtype=bool)
        else:
            keep = np.asarray(keep) != 0
            if keep.shape != w2.shape:
                raise ValueError(f"{owner}: `keep` must have the weights' shape {w2.shape}, got {keep.shape}")
        return w2, keep

    def _level_index(self, r: np.ndarray) -> np.ndarray:
        """Index of the nearest magnitude for ``r = |w| / alpha`` (float32, >= 0)."""
        m = self._magnitudes
        if not self.has_zero:
            return np.zeros(r.shape, dtype=np.int32)
        if self._uniform:
            k = len(m) - 1
            return np.minimum(np.ceil(r - np.float32(0.5)), k).astype(np.int32)
        mids = ((m[:-1] + m[1:]) / 2).astype(np.float32)
        return np.searchsorted(mids, r, side="left").astype(np.int32)

    def _solve_one(self, a: np.ndarray) -> float:
        """Optimal scale for magnitudes ``a`` (1-D, float64)."""
        if a.size == 0 or not np.any(a > 0):
            return 0.0
        if not self.has_zero:  # binary: every entry sits at 1
            return float(np.mean(a))
        m = self._magnitudes.astype(np.float64)
        if a.size * (len(m) - 1) > _EXACT_LIMIT:
            return self._solve_lloyd(a)
        mids = (m[:-1] + m[1:]) / 2
        a_pos = a[a > 0]
        # Breakpoint alpha = a / mid_j: below it the entry sits at level j + 1 or higher.
        bp = (a_pos[:, None] / mids[None, :]).ravel()
        dvq = (a_pos[:, None] * (m[1:] - m[:-1])[None, :]).ravel()
        dqq = np.broadcast_to((m[1:] ** 2 - m[:-1] ** 2)[None, :], (a_pos.size, len(mids))).ravel()
        order = np.argsort(-bp, kind="stable")
        bp, s_vq, s_qq = bp[order], np.cumsum(dvq[order]), np.cumsum(dqq[order])
        upper = bp
        lower = np.append(bp[1:], 0.0)
        best = np.clip(s_vq / s_qq, lower, upper)
        err = -2 * best * s_vq + best * best * s_qq  # + sum(a^2), the same for every piece
        alpha = float(best[int(np.argmin(err))])
        return self._refine(a, alpha)

    def _refine(self, a, alpha, steps=1):
        """Alternating steps (assignment, then least-squares scale); each never raises the error."""
        m = self._magnitudes.astype(np.float64)
        for _ in range(steps):
            q = m[self._level_index((a / alpha).astype(np.float32))]
            qq = float(np.dot(q, q))
            if qq == 0:
                break
            new = float(np.dot(a, q) / qq)
            if self._error(a, new) > self._error(a, alpha):
                break
            if new == alpha:
                break
            alpha = new
        return alpha

    def _error(self, a, alpha):
        q = self._magnitudes[self._level_index((a / alpha).astype(np.float32))]
        return float(np.sum((a - alpha * q) ** 2))

    def _solve_lloyd(self, a):
        top = float(a.max()) / float(self._magnitudes[-1])
        grid = top * np.linspace(0.05, 1.0, 256)
        sample = a if a.size <= 1 << 20 else np.random.default_rng(0).choice(a, 1 << 20, replace=False)
        errs = [self._error(sample, g) for g in grid]
        return self._refine(a, float(grid[int(np.argmin(errs))]), steps=50)


@register_quantizer
class Uniform(Quantizer):
    """``bits``-bit symmetric uniform grid: ``alpha * {-(2^(b-1) - 1), ..., 2^(b-1) - 1}``.

    Args:
      bits: 2 to 8 (2 bits is the ternary grid).
      per_channel: one scale per output channel (default) or one per layer.

    Example:
      >>> z, scale = Uniform(4).project(np.array([[0.1, -0.7, 0.35]], np.float32))
    """

    def __init__(self, bits: int = 8, per_channel: bool = True):
        super().__init__(per_channel)
        self.bits_ = _check_int_range(bits, "bits", "Uniform", 2, 8)
        k = (1 << (self.bits_ - 1)) - 1
        self._magnitudes = np.arange(k + 1, dtype=np.float64)
        self._int_magnitudes = np.arange(k + 1, dtype=np.int32)

    def get_config(self):
        return {"bits": self.bits_, "per_channel": self.per_channel}


@register_quantizer
class Ternary(Quantizer):
    """``alpha * {-1, 0, 1}`` (the threshold ``alpha / 2`` of the papers is the nearest-level rule)."""

    def __init__(self, per_channel: bool = False):
        super().__init__(per_channel)
        self._magnitudes = np.array([0.0, 1.0])
        self._int_magnitudes = np.array([0, 1], dtype=np.int32)


@register_quantizer
class Binary(Quantizer):
    """``alpha * {-1, +1}`` with ``alpha = mean |w|`` over the kept weights (pruned ones stay 0)."""

    def __init__(self, per_channel: bool = False):
        super().__init__(per_channel)
        self._magnitudes = np.array([1.0])
        self._int_magnitudes = np.array([1], dtype=np.int32)


@register_quantizer
class PowerOfTwo(Quantizer):
    """Power-of-two levels: ``alpha * {0, ±2^-(n-1), ..., ±1/2, ±1}`` with ``n = 2^(b-1) - 1``.

    Multiplications by such weights are shifts. ``bits`` 2 to 8; integer export (int8) holds the
    grid exactly up to 4 bits (magnitudes 1/64 .. 1 as codes 1 .. 64).
    """

    def __init__(self, bits: int = 4, per_channel: bool = True):
        super().__init__(per_channel)
        self.bits_ = _check_int_range(bits, "bits", "PowerOfTwo", 2, 8)
        n = (1 << (self.bits_ - 1)) - 1
        self._magnitudes = np.concatenate([[0.0], 2.0 ** -np.arange(n - 1, -1, -1, dtype=np.float64)])
        if n - 1 <= 30:
            self._int_magnitudes = np.concatenate([[0], 2 ** np.arange(n, dtype=np.int64)]).astype(np.int64)
            self._int_divisor = 1 << (n - 1)
        else:  # no integer grid of sensible width
            self._int_magnitudes = np.array([0], dtype=np.int64)
            self._int_divisor = 0

    def get_config(self):
        return {"bits": self.bits_, "per_channel": self.per_channel}


@register_quantizer
class DeviceLevels(Quantizer):
    """The grid of a differential pair of devices with ``levels`` conductance states each.

    Weight ``w = alpha * (G+ - G-) / dG`` with one device of the pair at ``G_min``: the grid is
    ``alpha * {-(levels - 1), ..., levels - 1}``. One scale per layer by default (the conductance
    range is set per crossbar array).
    """

    def __init__(self, levels: int = 16, per_channel: bool = False):
        super().__init__(per_channel)
        self.levels = _check_int_range(levels, "levels", "DeviceLevels", 2, 256, " (conductance states per device)")
        self._magnitudes = np.arange(self.levels, dtype=np.float64)
        self._int_magnitudes = np.arange(self.levels, dtype=np.int32)

    def get_config(self):
        return {"levels": self.levels, "per_channel": self.per_channel}


def serialize_quantizer(quantizer):
    if quantizer is None:
        return None
    return {"class_name": type(quantizer).__name__, "config": quantizer.get_config()}


def deserialize_quantizer(config):
    if config is None or isinstance(config, Quantizer):
        return config
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"quantizer: expected a Quantizer or its serialized dict, got {config!r}")
    name = config["class_name"]
    if name not in _REGISTRY:
        raise ValueError(f"quantizer: unknown class_name {name!r}; known: {sorted(_REGISTRY)}")
    return _REGISTRY[name].from_config(dict(config.get("config", {})))
