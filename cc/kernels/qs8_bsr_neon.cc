// Baseline Advanced SIMD int8 BSR kernel (no dot product extension): the
// 16 byte products of four blocks by vmull_s8 (exact in int16), widened
// pairwise into int32 (vpaddlq_s16) and added pairwise again (vpaddq_s32),
// which leaves one block per lane, as sdot does.
#define TF_SPARSE_QS8_DOT4(acc, w, x)                                        \
  do {                                                                       \
    const int16x8_t p_lo = vmull_s8(vget_low_s8(w), vget_low_s8(x));         \
    const int16x8_t p_hi = vmull_s8(vget_high_s8(w), vget_high_s8(x));       \
    /* Lanes of p_lo: blocks 0,0,0,0,1,1,1,1 products; pairwise: 0,0,1,1. */ \
    const int32x4_t s_lo = vpaddlq_s16(p_lo);                                \
    const int32x4_t s_hi = vpaddlq_s16(p_hi);                                \
    (acc) = vaddq_s32((acc), vpaddq_s32(s_lo, s_hi));                        \
  } while (0)
#include "cc/kernels/qs8_bsr_neon_generic.inc.h"

namespace tf_sparse {
namespace {

const Qs8BsrUkernel kTable[] = {
    {1, 4, &Kernel1x4<uint16_t>, &Kernel1x4<int32_t>,
     "qs8_bsr_minmax_1x4__neon", Isa::kNeon, 0},
};

}  // namespace

const Qs8BsrUkernel* Qs8BsrUkernelsNeon(size_t* count) {
  *count = sizeof(kTable) / sizeof(kTable[0]);
  return kTable;
}

}  // namespace tf_sparse
