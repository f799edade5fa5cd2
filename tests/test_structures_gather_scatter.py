import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import tf_sparse as tfs
from tf_sparse.structures import to_gemm
from tf_sparse.structures.gather_scatter import apportion


def group_view(mask2, structure):
    """(groups, R, B) non-zero counts in the grouping the validity check uses."""
    lay = structure._layout(mask2.shape)
    perm = lay.canonical_perm(mask2)
    return lay.group_counts(lay.row_bank_counts(mask2), perm)


def reference_greedy(w2, structure, sparsity):
    """The greedy pack construction one pack at a time, in plain Python (untiled)."""
    B, e = structure.banks, structure.elements_per_row
    R = B // e
    rows, cols = w2.shape
    n = w2.size
    total = structure.num_packs(n, sparsity)
    mag = np.abs(w2).astype(np.float32)
    flat = mag.ravel()
    order = sorted(range(n), key=lambda i: (flat[i], i))  # ascending; ties: lower index first
    top = np.zeros(n, bool)
    top[order[n - B * total :]] = True
    n_g = top.reshape(rows // R, R * cols).sum(axis=1)
    packs = apportion(n_g, B, total)
    keep = np.zeros((rows, cols), bool)
    for g in range(rows // R):
        for _ in range(packs[g]):
            slots = {r: e for r in range(g * R, (g + 1) * R)}
            free_banks = set(range(B))
            for _ in range(B):
                best = None
                for r in sorted(slots):
                    if slots[r] == 0:
                        continue
                    for c in range(cols):
                        if keep[r, c] or c % B not in free_banks:
                            continue
                        key = (-mag[r, c], r, c % B, c)
                        if best is None or key < best[0]:
                            best = (key, r, c)
                if best is None:
                    return None  # stuck: the vectorised version completes by augmenting paths
                _, r, c = best
                keep[r, c] = True
                slots[r] -= 1
                free_banks.discard(c % B)
    return keep


@settings(max_examples=25, deadline=None)
@given(
    be=st.sampled_from([(4, 1), (4, 2), (4, 4), (8, 2)]),
    groups=st.integers(1, 3),
    col_banks=st.integers(1, 4),
    s=st.floats(0.4, 0.95),
    seed=st.integers(0, 2**16),
)
def test_matches_the_one_pack_at_a_time_greedy(be, groups, col_banks, s, seed):
    B, e = be
    structure = tfs.GatherScatter(s, banks=B, elements_per_row=e)
    rows, cols = groups * (B // e), col_banks * B
    w = np.random.default_rng(seed).standard_normal((cols, rows)).astype(np.float32)  # Dense
    ref = reference_greedy(to_gemm(w), structure, s)
    assume(ref is not None)
    np.testing.assert_array_equal(to_gemm(structure.mask(w)) != 0, ref)


@settings(max_examples=40, deadline=None)
@given(
    be=st.sampled_from([(4, 1), (4, 2), (4, 4), (8, 1), (2, 1)]),
    groups=st.integers(1, 4),
    col_banks=st.integers(1, 5),
    s=st.floats(0.0, 0.99),
    tiled=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_packs_are_full_and_balanced(be, groups, col_banks, s, tiled, seed):
    B, e = be
    R = B // e
    rows, cols = 2 * groups * R, 2 * col_banks * B
    tile = (rows // 2, cols // 2) if tiled else None
    structure = tfs.GatherScatter(s, banks=B, elements_per_row=e, tile=tile)
    w = np.random.default_rng(seed).standard_normal((cols, rows)).astype(np.float32)
    mask2 = to_gemm(structure.mask(w)) != 0
    counts = group_view(mask2, structure)
    per_row, per_bank = counts.sum(axis=2), counts.sum(axis=1)
    assert np.all(per_row == per_row[:, :1])  # every row of a group: same count
    assert np.all(per_bank == per_bank[:, :1])  # every bank of a group: same count
    assert np.all(per_row[:, 0] == e * per_bank[:, 0])
    total = structure.num_packs(w.size, s)
    assert mask2.sum() == B * total  # exactly T full packs
    keep = w.size - int(np.floor(s * w.size + 0.5))
    assert abs(mask2.sum() - keep) <= B / 2  # the nearest multiple of B
    p = structure.project(w)
    assert structure.is_valid(p)
    np.testing.assert_array_equal(structure.project(p), p)


def test_exact_sparsity_when_banks_divide_the_budget(rng):
    w = rng.standard_normal((64, 64)).astype(np.float32)
    for s in (0.5, 0.75, 0.875, 0.9375):
        structure = tfs.GatherScatter(s, banks=16)
        assert tfs.kernel_sparsity(structure.project(w)) == s == structure.achieved_sparsity(w)
    structure = tfs.GatherScatter(0.9, banks=16)
    achieved = structure.achieved_sparsity(w)
    assert achieved != 0.9 and abs(achieved - 0.9) <= 8 / w.size


def test_close_to_unstructured_energy(rng):
    w = rng.standard_normal((256, 512)).astype(np.float32)
    gs = tfs.GatherScatter(0.875, banks=16).project(w)
    un = tfs.Unstructured(0.875).project(w)
    assert np.sum(gs**2) >= 0.97 * np.sum(un**2)


def test_low_sparsity_needs_the_augmenting_completion(rng):
    # Nearly dense groups leave few free cells: the greedy gets stuck and must be completed.
    structure = tfs.GatherScatter(0.05, banks=4)
    for seed in range(20):
        w = np.random.default_rng(seed).standard_normal((8, 8)).astype(np.float32)
        p = structure.project(w)
        assert structure.is_valid(p)
        counts = group_view(to_gemm(p) != 0, structure)
        assert np.all(counts.sum(axis=1) == counts.sum(axis=1)[:, :1])


def test_tiles_group_rows_by_density(rng):
    w2 = rng.standard_normal((16, 16)).astype(np.float32)
    w2[::2] *= 10  # even rows dominate: they should share groups
    structure = tfs.GatherScatter(0.7, banks=4, tile=(16, 16))
    p2 = to_gemm(structure.project(w2.T))
    counts = (p2 != 0).sum(axis=1)
    assert counts[::2].min() > counts[1::2].max()
    assert structure.is_valid(p2.T)


def test_already_valid_weights_are_unchanged(rng):
    w = rng.standard_normal((32, 32)).astype(np.float32)
    structure = tfs.GatherScatter(0.75, banks=8)
    p = structure.project(w)
    np.testing.assert_array_equal(structure.project(p), p)
    np.testing.assert_array_equal(structure.mask(p), p != 0)
    # weights sparser than the target: packs may hold zeros, and a second projection keeps them
    for seed in range(20):
        g = np.random.default_rng(seed)
        sparse = g.standard_normal((32, 32)).astype(np.float32) * (g.random((32, 32)) < 0.1)
        p = tfs.GatherScatter(0.9, banks=8).project(sparse)
        assert tfs.GatherScatter(0.9, banks=8).is_valid(p)
        np.testing.assert_array_equal(tfs.GatherScatter(0.9, banks=8).project(p), p)
    # all-zero weights still get a full mask (T packs), like the other structures
    zero_mask = structure.mask(np.zeros((32, 32), np.float32))
    assert zero_mask.sum() == 8 * structure.num_packs(32 * 32)


def test_is_valid_counts_packs():
    structure = tfs.GatherScatter(0.75, banks=4)  # 8 x 8 Dense: T = 4 packs
    w2 = np.zeros((8, 8), np.float32)
    w2[0:4, 0:4] = np.eye(4)[[0, 1, 2, 3]] + 0  # rows 0-3, banks 0-3: one pack
    assert structure.is_valid(w2.T)
    w2[0, 4] = 1.0  # row 0 and bank 0 need a second pack: 2 packs, still <= 4
    assert structure.is_valid(w2.T)
    w2[0, :] = 1.0  # row 0 holds 8: 8 packs in group 0
    assert not structure.is_valid(w2.T)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"banks": 0}, "`banks` must be a positive integer"),
        ({"banks": 16, "elements_per_row": 3}, r"`elements_per_row` must divide `banks` \(16\).*\[1, 2, 4, 8, 16\]"),
        ({"banks": 16, "elements_per_row": 0}, "elements_per_row"),
        ({"banks": 4, "tile": (6, 8)}, "tile"),
        ({"banks": 4, "tile": (8,)}, "tile"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tfs.GatherScatter(0.5, **kwargs)


def test_shapes_that_banks_do_not_divide_are_rejected_at_project_time():
    s = tfs.GatherScatter(0.5, banks=16)
    with pytest.raises(ValueError, match=r"`banks` \(16\) must divide.*\(3, 3, 3, 64\).*27.*\[1, 3, 9, 27\]"):
        s.project(np.ones((3, 3, 3, 64), np.float32))
    with pytest.raises(ValueError, match=r"rows per group.*\(32, 10\)"):
        s.mask(np.ones((32, 10), np.float32))
    with pytest.raises(ValueError, match=r"`tile` \(8, 8\) must divide"):
        tfs.GatherScatter(0.5, banks=4, tile=(8, 8)).is_valid(np.ones((12, 8), np.float32))
