"""Conventions shared by the packed formats (see docs/formats.md, "Conventions").

* Values are float32. Encoders cast their input to float32; round trips are exact for float32
  input.
* Pointer arrays (``row_ptr``, ``offset``, ``group_ptr``) are int32.
* Column/row index arrays use the narrowest of uint16 / int32 that holds every value they can
  take: uint16 when the largest possible value is at most 65535, int32 otherwise
  (:func:`index_dtype`). FKW's arrays are int32 and N:M positions are bit-packed, as the C++
  packers store them.
* Byte order is little-endian; every array starts 64-byte aligned and is zero-padded to a
  multiple of 64 bytes when laid out for a kernel. ``nbytes()`` counts the arrays without that
  padding and without the few int32 header fields.
"""

from __future__ import annotations

import numpy as np

#: Alignment (and padding multiple) of every array in a packed buffer.
ALIGNMENT = 64

_INT32_MAX = np.iinfo(np.int32).max


def index_dtype(max_value: int) -> np.dtype:
    """uint16 when ``max_value <= 65535``, else int32 (values above int32 raise)."""
    if max_value <= 0xFFFF:
        return np.dtype("<u2")
    if max_value <= _INT32_MAX:
        return np.dtype("<i4")
    raise ValueError(f"index value {max_value} does not fit in int32")


def pointer_array(counts: np.ndarray) -> np.ndarray:
    """Exclusive prefix sum ``[0, c0, c0+c1, ...]`` as int32 (raises past int32)."""
    counts = np.asarray(counts, dtype=np.int64).ravel()
    ptr = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    if ptr[-1] > _INT32_MAX:
        raise ValueError(f"{ptr[-1]} entries do not fit int32 pointers")
    return ptr.astype("<i4")


def as_matrix(w2, owner: str) -> np.ndarray:
    """A 2-D GEMM-view matrix as float32 (rows = outputs, cols = reduction)."""
    w2 = np.asarray(w2)
    if w2.ndim != 2:
        raise ValueError(
            f"{owner}: expected a 2-D GEMM-view matrix (rows = outputs, cols = inputs), got shape "
            f"{w2.shape}; use tf_sparse.structures.to_gemm(kernel) for a Keras kernel"
        )
    if not np.issubdtype(w2.dtype, np.floating):
        raise TypeError(f"{owner}: weights must be floating point, got {w2.dtype}")
    return np.ascontiguousarray(w2, dtype=np.float32)


def value_nbytes(count: int, value_bytes: int, rows: int) -> int:
    """Bytes of ``count`` stored values: float32 (4 each) or int8 (1 each plus one float32 scale
    per output row)."""
    if value_bytes == 4:
        return 4 * count
    if value_bytes == 1:
        return count + 4 * rows
    raise ValueError(f"value_bytes must be 4 (float32) or 1 (int8), got {value_bytes!r}")


def padded(nbytes: int) -> int:
    """``nbytes`` rounded up to the array alignment."""
    return -(-nbytes // ALIGNMENT) * ALIGNMENT
