// Plain dense fully connected layer: the independent oracle for the sparse
// kernels (it never sees the packed format).
#ifndef TF_SPARSE_CC_KERNELS_F32_DENSE_REFERENCE_H_
#define TF_SPARSE_CC_KERNELS_F32_DENSE_REFERENCE_H_

#include <cstddef>

namespace tf_sparse {

// y[b][o] = clamp(sum_k w[o][k] * x[b][k] + bias[o]); bias may be null.
// Accumulates in double.
void F32DenseFullyConnectedReference(size_t batch, size_t out, size_t in,
                                     const float* w, const float* bias,
                                     const float* x, float* y,
                                     float output_min, float output_max);

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_DENSE_REFERENCE_H_
