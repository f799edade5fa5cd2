"""Compressed sparse rows (CSR): the fallback format for unstructured sparsity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tf_sparse.formats.common import as_matrix, index_dtype, pointer_array, value_nbytes


@dataclass(frozen=True, eq=False)
class CSRMatrix:
    """A GEMM-view matrix in CSR.

    Attributes:
      shape: (rows, cols).
      row_ptr: int32 [rows + 1]; row i's entries are ``[row_ptr[i], row_ptr[i+1])``.
      col_idx: uint16 when ``cols <= 65536``, else int32 [nnz]; ascending inside a row.
      values: float32 [nnz].
    """

    shape: tuple
    row_ptr: np.ndarray
    col_idx: np.ndarray
    values: np.ndarray

    @property
    def nnz(self) -> int:
        return int(self.values.size)

    def nbytes(self, value_bytes: int = 4) -> int:
        """Packed bytes; ``value_bytes=1`` counts int8 values plus a float32 scale per row."""
        return self.row_ptr.nbytes + self.col_idx.nbytes + value_nbytes(self.nnz, value_bytes, self.shape[0])

    def to_dense(self) -> np.ndarray:
        return decode_csr(self)


def encode_csr(w2) -> CSRMatrix:
    """Encodes the non-zeros of a GEMM-view matrix (``w != 0``; -0.0 counts as zero)."""
    w2 = as_matrix(w2, "encode_csr")
    rows, cols = w2.shape
    r, c = np.nonzero(w2)
    return CSRMatrix(
        shape=(rows, cols),
        row_ptr=pointer_array(np.bincount(r, minlength=rows)),
        col_idx=c.astype(index_dtype(cols - 1)),
        values=w2[r, c],
    )


def decode_csr(m: CSRMatrix) -> np.ndarray:
    rows, cols = m.shape
    out = np.zeros((rows, cols), dtype=np.float32)
    r = np.repeat(np.arange(rows), np.diff(m.row_ptr))
    out[r, m.col_idx.astype(np.int64)] = m.values
    return out
