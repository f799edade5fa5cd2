"""Runtime: the delegate's library, interpreters that use it, and timing."""

from tf_sparse.runtime.compare import delegate_vs_xnnpack, describe
from tf_sparse.runtime.delegate import (
    delegate_calibration,
    delegate_isa,
    delegate_path,
    delegate_report,
    delegate_stats,
    load_delegate,
)
from tf_sparse.runtime.interpreter import (
    interleaved_latency_us,
    interleaved_times_us,
    make_interpreter,
    median_latency_us,
    predict,
    run,
)

__all__ = [
    "delegate_calibration",
    "delegate_isa",
    "delegate_path",
    "delegate_report",
    "delegate_stats",
    "delegate_vs_xnnpack",
    "describe",
    "interleaved_latency_us",
    "interleaved_times_us",
    "load_delegate",
    "make_interpreter",
    "median_latency_us",
    "predict",
    "run",
]
