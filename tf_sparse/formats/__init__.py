"""Reference encoders/decoders of the packed weight formats (docs/formats.md).

Each encoder takes a GEMM-view matrix (``tf_sparse.structures.to_gemm(kernel)``; FKW takes the
Keras 3x3 kernel) and returns a small dataclass of NumPy arrays with explicit dtypes; its
``to_dense()`` (or the matching ``decode_*``) restores the input exactly and ``nbytes()`` counts
the packed bytes. The C++ packers in ``cc/formats`` follow the same document.
"""

from tf_sparse.formats.bsr import BSRMatrix, decode_bsr, encode_bsr
from tf_sparse.formats.common import ALIGNMENT, index_dtype
from tf_sparse.formats.csr import CSRMatrix, decode_csr, encode_csr
from tf_sparse.formats.fkw import FKWKernel, decode_fkw, encode_fkw
from tf_sparse.formats.gs import GSMatrix, decode_gs, encode_gs
from tf_sparse.formats.nm import NMMatrix, decode_nm, encode_nm
from tf_sparse.formats.report import byte_report, dense_nbytes, encode, format_for, markdown

__all__ = [
    "ALIGNMENT",
    "BSRMatrix",
    "CSRMatrix",
    "FKWKernel",
    "GSMatrix",
    "NMMatrix",
    "byte_report",
    "decode_bsr",
    "decode_csr",
    "decode_fkw",
    "decode_gs",
    "decode_nm",
    "dense_nbytes",
    "encode",
    "encode_bsr",
    "encode_csr",
    "encode_fkw",
    "encode_gs",
    "encode_nm",
    "format_for",
    "index_dtype",
    "markdown",
]
