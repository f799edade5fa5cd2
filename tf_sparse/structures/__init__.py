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
from tf_sparse.structures.block_punched import BlockPunched
from tf_sparse.structures.channel import Channel
from tf_sparse.structures.column import Column
from tf_sparse.structures.crossbar import Crossbar
from tf_sparse.structures.filter import Filter
from tf_sparse.structures.gather_scatter import GatherScatter
from tf_sparse.structures.kernel_pattern import CANDIDATE_PATTERNS, Connectivity, KernelPattern, extract_library
from tf_sparse.structures.nm import NM
from tf_sparse.structures.unstructured import Unstructured

__all__ = [
    "Block",
    "BlockPunched",
    "CANDIDATE_PATTERNS",
    "Channel",
    "Column",
    "Connectivity",
    "Crossbar",
    "Filter",
    "GatherScatter",
    "KernelPattern",
    "NM",
    "Structure",
    "Unstructured",
    "extract_library",
    "deserialize_structure",
    "from_gemm",
    "kernel_sparsity",
    "register_structure",
    "serialize_structure",
    "to_gemm",
]
