"""N:M values + in-group indices."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from tf_sparse.formats.common import as_matrix, value_nbytes


@dataclass(frozen=True, eq=False)
class NMMatrix:
    """A GEMM-view matrix with at most ``n`` non-zeros in every ``m`` consecutive columns.

    Attributes:
      shape: (rows, cols).
      n, m: the pattern.
      values: float32 [rows, ceil(cols / m), n]: the kept values of each group, in column order;
        a group with fewer than ``n`` non-zeros is padded with 0.0.
      indices: uint8 [rows, ceil(cols / m), n]: position of each value inside its group
        (0 .. m-1), strictly ascending; padding slots take the lowest unused positions.
    """

    shape: tuple
    n: int
    m: int
    values: np.ndarray
    indices: np.ndarray

    def nbytes(self, value_bytes: int = 4) -> int:
        return self.indices.nbytes + value_nbytes(self.values.size, value_bytes, self.shape[0])

    def to_dense(self) -> np.ndarray:
        return decode_nm(self)


def encode_nm(w2, n: int, m: int) -> NMMatrix:
    """Encodes an N:M-sparse GEMM-view matrix; raises if a group holds more than ``n`` non-zeros."""
    w2 = as_matrix(w2, "encode_nm")
    for name, v in (("n", n), ("m", m)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"encode_nm: `{name}` must be a positive integer, got {v!r}")
    if n > m or m > 256:
        raise ValueError(f"encode_nm: need 1 <= n <= m <= 256, got n={n}, m={m}")
    rows, cols = w2.shape
    g = -(-cols // m)
    padded = np.zeros((rows, g * m), dtype=np.float32)
    padded[:, :cols] = w2
    groups = padded.reshape(rows, g, m)
    nz = groups != 0
    counts = nz.sum(axis=-1)
    if np.any(counts > n):
        r, j = np.argwhere(counts > n)[0]
        raise ValueError(
            f"encode_nm: row {r}, group {j} (columns {j * m}..{j * m + m - 1}) has {counts[r, j]} "
            f"non-zeros, more than n={n}"
        )
    # Non-zeros first, then zeros, each in column order; keep n, then sort by position.
    order = np.argsort(~nz, axis=-1, kind="stable")[..., :n]
    order.sort(axis=-1)
    return NMMatrix(
        shape=(rows, cols),
        n=int(n),
        m=int(m),
        values=np.take_along_axis(groups, order, axis=-1),
        indices=order.astype(np.uint8),
    )


def decode_nm(e: NMMatrix) -> np.ndarray:
    rows, cols = e.shape
    g = e.values.shape[1]
    groups = np.zeros((rows, g, e.m), dtype=np.float32)
    np.put_along_axis(groups, e.indices.astype(np.int64), e.values, axis=-1)
    return groups.reshape(rows, g * e.m)[:, :cols].copy()
