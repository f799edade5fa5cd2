// Dense int8 matrix-vector baseline for the int8 benchmark: the same
// computation as the int8 operators (int32 accumulation, TFLite
// requantization per row), W row-major [out][in] with in % 64 == 0, x given
// as x + 128 (uint8) and the bias folded as in qs8_bsr_ukernel.h.
#ifndef TF_SPARSE_CC_BENCH_QS8_DENSE_GEMV_H_
#define TF_SPARSE_CC_BENCH_QS8_DENSE_GEMV_H_

#include <cstddef>
#include <cstdint>

namespace tf_sparse {

void qs8_dense_gemv__avx512vnni(size_t out, size_t in, const int8_t* w,
                                const int32_t* bias, const uint8_t* x,
                                const int32_t* multiplier,
                                const int32_t* shift, int32_t output_zero_point,
                                int8_t* y);

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_BENCH_QS8_DENSE_GEMV_H_
