"""Sparsity structures: projections, masks and validity checks on plain arrays."""

from tf_sparse.structures.base import (
    Structure,
    deserialize_structure,
    from_gemm,
    kernel_sparsity,
    register_structure,
    serialize_structure,
    to_gemm,
)
from tf_sparse.structures.block import Block

__all__ = [
    "Block",
    "Structure",
    "deserialize_structure",
    "from_gemm",
    "kernel_sparsity",
    "register_structure",
    "serialize_structure",
    "to_gemm",
]
