import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tf_sparse as tfs
from tf_sparse.structures import from_gemm, to_gemm
from tf_sparse.structures.block import block_norms


def test_gemm_view_round_trip(rng):
    dense = rng.standard_normal((12, 5)).astype(np.float32)
    assert np.array_equal(to_gemm(dense), dense.T)
    conv = rng.standard_normal((3, 3, 4, 6)).astype(np.float32)
    w2 = to_gemm(conv)
    assert w2.shape == (6, 36)
    # input channel fastest: element (co, (kh*3 + kw)*4 + ci)
    assert w2[5, (2 * 3 + 1) * 4 + 3] == conv[2, 1, 3, 5]
    assert np.array_equal(from_gemm(w2, conv.shape), conv)


@settings(max_examples=60, deadline=None)
@given(
    out=st.integers(1, 40),
    inp=st.integers(1, 40),
    r=st.integers(1, 5),
    c=st.integers(1, 5),
    s=st.floats(0.0, 0.99),
    seed=st.integers(0, 2**16),
)
def test_projection_properties(out, inp, r, c, s, seed):
    w = np.random.default_rng(seed).standard_normal((inp, out)).astype(np.float32)
    structure = tfs.Block(s, block=(r, c))
    p = structure.project(w)
    assert p.shape == w.shape and p.dtype == w.dtype
    assert structure.is_valid(p)
    np.testing.assert_array_equal(structure.project(p), p)  # idempotent
    norms = block_norms(to_gemm(w), (r, c))
    n_blocks = norms.size
    n_pruned = int(np.floor(s * n_blocks + 0.5))
    kept = block_norms(to_gemm(p), (r, c)) > 0
    assert np.count_nonzero(kept) == n_blocks - n_pruned
    # the kept blocks are the largest ones
    if 0 < n_pruned < n_blocks:
        assert norms[kept].min() >= norms[~kept].max()
    # kept entries are unchanged, mask agrees with the projection
    m = structure.mask(w)
    np.testing.assert_array_equal(p, w * m)


@pytest.mark.parametrize(
    "shape,block,s", [((64, 40), (1, 4), 0.9), ((32, 32), (4, 4), 0.75), ((16, 8), (2, 1), 0.5), ((64, 32), (1, 4), 0.9)]
)
def test_exact_sparsity_when_block_divides(rng, shape, block, s):
    w = rng.standard_normal(shape).astype(np.float32)
    p = tfs.Block(s, block=block).project(w)
    n_blocks = w.size // (block[0] * block[1])
    # exact whenever s * n_blocks is whole; otherwise the nearest achievable value
    assert tfs.kernel_sparsity(p) == pytest.approx(np.floor(s * n_blocks + 0.5) / n_blocks, abs=1e-12)
    assert abs(tfs.kernel_sparsity(p) - s) <= 0.5 / n_blocks


def test_brute_force_optimum_small(rng):
    # The projection is the Euclidean projection onto "at most k nonzero blocks".
    w = rng.standard_normal((4, 6)).astype(np.float64)  # GEMM view 6 x 4
    structure = tfs.Block(0.5, block=(2, 2))
    p = structure.project(w)
    w2 = to_gemm(w)
    blocks = [(i, j) for i in range(3) for j in range(2)]
    best = np.inf
    for keep in itertools.combinations(blocks, 3):
        m = np.zeros_like(w2)
        for i, j in keep:
            m[2 * i : 2 * i + 2, 2 * j : 2 * j + 2] = 1
        best = min(best, np.sum((w2 - w2 * m) ** 2))
    assert np.sum((w - p) ** 2) == pytest.approx(best)


def test_ties_break_deterministically():
    w = np.ones((8, 4), dtype=np.float32)
    a = tfs.Block(0.5, block=(1, 4)).mask(w)
    b = tfs.Block(0.5, block=(1, 4)).mask(w.copy())
    np.testing.assert_array_equal(a, b)
    # lower block index is pruned first among equal norms
    assert a.T[0].sum() == 0 and a.T[3].sum() == 8


def test_is_valid_rejects_too_many_blocks(rng):
    w = rng.standard_normal((16, 16)).astype(np.float32)
    assert not tfs.Block(0.5, block=(1, 4)).is_valid(w)
    assert tfs.Block(0.0, block=(1, 4)).is_valid(w)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"sparsity": 1.0}, "sparsity"),
        ({"sparsity": -0.1}, "sparsity"),
        ({"sparsity": "0.5"}, "sparsity"),
        ({"sparsity": 0.5, "block": (0, 4)}, "block"),
        ({"sparsity": 0.5, "block": (1, 2, 3)}, "block"),
        ({"sparsity": 0.5, "block": (1.5, 2)}, "block"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        tfs.Block(**kwargs)


def test_bad_kernel_rank():
    with pytest.raises(ValueError, match="kernel"):
        tfs.Block(0.5).project(np.ones((3, 3, 3), dtype=np.float32))


def test_config_round_trip():
    s = tfs.Block(0.8, block=(4, 1))
    again = tfs.Block.from_config(s.get_config())
    assert again == s and again.block == (4, 1) and again.sparsity == 0.8
