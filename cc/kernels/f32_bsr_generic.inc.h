// The generic r x c BSR kernel (also the scalar reference), included by
// each per-ISA translation unit so that the compiler vectorises it for that
// ISA. Everything here has internal linkage: copies built with different
// instruction sets must never be merged by the linker. No standard library
// code is used for the same reason.
#ifndef TF_SPARSE_CC_KERNELS_F32_BSR_GENERIC_INC_H_
#define TF_SPARSE_CC_KERNELS_F32_BSR_GENERIC_INC_H_

#include "cc/kernels/f32_bsr_ukernel.h"

namespace tf_sparse {
namespace {

inline float ClampF32(float v, float lo, float hi) {
  v = v < lo ? lo : v;
  return v > hi ? hi : v;
}

// Dot product of n = (C > 0 ? C : c) entries; a compile-time C lets the
// compiler unroll the common narrow blocks completely.
template <int C>
inline float DotF32(const float* a, const float* b, size_t c) {
  const size_t n = C > 0 ? static_cast<size_t>(C) : c;
  float s = 0.0f;
  for (size_t j = 0; j < n; ++j) s += a[j] * b[j];
  return s;
}

// One output row at a time, with four independent partial sums over the
// row's blocks so consecutive blocks do not wait on each other.
template <int C, typename Index>
void F32BsrGenericRows(const F32BsrArgs<Index>& a) {
  const size_t r = a.r;
  const size_t c = C > 0 ? static_cast<size_t>(C) : a.c;
  const size_t rc = r * c;
  for (size_t b = 0; b < a.batch; ++b) {
    const float* x = a.x + b * a.x_stride;
    float* y = a.y + b * a.y_stride;
    for (size_t i = 0; i < a.num_block_rows; ++i) {
      const int32_t k0 = a.row_ptr[i];
      const int32_t k1 = a.row_ptr[i + 1];
      for (size_t u = 0; u < r; ++u) {
        const float* v = a.values + u * c;
        float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
        int32_t k = k0;
        for (; k + 4 <= k1; k += 4) {
          s0 += DotF32<C>(v + k * rc, x + a.col_idx[k], c);
          s1 += DotF32<C>(v + (k + 1) * rc, x + a.col_idx[k + 1], c);
          s2 += DotF32<C>(v + (k + 2) * rc, x + a.col_idx[k + 2], c);
          s3 += DotF32<C>(v + (k + 3) * rc, x + a.col_idx[k + 3], c);
        }
        for (; k < k1; ++k) s0 += DotF32<C>(v + k * rc, x + a.col_idx[k], c);
        const float s = a.bias[i * r + u] + ((s0 + s1) + (s2 + s3));
        y[i * r + u] = ClampF32(s, a.output_min, a.output_max);
      }
    }
  }
}

// Any r x c.
template <typename Index>
void F32BsrGeneric(const F32BsrArgs<Index>& a) {
  switch (a.c) {
    case 1:
      return F32BsrGenericRows<1>(a);
    case 2:
      return F32BsrGenericRows<2>(a);
    case 3:
      return F32BsrGenericRows<3>(a);
    case 4:
      return F32BsrGenericRows<4>(a);
    case 8:
      return F32BsrGenericRows<8>(a);
    default:
      return F32BsrGenericRows<0>(a);
  }
}

}  // namespace
}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_BSR_GENERIC_INC_H_
