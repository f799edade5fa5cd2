"""Gather-scatter (GS) packs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tf_sparse.formats.common import as_matrix, index_dtype, pointer_array, value_nbytes
from tf_sparse.structures.gather_scatter import GatherScatter, _complete_pack, _greedy_match, min_packs


@dataclass(frozen=True, eq=False)
class GSMatrix:
    """A GEMM-view matrix stored as gather-scatter packs.

    Attributes:
      shape: (rows, cols).
      banks: B; ``elements_per_row``: e; R = B / e rows per group.
      tile: None, or (tile_rows, tile_cols).
      group_ptr: int32 [n_groups + 1]: packs of group g are ``[group_ptr[g], group_ptr[g+1])``.
        Groups are consecutive row groups untiled; tiled, they run over row tiles, then column
        tiles, then groups inside the tile.
      values: float32 [n_packs, B]: lane l of a pack belongs to the group's row ``l // e``; the
        e lanes of a row are in ascending bank order. Padding lanes hold 0.0.
      col_idx: uint16 (``cols <= 65536``) or int32 [n_packs, B]: column of each lane; lane
        columns of a pack fall in distinct banks (``col mod B``). A padding lane points at the
        first column of its bank in the group's column range.
      row_idx: None untiled (group g's row j is ``g * R + j``); tiled, uint16/int32
        [n_groups, R]: the output row of each row slot (the scatter index).
    """

    shape: tuple
    banks: int
    elements_per_row: int
    tile: tuple | None
    group_ptr: np.ndarray
    values: np.ndarray
    col_idx: np.ndarray
    row_idx: np.ndarray | None

    @property
    def num_packs(self) -> int:
        return int(self.values.shape[0])

    @property
    def padding(self) -> int:
        """Lanes holding padding instead of a non-zero."""
        return int(self.values.size - np.count_nonzero(self.values))

    def nbytes(self, value_bytes: int = 4) -> int:
        total = self.group_ptr.nbytes + self.col_idx.nbytes
        total += 0 if self.row_idx is None else self.row_idx.nbytes
        return total + value_nbytes(self.values.size, value_bytes, self.shape[0])

    def to_dense(self) -> np.ndarray:
        return decode_gs(self)


def _fill(counts: np.ndarray, packs: np.ndarray, e: int) -> np.ndarray:
    """Padding per (group, row, bank) so that every row has ``packs * e`` entries and every bank
    ``packs`` (north-west corner rule on the row and bank deficits)."""
    G, R, B = counts.shape
    d_row = packs[:, None] * e - counts.sum(axis=2)
    d_bank = packs[:, None] - counts.sum(axis=1)
    pad = np.zeros_like(counts)
    for g in np.flatnonzero(d_row.sum(axis=1)):
        dr, db = d_row[g].copy(), d_bank[g].copy()
        r = b = 0
        while r < R and b < B:
            t = min(dr[r], db[b])
            pad[g, r, b] += t
            dr[r] -= t
            db[b] -= t
            if dr[r] == 0:
                r += 1
            if b < B and db[b] == 0:
                b += 1
    return pad


def _decompose(x: np.ndarray, e: int):
    """Splits the regular count matrices x (G, R, B) into packs: returns (group, pack (R, B)
    bool) per pack, groups ascending. Each round takes a complete pack of every unfinished group
    (greedy on the largest remaining counts, completed by augmenting paths) with the largest
    multiplicity that keeps the counts non-negative."""
    x = x.copy()
    groups, shapes, mults = [], [], []
    while True:
        act = np.flatnonzero(x.sum(axis=(1, 2)) > 0)
        if act.size == 0:
            break
        xa = x[act]
        score = np.where(xa > 0, xa.astype(np.float64), -np.inf)
        chosen, complete = _greedy_match(score, e)
        for i in np.flatnonzero(~complete):
            chosen[i] = _complete_pack(xa[i] > 0, chosen[i], e)
        mult = np.where(chosen, xa, np.iinfo(np.int64).max).min(axis=(1, 2))
        x[act] -= chosen * mult[:, None, None]
        groups.append(act)
        shapes.append(chosen)
        mults.append(mult)
    if not groups:
        return np.zeros(0, np.int64), np.zeros((0,) + x.shape[1:], bool)
    g = np.repeat(np.concatenate(groups), np.concatenate(mults))
    s = np.repeat(np.concatenate(shapes), np.concatenate(mults), axis=0)
    order = np.argsort(g, kind="stable")
    return g[order], s[order]


def encode_gs(w2, banks: int = 16, elements_per_row: int = 1, tile=None) -> GSMatrix:
    """Packs a GEMM-view matrix into GS packs.

    Any matrix can be packed; each group gets the fewest packs that hold its non-zeros
    (``max(ceil(row count / e), bank count)``), and lanes a group cannot fill with non-zeros are
    padding. A matrix that ``GatherScatter(...).project`` produced has no padding.
    """
    w2 = as_matrix(w2, "encode_gs")
    structure = GatherScatter(0.0, banks=banks, elements_per_row=elements_per_row, tile=tile)
    structure._check_kernel(w2.T)
    lay = structure._layout(w2.shape)
    e, R, B = structure.elements_per_row, structure.rows_per_group, structure.banks
    nz = w2 != 0
    perm = lay.canonical_perm(nz)
    counts = lay.group_counts(lay.row_bank_counts(nz), perm)  # (G, R, B)
    packs = min_packs(counts, e)
    group, shape = _decompose(counts + _fill(counts, packs, e), e)

    # Lanes: the (row, bank) cells of each pack in row-major order, so lane l serves row l // e.
    lane_r, lane_b = np.nonzero(shape)[1:]
    lane_r = lane_r.reshape(-1, B)
    lane_b = lane_b.reshape(-1, B)
    lane_g = np.repeat(group, B).reshape(-1, B)
    cell = ((lane_g * R + lane_r) * B + lane_b).ravel()
    # k-th use of a cell (in pack order) takes the cell's k-th non-zero column, else padding.
    order = np.argsort(cell, kind="stable")
    first = np.searchsorted(cell[order], cell[order], side="left")
    use = np.empty_like(cell)
    use[order] = np.arange(cell.size) - first
    y = counts.ravel()
    real = use < y[cell]
    # Non-zero columns of every cell, cell-major, ascending (k index inside the cell).
    cg, cr, cb, ck = np.nonzero(lay.cells(nz, perm))
    start = np.concatenate(([0], np.cumsum(y)[:-1]))
    k = np.zeros(cell.size, dtype=np.int64)
    k[real] = ck[start[cell[real]] + use[real]]
    col_tile = (lane_g.ravel() // lay.gpt) % lay.nJ
    cols = col_tile * lay.tc + k * B + lane_b.ravel()  # k = 0 for padding: first column of the bank
    group_rows = lay.group_rows(perm)
    rows = group_rows[lane_g.ravel(), lane_r.ravel()]
    values = np.where(real, w2[rows, cols], np.float32(0.0)).astype(np.float32)
    return GSMatrix(
        shape=w2.shape,
        banks=B,
        elements_per_row=e,
        tile=None if tile is None else tuple(int(t) for t in tile),
        group_ptr=pointer_array(packs),
        values=values.reshape(-1, B),
        col_idx=cols.astype(index_dtype(w2.shape[1] - 1)).reshape(-1, B),
        row_idx=None if perm is None else group_rows.astype(index_dtype(w2.shape[0] - 1)),
    )


def decode_gs(m: GSMatrix) -> np.ndarray:
    rows, cols = m.shape
    e, B = m.elements_per_row, m.banks
    R = B // e
    out = np.zeros((rows, cols), dtype=np.float32)
    n_groups = len(m.group_ptr) - 1
    g = np.repeat(np.arange(n_groups), np.diff(m.group_ptr))
    slot = np.arange(B) // e
    if m.row_idx is None:
        r = g[:, None] * R + slot[None, :]
    else:
        r = m.row_idx.astype(np.int64)[g[:, None], slot[None, :]]
    keep = m.values != 0  # padding lanes hold 0.0 and may share a cell with a real entry
    out[r[keep], m.col_idx.astype(np.int64)[keep]] = m.values[keep]
    return out
