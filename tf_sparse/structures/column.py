"""Column sparsity: whole GEMM columns (filter-shape positions) are kept or pruned."""

from __future__ import annotations

from tf_sparse.structures.base import register_structure
from tf_sparse.structures.grouped import AxisGroupStructure


@register_structure
class Column(AxisGroupStructure):
    """Column ("filter shape") pruning: a group is one column of the GEMM view.

    For a Dense kernel ``(in, out)`` a group is one input ``kernel[i, :]``; for a Conv2D kernel
    ``(kh, kw, in, out)`` it is one position ``kernel[y, x, i, :]`` across all filters, so every
    filter keeps the same shape. Closed form: the projection keeps the ``n - floor(s * n + 0.5)``
    columns of largest L2 norm; among equal norms the lower GEMM column index
    (``(y * kw + x) * in + i``) is pruned first.

    Compact format: BSR with ``32 x 1`` blocks (a kept column is a dense GEMM column); a
    runtime may instead keep the smaller dense matrix of the kept columns and an im2col that
    skips the pruned ones.

    Args:
      sparsity: target fraction of pruned columns, in [0, 1).

    Example:
      >>> Column(0.5).project(np.array([[1.0, 0.1], [2.0, 0.2]])).tolist()
      [[0.0, 0.0], [2.0, 0.2]]
    """

    reduce_axes = {2: (1,), 4: (3,)}
