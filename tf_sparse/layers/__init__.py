"""Sparse Keras layers and model surgery (sparsify, strip, harden)."""

from tf_sparse.layers.base import SparseLayerMixin
from tf_sparse.layers.sparse_conv import SparseConv1D, SparseConv2D, SparseDepthwiseConv2D
from tf_sparse.layers.sparse_dense import SparseDense
from tf_sparse.layers.hosts import (
    SparseConv2DTranspose,
    SparseEinsumDense,
    SparseEmbedding,
    SparseGRU,
    SparseLSTM,
    SparseSeparableConv2D,
    SparseSimpleRNN,
)
from tf_sparse.layers.kernel_unit import SparseKernel
from tf_sparse.layers.selectors import LayerSpec, fastest, select
from tf_sparse.layers.shrink import ShrinkGroup, ShrinkReport, prune_filter_groups, shrink, shrink_groups, shrink_report
from tf_sparse.layers.surgery import harden, layer_paths, quantize, sparse_layers, sparsify, strip
from tf_sparse.layers import saving  # noqa: F401  (registers the loader of wrapped models)

__all__ = [
    "SparseConv2DTranspose",
    "SparseEinsumDense",
    "SparseEmbedding",
    "SparseGRU",
    "SparseKernel",
    "SparseLSTM",
    "SparseSeparableConv2D",
    "SparseSimpleRNN",
    "layer_paths",
    "LayerSpec",
    "fastest",
    "select",
    "SparseConv1D",
    "SparseConv2D",
    "SparseDense",
    "SparseDepthwiseConv2D",
    "SparseLayerMixin",
    "harden",
    "prune_filter_groups",
    "ShrinkGroup",
    "ShrinkReport",
    "shrink",
    "shrink_groups",
    "shrink_report",
    "quantize",
    "sparse_layers",
    "sparsify",
    "strip",
]
