// The NEON int8 BSR 1 x 4 kernel, shared by the plain and the dot product
// variants: included by qs8_bsr_neon.cc and qs8_bsr_neondot.cc, whose
// compiler flags choose Qs8Dot4 (qs8_neon_dot4.h).
#include <arm_neon.h>

#include <cstring>

#include "cc/kernels/qs8_bsr_ukernel.h"
#include "cc/kernels/qs8_neon_dot4.h"
#include "cc/kernels/requantize.h"

namespace tf_sparse {
namespace {

inline int32_t LoadWord(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

template <typename Index>
void Kernel1x4(const Qs8BsrArgs<Index>& a) {
  for (size_t i = 0; i < a.num_block_rows; ++i) {
    const int32_t begin = a.row_ptr[i];
    const size_t n = static_cast<size_t>(a.row_ptr[i + 1] - begin);
    const Index* idx = a.col_idx + begin;
    const int8_t* w = a.values + static_cast<size_t>(begin) * 4;
    for (size_t b = 0; b < a.batch; ++b) {
      const int8_t* x = a.x + b * a.x_stride;
      int32x4_t acc0 = vdupq_n_s32(0);
      int32x4_t acc1 = vdupq_n_s32(0);
      size_t j = 0;
      for (; j + 8 <= n; j += 8) {
        int32x4_t x0 = vdupq_n_s32(0);
        int32x4_t x1 = vdupq_n_s32(0);
        x0 = vsetq_lane_s32(LoadWord(x + idx[j + 0]), x0, 0);
        x0 = vsetq_lane_s32(LoadWord(x + idx[j + 1]), x0, 1);
        x0 = vsetq_lane_s32(LoadWord(x + idx[j + 2]), x0, 2);
        x0 = vsetq_lane_s32(LoadWord(x + idx[j + 3]), x0, 3);
        x1 = vsetq_lane_s32(LoadWord(x + idx[j + 4]), x1, 0);
        x1 = vsetq_lane_s32(LoadWord(x + idx[j + 5]), x1, 1);
        x1 = vsetq_lane_s32(LoadWord(x + idx[j + 6]), x1, 2);
        x1 = vsetq_lane_s32(LoadWord(x + idx[j + 7]), x1, 3);
        acc0 = Qs8Dot4(acc0, vld1q_s8(w + j * 4), vreinterpretq_s8_s32(x0));
        acc1 = Qs8Dot4(acc1, vld1q_s8(w + j * 4 + 16),
                           vreinterpretq_s8_s32(x1));
      }
      for (; j + 4 <= n; j += 4) {
        int32x4_t x0 = vdupq_n_s32(0);
        x0 = vsetq_lane_s32(LoadWord(x + idx[j + 0]), x0, 0);
        x0 = vsetq_lane_s32(LoadWord(x + idx[j + 1]), x0, 1);
        x0 = vsetq_lane_s32(LoadWord(x + idx[j + 2]), x0, 2);
        x0 = vsetq_lane_s32(LoadWord(x + idx[j + 3]), x0, 3);
        acc0 = Qs8Dot4(acc0, vld1q_s8(w + j * 4), vreinterpretq_s8_s32(x0));
      }
      int32_t sum = a.bias[i] + vaddvq_s32(vaddq_s32(acc0, acc1));
      for (; j < n; ++j) {
        const int8_t* xj = x + static_cast<size_t>(idx[j]);
        const int8_t* wj = w + j * 4;
        sum += xj[0] * wj[0] + xj[1] * wj[1] + xj[2] * wj[2] + xj[3] * wj[3];
      }
      a.y[b * a.y_stride + i] =
          RequantizeToInt8(sum, a.multiplier[i], a.shift[i],
                           a.output_zero_point, a.output_min, a.output_max);
    }
  }
}

}  // namespace
}  // namespace tf_sparse
