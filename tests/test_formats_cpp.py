"""Cross-check of the Python reference encoders (tf_sparse/formats) against the C++ packers
(cc/formats), through ``bazel-bin/cc/tools/format_dump``.

docs/formats.md is the contract of both sides: for the same weights they must produce the same
arrays, field by field, with the same element types (an index width chosen differently is a
mismatch, even if both decode to the same matrix). Where the document leaves a choice to the
encoder (GS pack order and decomposition, FKW pattern library order and the pattern of an
under-full kernel), the comparison is canonical and the test says which part is free. Every C++
dump is also read back with the Python decoder ("a C++ packer must produce arrays that the
matching Python decoder reads back to the same matrix").

CsrPanelMatrix and NmRowGroupMatrix are kernel-only layouts that Python does not produce: not
compared here.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

import tf_sparse as tfs
import tf_sparse.formats as F
from tf_sparse.structures.base import to_gemm

BINARY = Path(__file__).resolve().parents[1] / "bazel-bin" / "cc" / "tools" / "format_dump"

pytestmark = pytest.mark.skipif(
    not BINARY.is_file(),
    reason=f"{BINARY} is not built: run `bazel build //cc/tools:format_dump` (`make test` builds it "
    "with `bazel test //...` before pytest)",
)


class CppRejected(Exception):
    """format_dump exited non-zero (the packer refused the weights); carries its stderr."""


def cpp_dump(tmp_path: Path, w: np.ndarray, fmt: str, **params):
    """Runs format_dump on ``w`` and returns ``(header, arrays)``; arrays are read with the dtype
    the tool declares in header.json, so the element width is part of what is compared."""
    tag = f"{fmt}-{len(list(tmp_path.iterdir()))}"
    src, out = tmp_path / f"{tag}.bin", tmp_path / tag
    np.ascontiguousarray(w, dtype="<f4").tofile(src)
    if fmt == "fkw":
        shape_args = [f"--out_channels={w.shape[0]}", f"--in_channels={w.shape[3]}"]
    else:
        shape_args = [f"--rows={w.shape[0]}", f"--cols={w.shape[1]}"]
    args = [str(BINARY), f"--format={fmt}", *shape_args, *(f"--{k}={v}" for k, v in params.items())]
    proc = subprocess.run(args + [f"--in={src}", f"--out={out}"], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise CppRejected(proc.stderr)
    header = json.loads((out / "header.json").read_text())
    arrays = {}
    for name, info in header.pop("arrays").items():
        a = np.fromfile(out / f"{name}.bin", dtype=np.dtype(info["dtype"]))
        assert a.size == info["count"], f"{name}: {a.size} elements on disk, header says {info['count']}"
        arrays[name] = a
    return header, arrays


def assert_same(name: str, py: np.ndarray, cpp: np.ndarray):
    """Same element type (byte order included) and the same bytes: -0.0 differs from 0.0."""
    py = np.ascontiguousarray(py).ravel()
    assert py.dtype.str == cpp.dtype.str, f"{name}: Python {py.dtype.str}, C++ {cpp.dtype.str}"
    assert py.size == cpp.size, f"{name}: Python {py.size} elements, C++ {cpp.size}"
    if py.tobytes() != cpp.tobytes():
        bad = np.flatnonzero(py.view(f"u{py.itemsize}") != cpp.view(f"u{cpp.itemsize}"))
        i = int(bad[0])
        raise AssertionError(
            f"{name}: {bad.size} of {py.size} elements differ, first at [{i}]: Python {py[i]!r}, C++ {cpp[i]!r}"
        )


def with_last(w, *cells):
    """``w`` with 1.0 at the given (row, col) cells: pins the largest index a case is about."""
    w = w.copy()
    for r, c in cells:
        w[r, c] = 1.0
    return w


def sparse(seed, rows, cols, density, neg_zero=False):
    """Random float32 with ``density`` non-zeros; ``neg_zero`` writes -0.0 at some zeros (counts
    as zero on both sides)."""
    r = np.random.default_rng(seed)
    w = r.standard_normal((rows, cols)).astype(np.float32)
    w[r.random((rows, cols)) >= density] = 0.0
    if neg_zero:
        w[(w == 0) & (r.random((rows, cols)) < 0.5)] = np.float32(-0.0)
    return w


# --- CSR ---------------------------------------------------------------------------------------

CSR_CASES = {
    "1x1": lambda: np.full((1, 1), 2.5, np.float32),
    "odd_7x13": lambda: sparse(1, 7, 13, 0.3),
    "33x65": lambda: sparse(2, 33, 65, 0.1),
    "column_64x1": lambda: sparse(3, 64, 1, 0.5),
    "zero_rows": lambda: sparse(4, 20, 30, 0.2) * (np.arange(20) % 3 != 0)[:, None].astype(np.float32),
    "all_zero": lambda: np.zeros((5, 9), np.float32),
    "dense": lambda: sparse(5, 17, 23, 1.0),
    "negative_zero": lambda: sparse(6, 12, 40, 0.2, neg_zero=True),
    # Index width: uint16 up to cols = 65536 (largest index 65535), int32 beyond.
    "cols_65536": lambda: with_last(sparse(7, 2, 65536, 0.001), (1, 65535)),
    "cols_65537": lambda: with_last(sparse(8, 2, 65537, 0.001), (1, 65536)),
}


@pytest.mark.parametrize("case", sorted(CSR_CASES))
def test_csr_matches_pack_csr(tmp_path, case):
    w = CSR_CASES[case]()
    header, cpp = cpp_dump(tmp_path, w, "csr")
    py = F.encode_csr(w)
    assert (header["rows"], header["cols"]) == py.shape
    assert header["index_bytes"] == py.col_idx.itemsize == (2 if w.shape[1] <= 65536 else 4)
    assert header["nnz"] == py.nnz
    for name in ("row_ptr", "col_idx", "values"):
        assert_same(name, getattr(py, name), cpp[name])
    decoded = F.decode_csr(F.CSRMatrix(py.shape, cpp["row_ptr"], cpp["col_idx"], cpp["values"]))
    np.testing.assert_array_equal(decoded, w)


# --- BSR ---------------------------------------------------------------------------------------


def block_sparse(seed, rows, cols, r, c, density):
    """Whole r x c blocks kept with probability ``density``, some zeros inside kept blocks (a
    kept block is stored whole, zeros included)."""
    w = sparse(seed, rows, cols, 0.8)
    keep = np.random.default_rng(seed + 1).random((-(-rows // r), -(-cols // c))) < density
    return w * np.kron(keep, np.ones((r, c)))[:rows, :cols].astype(np.float32)


BSR_CASES = {
    # (weights, block); ragged edges wherever r or c does not divide the shape.
    "doc_example_3x5_2x4": (lambda: np.eye(3, 5, 2, dtype=np.float32) * (np.arange(3) == 2)[:, None] * 3, (2, 4)),
    "1x4_ragged": (lambda: block_sparse(10, 37, 50, 1, 4, 0.3), (1, 4)),
    "1x8": (lambda: block_sparse(11, 16, 64, 1, 8, 0.4), (1, 8)),
    "4x1_ragged": (lambda: block_sparse(12, 30, 19, 4, 1, 0.3), (4, 1)),
    "8x1": (lambda: block_sparse(13, 64, 16, 8, 1, 0.5), (8, 1)),
    "16x1_ragged": (lambda: block_sparse(14, 40, 9, 16, 1, 0.5), (16, 1)),
    "4x4_ragged": (lambda: block_sparse(15, 45, 43, 4, 4, 0.25), (4, 4)),
    "1x1_unstructured": (lambda: sparse(16, 21, 22, 0.2), (1, 1)),
    "3x5_random": (lambda: sparse(17, 20, 31, 0.05), (3, 5)),
    "32x32_max_entries": (lambda: sparse(18, 70, 40, 0.01), (32, 32)),
    "block_larger_than_matrix": (lambda: sparse(19, 3, 5, 0.4), (8, 8)),
    "all_zero": (lambda: np.zeros((9, 12), np.float32), (2, 4)),
    "dense": (lambda: sparse(20, 10, 14, 1.0), (4, 4)),
    "negative_zero": (lambda: sparse(21, 16, 32, 0.1, neg_zero=True), (2, 4)),
    # Index width: uint16 while padded_cols <= 65536, int32 beyond.
    "padded_cols_65536": (lambda: with_last(sparse(22, 2, 65533, 0.0005), (1, 65532)), (1, 4)),
    "padded_cols_65540": (lambda: with_last(sparse(23, 2, 65537, 0.0005), (1, 65536)), (1, 4)),
    "cols_65537_1x1": (lambda: sparse(24, 3, 65537, 0.0005), (1, 1)),
    # The BSR rule, not the general "largest value" one: padded_cols = 65538 is int32 although the
    # largest starting column, 65535, would fit uint16 (the section allows 32-bit always).
    "c3_padded_cols_65538": (lambda: with_last(sparse(25, 2, 65538, 0.0005), (1, 65537)), (1, 3)),
}


@pytest.mark.parametrize("case", sorted(BSR_CASES))
def test_bsr_matches_pack_bsr(tmp_path, case):
    make, (r, c) = BSR_CASES[case]
    w = make()
    header, cpp = cpp_dump(tmp_path, w, "bsr", block=f"{r}x{c}")
    py = F.encode_bsr(w, (r, c))
    rows, cols = w.shape
    nbr, padded_cols = -(-rows // r), -(-cols // c) * c
    assert (header["rows"], header["cols"], header["block_height"], header["block_width"]) == (rows, cols, r, c)
    assert (header["num_block_rows"], header["padded_rows"], header["padded_cols"]) == (nbr, nbr * r, padded_cols)
    assert header["num_blocks"] == py.num_blocks
    assert header["index_bytes"] == py.index_bytes == (2 if padded_cols <= 65536 else 4)
    for name in ("row_ptr", "col_idx", "values"):
        assert_same(name, getattr(py, name), cpp[name])
    decoded = F.decode_bsr(F.BSRMatrix((rows, cols), (r, c), cpp["row_ptr"], cpp["col_idx"], cpp["values"]))
    np.testing.assert_array_equal(decoded, w)


def test_bsr_doc_example_values(tmp_path):
    """The worked example of docs/formats.md, on the C++ side (the Python side is compared above)."""
    w = np.zeros((3, 5), np.float32)
    w[2, 4] = 3
    header, cpp = cpp_dump(tmp_path, w, "bsr", block="2x4")
    assert header["index_bytes"] == 2 and header["padded_cols"] == 8
    assert cpp["row_ptr"].tolist() == [0, 0, 1] and cpp["col_idx"].tolist() == [4]
    assert cpp["values"].tolist() == [3, 0, 0, 0, 0, 0, 0, 0]


# --- N:M ---------------------------------------------------------------------------------------


def nm_sparse(seed, rows, cols, n, m, full=False):
    """At most n non-zeros in every group of m columns (the last group may be short); groups with
    fewer than n (and empty groups) exercise the filler rule unless ``full``."""
    r = np.random.default_rng(seed)
    w = np.zeros((rows, cols), np.float32)
    for i in range(rows):
        for j0 in range(0, cols, m):
            width = min(m, cols - j0)
            k = min(width, n if full else int(r.integers(0, n + 1)))
            pos = r.choice(width, size=k, replace=False)
            w[i, j0 + pos] = r.standard_normal(k).astype(np.float32) + np.float32(3.0)  # never 0
    return w


NM_CASES = {
    # (rows, cols, n, m, full); cols not a multiple of m give a short last group, and
    # groups not a multiple of 16 / n give padding groups.
    "1:2": (5, 33, 1, 2, False),
    "1:4": (7, 30, 1, 4, False),
    "2:4_full": (16, 64, 2, 4, True),
    "2:4_ragged": (9, 37, 2, 4, False),
    "2:3": (6, 20, 2, 3, False),
    "2:8": (4, 50, 2, 8, False),
    "4:8": (3, 100, 4, 8, True),
    "4:5": (5, 23, 4, 5, False),
    "8:16": (4, 70, 8, 16, False),
    "16:17": (2, 40, 16, 17, False),
    "16:32": (3, 96, 16, 32, True),
    "2:100_8bit": (3, 250, 2, 100, False),
    "1:256": (2, 600, 1, 256, False),
    "single_column": (4, 1, 1, 4, False),
}


@pytest.mark.parametrize("case", sorted(NM_CASES))
def test_nm_matches_pack_nm(tmp_path, case):
    rows, cols, n, m, full = NM_CASES[case]
    w = nm_sparse(sorted(NM_CASES).index(case), rows, cols, n, m, full)
    header, cpp = cpp_dump(tmp_path, w, "nm", n=n, m=m)
    py = F.encode_nm(w, n, m)
    bits = 2 if m <= 4 else (4 if m <= 16 else 8)
    assert (header["rows"], header["cols"], header["n"], header["m"]) == (rows, cols, n, m)
    assert header["index_bits"] == py.index_bits == bits
    assert header["padded_groups"] == py.padded_groups
    assert header["padded_cols"] == py.padded_groups * m
    assert header["kept_per_row"] == py.kept_per_row and py.kept_per_row % 16 == 0
    assert header["words_per_row"] == py.positions.shape[1] == py.kept_per_row * bits // 32
    assert_same("values", py.values, cpp["values"])
    assert_same("positions", py.positions, cpp["positions"])
    decoded = F.decode_nm(
        F.NMMatrix((rows, cols), n, m, header["padded_groups"], cpp["values"].reshape(rows, -1),
                   cpp["positions"].reshape(rows, -1))
    )
    np.testing.assert_array_equal(decoded, w)


def test_nm_all_zero_and_dense_short_rows(tmp_path):
    """All-zero weights: every slot is a filler (positions 0..n-1 of every group); a matrix with
    fewer columns than n keeps them all."""
    # -0.0 counts as zero; a filler slot copies the weight at its position, so both sides store
    # -0.0f there (docs/formats.md, "Cross-check").
    neg = nm_sparse(32, 5, 40, 2, 8)
    neg[neg == 0] = np.float32(-0.0)
    for w, n, m in ((np.zeros((3, 10), np.float32), 2, 4), (sparse(30, 4, 3, 1.0), 4, 8), (neg, 2, 8)):
        _, cpp = cpp_dump(tmp_path, w, "nm", n=n, m=m)
        py = F.encode_nm(w, n, m)
        assert_same("values", py.values, cpp["values"])
        assert_same("positions", py.positions, cpp["positions"])


def test_nm_overfull_group_rejected_by_both(tmp_path):
    w = nm_sparse(31, 4, 24, 2, 4)
    w[2, 8:11] = 1.0  # three non-zeros in group 2 of row 2
    with pytest.raises(ValueError, match="row 2, columns 8..11"):
        F.encode_nm(w, 2, 4)
    with pytest.raises(CppRejected, match="row 2, columns 8..11 hold more than 2"):
        cpp_dump(tmp_path, w, "nm", n=2, m=4)


# --- GS (untiled) ------------------------------------------------------------------------------


def gs_lanes(group_ptr, values, col_idx, B, e):
    """Checks one side's packs against the format and returns, per group, the sorted real lanes
    (row slot, column, value bits) and the padding per row slot and per bank."""
    values = values.reshape(-1, B)
    cols = col_idx.astype(np.int64).reshape(-1, B)
    bits = values.view(np.uint32)
    slot = np.arange(B) // e
    out = []
    for g in range(len(group_ptr) - 1):
        v, c, u = (a[group_ptr[g] : group_ptr[g + 1]] for a in (values, cols, bits))
        bank = c % B
        # One lane per bank; the e lanes of a row slot in ascending bank order.
        assert np.all(np.sort(bank, axis=1) == np.arange(B)), f"group {g}: a pack repeats a bank"
        assert np.all(np.diff(bank.reshape(-1, B // e, e), axis=2) > 0), f"group {g}: row lanes not by bank"
        pad = v == 0
        # Padding: +0.0f at the first column of its bank (untiled: column = bank).
        assert np.all(u[pad] == 0) and np.all(c[pad] == bank[pad]), f"group {g}: bad padding lane"
        real = np.stack([np.broadcast_to(slot, v.shape)[~pad], c[~pad], u[~pad].astype(np.int64)], axis=1)
        real = real[np.lexsort(real.T[::-1])]
        pad_slot = np.bincount(np.broadcast_to(slot, v.shape)[pad], minlength=B // e)
        pad_bank = np.bincount(bank[pad], minlength=B)
        out.append((real, pad_slot, pad_bank))
    return out


def gs_projected(seed, B, e, shape, s):
    """A GEMM matrix with the GS structure, from tf_sparse.GatherScatter (packs without padding)."""
    kernel = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return np.ascontiguousarray(to_gemm(tfs.GatherScatter(s, banks=B, elements_per_row=e).project(kernel)))


GS_CASES = {
    # (weights, B, e). Arbitrary matrices need padding; projected ones do not.
    "B16_e1_random": (lambda: sparse(40, 32, 64, 0.15), 16, 1),
    "B8_e2_random": (lambda: sparse(41, 12, 40, 0.3), 8, 2),
    "B4_e4_random": (lambda: sparse(42, 7, 24, 0.4), 4, 4),
    "B8_e1_skewed": (lambda: sparse(43, 16, 32, 0.05) + np.eye(16, 32, dtype=np.float32), 8, 1),
    "B2_e1_dense": (lambda: sparse(44, 6, 10, 1.0), 2, 1),
    "B32_e1_sparse": (lambda: sparse(45, 32, 64, 0.03), 32, 1),
    "B16_e16_horizontal": (lambda: sparse(46, 5, 48, 0.3), 16, 16),
    "B8_e1_zero_rows": (lambda: sparse(47, 24, 16, 0.3) * (np.arange(24) % 4 != 1)[:, None], 8, 1),
    "all_zero": (lambda: np.zeros((16, 32), np.float32), 16, 1),
    "negative_zero": (lambda: sparse(48, 8, 16, 0.3, neg_zero=True), 8, 1),
    "projected_B16_e1": (lambda: gs_projected(49, 16, 1, (64, 48), 0.8), 16, 1),
    "projected_B8_e2": (lambda: gs_projected(50, 8, 2, (32, 64), 0.7), 8, 2),
    "projected_conv_B16": (lambda: gs_projected(51, 16, 1, (3, 3, 16, 32), 0.9), 16, 1),
    # Index width: uint16 up to cols = 65536, int32 beyond.
    "cols_65536": (lambda: sparse(52, 4, 65536, 0.001), 4, 1),
    "cols_65552": (lambda: with_last(sparse(53, 4, 65552, 0.001), (3, 65551)), 4, 1),
}


@pytest.mark.parametrize("case", sorted(GS_CASES))
def test_gs_matches_pack_gs(tmp_path, case):
    make, B, e = GS_CASES[case]
    w = make()
    header, cpp = cpp_dump(tmp_path, w, "gs", banks=B, e=e)
    py = F.encode_gs(w, B, e)
    rows, cols = w.shape
    assert (header["rows"], header["cols"], header["B"], header["e"]) == (rows, cols, B, e)
    assert (header["tile_rows"], header["tile_cols"], header["row_index_bytes"]) == (0, 0, 0)
    assert header["index_bytes"] == py.col_idx.itemsize == (2 if cols <= 65536 else 4)
    assert header["num_groups"] == len(py.group_ptr) - 1 == rows // (B // e)
    # The pack count of every group is fixed by the format (the fewest that hold its non-zeros).
    assert_same("group_ptr", py.group_ptr, cpp["group_ptr"])
    assert header["num_packs"] == py.num_packs
    assert py.values.dtype.str == cpp["values"].dtype.str and py.values.size == cpp["values"].size
    assert py.col_idx.dtype.str == cpp["col_idx"].dtype.str and py.col_idx.size == cpp["col_idx"].size
    # Pack order, and which entries share a pack, are not part of the format ("any decomposition
    # decodes to the same matrix"), and neither is the (row, bank) cell a padding lane takes. So
    # compare per group: the same real lanes (row slot, column, value bits: each non-zero exactly
    # once), the same padding count per row slot and per bank (fixed by the pack count), and
    # both sides' packs valid (one lane per bank, e lanes per row slot by bank, padding at the
    # bank's first column).
    py_lanes = gs_lanes(py.group_ptr, py.values, py.col_idx, B, e)
    cpp_lanes = gs_lanes(cpp["group_ptr"], cpp["values"], cpp["col_idx"], B, e)
    for g, ((pr, ps, pb), (cr, cs, cb)) in enumerate(zip(py_lanes, cpp_lanes)):
        np.testing.assert_array_equal(cr, pr, err_msg=f"group {g}: real lanes differ")
        np.testing.assert_array_equal(cs, ps, err_msg=f"group {g}: padding per row slot differs")
        np.testing.assert_array_equal(cb, pb, err_msg=f"group {g}: padding per bank differs")
    decoded = F.decode_gs(
        F.GSMatrix((rows, cols), B, e, None, cpp["group_ptr"], cpp["values"].reshape(-1, B),
                   cpp["col_idx"].reshape(-1, B), None)
    )
    np.testing.assert_array_equal(decoded, w)
    np.testing.assert_array_equal(py.to_dense(), w)
    if case.startswith("projected"):
        assert py.padding == 0 and np.count_nonzero(cpp["values"]) == cpp["values"].size


# --- FKW ---------------------------------------------------------------------------------------

CENTRE = 1 << 4


def pattern_pruned(seed, cin, cout, *, centre=True, max_nz=4, empty=0.3, empty_filters=()):
    """A Keras (3, 3, in, out) kernel whose 3x3 kernels have 1..max_nz non-zeros (a fraction
    ``empty`` all zero), inside a 4-tap pattern that holds the centre when ``centre``."""
    r = np.random.default_rng(seed)
    k = np.zeros((3, 3, cin, cout), np.float32)
    off = [t for t in range(9) if t != 4]
    library = [CENTRE | sum(1 << t for t in r.choice(off, 3, replace=False)) for _ in range(5)]
    if not centre:
        library += [sum(1 << t for t in r.choice(off, 4, replace=False)) for _ in range(3)]
    for o in range(cout):
        for i in range(cin):
            if o in empty_filters or r.random() < empty:
                continue
            pattern = library[r.integers(len(library))]
            taps = [t for t in range(9) if pattern >> t & 1]
            keep = r.choice(taps, int(r.integers(1, max_nz + 1)), replace=False)
            for t in keep:
                k[t // 3, t % 3, i, o] = r.standard_normal() + 3.0  # never 0
    return k


FKW_FIELDS = ("patterns", "reorder", "offset", "index", "stride", "weight")  # FKWKernel's order


def fkw_arrays(f):
    return {n: getattr(f, n) for n in FKW_FIELDS}


def fkw_kernels(a, cin, cout):
    """``{(filter, channel): mask}`` of one side's stored kernels, after checking the orders the
    format fixes: offset/stride consistent, kernels of a filter by pattern id then channel."""
    P = a["patterns"].size
    assert len(set(a["patterns"].tolist())) == P and all(bin(int(p)).count("1") == 4 for p in a["patterns"])
    assert np.all(a["patterns"] < 512)
    stride = a["stride"].astype(np.int64).reshape(cout, P + 1)
    counts = np.diff(a["offset"])
    assert np.all(stride[:, 0] == 0) and np.all(stride[:, -1] == counts) and np.all(np.diff(stride, axis=1) >= 0)
    out = {}
    for f in range(cout):
        pid = np.repeat(np.arange(P), np.diff(stride[f]))
        idx = a["index"][a["offset"][f] : a["offset"][f + 1]]
        assert np.all(np.lexsort((idx, pid)) == np.arange(idx.size)), f"filter {f}: not by pattern, channel"
        for i, p in zip(idx.tolist(), pid.tolist()):
            out[(int(a["reorder"][f]), i)] = int(a["patterns"][p])
    return out


def complete(support):
    """The C++/doc completion of an under-full support: the centre, then the lowest free taps."""
    mask = support | CENTRE if bin(support).count("1") < 4 else support
    t = 0
    while bin(mask).count("1") < 4:
        mask |= 1 << t
        t += 1
    return mask


def compare_fkw(tmp_path, kernel, library=None, exact=False):
    """Encodes ``kernel`` on both sides. Always: reorder and offset identical (fixed by the
    format), the same non-empty kernels, the same pattern for every kernel with 4 non-zeros (its
    support), both decode (with the Python decoder) to ``kernel``. The library, its order and
    the pattern of an under-full kernel are encoder choices (docs/formats.md): ``exact`` is for
    weights where both sides must choose alike (e.g. every kernel with exactly 4 non-zeros and
    Python given the C++ library), and then every array must match byte for byte."""
    cin, cout = kernel.shape[2], kernel.shape[3]
    header, cpp = cpp_dump(tmp_path, np.transpose(kernel, (3, 0, 1, 2)), "fkw")  # OHWI
    assert (header["out"], header["in"], header["P"]) == (cout, cin, cpp["patterns"].size)
    if library == "cpp":
        library = cpp["patterns"].tolist()
    py = fkw_arrays(F.encode_fkw(kernel, library))
    assert header["nnzk"] == py["index"].size
    for name in ("reorder", "offset"):
        assert_same(name, py[name], cpp[name])
    for name, a in py.items():  # element types: patterns uint16, the rest int32 / float32
        assert a.dtype.str == cpp[name].dtype.str, name
    if exact:
        for name in py:
            assert_same(name, py[name], cpp[name])
    k9 = np.transpose(kernel, (3, 2, 0, 1)).reshape(cout, cin, 9)
    support = ((k9 != 0) * (1 << np.arange(9))).sum(axis=2)
    py_k, cpp_k = fkw_kernels(py, cin, cout), fkw_kernels(cpp, cin, cout)
    assert sorted(py_k) == sorted(cpp_k) == sorted(zip(*map(np.ndarray.tolist, np.nonzero(support))))
    for (o, i), mask in cpp_k.items():
        s = int(support[o, i])
        assert mask & s == s and py_k[(o, i)] & s == s
        if bin(s).count("1") == 4:
            assert mask == py_k[(o, i)] == s
    check_cpp_pattern_choice(cpp["patterns"], cpp_k, support)
    cpp_fkw = F.FKWKernel(kernel.shape, *(cpp[n] for n in FKW_FIELDS))
    np.testing.assert_array_equal(F.decode_fkw(cpp_fkw), kernel)
    return py, cpp


def check_cpp_pattern_choice(patterns, cpp_k, support):
    """docs/formats.md on PackPatdnn: the library is the supports of the kernels with exactly 4
    non-zeros plus the completions it had to make, in ascending mask order; an under-full kernel
    takes the most frequent of those supports that covers it, else a completion of a support
    (centre, then lowest free taps) that covers it."""
    assert np.all(np.diff(patterns.astype(np.int64)) > 0), "C++ library not in ascending mask order"
    assert set(patterns.tolist()) == set(cpp_k.values()), "C++ library holds an unused pattern"
    full = support[np.vectorize(lambda s: bin(int(s)).count("1"))(support) == 4]
    freq = {int(p): int(c) for p, c in zip(*np.unique(full, return_counts=True))}
    completions = {complete(int(s)) for s in support.ravel() if 0 < bin(int(s)).count("1") < 4}
    for (o, i), mask in cpp_k.items():
        s = int(support[o, i])
        if bin(s).count("1") == 4:
            continue
        covering = {p: c for p, c in freq.items() if p & s == s}
        if covering:
            assert freq.get(mask, 0) == max(covering.values()), f"kernel ({o}, {i}): not the most frequent cover"
        else:
            assert mask in completions and mask not in freq, f"kernel ({o}, {i}): {mask:#x} not a completion"


def test_fkw_kernel_pattern_projection_exact(tmp_path):
    """KernelPattern output (every kept kernel on a 4-tap library pattern): with the C++ library
    handed to the Python encoder, all arrays match byte for byte; with its own library only the
    canonical parts do (the library order differs: most frequent first vs ascending mask)."""
    kernel = np.random.default_rng(60).standard_normal((3, 3, 24, 20)).astype(np.float32)
    structure = tfs.KernelPattern(6, 0.5).fit_library([kernel])
    pruned = structure.project(kernel)
    compare_fkw(tmp_path, pruned, library="cpp", exact=True)
    compare_fkw(tmp_path, pruned, library=structure.library)


@pytest.mark.parametrize("seed", range(4))
def test_fkw_exact_full_kernels_with_empty_filters(tmp_path, seed):
    """4 non-zeros in every kept kernel, filters of different kernel counts (ties in the reorder)
    and empty filters; patterns with and without the centre (C++ accepts both; Python needs the
    library for the others)."""
    k = pattern_pruned(70 + seed, 5 + 3 * seed, 7, centre=seed % 2 == 0, max_nz=4, empty=0.4, empty_filters=(2, 5))
    # Keep only kernels with exactly 4 non-zeros: then the library is fixed (their supports).
    k[:, :, (np.count_nonzero(k, axis=(0, 1)) != 4)] = 0
    compare_fkw(tmp_path, k, library="cpp", exact=True)


@pytest.mark.parametrize("seed", range(6))
def test_fkw_under_full_kernels(tmp_path, seed):
    """1..4 non-zeros per kernel: which pattern an under-full kernel takes (and so the library)
    is an encoder choice, compared canonically; the C++ choice is checked against the rule
    docs/formats.md gives for PackPatdnn."""
    k = pattern_pruned(80 + seed, 3 + 5 * seed, 2 + 3 * seed, centre=True, empty=0.2 * (seed % 3))
    compare_fkw(tmp_path, k)  # Python's own cover of centre-including candidates
    compare_fkw(tmp_path, k, library="cpp")


@pytest.mark.parametrize("seed", range(3))
def test_fkw_patterns_without_centre(tmp_path, seed):
    k = pattern_pruned(90 + seed, 9, 6, centre=False, empty=0.1)
    compare_fkw(tmp_path, k, library="cpp")


def test_fkw_edge_shapes(tmp_path):
    """All-empty layer (no patterns), a single kernel with one tap, a dense centre column."""
    compare_fkw(tmp_path, np.zeros((3, 3, 4, 3), np.float32), exact=True)
    one = np.zeros((3, 3, 1, 1), np.float32)
    one[0, 2, 0, 0] = -1.5
    compare_fkw(tmp_path, one)
    centre = np.zeros((3, 3, 6, 5), np.float32)
    centre[1, 1] = 1.0 + np.arange(30, dtype=np.float32).reshape(6, 5)
    compare_fkw(tmp_path, centre)


def test_fkw_negative_zero_at_unused_taps(tmp_path):
    """One 4-tap pattern, kernels with 1..4 of its taps and -0.0 everywhere else: both sides have
    the same library and choice, and copy the -0.0 of an unused pattern tap (byte for byte)."""
    r = np.random.default_rng(95)
    taps = [1, 3, 4, 5]
    k = np.full((3, 3, 7, 6), np.float32(-0.0))
    for o in range(6):
        for i in range(7):
            n = 4 if (o, i) == (0, 0) else int(r.integers(0, 5))
            for t in r.choice(taps, n, replace=False):
                k[t // 3, t % 3, i, o] = r.standard_normal() + 3.0
    py, cpp = compare_fkw(tmp_path, k, library="cpp", exact=True)
    assert np.signbit(cpp["weight"]).any()


def test_fkw_more_than_four_taps_rejected_by_both(tmp_path):
    k = pattern_pruned(99, 4, 4, centre=True)
    k[:, :2, 1, 3] = 1.0  # six taps of kernel (filter 3, channel 1)
    with pytest.raises(ValueError, match="fits no pattern"):
        F.encode_fkw(k)
    with pytest.raises(CppRejected, match="a 3x3 kernel has 6 nonzero taps"):
        cpp_dump(tmp_path, np.transpose(k, (3, 0, 1, 2)), "fkw")
