"""Sparse Keras layers and model surgery (sparsify, strip, harden)."""

from tf_sparse.layers.base import SparseLayerMixin
from tf_sparse.layers.sparse_conv import SparseConv1D, SparseConv2D, SparseDepthwiseConv2D
from tf_sparse.layers.sparse_dense import SparseDense
from tf_sparse.layers.surgery import harden, quantize, sparse_layers, sparsify, strip

__all__ = [
    "SparseConv1D",
    "SparseConv2D",
    "SparseDense",
    "SparseDepthwiseConv2D",
    "SparseLayerMixin",
    "harden",
    "quantize",
    "sparse_layers",
    "sparsify",
    "strip",
]
