// Plain dense fully connected layer: the independent oracle for the sparse
// kernels (it never sees the packed format).
#ifndef TF_SPARSE_CC_KERNELS_F32_DENSE_REFERENCE_H_
#define TF_SPARSE_CC_KERNELS_F32_DENSE_REFERENCE_H_

#include <cstddef>

namespace tf_sparse {

// y[b][o] = clamp(sum_k w[o][k] * x[b][k] + bias[o]); bias may be null.
// Accumulates in double. NaN propagates (the clamp returns a NaN sum as
// NaN). stored_only: zero weights are skipped, as a sparse kernel that
// never stores them does (0 * NaN and 0 * Inf then contribute nothing).
void F32DenseFullyConnectedReference(size_t batch, size_t out, size_t in,
                                     const float* w, const float* bias,
                                     const float* x, float* y,
                                     float output_min, float output_max,
                                     bool stored_only = false);

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_DENSE_REFERENCE_H_
