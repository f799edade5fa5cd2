"""Block sparse rows (BSR), the Python mirror of ``cc/formats/bsr.h``.

The layout is the "Block sparse rows (BSR)" section of docs/formats.md: ``row_ptr`` (int32,
per block row), ``col_idx`` (the starting column of each kept block, in elements; uint16 when
``padded_cols <= 65536``), ``values`` (float32, ``r * c`` per block, row-major, ragged edges 0).
A block is kept when any entry is non-zero.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from tf_sparse.formats.common import as_matrix, pointer_array, value_nbytes

#: Largest ``r * c`` the C++ kernels accept (``kMaxBlockEntries``).
MAX_BLOCK_ENTRIES = 1024


@dataclass(frozen=True, eq=False)
class BSRMatrix:
    """A GEMM-view matrix in BSR.

    Attributes:
      shape: (rows, cols).
      block: (r, c).
      row_ptr: int32 [ceil(rows / r) + 1].
      col_idx: uint16 (``padded_cols <= 65536``) or int32 [num_blocks]: starting column.
      values: float32 [num_blocks * r * c].
    """

    shape: tuple
    block: tuple
    row_ptr: np.ndarray
    col_idx: np.ndarray
    values: np.ndarray

    @property
    def num_blocks(self) -> int:
        return int(self.row_ptr[-1])

    @property
    def index_bytes(self) -> int:
        return self.col_idx.dtype.itemsize

    def nbytes(self, value_bytes: int = 4) -> int:
        """``BsrPackedBytes``: row_ptr + col_idx + values (int8 values add a scale per row)."""
        return self.row_ptr.nbytes + self.col_idx.nbytes + value_nbytes(self.values.size, value_bytes, self.shape[0])

    def to_dense(self) -> np.ndarray:
        return decode_bsr(self)


def _check_block(block):
    if (
        not isinstance(block, (tuple, list))
        or len(block) != 2
        or not all(isinstance(b, numbers.Integral) and not isinstance(b, bool) for b in block)
        or min(block) < 1
        or block[0] * block[1] > MAX_BLOCK_ENTRIES
    ):
        raise ValueError(
            f"encode_bsr: `block` must be (r, c), positive integers with r * c <= {MAX_BLOCK_ENTRIES}, got {block!r}"
        )
    return int(block[0]), int(block[1])


def encode_bsr(w2, block=(1, 4)) -> BSRMatrix:
    """Encodes a GEMM-view matrix with ``r x c`` blocks (``PackBsr`` with the automatic width)."""
    w2 = as_matrix(w2, "encode_bsr")
    r, c = _check_block(block)
    rows, cols = w2.shape
    nbr, nbc = -(-rows // r), -(-cols // c)
    padded = np.zeros((nbr * r, nbc * c), dtype=np.float32)
    padded[:rows, :cols] = w2
    blocks = padded.reshape(nbr, r, nbc, c).transpose(0, 2, 1, 3)  # (nbr, nbc, r, c)
    kept = np.any(blocks != 0, axis=(2, 3))
    bi, bj = np.nonzero(kept)  # block rows ascending, columns ascending inside
    idx_dtype = np.dtype("<u2") if nbc * c <= 65536 else np.dtype("<i4")
    return BSRMatrix(
        shape=(rows, cols),
        block=(r, c),
        row_ptr=pointer_array(kept.sum(axis=1)),
        col_idx=(bj * c).astype(idx_dtype),
        values=np.ascontiguousarray(blocks[bi, bj]).reshape(-1),
    )


def decode_bsr(m: BSRMatrix) -> np.ndarray:
    rows, cols = m.shape
    r, c = m.block
    nbr = len(m.row_ptr) - 1
    nbc = -(-cols // c)
    blocks = np.zeros((nbr, nbc, r, c), dtype=np.float32)
    bi = np.repeat(np.arange(nbr), np.diff(m.row_ptr))
    bj = m.col_idx.astype(np.int64) // c
    blocks[bi, bj] = m.values.reshape(-1, r, c)
    return blocks.transpose(0, 2, 1, 3).reshape(nbr * r, nbc * c)[:rows, :cols].copy()
