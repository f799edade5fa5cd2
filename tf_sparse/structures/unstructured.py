"""Unstructured (irregular) sparsity: single weights are kept or pruned."""

from __future__ import annotations

import numpy as np

from tf_sparse.structures.base import Structure, check_sparsity, from_gemm, register_structure, to_gemm
from tf_sparse.structures.select import num_pruned, prune_lowest


def _kernel_list(kernels, fn):
    """``kernels`` as a list; a bare array (one kernel, or a stack) is refused rather than iterated
    row by row."""
    if not isinstance(kernels, (list, tuple)):
        got = type(kernels).__name__
        if hasattr(kernels, "shape"):
            got += f" of shape {tuple(kernels.shape)}"
        raise TypeError(
            f"Unstructured.{fn}: `kernels` must be a list of Dense/Conv2D kernels, got {got}; "
            "wrap a single kernel in a list"
        )
    return list(kernels)


@register_structure
class Unstructured(Structure):
    """Keeps the largest-magnitude weights of a layer; any pattern of zeros is allowed.

    Closed form: the projection keeps the ``n - floor(s * n + 0.5)`` entries of largest ``|w|``
    and zeroes the rest, the Euclidean projection onto "at most k non-zeros". Ties break by
    flat index of the GEMM view (among equal magnitudes the lower index is pruned first), so the
    sparsity is exact up to the rounding of ``s * n``.

    ``project_global`` / ``mask_global`` apply one magnitude threshold shared by several kernels
    (the "irregular_global" variant): the layers together reach the target, each layer its own.

    Compact format: CSR (``tf_sparse.formats.encode_csr``).

    Args:
      sparsity: target fraction of zero weights, in [0, 1).

    Example:
      >>> Unstructured(0.5).project(np.array([[1.0, -3.0], [0.5, 2.0]])).tolist()
      [[0.0, -3.0], [0.0, 2.0]]
    """

    def _keep_gemm(self, w2, sparsity):
        return ~prune_lowest(np.abs(w2), num_pruned(w2.size, sparsity))

    def _is_valid_gemm(self, w2, sparsity):
        return int(np.count_nonzero(w2)) <= w2.size - num_pruned(w2.size, sparsity)

    def group_ids(self, kernel) -> np.ndarray:
        """Every weight is its own group."""
        kernel = self._check_kernel(kernel)
        return np.arange(kernel.size).reshape(kernel.shape)

    # --- one threshold across layers ---------------------------------------------------------
    def mask_global(self, kernels, sparsity=None) -> list:
        """Masks of several kernels pruned with one magnitude threshold.

        The ``floor(s * N + 0.5)`` smallest magnitudes of all ``N`` weights together are pruned;
        ties break by kernel order, then by flat index of each kernel's GEMM view (as in
        ``project``, so a single kernel gives the same mask as ``mask``).

        Args:
          kernels: a list of Dense/Conv2D kernels (Keras layouts).
          sparsity: overall target; ``None`` means the structure's own.

        Returns:
          A list of 0/1 masks, one per kernel, with the kernel's shape and dtype.
        """
        kernels = [self._check_values(k) for k in _kernel_list(kernels, "mask_global")]
        s = self.sparsity if sparsity is None else check_sparsity(sparsity, owner="Unstructured")
        if not kernels:
            return []
        flat = np.concatenate([np.abs(to_gemm(k)).ravel().astype(np.float64) for k in kernels])
        keep = ~prune_lowest(flat, num_pruned(flat.size, s))
        masks, start = [], 0
        for k in kernels:
            w2_shape = to_gemm(k).shape
            piece = keep[start : start + k.size].reshape(w2_shape)
            masks.append(from_gemm(piece, k.shape).astype(k.dtype))
            start += k.size
        return masks

    def project_global(self, kernels, sparsity=None) -> list:
        """``[k * m for k, m in zip(kernels, mask_global(kernels))]``."""
        kernels = [np.asarray(k) for k in _kernel_list(kernels, "project_global")]
        return [k * m for k, m in zip(kernels, self.mask_global(kernels, sparsity))]
