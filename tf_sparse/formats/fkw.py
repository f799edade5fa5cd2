"""PatDNN's filter-kernel-weight (FKW) layout for pattern-pruned 3x3 convolutions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tf_sparse.formats.common import pointer_array, value_nbytes
from tf_sparse.structures.kernel_pattern import assign_patterns, from_kernels_9, kernels_9, supports_9


@dataclass(frozen=True, eq=False)
class FKWKernel:
    """A pattern-sparse (3, 3, in, out) kernel in filter-kernel-weight layout (``cc/formats/patdnn.h``).

    Attributes:
      shape: (3, 3, in, out), the Keras kernel shape.
      patterns: uint16 [P]: the patterns, distinct 9-bit masks (bit ``3*y+x``), 4 bits set each.
      reorder: int32 [out]: original filter index of each filter after reordering (filters
        sorted by number of non-empty kernels, descending; ties by filter index).
      offset: int32 [out + 1]: kernels of reordered filter f are ``[offset[f], offset[f+1])``.
      index: int32 [nnzk]: input channel of each kernel; inside a filter sorted by pattern, then
        channel.
      stride: int32 [out * (P + 1)]: for reordered filter f, ``stride[f*(P+1) + p]`` is the
        number of its kernels with a pattern before p (starts at 0, ends at the filter's count).
      weight: float32 [nnzk * 4]: the 4 values of each kernel, in ascending position order of
        its pattern.
    """

    shape: tuple
    patterns: np.ndarray
    reorder: np.ndarray
    offset: np.ndarray
    index: np.ndarray
    stride: np.ndarray
    weight: np.ndarray

    @property
    def num_kernels(self) -> int:
        return int(self.index.size)

    def nbytes(self, value_bytes: int = 4) -> int:
        arrays = self.patterns.nbytes + self.reorder.nbytes + self.offset.nbytes
        arrays += self.index.nbytes + self.stride.nbytes
        return arrays + value_nbytes(self.weight.size, value_bytes, self.shape[3])

    def to_dense(self) -> np.ndarray:
        return decode_fkw(self)


def _positions(patterns: np.ndarray) -> np.ndarray:
    """(P, 4) ascending positions of each pattern."""
    bits = (patterns[:, None].astype(np.int64) >> np.arange(9)) & 1
    return np.nonzero(bits)[1].reshape(-1, 4)


def encode_fkw(kernel, library=None) -> FKWKernel:
    """Encodes a pattern-sparse 3x3 kernel (Keras layout ``(3, 3, in, out)``).

    Args:
      kernel: every 3x3 kernel must be zero or fit a 4-entry pattern that includes the centre.
      library: optional list of 9-bit patterns to use (``KernelPattern.library``); without one
        the patterns are chosen from the 56 candidates (``assign_patterns``).

    Raises:
      ValueError: when a kernel fits no pattern.
    """
    kernel = np.asarray(kernel)
    if kernel.ndim != 4 or kernel.shape[:2] != (3, 3):
        raise ValueError(f"encode_fkw: expected a (3, 3, in, out) kernel, got shape {kernel.shape}")
    kernel = kernel.astype(np.float32, copy=False)
    _, _, cin, cout = kernel.shape
    k9 = kernels_9(kernel)  # (out, in, 9)
    supports = supports_9(k9)
    pats, pid = assign_patterns(supports, library)
    if pats is None:
        raise ValueError(
            "encode_fkw: some 3x3 kernel fits no pattern (at most 4 non-zeros, centre included, "
            "from the library when one is given)"
        )
    n_pat = len(pats)
    patterns = np.asarray(pats, dtype="<u2")
    nonempty = supports != 0
    per_filter = nonempty.sum(axis=1)
    reorder = np.lexsort((np.arange(cout), -per_filter))
    rank = np.empty(cout, dtype=np.int64)
    rank[reorder] = np.arange(cout)
    co, ci = np.nonzero(nonempty)
    p = pid[co, ci]
    order = np.lexsort((ci, p, rank[co]))
    co, ci, p = co[order], ci[order], p[order]
    counts = np.zeros((cout, max(n_pat, 1)), dtype=np.int64)
    np.add.at(counts, (rank[co], p), 1)
    stride = np.zeros((cout, n_pat + 1), dtype=np.int64)
    np.cumsum(counts[:, :n_pat], axis=1, out=stride[:, 1:])
    pos = _positions(patterns) if n_pat else np.zeros((0, 4), np.int64)
    weight = k9[co[:, None], ci[:, None], pos[p]] if co.size else np.zeros((0, 4), np.float32)
    return FKWKernel(
        shape=tuple(kernel.shape),
        patterns=patterns,
        reorder=reorder.astype("<i4"),
        offset=pointer_array(per_filter[reorder]),
        index=ci.astype("<i4"),
        stride=stride.ravel().astype("<i4"),
        weight=np.ascontiguousarray(weight, dtype=np.float32).reshape(-1),
    )


def decode_fkw(f: FKWKernel) -> np.ndarray:
    _, _, cin, cout = f.shape
    n_pat = f.patterns.size
    k9 = np.zeros((cout, cin, 9), dtype=np.float32)
    if f.num_kernels:
        per_pattern = np.diff(f.stride.astype(np.int64).reshape(cout, n_pat + 1), axis=1)
        p = np.repeat(np.tile(np.arange(n_pat), cout), per_pattern.ravel())
        filt = np.repeat(f.reorder.astype(np.int64), np.diff(f.offset))
        pos = _positions(f.patterns)[p]
        k9[filt[:, None], f.index.astype(np.int64)[:, None], pos] = f.weight.reshape(-1, 4)
    return from_kernels_9(k9, f.shape)
