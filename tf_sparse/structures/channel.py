"""Channel sparsity: whole input channels are kept or pruned."""

from __future__ import annotations

from tf_sparse.structures.base import register_structure
from tf_sparse.structures.grouped import AxisGroupStructure


@register_structure
class Channel(AxisGroupStructure):
    """Input-channel pruning: a group is everything one input channel feeds.

    For a Dense kernel ``(in, out)`` a group is one input ``kernel[i, :]`` (a GEMM column, the same
    as :class:`Column`); for a Conv2D kernel ``(kh, kw, in, out)`` it is ``kernel[:, :, i, :]``,
    all ``kh * kw * out`` weights of input channel ``i`` (``kh * kw`` GEMM columns). Closed form:
    the projection keeps the ``n - floor(s * n + 0.5)`` channels of largest L2 norm; among equal
    norms the lower channel index is pruned first.

    A pruned input channel lets the previous layer drop the matching filter (a graph edit outside
    this structure).

    Compact format: BSR with ``32 x 1`` blocks (a kept channel is dense GEMM columns).

    Args:
      sparsity: target fraction of pruned input channels, in [0, 1).

    Example:
      >>> Channel(0.5).project(np.array([[1.0, 0.1], [2.0, 0.2]])).tolist()
      [[0.0, 0.0], [2.0, 0.2]]
    """

    reduce_axes = {2: (1,), 4: (0, 1, 3)}
