import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tf_sparse as tfs
from tf_sparse.structures.kernel_pattern import (
    CANDIDATE_PATTERNS,
    extract_library,
    natural_pattern_counts,
    pattern_to_array,
)

CROSS = (1 << 1) | (1 << 3) | (1 << 4) | (1 << 7)  # up, left, centre, down


def test_56_candidates_keep_the_centre():
    assert len(CANDIDATE_PATTERNS) == 56 == len(set(CANDIDATE_PATTERNS))
    for p in CANDIDATE_PATTERNS:
        a = pattern_to_array(p)
        assert a.sum() == 4 and a[1, 1] == 1


def _pattern_kernel(rng, patterns, cin, cout):
    """A kernel whose (i, o) 3x3 kernel is large on patterns[(i + o) % len] and small elsewhere."""
    k = 0.01 * rng.standard_normal((3, 3, cin, cout))
    for i in range(cin):
        for o in range(cout):
            k[:, :, i, o] += pattern_to_array(patterns[(i * cout + o) % len(patterns)]) * (1 + rng.random((3, 3)))
    return k.astype(np.float32)


def test_library_extraction_finds_the_natural_patterns(rng):
    planted = [CANDIDATE_PATTERNS[3], CANDIDATE_PATTERNS[17], CANDIDATE_PATTERNS[40]]
    k = _pattern_kernel(rng, planted, 6, 7)
    counts = natural_pattern_counts([k])
    assert counts.sum() == 42 and set(np.flatnonzero(counts)) == {3, 17, 40}
    assert sorted(extract_library([k], 3)) == sorted(planted)
    # most frequent first; zero-count fill by candidate id
    assert extract_library([k], 5)[3:] == [CANDIDATE_PATTERNS[0], CANDIDATE_PATTERNS[1]]
    s = tfs.KernelPattern(3, connectivity=0.0).fit_library([k, k])
    assert sorted(s.library) == sorted(planted)
    p = s.project(k)
    assert np.count_nonzero(p) == 4 * 42


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), connectivity=st.floats(0.0, 0.9))
def test_fixed_library_projection_is_the_brute_force_optimum(seed, connectivity):
    rng = np.random.default_rng(seed)
    k = rng.standard_normal((3, 3, 2, 2))
    library = [CANDIDATE_PATTERNS[i] for i in rng.choice(56, 2, replace=False)]
    s = tfs.KernelPattern(2, connectivity=connectivity, library=library)
    p = s.project(k)
    kernels = [(i, o) for i in range(2) for o in range(2)]
    keep = 4 - int(np.floor(connectivity * 4 + 0.5))
    best = np.inf
    for choice in itertools.product([None] + library, repeat=4):
        if sum(c is not None for c in choice) > keep:
            continue
        z = np.zeros_like(k)
        for (i, o), c in zip(kernels, choice):
            if c is not None:
                z[:, :, i, o] = k[:, :, i, o] * pattern_to_array(c)
        best = min(best, np.sum((k - z) ** 2))
    assert np.sum((k - p) ** 2) == pytest.approx(best)
    assert s.is_valid(p)


def test_sparsity_and_connectivity(rng):
    k = rng.standard_normal((3, 3, 16, 16)).astype(np.float32)
    s = tfs.KernelPattern(8, connectivity=0.5)
    assert s.sparsity == pytest.approx(1 - 4 / 9 * 0.5)
    assert tfs.kernel_sparsity(s.project(k)) == pytest.approx(s.sparsity)
    kernels_kept = np.any(s.project(k) != 0, axis=(0, 1)).sum()
    assert kernels_kept == 128
    # a sparsity target sets the connectivity; below 5/9 only patterns apply
    assert s.connectivity_for(0.8) == pytest.approx(0.55)
    assert s.achieved_sparsity(k, 0.3) == pytest.approx(5 / 9)
    assert s.achieved_sparsity(k, 0.8) == pytest.approx(1 - 4 / 9 * (256 - round(0.55 * 256)) / 256)


def test_every_kept_kernel_uses_a_library_pattern(rng):
    k = rng.standard_normal((3, 3, 8, 8)).astype(np.float32)
    s = tfs.KernelPattern(4, connectivity=0.25).fit_library([k])
    p = s.project(k)
    for i in range(8):
        for o in range(8):
            nz = p[:, :, i, o] != 0
            if nz.any():
                mask = int(sum(1 << j for j, v in enumerate(nz.ravel()) if v))
                assert mask in s.library


def test_is_valid(rng):
    k = rng.standard_normal((3, 3, 4, 4)).astype(np.float32)
    s = tfs.KernelPattern(2, connectivity=0.0)
    assert not s.is_valid(k)  # 9 non-zeros per kernel
    p = s.project(k)
    assert s.is_valid(p)
    bad = p.copy()
    bad[0, 0, 0, 0] = bad[0, 1, 0, 0] = bad[0, 2, 0, 0] = bad[2, 2, 0, 0] = 1.0  # 5+ entries
    assert not s.is_valid(bad)
    fixed = tfs.KernelPattern(1, connectivity=0.0, library=[CROSS])
    cross = np.zeros((3, 3, 2, 2), np.float32)
    cross[:, :, 0, 0] = pattern_to_array(CROSS)
    assert fixed.is_valid(cross)
    cross[0, 0, 1, 1] = 1.0  # a corner is not in the library
    assert not fixed.is_valid(cross)
    four = np.ones((3, 3, 2, 2), np.float32) * pattern_to_array(CROSS)[:, :, None, None]
    assert not tfs.KernelPattern(1, connectivity=0.9, library=[CROSS]).is_valid(four)


