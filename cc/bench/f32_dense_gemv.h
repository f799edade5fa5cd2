// Dense matrix-vector baselines for the benchmark: y = W x + bias, W
// row-major [out][in]. One per ISA, each in its own translation unit.
#ifndef TF_SPARSE_CC_BENCH_F32_DENSE_GEMV_H_
#define TF_SPARSE_CC_BENCH_F32_DENSE_GEMV_H_

#include <cstddef>

namespace tf_sparse {

void f32_dense_gemv__avx2(size_t out, size_t in, const float* w,
                          const float* bias, const float* x, float* y);
void f32_dense_gemv__avx512(size_t out, size_t in, const float* w,
                            const float* bias, const float* x, float* y);

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_BENCH_F32_DENSE_GEMV_H_
