import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tf_sparse as tfs
from tf_sparse import formats as F
from tf_sparse.structures import to_gemm


def sparse_matrix(seed, rows, cols, density):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((rows, cols)).astype(np.float32)
    return w * (rng.random((rows, cols)) < density)


matrices = st.builds(
    sparse_matrix,
    seed=st.integers(0, 2**16),
    rows=st.integers(1, 40),
    cols=st.integers(1, 40),
    density=st.sampled_from([0.0, 0.05, 0.3, 1.0]),
)


@settings(max_examples=40, deadline=None)
@given(w2=matrices)
def test_csr_round_trip(w2):
    m = F.encode_csr(w2)
    np.testing.assert_array_equal(m.to_dense(), w2)
    assert m.row_ptr.dtype == np.int32 and m.col_idx.dtype == np.uint16 and m.values.dtype == np.float32
    assert m.nbytes() == 4 * (w2.shape[0] + 1) + 6 * np.count_nonzero(w2)
    assert m.nbytes(1) == 4 * (w2.shape[0] + 1) + 3 * np.count_nonzero(w2) + 4 * w2.shape[0]


@settings(max_examples=40, deadline=None)
@given(w2=matrices, r=st.integers(1, 9), c=st.integers(1, 9))
def test_bsr_round_trip(w2, r, c):
    m = F.encode_bsr(w2, (r, c))
    np.testing.assert_array_equal(m.to_dense(), w2)
    np.testing.assert_array_equal(F.decode_bsr(m), w2)
    assert m.row_ptr.dtype == np.int32 and m.values.dtype == np.float32
    assert m.row_ptr.size == -(-w2.shape[0] // r) + 1
    assert np.all(m.col_idx % c == 0)
    # C++ BsrPackedBytes
    assert m.nbytes() == 4 * m.row_ptr.size + 2 * m.num_blocks + 4 * r * c * m.num_blocks


def test_bsr_example_of_the_format_document():
    w2 = np.zeros((3, 5), np.float32)
    w2[2, 4] = 3.0
    m = F.encode_bsr(w2, (2, 4))
    assert m.row_ptr.tolist() == [0, 0, 1]
    assert m.col_idx.tolist() == [4] and m.col_idx.dtype == np.uint16
    assert m.values.tolist() == [3, 0, 0, 0, 0, 0, 0, 0]


def test_index_widths():
    assert F.index_dtype(65535) == np.uint16 and F.index_dtype(65536) == np.int32
    wide = np.zeros((1, 65537), np.float32)
    wide[0, -1] = 1.0
    assert F.encode_csr(wide).col_idx.dtype == np.int32
    assert F.encode_csr(wide[:, 1:]).col_idx.dtype == np.uint16  # 65536 columns
    assert F.encode_bsr(wide[:, 1:], (1, 4)).col_idx.dtype == np.uint16  # padded_cols = 65536
    assert F.encode_bsr(wide, (1, 4)).col_idx.dtype == np.int32
    np.testing.assert_array_equal(F.encode_bsr(wide, (1, 4)).to_dense(), wide)
    with pytest.raises(ValueError, match="block"):
        F.encode_bsr(wide, (64, 64))  # r * c > 1024


@settings(max_examples=40, deadline=None)
@given(
    n_m=st.sampled_from([(1, 2), (2, 4), (1, 4), (4, 8), (2, 3), (8, 32), (16, 256)]),
    rows=st.integers(1, 20),
    cols=st.integers(1, 70),
    seed=st.integers(0, 2**16),
    extra_zeros=st.booleans(),
)
def test_nm_round_trip(n_m, rows, cols, seed, extra_zeros):
    n, m = n_m
    w = np.random.default_rng(seed).standard_normal((cols, rows)).astype(np.float32)
    if extra_zeros:
        w[::3] = 0
    p2 = to_gemm(tfs.NM(n, m).project(w))
    e = F.encode_nm(p2, n, m)
    np.testing.assert_array_equal(e.to_dense(), p2)
    groups = -(-cols // m)
    assert e.padded_groups % (16 // n) == 0 and e.padded_groups - groups < 16 // n
    kept = e.padded_groups * n
    assert e.values.shape == (rows, kept) and e.values.dtype == np.float32
    bits = {True: 2, False: 4 if m <= 16 else 8}[m <= 4]
    assert e.positions.dtype == np.uint32 and e.positions.shape == (rows, kept * bits // 32)
    pos = e.position_array().reshape(rows, e.padded_groups, n).astype(int)
    assert np.all(np.diff(pos, axis=-1) > 0) and pos.max() < m  # ascending inside a group
    # value k of a row multiplies x[(k // n) * m + position]
    x = np.random.default_rng(seed + 1).standard_normal(e.padded_groups * m).astype(np.float32)
    cols_of = (np.arange(kept) // n) * m + pos.reshape(rows, kept)
    np.testing.assert_allclose((e.values * x[cols_of]).sum(axis=1), p2 @ x[:cols], rtol=1e-4, atol=1e-4)
    assert e.nbytes() == rows * kept * 4 + rows * kept * bits // 8


def test_nm_bit_packing_is_lsb_first():
    w2 = np.zeros((1, 64), np.float32)
    w2[0, [1, 3, 6, 7]] = 1.0  # groups of 4: positions (1, 3) and (2, 3)
    e = F.encode_nm(w2, 2, 4)
    assert e.padded_groups == 16 and e.position_array()[0, :4].tolist() == [1, 3, 2, 3]
    # word 0 holds slots 0..15; the empty groups take positions 0, 1 (slots 4, 5, 6, 7, ...)
    assert e.positions[0, 0] == 1 | 3 << 2 | 2 << 4 | 3 << 6 | sum(1 << (2 * k) for k in range(5, 16, 2))


def test_nm_rejects_dense_groups_and_unsupported_patterns():
    with pytest.raises(ValueError, match=r"row 0, columns 0..3 hold 3 non-zeros, more than n=2"):
        F.encode_nm(np.array([[1.0, 1.0, 1.0, 0.0]], np.float32), 2, 4)
    with pytest.raises(ValueError, match=r"`n` must be one of 1, 2, 4, 8, 16"):
        F.encode_nm(np.zeros((2, 8), np.float32), 3, 8)
    with pytest.raises(ValueError, match=r"n < m <= 256"):
        F.encode_nm(np.zeros((2, 8), np.float32), 4, 4)
    assert F.format_for(tfs.NM(3, 8))[0] == "CSR"


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    cin=st.integers(1, 9),
    cout=st.integers(1, 9),
    connectivity=st.floats(0.0, 0.9),
    fixed=st.booleans(),
)
def test_fkw_round_trip(seed, cin, cout, connectivity, fixed):
    rng = np.random.default_rng(seed)
    k = rng.standard_normal((3, 3, cin, cout)).astype(np.float32)
    s = tfs.KernelPattern(4, connectivity=connectivity)
    if fixed:
        s = s.fit_library([k])
    p = s.project(k)
    p[0, 0] *= rng.random((cin, cout)) < 0.7  # some kernels lose an entry: still pattern-sparse
    f = F.encode_fkw(p, s.library)
    np.testing.assert_array_equal(f.to_dense(), p)
    n_pat = f.patterns.size
    nonempty = np.any(p != 0, axis=(0, 1))  # (in, out)
    assert f.num_kernels == nonempty.sum() and f.weight.size == 4 * f.num_kernels
    counts = nonempty.sum(axis=0)[f.reorder.astype(int)]
    assert np.all(np.diff(counts) <= 0)  # filters sorted by kernel count
    assert f.offset.tolist() == [0] + np.cumsum(counts).tolist()
    assert {a.dtype for a in (f.reorder, f.offset, f.index, f.stride)} == {np.dtype(np.int32)}
    assert f.patterns.dtype == np.uint16
    assert f.nbytes() == 2 * n_pat + 4 * (cout + cout + 1 + f.num_kernels + cout * (n_pat + 1) + 4 * f.num_kernels)
    stride = f.stride.astype(int).reshape(cout, n_pat + 1)
    assert np.all(stride[:, 0] == 0) and np.all(stride[:, -1] == counts) and np.all(np.diff(stride, axis=1) >= 0)
    if fixed:
        assert f.patterns.tolist() == s.library


def test_fkw_fields_small_example():
    from tf_sparse.structures.kernel_pattern import pattern_to_array

    a, b = 0b000011011 | 0, 0b000110011  # {0,1,3,4} and {0,1,4,5}
    k = np.zeros((3, 3, 3, 2), np.float32)
    k[:, :, 2, 0] = pattern_to_array(b) * 2.0  # filter 0: one kernel (channel 2, pattern b)
    k[:, :, 0, 1] = pattern_to_array(b) * 3.0  # filter 1: channels 0 (b) and 1 (a)
    k[:, :, 1, 1] = pattern_to_array(a) * np.arange(9).reshape(3, 3)
    f = F.encode_fkw(k, library=[a, b])
    assert f.reorder.tolist() == [1, 0]
    assert f.offset.tolist() == [0, 2, 3]
    assert f.index.tolist() == [1, 0, 2]  # filter 1: pattern a (channel 1) then b (channel 0)
    assert f.stride.tolist() == [0, 1, 2, 0, 0, 1]
    assert f.weight.tolist() == [0, 1, 3, 4, 3, 3, 3, 3, 2, 2, 2, 2]
    np.testing.assert_array_equal(f.to_dense(), k)
    with pytest.raises(ValueError, match="fits no pattern"):
        F.encode_fkw(np.ones((3, 3, 1, 1), np.float32))


@settings(max_examples=30, deadline=None)
@given(
    be=st.sampled_from([(4, 1), (4, 2), (4, 4), (8, 2), (2, 1)]),
    groups=st.integers(1, 4),
    col_banks=st.integers(1, 4),
    density=st.sampled_from([0.0, 0.1, 0.4, 1.0]),
    tiled=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_gs_round_trip_of_any_matrix(be, groups, col_banks, density, tiled, seed):
    B, e = be
    R = B // e
    rows, cols = 2 * groups * R, 2 * col_banks * B
    w2 = sparse_matrix(seed, rows, cols, density)
    tile = (rows // 2, cols // 2) if tiled else None
    g = F.encode_gs(w2, B, e, tile)
    np.testing.assert_array_equal(g.to_dense(), w2)
    assert g.values.shape == g.col_idx.shape == (g.num_packs, B)
    assert g.group_ptr.dtype == np.int32 and g.col_idx.dtype == np.uint16
    assert np.all(np.sort(g.col_idx.astype(int) % B, axis=1) == np.arange(B))  # one lane per bank
    assert g.num_packs * B - g.padding == np.count_nonzero(w2)
    assert (g.row_idx is None) == (not tiled)


@settings(max_examples=20, deadline=None)
@given(s=st.floats(0.3, 0.95), tiled=st.booleans(), seed=st.integers(0, 2**16))
def test_gs_projection_packs_without_padding(s, tiled, seed):
    structure = tfs.GatherScatter(s, banks=8, elements_per_row=2, tile=(16, 32) if tiled else None)
    w = np.random.default_rng(seed).standard_normal((64, 32)).astype(np.float32)
    p2 = to_gemm(structure.project(w))
    g = F.encode(structure.project(w), structure)
    np.testing.assert_array_equal(g.to_dense(), p2)
    assert g.padding == 0 and g.num_packs == structure.num_packs(w.size, s)


@pytest.mark.parametrize(
    "structure,shape",
    [
        (tfs.Unstructured(0.9), (64, 32)),
        (tfs.Block(0.8, block=(4, 4)), (64, 32)),
        (tfs.Filter(0.5), (3, 3, 8, 16)),
        (tfs.Channel(0.5), (3, 3, 8, 16)),
        (tfs.Column(0.5), (64, 32)),
        (tfs.BlockPunched(0.7, block=(8, 4)), (3, 3, 8, 16)),
        (tfs.NM(2, 4), (3, 3, 8, 16)),
        (tfs.KernelPattern(4, 0.5), (3, 3, 8, 16)),
        (tfs.GatherScatter(0.9), (3, 3, 16, 16)),
        (tfs.Crossbar(0.5, tile=(64, 64)), (128, 64)),
        (tfs.Crossbar(0.5, tile=(8, 8), granularity="column", single_sign=True), (64, 32)),
    ],
    ids=repr,
)
def test_every_structure_has_a_format_and_a_byte_report(rng, structure, shape):
    p = structure.project(rng.standard_normal(shape).astype(np.float32))
    enc = F.encode(p, structure)
    dense = enc.to_dense()
    np.testing.assert_array_equal(dense, p if dense.ndim == 4 else to_gemm(p))
    rows = F.byte_report(p, structure)
    names = [r["format"] for r in rows]
    assert names[:3] == ["dense float32", "dense int8", "CSR"]
    assert rows[0]["bytes"] == 4 * p.size and rows[1]["bytes_int8"] == p.size + 4 * to_gemm(p).shape[0]
    if not isinstance(structure, tfs.Unstructured):
        assert names[3] == F.format_for(structure)[0] and rows[3]["bytes"] == enc.nbytes()
    table = F.markdown(rows)
    assert table.count("\n") == len(rows) + 1


def test_encoders_reject_kernels_in_keras_layout():
    with pytest.raises(ValueError, match="to_gemm"):
        F.encode_csr(np.ones((3, 3, 2, 2), np.float32))
