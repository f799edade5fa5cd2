"""Gather-scatter (GS) sparsity: bank-balanced packs for vector engines with gather/scatter.

Hardware model: a vector engine reads a scratchpad split into ``B`` banks; column ``c`` of the
GEMM view lives in bank ``c mod B``, and a gather of ``B`` elements is conflict-free when they
fall in distinct banks. A *pack* is ``B`` non-zeros of one row group (``R = B / e`` consecutive
rows), ``e`` per row, one per bank. A layer is stored as packs, so a row group costs as many
vector steps as it has packs.
"""

from __future__ import annotations

import numbers

import numpy as np

from tf_sparse.structures.base import Structure, register_structure, to_gemm
from tf_sparse.structures.select import num_pruned, prune_lowest

#: The greedy builds packs in at most about this many batches per row group (see GatherScatter).
GREEDY_STEPS = 64


def _positive_int(value, name, owner="GatherScatter"):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{owner}: `{name}` must be a positive integer, got {value!r}")
    return int(value)


def _divisors(n: int) -> list:
    return [d for d in range(1, n + 1) if n % d == 0]


class _Layout:
    """Row groups and tiles of one GEMM shape.

    Tiles are ``tr x tc`` (the whole matrix without ``tile``); inside each tile, rows are taken in
    the order ``perm`` (identity without ``tile``) and cut into groups of ``R`` consecutive rows;
    each group of a tile covers the tile's ``tc`` columns, ``L = tc / B`` per bank. Groups are
    numbered row tile first, then column tile, then group inside the tile.
    """

    def __init__(self, shape, banks, rows_per_group, tile):
        self.rows, self.cols = shape
        self.B, self.R = banks, rows_per_group
        self.tiled = tile is not None
        self.tr, self.tc = tile if self.tiled else (self.rows, self.cols)
        self.nI, self.nJ = self.rows // self.tr, self.cols // self.tc
        self.gpt = self.tr // self.R  # groups per tile
        self.L = self.tc // self.B
        self.n_groups = self.nI * self.nJ * self.gpt

    def tiles(self, a: np.ndarray) -> np.ndarray:
        """(rows, cols) -> (nI, nJ, tr, tc)."""
        return a.reshape(self.nI, self.tr, self.nJ, self.tc).transpose(0, 2, 1, 3)

    def row_bank_counts(self, a: np.ndarray) -> np.ndarray:
        """Count of True entries per (tile, row of the tile, bank): (nI, nJ, tr, B)."""
        c = a.reshape(self.nI, self.tr, self.nJ, self.L, self.B).sum(axis=3, dtype=np.int64)
        return c.transpose(0, 2, 1, 3)

    def group_counts(self, rb: np.ndarray, perm) -> np.ndarray:
        """(nI, nJ, tr, B) row/bank counts -> (n_groups, R, B) in group order."""
        if perm is not None:
            rb = np.take_along_axis(rb, perm[..., None], axis=2)
        return rb.reshape(self.n_groups, self.R, self.B)

    def cells(self, a: np.ndarray, perm) -> np.ndarray:
        """(rows, cols) -> (n_groups, R, B, L): cell (g, r, b) holds the L columns of bank b."""
        t = self.tiles(a)
        if perm is not None:
            t = np.take_along_axis(t, perm[..., None], axis=2)
        t = t.reshape(self.nI, self.nJ, self.gpt, self.R, self.L, self.B)
        return t.transpose(0, 1, 2, 3, 5, 4).reshape(self.n_groups, self.R, self.B, self.L)

    def group_rows(self, perm) -> np.ndarray:
        """Dense row index of every (group, local row): (n_groups, R)."""
        local = np.broadcast_to(np.arange(self.tr), (self.nI, self.nJ, self.tr))
        if perm is not None:
            local = perm
        rows = local + (np.arange(self.nI) * self.tr)[:, None, None]
        return rows.reshape(self.n_groups, self.R)

    def canonical_perm(self, nonzero: np.ndarray):
        """Rows of each tile by non-zero count (descending), then row index; None untiled."""
        if not self.tiled:
            return None
        cnt = self.row_bank_counts(nonzero).sum(axis=3)  # (nI, nJ, tr)
        idx = np.broadcast_to(np.arange(self.tr), cnt.shape)
        return np.lexsort((idx, -cnt), axis=-1)


