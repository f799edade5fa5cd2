"""N:M values + bit-packed in-group positions, in chunks of 16 kept values (``cc/formats/nm.h``)."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from tf_sparse.formats.common import as_matrix, value_nbytes

#: Kept values per kernel step: every row holds a whole number of chunks.
CHUNK = 16


def index_bits(m: int) -> int:
    """Bits per stored position: 2 for ``m <= 4``, 4 for ``m <= 16``, else 8."""
    return 2 if m <= 4 else (4 if m <= 16 else 8)


def check_nm(n, m, owner="encode_nm"):
    """Validates an (n, m) pair the format can store: n in {1, 2, 4, 8, 16}, n < m <= 256."""
    for name, v in (("n", n), ("m", m)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"{owner}: `{name}` must be a positive integer, got {v!r}")
    if CHUNK % n:
        raise ValueError(f"{owner}: `n` must be one of 1, 2, 4, 8, 16 (it divides the 16-value chunk), got {n}")
    if not n < m <= 256:
        raise ValueError(f"{owner}: need n < m <= 256, got n={n}, m={m}")
    return int(n), int(m)


@dataclass(frozen=True, eq=False)
class NMMatrix:
    """A GEMM-view matrix with at most ``n`` non-zeros in every ``m`` consecutive columns.

    Attributes:
      shape: (rows, cols).
      n, m: the pattern.
      padded_groups: ``ceil(cols / m)`` rounded up to a multiple of ``16 / n`` (whole chunks).
      values: float32 [rows, padded_groups * n]: group after group, the n kept values of each in
        ascending column order; missing values and padding groups hold 0.0.
      positions: uint32 [rows, padded_groups * n * index_bits / 32]: the in-group position of
        every value, ``index_bits(m)`` bits each, packed LSB first.
    """

    shape: tuple
    n: int
    m: int
    padded_groups: int
    values: np.ndarray
    positions: np.ndarray

    @property
    def index_bits(self) -> int:
        return index_bits(self.m)

    @property
    def kept_per_row(self) -> int:
        return self.padded_groups * self.n

    def position_array(self) -> np.ndarray:
        """The positions unpacked: uint8 [rows, kept_per_row]."""
        return _unpack(self.positions, self.index_bits, self.kept_per_row)

    def nbytes(self, value_bytes: int = 4) -> int:
        """``NmPackedBytes``: values + packed positions."""
        return self.positions.nbytes + value_nbytes(self.values.size, value_bytes, self.shape[0])

    def to_dense(self) -> np.ndarray:
        return decode_nm(self)


def _pack(pos: np.ndarray, bits: int) -> np.ndarray:
    """uint8 [rows, k] -> uint32 [rows, k * bits / 32], value j at bits [j*bits % 32, +bits) of word
    j*bits / 32."""
    rows, k = pos.shape
    per_word = 32 // bits
    shifts = (np.arange(per_word, dtype=np.uint32) * bits)[None, None, :]
    words = pos.reshape(rows, k // per_word, per_word).astype(np.uint32) << shifts
    return np.bitwise_or.reduce(words, axis=-1).astype("<u4")


def _unpack(words: np.ndarray, bits: int, k: int) -> np.ndarray:
    per_word = 32 // bits
    shifts = (np.arange(per_word, dtype=np.uint32) * bits)[None, None, :]
    pos = (words[:, :, None] >> shifts) & np.uint32((1 << bits) - 1)
    return pos.reshape(words.shape[0], -1)[:, :k].astype(np.uint8)


def encode_nm(w2, n: int, m: int) -> NMMatrix:
    """Encodes an N:M-sparse GEMM-view matrix (``PackNm``).

    Raises:
      ValueError: when ``n``/``m`` are outside what the format stores (``n`` in 1, 2, 4, 8, 16
        and ``n < m <= 256``) or a group holds more than ``n`` non-zeros.
    """
    w2 = as_matrix(w2, "encode_nm")
    n, m = check_nm(n, m)
    rows, cols = w2.shape
    per_chunk = CHUNK // n
    padded_groups = -(-(-(-cols // m)) // per_chunk) * per_chunk
    padded = np.zeros((rows, padded_groups * m), dtype=np.float32)
    padded[:, :cols] = w2
    groups = padded.reshape(rows, padded_groups, m)
    nz = groups != 0
    counts = nz.sum(axis=-1)
    if np.any(counts > n):
        r, j = np.argwhere(counts > n)[0]
        raise ValueError(
            f"encode_nm: row {r}, columns {j * m}..{j * m + m - 1} hold {counts[r, j]} non-zeros, "
            f"more than n={n}"
        )
    # Non-zeros first, then the lowest free positions; keep n, then sort so positions ascend.
    order = np.argsort(~nz, axis=-1, kind="stable")[..., :n]
    order.sort(axis=-1)
    return NMMatrix(
        shape=(rows, cols),
        n=n,
        m=m,
        padded_groups=int(padded_groups),
        values=np.take_along_axis(groups, order, axis=-1).reshape(rows, -1),
        positions=_pack(order.reshape(rows, -1).astype(np.uint8), index_bits(m)),
    )


def decode_nm(e: NMMatrix) -> np.ndarray:
    rows, cols = e.shape
    pos = e.position_array().astype(np.int64).reshape(rows, e.padded_groups, e.n)
    groups = np.zeros((rows, e.padded_groups, e.m), dtype=np.float32)
    np.put_along_axis(groups, pos, e.values.reshape(rows, e.padded_groups, e.n), axis=-1)
    return groups.reshape(rows, -1)[:, :cols].copy()
