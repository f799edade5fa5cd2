"""Which format stores which structure, and how many bytes each takes."""

from __future__ import annotations

import numpy as np

from tf_sparse.formats.bsr import encode_bsr
from tf_sparse.formats.csr import encode_csr
from tf_sparse.formats.fkw import encode_fkw
from tf_sparse.formats.gs import encode_gs
from tf_sparse.formats.nm import encode_nm
from tf_sparse.structures.base import Structure, to_gemm


def _divisor_upto(n: int, limit: int = 32) -> int:
    return max(d for d in range(1, min(n, limit) + 1) if n % d == 0)


def format_for(structure) -> tuple:
    """``(name, encode)`` of the compact format that stores ``structure``'s weights.

    ``encode(kernel)`` takes the Keras kernel. Block-like structures map to BSR with a block
    that their groups fill (at most 32 x 32, the kernels' limit being 1024 entries), N:M to the
    N:M format (CSR when ``n`` is not 1, 2, 4, 8 or 16), kernel patterns to FKW, GS to packs,
    and unstructured sparsity to CSR.
    """
    if not isinstance(structure, Structure):
        raise TypeError(
            f"format_for: `structure` must be a tf_sparse structure (e.g. tfs.Block(0.9)), got {structure!r}"
        )
    name = type(structure).__name__
    if name == "Block":
        r, c = structure.block
        return f"BSR {r}x{c}", lambda k: encode_bsr(to_gemm(k), (r, c))
    if name == "BlockPunched":
        f, c = structure.block
        return f"BSR {f}x{c}", lambda k: encode_bsr(to_gemm(k), (f, c))
    if name == "Filter":
        return "BSR 1x32", lambda k: encode_bsr(to_gemm(k), (1, 32))
    if name in ("Channel", "Column"):
        return "BSR 32x1", lambda k: encode_bsr(to_gemm(k), (32, 1))
    if name == "Crossbar":
        tr, tc = structure.tile
        block = {
            "tile": (_divisor_upto(tr), _divisor_upto(tc)),
            "row": (1, _divisor_upto(tc)),
            "column": (_divisor_upto(tr), 1),
        }[structure.granularity]
        return f"BSR {block[0]}x{block[1]}", lambda k: encode_bsr(to_gemm(k), block)
    if name == "NM":
        if 16 % structure.n == 0 and structure.n < structure.m:
            return f"N:M {structure.n}:{structure.m}", lambda k: encode_nm(to_gemm(k), structure.n, structure.m)
        return "CSR", lambda k: encode_csr(to_gemm(k))  # n outside 1, 2, 4, 8, 16, or dense
    if name == "KernelPattern":
        return "FKW", lambda k: encode_fkw(k, structure.library)
    if name == "GatherScatter":
        return (
            f"GS B={structure.banks} e={structure.elements_per_row}",
            lambda k: encode_gs(to_gemm(k), structure.banks, structure.elements_per_row, structure.tile),
        )
    return "CSR", lambda k: encode_csr(to_gemm(k))


def encode(kernel, structure):
    """Encodes a Keras kernel that satisfies ``structure`` in the structure's compact format."""
    return format_for(structure)[1](np.asarray(kernel))


def dense_nbytes(kernel, value_bytes: int = 4) -> int:
    """Bytes of the dense kernel: float32, or int8 plus one float32 scale per output unit."""
    rows, cols = to_gemm(np.asarray(kernel)).shape
    return rows * cols * 4 if value_bytes == 4 else rows * cols + 4 * rows


def byte_report(kernel, structure=None) -> list:
    """Bytes of a (sparse) kernel in each format, against dense float32 and int8.

    Rows: dense float32, dense int8, CSR, and the structure's own format when ``structure`` is
    given. Each row: ``format``, ``bytes`` (float32 values), ``bytes_int8`` (int8 values plus a
    float32 scale per output unit), and the ratios ``dense_f32 / bytes`` and
    ``dense_int8 / bytes_int8`` (compression against the dense layer of the same value type).

    Example:
      >>> rows = byte_report(tfs.NM(2, 4).project(kernel), tfs.NM(2, 4))
      >>> print(markdown(rows))
    """
    kernel = np.asarray(kernel)
    d32, d8 = dense_nbytes(kernel, 4), dense_nbytes(kernel, 1)
    rows = [
        {"format": "dense float32", "bytes": d32, "bytes_int8": None},
        {"format": "dense int8", "bytes": None, "bytes_int8": d8},
    ]
    encoded = [("CSR", encode_csr(to_gemm(kernel)))]
    if structure is not None and type(structure).__name__ not in ("Unstructured",):
        name, fn = format_for(structure)
        encoded.append((name, fn(kernel)))
    for name, enc in encoded:
        rows.append({"format": name, "bytes": enc.nbytes(4), "bytes_int8": enc.nbytes(1)})
    for r in rows:
        r["vs_dense_f32"] = None if r["bytes"] is None else d32 / max(1, r["bytes"])
        r["vs_dense_int8"] = None if r["bytes_int8"] is None else d8 / max(1, r["bytes_int8"])
    return rows


def markdown(rows: list) -> str:
    """A markdown table of :func:`byte_report` rows."""

    def fmt(v, ratio=False):
        if v is None:
            return "-"
        return f"{v:.2f}x" if ratio else f"{v:,}"

    lines = [
        "| format | bytes (f32 values) | vs dense f32 | bytes (int8 values) | vs dense int8 |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['format']} | {fmt(r['bytes'])} | {fmt(r['vs_dense_f32'], True)} | "
            f"{fmt(r['bytes_int8'])} | {fmt(r['vs_dense_int8'], True)} |"
        )
    return "\n".join(lines)
