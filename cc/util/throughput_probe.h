// Short measurements of what this CPU can do regardless of any sparse
// format: the peak rate of vector multiply-adds and the rate of streaming
// reads. They stand in for XNNPACK's dense kernels when the cost models are
// calibrated (delegate/calibration.h): XNNPACK's dense convolutions and
// GEMMs run at a roughly fixed fraction of the FMA peak, its
// matrix-vector products at a roughly fixed fraction of the read bandwidth
// of their weights.
//
// Each probe runs the best instruction set the CPU supports (what XNNPACK
// would use, whatever cap the sparse kernels run under), a few times, and
// returns the fastest repetition: the least disturbed by other processes.
#ifndef TF_SPARSE_CC_UTIL_THROUGHPUT_PROBE_H_
#define TF_SPARSE_CC_UTIL_THROUGHPUT_PROBE_H_

#include <cstddef>
#include <string>

namespace tf_sparse {

// Nanoseconds per single-precision multiply-add at the FMA peak of one core
// (12 independent vector accumulators, no memory traffic).
double ProbeFmaNsPerLane();

// Nanoseconds per float of a vector sum over `floats` contiguous floats that
// were read once before (so the footprint decides the cache level).
double ProbeStreamNsPerFloat(size_t floats);

// Identifies the CPU model for caches keyed by it: the vendor's model string
// and, on x86-64, family/model/stepping ("Intel(R) Xeon(R) Processor
// 6/167/1"); on aarch64 the implementer and part numbers.
std::string CpuModelKey();

// Seconds of a monotonic clock.
double MonotonicSeconds();

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_UTIL_THROUGHPUT_PROBE_H_
