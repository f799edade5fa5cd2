"""Properties every structure shares: validity of the projection, idempotence, mask agreement,
deterministic ties, config round trips and argument checks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tf_sparse as tfs
from tf_sparse.structures import deserialize_structure, serialize_structure


def _kernel(kind, seed, out, inp):
    rng = np.random.default_rng(seed)
    if kind == "dense":
        return rng.standard_normal((inp, out)).astype(np.float32)
    return rng.standard_normal((3, 3, inp, out)).astype(np.float32)


# (structure factory, kernel kinds, out multiple, in multiple): shapes are drawn as multiples so
# that structures with shape requirements (GS) accept them.
CASES = {
    "unstructured": (lambda s: tfs.Unstructured(s), ("dense", "conv"), 1, 1),
    "filter": (lambda s: tfs.Filter(s), ("dense", "conv"), 1, 1),
    "channel": (lambda s: tfs.Channel(s), ("dense", "conv"), 1, 1),
    "column": (lambda s: tfs.Column(s), ("dense", "conv"), 1, 1),
    "block": (lambda s: tfs.Block(s, block=(2, 3)), ("dense", "conv"), 1, 1),
    "block_punched": (lambda s: tfs.BlockPunched(s, block=(4, 2)), ("dense", "conv"), 1, 1),
    "nm": (lambda s: tfs.NM(2, 4), ("dense", "conv"), 1, 1),
    "nm_ramp": (lambda s: tfs.NM(1, 8), ("dense", "conv"), 1, 1),
    "kernel_pattern": (lambda s: tfs.KernelPattern(4, connectivity=s), ("conv",), 1, 1),
    "gs": (lambda s: tfs.GatherScatter(s, banks=4), ("dense", "conv"), 4, 4),
    "gs_hybrid": (lambda s: tfs.GatherScatter(s, banks=4, elements_per_row=2), ("dense", "conv"), 2, 4),
    "gs_tiled": (lambda s: tfs.GatherScatter(s, banks=4, tile=(8, 8)), ("dense",), 8, 8),
    "crossbar": (lambda s: tfs.Crossbar(s, tile=(4, 8)), ("dense", "conv"), 1, 1),
    "crossbar_rows_sign": (
        lambda s: tfs.Crossbar(s, tile=(4, 8), granularity="row", single_sign=True),
        ("dense", "conv"),
        1,
        1,
    ),
    "crossbar_cols": (lambda s: tfs.Crossbar(s, tile=(4, 8), granularity="column"), ("dense",), 1, 1),
}


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_projection_properties(name, data):
    make, kinds, out_mult, in_mult = CASES[name]
    kind = data.draw(st.sampled_from(kinds))
    out = out_mult * data.draw(st.integers(1, 24 // out_mult + 1))
    inp = in_mult * data.draw(st.integers(1, 24 // in_mult + 1))
    if kind == "conv" and name.startswith("gs"):
        inp = data.draw(st.sampled_from([4, 8]))  # GEMM columns 9 * in must be a multiple of B
    s = data.draw(st.floats(0.0, 0.97))
    w = _kernel(kind, data.draw(st.integers(0, 2**16)), out, inp)
    structure = make(s)
    p = structure.project(w)
    assert p.shape == w.shape and p.dtype == w.dtype
    assert structure.is_valid(p)
    np.testing.assert_array_equal(structure.project(p), p)  # idempotent
    m = structure.mask(w)
    assert set(np.unique(m)) <= {0.0, 1.0} and m.dtype == w.dtype
    np.testing.assert_array_equal(p, w * m)  # kept entries unchanged
    assert 0.0 <= structure.achieved_sparsity(w) <= 1.0
    assert structure.achieved_sparsity(w) == pytest.approx(1 - np.count_nonzero(m) / m.size)


@pytest.mark.parametrize("name", sorted(CASES))
def test_ties_break_deterministically(name):
    make, kinds, out_mult, in_mult = CASES[name]
    shape = (3, 3, 8, 8) if "conv" in kinds and name == "kernel_pattern" else (16, 16)
    w = np.ones(shape, dtype=np.float32)
    structure = make(0.5)
    a = structure.mask(w)
    np.testing.assert_array_equal(a, structure.mask(w.copy()))
    np.testing.assert_array_equal(a, make(0.5).mask(np.ones_like(w)))
    assert structure.is_valid(w * a)


def test_lower_index_pruned_first_on_ties():
    w = np.ones((4, 6), dtype=np.float32)  # Dense: 4 inputs, 6 outputs
    assert tfs.Filter(0.5).mask(w)[0].tolist() == [0, 0, 0, 1, 1, 1]
    assert tfs.Column(0.5).mask(w)[:, 0].tolist() == [0, 0, 1, 1]
    assert tfs.Unstructured(0.5).mask(w).T.ravel().tolist() == [0] * 12 + [1] * 12
    assert tfs.NM(2, 4).mask(w).T[0].tolist() == [0, 0, 1, 1]


CONFIGS = [
    tfs.Unstructured(0.3),
    tfs.Filter(0.4),
    tfs.Channel(0.45),
    tfs.Column(0.55),
    tfs.Block(0.6, block=(2, 8)),
    tfs.BlockPunched(0.7, block=(16, 2)),
    tfs.NM(1, 8),
    tfs.KernelPattern(num_patterns=3, connectivity=0.25, library=[0b000011011, 0b000111010, 0b110110000]),
    tfs.KernelPattern(num_patterns=6, connectivity=0.0),
    tfs.GatherScatter(0.8, banks=8, elements_per_row=2, tile=(32, 64)),
    tfs.GatherScatter(0.9),
    tfs.Crossbar(0.65, tile=(32, 128), granularity="column", single_sign=True),
]


@pytest.mark.parametrize("structure", CONFIGS, ids=repr)
def test_config_round_trip(structure):
    config = structure.get_config()
    again = type(structure).from_config(config)
    assert again == structure and again.get_config() == config
    assert vars(again) == vars(structure)  # every constructor argument survives
    assert deserialize_structure(serialize_structure(structure)) == structure
    assert deserialize_structure(eval(repr(structure), vars(tfs))) == structure  # noqa: S307


@pytest.mark.parametrize(
    "make",
    [
        tfs.Unstructured,
        tfs.Filter,
        tfs.Channel,
        tfs.Column,
        tfs.BlockPunched,
        tfs.GatherScatter,
        tfs.Crossbar,
    ],
)
@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5, float("nan"), "0.5", None, True])
def test_sparsity_outside_range_raises(make, bad):
    with pytest.raises((ValueError, TypeError), match=r"sparsity.*\[0, 1\)"):
        make(bad)


@pytest.mark.parametrize(
    "structure",
    [tfs.Unstructured(0.5), tfs.NM(2, 4), tfs.KernelPattern(), tfs.GatherScatter(0.5, banks=2)],
    ids=repr,
)
def test_project_time_sparsity_checked(structure):
    w = np.ones((3, 3, 4, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="sparsity"):
        structure.project(w, sparsity=1.0)


def test_bad_kernel_rank_names_kernel():
    for structure in CONFIGS:
        with pytest.raises(ValueError, match="kernel"):
            structure.project(np.ones((2, 3, 4), dtype=np.float32))


@pytest.mark.parametrize("name", sorted(CASES))
def test_memory_layout_does_not_matter(name, rng):
    make, kinds, out_mult, in_mult = CASES[name]
    shape = (3, 3, 8, 8) if name == "kernel_pattern" else (16, 16)
    w = rng.standard_normal((2,) + shape).astype(np.float32)[1]
    structure = make(0.6)
    expected = structure.project(np.ascontiguousarray(w))
    for variant in (np.asfortranarray(w), np.repeat(w, 2, axis=-1)[..., ::2], w.astype(np.float64)):
        np.testing.assert_array_equal(structure.project(variant), expected.astype(variant.dtype))
