"""Filter sparsity: whole output units (GEMM rows) are kept or pruned."""

from __future__ import annotations

from tf_sparse.structures.base import register_structure
from tf_sparse.structures.grouped import AxisGroupStructure


@register_structure
class Filter(AxisGroupStructure):
    """Filter (output unit) pruning: a group is one row of the GEMM view.

    For a Dense kernel ``(in, out)`` a group is one output unit ``kernel[:, j]``; for a Conv2D
    kernel ``(kh, kw, in, out)`` it is one filter ``kernel[..., j]``. Closed form: the projection
    keeps the ``n - floor(s * n + 0.5)`` filters of largest L2 norm (Euclidean projection onto "at
    most k non-zero filters"); among equal norms the lower output index is pruned first. The
    weight sparsity equals ``floor(s * n + 0.5) / n``: exact when ``s * n`` is whole.

    A pruned filter removes the output unit; the following layer's matching input channel (and a
    batch-norm's gamma/beta) can then go as well, which is a graph edit outside this structure.

    Compact format: BSR with ``1 x 32`` blocks (a kept filter is a dense GEMM row).

    Args:
      sparsity: target fraction of pruned filters, in [0, 1).

    Example:
      >>> Filter(0.5).project(np.array([[1.0, 0.1], [2.0, 0.2]])).tolist()
      [[1.0, 0.0], [2.0, 0.0]]
    """

    reduce_axes = {2: (0,), 4: (0, 1, 2)}
