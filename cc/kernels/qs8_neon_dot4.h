// TF_SPARSE_QS8_DOT4(acc, w, x): acc (int32x4) += the four 4-byte dot
// products of w and x (int8x16), lane by lane: one sdot when the
// translation unit is compiled with the dot product extension
// (__ARM_FEATURE_DOTPROD, the *_neondot.cc files), else baseline Advanced
// SIMD: the 16 byte products by vmull_s8 (exact in int16), widened pairwise
// into int32 (vpaddlq_s16) and added pairwise again (vpaddq_s32), which
// leaves one 4-byte group per lane, as sdot does.
#ifndef TF_SPARSE_CC_KERNELS_QS8_NEON_DOT4_H_
#define TF_SPARSE_CC_KERNELS_QS8_NEON_DOT4_H_

#include <arm_neon.h>

#if defined(__ARM_FEATURE_DOTPROD)
#define TF_SPARSE_QS8_DOT4(acc, w, x) ((acc) = vdotq_s32((acc), (w), (x)))
#else
#define TF_SPARSE_QS8_DOT4(acc, w, x)                                        \
  do {                                                                       \
    const int16x8_t p_lo = vmull_s8(vget_low_s8(w), vget_low_s8(x));         \
    const int16x8_t p_hi = vmull_s8(vget_high_s8(w), vget_high_s8(x));       \
    /* Lanes of p_lo: groups 0,0,0,0,1,1,1,1 products; pairwise: 0,0,1,1. */ \
    const int32x4_t s_lo = vpaddlq_s16(p_lo);                                \
    const int32x4_t s_hi = vpaddlq_s16(p_hi);                                \
    (acc) = vaddq_s32((acc), vpaddq_s32(s_lo, s_hi));                        \
  } while (0)
#endif

#endif  // TF_SPARSE_CC_KERNELS_QS8_NEON_DOT4_H_
