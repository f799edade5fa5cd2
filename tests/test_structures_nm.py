import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tf_sparse as tfs
from tf_sparse.structures import to_gemm


@settings(max_examples=40, deadline=None)
@given(
    n_m=st.sampled_from([(1, 2), (2, 4), (1, 4), (4, 8), (3, 16), (5, 12)]),
    rows=st.integers(1, 12),
    cols=st.integers(1, 40),
    seed=st.integers(0, 2**16),
)
def test_keeps_the_n_largest_of_every_group(n_m, rows, cols, seed):
    n, m = n_m
    w = np.random.default_rng(seed).standard_normal((cols, rows)).astype(np.float32)
    structure = tfs.NM(n, m)
    w2, p2 = to_gemm(w), to_gemm(structure.project(w))
    for j in range(0, cols, m):
        for r in range(rows):
            group, kept = w2[r, j : j + m], p2[r, j : j + m]
            k = min(n, group.size)
            assert np.count_nonzero(kept) == k
            # the kept set is the top-k by magnitude: the Euclidean projection of the group
            assert np.sort(np.abs(group))[::-1][:k].sum() == pytest.approx(np.abs(kept).sum())
    if cols % m == 0:
        assert tfs.kernel_sparsity(structure.project(w)) == pytest.approx(1 - n / m)


def test_brute_force_small(rng):
    w = rng.standard_normal((8, 3))  # GEMM 3 x 8: two groups of 4 per row
    p = tfs.NM(2, 4).project(w)
    best = 0.0
    for row in to_gemm(w):
        for g in (row[:4], row[4:]):
            best += min(np.sum(g**2) - np.sum(g[list(c)] ** 2) for c in itertools.combinations(range(4), 2))
    assert np.sum((w - p) ** 2) == pytest.approx(best)


def test_groups_run_along_the_conv_reduction_axis(rng):
    k = rng.standard_normal((3, 3, 8, 5)).astype(np.float32)
    p = tfs.NM(2, 4).project(k)
    # input channel fastest: channels 0-3 and 4-7 at each (y, x) are the groups
    nz = np.count_nonzero(p.reshape(3, 3, 2, 4, 5), axis=3)
    assert np.all(nz == 2)


def test_ramp_with_sparsity():
    structure = tfs.NM(2, 8)
    assert structure.sparsity == 0.75
    assert [structure.keep_per_group(s) for s in (None, 0.0, 0.1, 0.3, 0.5, 0.75, 0.9)] == [2, 8, 7, 6, 4, 2, 2]
    w = np.ones((16, 4), dtype=np.float32)
    assert structure.achieved_sparsity(w, 0.5) == 0.5
    assert structure.achieved_sparsity(w, 0.9) == 0.75  # never past n:m; reported
    p = structure.project(np.arange(1, 65, dtype=np.float32).reshape(16, 4), sparsity=0.5)
    assert structure.is_valid(p, sparsity=0.5) and not structure.is_valid(p)


def test_is_valid(rng):
    w = rng.standard_normal((8, 2)).astype(np.float32)
    assert not tfs.NM(2, 4).is_valid(w)
    w[[0, 1, 4, 5]] = 0
    assert tfs.NM(2, 4).is_valid(w)
    w[5, 1] = 1.0
    assert not tfs.NM(2, 4).is_valid(w)


@pytest.mark.parametrize(
    "n,m,match",
    [
        (5, 4, r"`n` must be <= `m`.*n=5, m=4"),
        (0, 4, "`n` must be a positive integer"),
        (2, 0, "`m` must be a positive integer"),
        (2.0, 4, "`n`"),
        (2, 300, "`m` must be at most 256"),
    ],
)
def test_invalid_arguments(n, m, match):
    with pytest.raises(ValueError, match=match):
        tfs.NM(n, m)
