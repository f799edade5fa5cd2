"""Sparse Keras layers and model surgery (sparsify, strip)."""

from tf_sparse.layers.sparse_dense import SparseDense, SparseLayerMixin
from tf_sparse.layers.surgery import sparse_layers, sparsify, strip

__all__ = ["SparseDense", "SparseLayerMixin", "sparse_layers", "sparsify", "strip"]
