"""Crossbar-aware sparsity: the GEMM view mapped onto fixed-size memristor crossbar tiles."""

from __future__ import annotations

import numbers

import numpy as np

from tf_sparse.structures.base import Structure, from_gemm, register_structure, to_gemm
from tf_sparse.structures.select import num_pruned, prune_lowest

_GRANULARITIES = ("tile", "row", "column")


def _tiles(w2: np.ndarray, tile: tuple) -> np.ndarray:
    """(rows, cols) -> (nI, tr, nJ, tc), ragged edges zero-padded."""
    tr, tc = tile
    rows, cols = w2.shape
    ni, nj = -(-rows // tr), -(-cols // tc)
    if ni * tr != rows or nj * tc != cols:
        padded = np.zeros((ni * tr, nj * tc), dtype=w2.dtype)
        padded[:rows, :cols] = w2
        w2 = padded
    return w2.reshape(ni, tr, nj, tc)


@register_structure
class Crossbar(Structure):
    """Crossbar-aware structured pruning (Yuan et al., arXiv 1908.11691), on the GEMM view.

    The GEMM view (rows = outputs, cols = inputs) is cut into crossbar tiles of ``tile = (tr, tc)``
    (``tr`` outputs x ``tc`` inputs; a tile is one crossbar with ``tc`` word lines driven by the
    inputs and ``tr`` bit lines summing the outputs). A group is, by ``granularity``:

    * ``"tile"``: a whole tile; a pruned tile is a crossbar that is not instantiated;
    * ``"row"``: one GEMM row inside a tile (``tc`` weights of one output: a bit line);
    * ``"column"``: one GEMM column inside a tile (``tr`` weights of one input: a word line).

    Pruned rows/columns shrink or free crossbars; a tile whose groups are all pruned disappears.

    Closed form: groups are scored by their squared L2 norm and the projection keeps the
    ``n - floor(s * n + 0.5)`` largest (the Euclidean projection onto "at most k non-zero
    groups"); ties: the lower group index (the order of ``group_ids``) is pruned first. Edge tiles of a shape that ``tile`` does not divide are partial; the weight sparsity is
    exact when the tile divides the shape and ``s * n`` is whole.

    ``single_sign=True`` adds the constraint that every tile holds weights of one sign only (one
    crossbar per tile instead of a differential pair). Each tile keeps its positive or its
    negative part, whichever has more energy (ties: positive). With ``granularity="tile"`` the
    result is still the exact projection (a tile's score is then its best single-sign energy);
    with rows or columns, the sign is chosen first on the whole tile and the groups are ranked
    after that (greedy).

    Compact format: BSR whose blocks tile the crossbar tiles (at most 32 x 32; ``1 x ..`` for
    rows, ``.. x 1`` for columns), see docs/formats.md.

    Args:
      sparsity: target fraction of pruned groups, in [0, 1).
      tile: ``(tile_rows, tile_cols)`` of a crossbar on the GEMM view, default ``(64, 64)``.
      granularity: ``"tile"`` (default), ``"row"`` or ``"column"``.
      single_sign: one weight sign per tile.

    Example:
      >>> w = np.random.default_rng(0).standard_normal((128, 128)).astype(np.float32)
      >>> p = Crossbar(0.75, tile=(64, 64)).project(w)
      >>> float(np.mean(p != 0))
      0.25
    """

    def __init__(self, sparsity: float, tile=(64, 64), granularity: str = "tile", single_sign: bool = False):
        super().__init__(sparsity)
        self.tile = _check_tile(tile)
        if granularity not in _GRANULARITIES:
            raise ValueError(f"Crossbar: `granularity` must be one of {list(_GRANULARITIES)}, got {granularity!r}")
        self.granularity = granularity
        if not isinstance(single_sign, (bool, np.bool_)):
            raise ValueError(f"Crossbar: `single_sign` must be True or False, got {single_sign!r}")
        self.single_sign = bool(single_sign)

    def get_config(self):
        return {
            "sparsity": self.sparsity,
            "tile": list(self.tile),
            "granularity": self.granularity,
            "single_sign": self.single_sign,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["tile"] = tuple(config.get("tile", (64, 64)))
        return cls(**config)

    # --- groups --------------------------------------------------------------------------------
    _SUM_AXES = {"tile": (1, 3), "row": (3,), "column": (1,)}

    def _sign_keep(self, t: np.ndarray) -> np.ndarray:
        """Entries of the dominant sign of their tile: (nI, tr, nJ, tc) bool."""
        pos = np.square(np.maximum(t, 0)).sum(axis=(1, 3), keepdims=True, dtype=np.float64)
        neg = np.square(np.minimum(t, 0)).sum(axis=(1, 3), keepdims=True, dtype=np.float64)
        return np.where(pos >= neg, t > 0, t < 0)

    def _keep_gemm(self, w2, sparsity):
        t = _tiles(w2, self.tile)
        sign_keep = self._sign_keep(t) if self.single_sign else None
        scored = t if sign_keep is None else np.where(sign_keep, t, 0)
        axes = self._SUM_AXES[self.granularity]
        scores = np.square(scored).sum(axis=axes, keepdims=True, dtype=np.float64)
        keep = np.broadcast_to(~prune_lowest(scores, num_pruned(scores.size, sparsity)), t.shape)
        if sign_keep is not None:
            keep = keep & sign_keep
        rows, cols = w2.shape
        return keep.reshape(t.shape[0] * t.shape[1], -1)[:rows, :cols]

    def tile_signs(self, kernel, sparsity=None) -> np.ndarray:
        """The sign (+1 or -1) each entry's tile keeps under ``single_sign`` (Keras layout): the
        sign of the tile's dominant part (ties: positive). Retraining a hardened single-sign
        layer keeps every weight on its tile's side of zero."""
        kernel = self._check_values(kernel)
        w2 = to_gemm(kernel)
        t = _tiles(w2, self.tile)
        pos = np.square(np.maximum(t, 0)).sum(axis=(1, 3), keepdims=True, dtype=np.float64)
        neg = np.square(np.minimum(t, 0)).sum(axis=(1, 3), keepdims=True, dtype=np.float64)
        signs = np.broadcast_to(np.where(pos >= neg, 1.0, -1.0), t.shape).astype(kernel.dtype)
        rows, cols = w2.shape
        return from_gemm(signs.reshape(t.shape[0] * t.shape[1], -1)[:rows, :cols], kernel.shape)

    def _is_valid_gemm(self, w2, sparsity):
        t = _tiles(w2, self.tile)
        if self.single_sign:
            mixed = np.any(t > 0, axis=(1, 3)) & np.any(t < 0, axis=(1, 3))
            if mixed.any():
                return False
        nonzero = np.any(t != 0, axis=self._SUM_AXES[self.granularity])
        return int(np.count_nonzero(nonzero)) <= nonzero.size - num_pruned(nonzero.size, sparsity)

    def group_ids(self, kernel) -> np.ndarray:
        """Group index of every kernel entry (Keras layout): tiles row-major; rows ordered by
        (tile row, row, tile column); columns by (tile row, tile column, column)."""
        kernel = self._check_kernel(kernel)
        rows, cols = to_gemm(kernel).shape
        tr, tc = self.tile
        ni, nj = -(-rows // tr), -(-cols // tc)
        i = np.arange(rows)[:, None]
        j = np.arange(cols)[None, :]
        ti, tj = i // tr, j // tc
        if self.granularity == "tile":
            ids = ti * nj + tj
        elif self.granularity == "row":  # groups ordered (tile row, row in tile, tile column)
            ids = (ti * tr + i % tr) * nj + tj
        else:  # (tile row, tile column, column in tile)
            ids = (ti * nj + tj) * tc + j % tc
        return from_gemm(np.broadcast_to(ids, (rows, cols)), kernel.shape)


def _check_tile(tile):
    if (
        not isinstance(tile, (tuple, list))
        or len(tile) != 2
        or not all(isinstance(t, numbers.Integral) and not isinstance(t, bool) for t in tile)
        or min(tile) < 1
    ):
        raise ValueError(
            f"Crossbar: `tile` must be a pair of positive integers (tile_rows, tile_cols) of the "
            f"GEMM view, got {tile!r}"
        )
    return (int(tile[0]), int(tile[1]))
