"""Group structures (unstructured, filter, channel, column, block-punched, crossbar): the
projection is the exact Euclidean projection onto "at most k non-zero groups"."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tf_sparse as tfs


def brute_force_distance(w, structure, sparsity, signs=False):
    """min ||w - z||^2 over z with at most k non-zero groups (and, with ``signs``, one sign per
    crossbar tile), by enumeration."""
    ids = structure.group_ids(w)
    n = int(ids.max()) + 1
    keep = n - int(np.floor(sparsity * n + 0.5))
    energy = np.bincount(ids.ravel(), weights=np.square(w.ravel().astype(np.float64)), minlength=n)
    if signs:  # energy of a group under the better sign of its tile
        tiles = structure_tile_ids(w, structure)
        best = np.inf
        n_tiles = int(tiles.max()) + 1
        for choice in itertools.product((1, -1), repeat=n_tiles):
            sign = np.asarray(choice)[tiles]
            kept_w = np.where(sign * w > 0, w, 0.0)
            e = np.bincount(ids.ravel(), weights=np.square(kept_w.ravel().astype(np.float64)), minlength=n)
            top = np.sort(e)[::-1][:keep].sum()
            best = min(best, np.square(w.astype(np.float64)).sum() - top)
        return best
    best = np.inf
    for kept in itertools.combinations(range(n), keep):
        best = min(best, energy.sum() - energy[list(kept)].sum())
    return best


def structure_tile_ids(w, structure):
    return tfs.Crossbar(0.0, tile=structure.tile, granularity="tile").group_ids(w)


BRUTE = [
    (lambda s: tfs.Unstructured(s), (3, 3)),
    (lambda s: tfs.Filter(s), (4, 6)),
    (lambda s: tfs.Filter(s), (2, 2, 2, 5)),
    (lambda s: tfs.Channel(s), (6, 3)),
    (lambda s: tfs.Channel(s), (2, 2, 5, 2)),
    (lambda s: tfs.Column(s), (3, 3, 1, 2)),
    (lambda s: tfs.BlockPunched(s, block=(2, 2)), (2, 1, 3, 3)),
    (lambda s: tfs.BlockPunched(s, block=(3, 2)), (5, 7)),
    (lambda s: tfs.Crossbar(s, tile=(2, 3)), (7, 5)),
    (lambda s: tfs.Crossbar(s, tile=(2, 3), granularity="row"), (3, 4)),
    (lambda s: tfs.Crossbar(s, tile=(3, 2), granularity="column"), (4, 3)),
]


@pytest.mark.parametrize("make,shape", BRUTE)
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), s=st.floats(0.0, 0.95))
def test_projection_is_the_brute_force_optimum(make, shape, seed, s):
    w = np.random.default_rng(seed).standard_normal(shape)
    structure = make(s)
    p = structure.project(w)
    assert np.sum((w - p) ** 2) == pytest.approx(brute_force_distance(w, structure, s), rel=1e-9, abs=1e-12)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), s=st.floats(0.0, 0.9))
def test_single_sign_tiles_are_the_brute_force_optimum(seed, s):
    w = np.random.default_rng(seed).standard_normal((4, 6))  # GEMM 6 x 4, tiles 3 x 2: 4 tiles
    structure = tfs.Crossbar(s, tile=(3, 2), single_sign=True)
    p = structure.project(w)
    assert np.sum((w - p) ** 2) == pytest.approx(brute_force_distance(w, structure, s, signs=True), rel=1e-9)
    tiles = structure_tile_ids(w, structure)
    for t in np.unique(tiles):
        vals = p[tiles == t]
        assert not (np.any(vals > 0) and np.any(vals < 0))


@pytest.mark.parametrize(
    "structure,shape",
    [
        (tfs.Unstructured(0.75), (16, 8)),
        (tfs.Filter(0.25), (5, 8)),
        (tfs.Channel(0.5), (3, 3, 8, 4)),
        (tfs.Column(0.5), (3, 3, 4, 4)),
        (tfs.BlockPunched(0.75, block=(4, 2)), (3, 3, 8, 8)),
        (tfs.Crossbar(0.5, tile=(8, 8)), (32, 16)),
        (tfs.Crossbar(0.25, tile=(8, 8), granularity="row"), (32, 16)),
    ],
    ids=repr,
)
def test_exact_sparsity_when_groups_divide(rng, structure, shape):
    w = rng.standard_normal(shape).astype(np.float32)
    p = structure.project(w)
    assert tfs.kernel_sparsity(p) == structure.sparsity
    assert structure.achieved_sparsity(w) == structure.sparsity


def test_partial_groups_report_achieved_sparsity(rng):
    w = rng.standard_normal((10, 10)).astype(np.float32)  # GEMM 10 x 10, 8 x 8 tiles: partial
    structure = tfs.Crossbar(0.5, tile=(8, 8))
    achieved = structure.achieved_sparsity(w)
    assert achieved == pytest.approx(tfs.kernel_sparsity(structure.project(w)))
    assert achieved != 0.5


def test_conv_group_semantics(rng):
    k = rng.standard_normal((3, 3, 6, 5)).astype(np.float32)
    p = tfs.Filter(0.4).project(k)
    assert sorted(int(np.any(p[..., j])) for j in range(5)) == [0, 0, 1, 1, 1]
    p = tfs.Channel(0.5).project(k)
    assert [bool(np.any(p[:, :, i])) for i in range(6)].count(False) == 3
    for i in range(6):
        assert np.all(p[:, :, i] == 0) or np.all(p[:, :, i] != 0)
    p = tfs.Column(0.5).project(k)
    zero_cols = np.all(p == 0, axis=3)
    assert zero_cols.sum() == 27 and np.all(np.all(p != 0, axis=3) | zero_cols)
    # block-punched: all filters of a block share the surviving (position, channel) entries
    p = tfs.BlockPunched(0.5, block=(5, 3)).project(k)
    for c0 in (0, 3):
        block = p[:, :, c0 : c0 + 3, :] != 0
        assert np.all(block == block[:, :, :1, :1])


def test_unstructured_global_threshold(rng):
    a = rng.standard_normal((20, 10)).astype(np.float32)
    b = 3 * rng.standard_normal((3, 3, 4, 8)).astype(np.float32)
    structure = tfs.Unstructured(0.8)
    pa, pb = structure.project_global([a, b])
    kept = np.concatenate([np.abs(pa[pa != 0]), np.abs(pb[pb != 0])])
    pruned = np.concatenate([np.abs(a[pa == 0]), np.abs(b[pb == 0])])
    assert kept.size == (a.size + b.size) - int(np.floor(0.8 * (a.size + b.size) + 0.5))
    assert kept.min() >= pruned.max()
    assert tfs.kernel_sparsity(pb) < 0.8 < tfs.kernel_sparsity(pa)  # larger layer keeps more
    (single,) = structure.project_global([a])
    np.testing.assert_array_equal(single, structure.project(a))
    masks = structure.mask_global([a, b], sparsity=0.5)
    assert [m.shape for m in masks] == [a.shape, b.shape]
    assert sum(int(m.sum()) for m in masks) == (a.size + b.size) // 2


def test_is_valid_counts_groups(rng):
    w = rng.standard_normal((8, 8)).astype(np.float32)
    assert not tfs.Filter(0.5).is_valid(w)
    assert tfs.Filter(0.0).is_valid(w)
    w[:, :4] = 0
    assert tfs.Filter(0.5).is_valid(w) and not tfs.Filter(0.6).is_valid(w)
    mixed = np.ones((4, 4), np.float32)
    mixed[0, 0] = -1
    assert not tfs.Crossbar(0.0, tile=(4, 4), single_sign=True).is_valid(mixed)


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: tfs.BlockPunched(0.5, block=(0, 4)), "block"),
        (lambda: tfs.BlockPunched(0.5, block=(8,)), "block"),
        (lambda: tfs.Crossbar(0.5, tile=(64, 0)), "tile"),
        (lambda: tfs.Crossbar(0.5, tile=64), "tile"),
        (lambda: tfs.Crossbar(0.5, granularity="block"), r"granularity.*\['tile', 'row', 'column'\]"),
        (lambda: tfs.Crossbar(0.5, single_sign="yes"), "single_sign"),
    ],
)
def test_invalid_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_group_ids_cover_every_entry(rng):
    k = rng.standard_normal((3, 3, 5, 7)).astype(np.float32)
    for structure in (tfs.Filter(0.5), tfs.Channel(0.5), tfs.Column(0.5), tfs.BlockPunched(0.5, block=(4, 2))):
        ids = structure.group_ids(k)
        assert ids.shape == k.shape
        mask = structure.mask(k)
        for g in np.unique(ids):
            assert np.unique(mask[ids == g]).size == 1  # groups are kept or pruned whole