@pytest.mark.parametrize("shape", [(1, 1, 16, 32), (5, 5, 2, 2), (3, 1, 2, 2)])
def test_non_3x3_kernels_are_rejected_naming_the_shape(shape):
    s = tfs.KernelPattern()
    for call in (s.project, s.mask, s.is_valid):
        with pytest.raises(ValueError, match=r"3x3.*" + str(shape).replace("(", r"\(").replace(")", r"\)")):
            call(np.ones(shape, np.float32))


def test_dense_kernels_are_rejected():
    with pytest.raises(ValueError, match="Conv2D"):
        tfs.KernelPattern().project(np.ones((4, 4), np.float32))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"num_patterns": 0}, r"num_patterns.*\[1, 56\]"),
        ({"num_patterns": 57}, r"num_patterns.*\[1, 56\]"),
        ({"connectivity": 1.0}, r"connectivity.*\[0, 1\)"),
        ({"connectivity": -0.5}, r"connectivity.*\[0, 1\)"),
        ({"num_patterns": 1, "library": [0b111111111]}, "exactly 4 entries including the centre"),
        ({"num_patterns": 1, "library": [0b000001111]}, "exactly 4 entries including the centre"),
        ({"num_patterns": 2, "library": [CROSS, CROSS]}, "distinct"),
        ({"num_patterns": 8, "library": [CROSS]}, r"num_patterns.*\(8\).*\(1\)"),
        ({"num_patterns": 1, "library": [np.eye(3)]}, "exactly 4 entries"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tfs.KernelPattern(**kwargs)


def test_library_as_arrays():
    s = tfs.KernelPattern(1, library=[pattern_to_array(CROSS)])
    assert s.library == [CROSS]
    assert tfs.KernelPattern.from_config(s.get_config()) == s


def test_filter_blocks_share_one_pattern_and_are_removed_together(rng):
    from tf_sparse.structures.kernel_pattern import kernels_9

    # A depthwise layer's structure view: 40 channels are 40 filters of one input channel.
    k = rng.standard_normal((3, 3, 1, 40)).astype(np.float32)
    s = tfs.KernelPattern(4, connectivity=0.4, filter_block=16).fit_library([k])
    p = s.project(k)
    k9 = kernels_9(p)[:, 0, :]  # (40, 9)
    blocks = [k9[0:16], k9[16:32], k9[32:40]]
    kept = [b for b in blocks if np.any(b)]
    assert len(kept) == 2  # 3 blocks, floor(0.4 * 3 + 0.5) = 1 removed
    for b in kept:
        support = (b != 0).any(axis=0)
        assert support.sum() == 4 and int(sum(1 << t for t in np.flatnonzero(support))) in s.library
        assert np.all((b != 0) == support)  # every channel of the block on the block's pattern
    assert s.is_valid(p) and np.array_equal(s.project(p), p)
    # Per-channel patterns break the shared-pattern constraint.
    per_channel = tfs.KernelPattern(4, connectivity=0.4, library=s.library).project(k)
    assert not s.is_valid(per_channel)
    assert type(s)(**s.get_config()).filter_block == 16
    ids = s.group_ids(k)
    assert ids.shape == k.shape and len(np.unique(ids)) == 3
    c = tfs.structures.Connectivity(0.4, filter_block=16)
    assert [type(x) for x in s.admm_constraints()] == [tfs.KernelPattern, tfs.structures.Connectivity]
    q = c.project(k)
    assert c.is_valid(q) and sum(np.any(kernels_9(q)[i : i + 16]) for i in (0, 16, 32)) == 2


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), connectivity=st.floats(0.0, 0.9))
def test_filter_block_projection_is_the_brute_force_optimum(seed, connectivity):
    rng = np.random.default_rng(seed)
    k = rng.standard_normal((3, 3, 1, 4))
    library = [CANDIDATE_PATTERNS[i] for i in rng.choice(56, 2, replace=False)]
    s = tfs.KernelPattern(2, connectivity=connectivity, library=library, filter_block=2)
    p = s.project(k)
    keep = 2 - int(np.floor(connectivity * 2 + 0.5))
    best = np.inf
    for choice in itertools.product([None] + library, repeat=2):
        if sum(c is not None for c in choice) > keep:
            continue
        q = np.zeros_like(k)
        for unit, pat in enumerate(choice):
            if pat is not None:
                for o in (2 * unit, 2 * unit + 1):
                    q[:, :, 0, o] = k[:, :, 0, o] * pattern_to_array(pat)
        best = min(best, float(np.sum((k - q) ** 2)))
    assert float(np.sum((k - p) ** 2)) == pytest.approx(best, rel=1e-9, abs=1e-12)


def test_filter_block_must_be_a_positive_integer():
    for bad in (0, -1, 1.5, True, "16"):
        with pytest.raises(ValueError, match="filter_block"):
            tfs.KernelPattern(4, filter_block=bad)
        with pytest.raises(ValueError, match="filter_block"):
            tfs.structures.Connectivity(0.5, filter_block=bad)