def min_packs(counts: np.ndarray, elements_per_row: int) -> np.ndarray:
    """Packs each group needs for its non-zeros: ``max(ceil(row count / e), bank count)``.

    Args:
      counts: (n_groups, R, B) non-zeros per (group, row, bank).
    """
    rows = -(-counts.sum(axis=2) // elements_per_row)
    return np.maximum(rows.max(axis=1), counts.sum(axis=1).max(axis=1))


def apportion(n_g: np.ndarray, banks: int, total_packs: int) -> np.ndarray:
    """Packs per group: ``n_g / B`` rounded so that they sum to ``total_packs`` (largest
    remainders; ties to the lower group). ``n_g`` must sum to ``B * total_packs``."""
    p = n_g // banks
    rem = n_g - p * banks
    extra = int(total_packs - p.sum())
    if extra > 0:
        order = np.lexsort((np.arange(n_g.size), -rem))
        p[order[:extra]] += 1
    return p


def _greedy_match(score: np.ndarray, e: int):
    """One pack per group: greedy matching of row slots to banks on ``score`` (A, R, B).

    Repeatedly takes the largest candidate among rows with a free slot and free banks (ties: the
    lower (row, bank) index). Returns ``(chosen (A, R, B) bool, complete (A,) bool)``.
    """
    A, R, B = score.shape
    sc = score.reshape(A, R * B).copy()
    sc3 = sc.reshape(A, R, B)
    slots = np.full((A, R), e, dtype=np.int64)
    chosen = np.zeros((A, R, B), dtype=bool)
    count = np.zeros(A, dtype=np.int64)
    ar = np.arange(A)
    for _ in range(B):
        idx = sc.argmax(axis=1)
        ok = sc[ar, idx] > -np.inf
        if not ok.any():
            break
        g, i = ar[ok], idx[ok]
        r, b = i // B, i % B
        chosen[g, r, b] = True
        count[g] += 1
        slots[g, r] -= 1
        sc3[g, :, b] = -np.inf
        full = slots[g, r] == 0
        sc3[g[full], r[full], :] = -np.inf
    return chosen, count == B


def _complete_pack(avail: np.ndarray, chosen: np.ndarray, e: int) -> np.ndarray:
    """Completes a partial pack by augmenting paths (a b-matching: each row e banks, each bank one
    row, only cells with ``avail``). A complete pack always exists when every row has
    ``e * (remaining budget)`` and every bank ``remaining budget`` free cells (regular bipartite
    multigraph, Koenig's theorem); this runs only when the greedy gets stuck."""
    R, B = avail.shape
    owner = np.full(B, -1, dtype=np.int64)
    rr, bb = np.nonzero(chosen)
    owner[bb] = rr
    load = np.bincount(rr, minlength=R)

    def place(b, seen):
        for r in range(R):
            if not avail[r, b] or seen[r] or owner[b] == r:
                continue
            seen[r] = True
            old = owner[b]
            if load[r] < e:
                owner[b] = r
                load[r] += 1
                if old >= 0:
                    load[old] -= 1
                return True
            for b2 in np.flatnonzero(owner == r):
                if place(b2, seen):  # b2 moved to another row: r has a free slot now
                    owner[b] = r
                    load[r] += 1
                    if old >= 0:
                        load[old] -= 1
                    return True
        return False

    for b in range(B):
        if owner[b] < 0 and not place(b, np.zeros(R, dtype=bool)):
            raise RuntimeError("GatherScatter: no complete pack exists (internal error)")
    out = np.zeros((R, B), dtype=bool)
    out[owner, np.arange(B)] = True
    return out


def greedy_packs(sorted_cells: np.ndarray, packs: np.ndarray, e: int) -> np.ndarray:
    """The greedy pack construction on every row group at once.

    Args:
      sorted_cells: (G, R, B, L) magnitudes, each cell sorted in ascending order (its largest
        candidate last); cell (g, r, b) holds the L columns of bank b in row r of group g.
      packs: (G,) number of packs per group.
      e: elements per row in a pack.

    Returns:
      (G, R, B) int64: how many of its largest entries each cell keeps. Every row of group g keeps
      ``packs[g] * e`` entries and every bank ``packs[g]``.
    """
    G, R, B, L = sorted_cells.shape
    flat = sorted_cells.reshape(-1)
    last = (np.arange(G * R * B, dtype=np.int64) * L + L - 1).reshape(G, R, B)

    def batch_energy(start, p, m):
        """Energy of the next m candidates after the first p of some cells (-inf if fewer)."""
        p, m = np.broadcast_arrays(p, m)
        k = np.arange(int(m.max()) if m.size else 0)
        idx = p[..., None] + k
        vals = flat[start[..., None] - np.minimum(idx, L - 1)].astype(np.float64)
        energy = np.where((k < m[..., None]) & (idx < L), vals * vals, 0.0).sum(axis=-1)
        return np.where(p + m <= L, energy, -np.inf)

    ptr = np.zeros((G, R, B), dtype=np.int64)
    done = np.zeros(G, dtype=np.int64)
    batch = np.maximum(1, -(-packs // GREEDY_STEPS))
    # Scores are kept per cell and refreshed only where a pack advanced a cell or a group's
    # batch size changed: a round touches B cells per group, not R * B.
    cur_m = np.minimum(batch, packs)
    score = batch_energy(last, ptr, cur_m[:, None, None])
    while True:
        act = np.flatnonzero(done < packs)
        if act.size == 0:
            break
        m = np.minimum(batch[act], packs[act] - done[act])
        changed = act[m != cur_m[act]]
        if changed.size:
            cur_m[changed] = m[m != cur_m[act]]
            score[changed] = batch_energy(last[changed], ptr[changed], cur_m[changed][:, None, None])
        chosen, complete = _greedy_match(score[act], e)
        if not complete.all():
            for i in np.flatnonzero(~complete):
                if m[i] > 1:  # a smaller batch will fit
                    batch[act[i]] = max(1, int(m[i]) // 2)
                else:
                    chosen[i] = _complete_pack(ptr[act[i]] < L, chosen[i], e)
                    complete[i] = True
        sel = act[complete]
        ci, cr, cb = np.nonzero(chosen[complete])
        cg = sel[ci]
        ptr[cg, cr, cb] += cur_m[cg]
        done[sel] += m[complete]
        score[cg, cr, cb] = batch_energy(last[cg, cr, cb], ptr[cg, cr, cb], cur_m[cg])
    return ptr


def keep_largest_per_cell(mag: np.ndarray, lay: "_Layout", perm, counts: np.ndarray, sorted_cells) -> np.ndarray:
    """Mask (rows, cols) keeping the ``counts[g, r, b]`` largest entries of every cell; among
    equal magnitudes the lower column is kept first. Works in the matrix's own layout: a
    threshold per cell, then a comparison, with a cumulative count only where ties straddle it."""
    L = lay.L
    idx = np.clip(L - counts, 0, L - 1)  # ascending order: the counts-th largest
    thr = np.take_along_axis(sorted_cells, idx[..., None], axis=-1)[..., 0]
    thr = np.where(counts > 0, thr, np.inf).astype(np.float32)

    def to_rows(x):  # (G, R, B) in group order -> (nI, tr, nJ, 1, B) at the dense rows
        x = x.reshape(lay.nI, lay.nJ, lay.tr, lay.B)
        if perm is not None:
            out = np.empty_like(x)
            np.put_along_axis(out, perm[..., None], x, axis=2)
            x = out
        return x.transpose(0, 2, 1, 3)[:, :, :, None, :]

    shape5 = (lay.nI, lay.tr, lay.nJ, L, lay.B)
    view = mag.reshape(shape5)
    # The mask takes the memory order of mag (that of the kernel), so that turning it back into
    # the kernel layout is free.
    keep = np.empty_like(mag, dtype=bool)
    keep5 = keep.view()
    keep5.shape = shape5  # raises rather than copying: the writes below must land in keep
    t = to_rows(thr)
    np.greater(view, t, out=keep5)
    eq = view == t
    need = to_rows(counts) - keep5.sum(axis=3, keepdims=True)
    if np.any(need < eq.sum(axis=3, keepdims=True)):
        eq &= np.cumsum(eq, axis=3) <= need
    keep5 |= eq
    return keep


@register_structure
class GatherScatter(Structure):
    """Gather-scatter (GS) patterns (Sun et al., arXiv 2112.10898), on the GEMM view.

    Parameters: ``B = banks``, ``e = elements_per_row``, ``R = B / e`` rows per group. Bank of a
    column: ``column mod B``. Rows are cut into consecutive groups of ``R``; a group is stored as
    packs of ``B`` non-zeros, ``e`` per row of the group and one per bank. ``e = 1`` is the
    "vertical" kernel (one lane per output row), ``e = B`` the "horizontal" one (one row per
    pack, finished by a lane reduction).

    Valid weights: the non-zeros of each group fit in ``P_g = max(max_row ceil(count / e),
    max_bank count)`` packs (zeros may pad a pack) and the packs of the layer number at most
    ``T = floor(K / B + 0.5)``, where ``K = n - floor(s * n + 0.5)`` is the kept-weight target.
    The projection fills every pack, so inside a group every row keeps the same count and every
    bank is used equally (the reference library's validity rule).

    Greedy, not a Euclidean projection (that is a transportation problem per group):

    1. The ``B * T`` largest magnitudes of the layer are marked (ties: the lower index is left
       out first, as in every structure); group g
       gets ``n_g / B`` packs of them, rounded by largest remainders so that the packs sum to
       ``T``. The weight sparsity is therefore exactly ``1 - B * T / n``: the target when ``B``
       divides ``K``, otherwise the nearest multiple of ``B`` (``achieved_sparsity``). (The
       reference rounds each group on its own instead.)
    2. Greedy pack construction, for each group: each row keeps a candidate list per bank
       sorted by magnitude; a pack is built by repeatedly taking, among rows with a free slot,
       the largest candidate whose bank is still free (ties: lower row, then bank, then column
       taken first). Packs are
       built in batches so that a group needs at most about ``GREEDY_STEPS`` (64) rounds: a batch
       of ``m = ceil(P_g / 64)`` identical-shape packs scores each (row, bank) cell by the energy
       of its next ``m`` candidates. With ``P_g <= 64`` this is exactly the one-pack-at-a-time
       greedy. When the greedy cannot complete a pack, the batch is halved, and a single pack is
       completed by augmenting paths (one always exists).
    3. Weights that already satisfy the structure are returned unchanged (their mask is their
       non-zero pattern; all-zero weights get a full mask by the steps above), so projecting
       twice changes nothing. Their sparsity may then exceed the target (``achieved_sparsity``).

    Tiles (optional, ``tile = (tile_rows, tile_cols)``): groups and banks are formed inside each
    tile. The rows of a tile are sorted by their count of marked weights (descending, stable) and
    grouped ``R`` at a time, so rows of similar density share packs; groups given the same pack
    count are then re-sorted by row index. Outputs are written back through a row index
    ("scatter"). The validity check groups each tile's rows by non-zero count (descending), then
    row index, which recovers that grouping whenever the packs are full.

    Shape requirements, checked at ``project``/``mask``/``is_valid`` time: ``B`` divides the GEMM
    columns and ``R`` divides the GEMM rows (or, with tiles, the tile divides the GEMM shape,
    ``B`` divides ``tile_cols`` and ``R`` divides ``tile_rows``).

    Compact format: GS packs (``tf_sparse.formats.encode_gs``).

    Args:
      sparsity: target fraction of zero weights, in [0, 1).
      banks: B, a positive integer (default 16).
      elements_per_row: e, a positive divisor of ``banks`` (default 1).
      tile: optional ``(tile_rows, tile_cols)`` of the GEMM view.

    Example:
      >>> w = np.random.default_rng(0).standard_normal((64, 32)).astype(np.float32)  # Dense
      >>> s = GatherScatter(0.75, banks=8)
      >>> p = s.project(w)
      >>> s.is_valid(p), s.achieved_sparsity(w)
      (True, 0.75)
    """

    def __init__(self, sparsity: float, banks: int = 16, elements_per_row: int = 1, tile=None):
        super().__init__(sparsity)
        self.banks = _positive_int(banks, "banks")
        self.elements_per_row = _positive_int(elements_per_row, "elements_per_row")
        if self.banks % self.elements_per_row:
            raise ValueError(
                f"GatherScatter: `elements_per_row` must divide `banks` ({self.banks}); allowed "
                f"values: {_divisors(self.banks)}, got {self.elements_per_row}"
            )
        if tile is not None:
            if not isinstance(tile, (tuple, list)) or len(tile) != 2:
                raise ValueError(f"GatherScatter: `tile` must be None or (tile_rows, tile_cols), got {tile!r}")
            tile = (_positive_int(tile[0], "tile"), _positive_int(tile[1], "tile"))
            if tile[0] % self.rows_per_group or tile[1] % self.banks:
                raise ValueError(
                    f"GatherScatter: `tile` rows must be a multiple of banks / elements_per_row "
                    f"({self.rows_per_group}) and tile columns a multiple of `banks` ({self.banks}), "
                    f"got {tile}"
                )
        self.tile = tile

    @property
    def rows_per_group(self) -> int:
        return self.banks // self.elements_per_row

    def get_config(self):
        return {
            "sparsity": self.sparsity,
            "banks": self.banks,
            "elements_per_row": self.elements_per_row,
            "tile": None if self.tile is None else list(self.tile),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("tile") is not None:
            config["tile"] = tuple(config["tile"])
        return cls(**config)

    # --- shape checks --------------------------------------------------------------------------
    def _check_kernel(self, kernel):
        kernel = super()._check_kernel(kernel)
        rows, cols = to_gemm(kernel).shape
        what = f"kernel shape {tuple(kernel.shape)} (GEMM view {rows} x {cols})"
        R, B = self.rows_per_group, self.banks
        if self.tile is None:
            if cols % B:
                raise ValueError(
                    f"GatherScatter: `banks` ({B}) must divide the GEMM columns of {what}; allowed "
                    f"banks: {_divisors(cols)}"
                )
            if rows % R:
                raise ValueError(
                    f"GatherScatter: `banks` / `elements_per_row` ({R} rows per group) must divide "
                    f"the GEMM rows of {what}; allowed rows per group: {_divisors(rows)}"
                )
        else:
            tr, tc = self.tile
            if rows % tr or cols % tc:
                raise ValueError(
                    f"GatherScatter: `tile` {self.tile} must divide {what}; allowed tile rows: "
                    f"{[d for d in _divisors(rows) if d % R == 0]}, tile columns: "
                    f"{[d for d in _divisors(cols) if d % B == 0]}"
                )
        return kernel

    def _layout(self, shape) -> _Layout:
        return _Layout(shape, self.banks, self.rows_per_group, self.tile)

    def num_packs(self, n: int, sparsity=None) -> int:
        """``T``: the packs a layer of ``n`` weights gets at ``sparsity``."""
        s = self.sparsity if sparsity is None else sparsity
        keep = n - num_pruned(n, s)
        return int(np.floor(keep / self.banks + 0.5))

    # --- structure -----------------------------------------------------------------------------
    def pack_counts(self, w2: np.ndarray):
        """``(P_g, perm)``: packs each group needs for the non-zeros of ``w2`` (GEMM view) and the
        canonical row order inside tiles (None untiled)."""
        lay = self._layout(w2.shape)
        nz = w2 != 0
        perm = lay.canonical_perm(nz)
        counts = lay.group_counts(lay.row_bank_counts(nz), perm)
        return min_packs(counts, self.elements_per_row), perm

    def _is_valid_gemm(self, w2, sparsity):
        packs, _ = self.pack_counts(w2)
        return int(packs.sum()) <= self.num_packs(w2.size, sparsity)

    def _keep_gemm(self, w2, sparsity):
        lay = self._layout(w2.shape)
        n = w2.size
        total = self.num_packs(n, sparsity)
        B = self.banks
        if np.any(w2) and self._is_valid_gemm(w2, sparsity):
            return w2 != 0
        mag = np.abs(w2).astype(np.float32, copy=False)  # keeps the memory order of w2
        top = ~prune_lowest(mag, n - B * total)
        rb = lay.row_bank_counts(top)  # (nI, nJ, tr, B)
        perm = None
        if lay.tiled:
            cnt = rb.sum(axis=3)
            perm = np.argsort(-cnt, axis=-1, kind="stable")
        n_g = lay.group_counts(rb, perm).sum(axis=(1, 2))
        packs = apportion(n_g, B, total)
        if lay.tiled:
            # Groups with equal pack counts are contiguous (counts are non-increasing along a
            # tile); re-sort their rows by index so the grouping is recoverable from the result.
            p_row = np.repeat(packs.reshape(lay.nI, lay.nJ, lay.gpt), lay.R, axis=-1)
            perm = np.take_along_axis(perm, np.lexsort((perm, -p_row), axis=-1), axis=-1)
        cells = np.ascontiguousarray(lay.cells(mag, perm))
        cells.sort(axis=-1)
        counts = greedy_packs(cells, packs, self.elements_per_row)
        return keep_largest_per_cell(mag, lay, perm, counts, cells)
