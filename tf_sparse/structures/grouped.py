"""Shared machinery of the structures that keep whole groups of weights by L2 norm."""

from __future__ import annotations

import numpy as np

from tf_sparse.structures.base import Structure
from tf_sparse.structures.select import num_pruned, prune_lowest


class AxisGroupStructure(Structure):
    """A group is every weight sharing the same index on the kernel axes that are *not* reduced.

    Subclasses name the reduced axes per kernel rank. Scores are squared L2 norms of the groups;
    the projection keeps the ``n - floor(s * n + 0.5)`` groups of largest norm, the Euclidean
    projection onto "at most k non-zero groups". Ties: the group with the lower index (C order
    over the kept axes, which is the GEMM-view order) is pruned first.
    """

    #: kernel rank -> axes summed over to score a group.
    reduce_axes: dict = {}

    def _scores(self, kernel: np.ndarray) -> np.ndarray:
        axes = self.reduce_axes[kernel.ndim]
        return np.square(kernel).sum(axis=axes, keepdims=True, dtype=np.float64)

    def _keep_kernel(self, kernel, sparsity):
        scores = self._scores(kernel)
        keep = ~prune_lowest(scores, num_pruned(scores.size, sparsity))
        return np.broadcast_to(keep, kernel.shape)

    def _is_valid_kernel(self, kernel, sparsity):
        nonzero = np.any(kernel != 0, axis=self.reduce_axes[kernel.ndim])
        return int(np.count_nonzero(nonzero)) <= nonzero.size - num_pruned(nonzero.size, sparsity)

    def group_ids(self, kernel) -> np.ndarray:
        """Group index of every kernel entry (Keras layout)."""
        kernel = self._check_kernel(kernel)
        axes = self.reduce_axes[kernel.ndim]
        kept_shape = tuple(1 if i in axes else n for i, n in enumerate(kernel.shape))
        ids = np.arange(int(np.prod(kept_shape))).reshape(kept_shape)
        return np.broadcast_to(ids, kernel.shape).copy()
