// acc (int32x4) += the four 4-byte dot products of w and x (int8x16), lane
// by lane: sdot when the translation unit is compiled with the dot product
// extension (__ARM_FEATURE_DOTPROD, the *_neondot.cc kernels), else the 16
// byte products by vmull_s8 (exact in int16), widened pairwise into int32
// (vpaddlq_s16) and added pairwise again (vpaddq_s32), which leaves one
// 4-byte group per lane as sdot does.
#ifndef TF_SPARSE_CC_KERNELS_QS8_NEON_DOT4_H_
#define TF_SPARSE_CC_KERNELS_QS8_NEON_DOT4_H_

#include <arm_neon.h>

namespace tf_sparse {

inline int32x4_t Qs8Dot4(int32x4_t acc, int8x16_t w, int8x16_t x) {
#if defined(__ARM_FEATURE_DOTPROD)
  return vdotq_s32(acc, w, x);
#else
  const int16x8_t p_lo = vmull_s8(vget_low_s8(w), vget_low_s8(x));
  const int16x8_t p_hi = vmull_s8(vget_high_s8(w), vget_high_s8(x));
  // Lanes of p_lo: groups 0,0,0,0,1,1,1,1 products; pairwise: 0,0,1,1.
  return vaddq_s32(acc, vpaddq_s32(vpaddlq_s16(p_lo), vpaddlq_s16(p_hi)));
#endif
}

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_QS8_NEON_DOT4_H_
