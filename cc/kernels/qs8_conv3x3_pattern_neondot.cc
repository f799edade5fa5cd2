// NEON dot product pattern conv kernel: an entry's 64 weight bytes are 4
// vectors of 4 filters x 4 taps; sdot by lane multiplies them by one of 4
// pixels' tap words (16 accumulators: 16 filters x 4 pixels).
#include "cc/kernels/qs8_conv3x3_pattern_neon_gather.inc.h"

namespace tf_sparse {
namespace {

void Kernel(const Qs8PatConvArgs& a) {
  GatherSlots(a);
  int32_t sums[4][16];
  for (size_t b = 0; b < a.num_blocks; ++b) {
    const size_t o0 = b * kQs8PatBlockFilters;
    for (size_t g = 0; g < a.num_pixels; g += 4) {
      int32x4_t acc[4][4];  // [filter quad][pixel]
      for (int q = 0; q < 4; ++q) {
        for (int p = 0; p < 4; ++p) acc[q][p] = vdupq_n_s32(0);
      }
      for (int32_t e = a.entry_ptr[b]; e < a.entry_ptr[b + 1]; ++e) {
        const int8x16_t x = vld1q_s8(
            a.xbuf + static_cast<size_t>(a.entry_slot[e]) * 64 + 4 * g);
        const int8_t* w = a.weights + static_cast<size_t>(e) * 64;
        for (int q = 0; q < 4; ++q) {
          const int8x16_t wq = vld1q_s8(w + 16 * q);
          acc[q][0] = vdotq_laneq_s32(acc[q][0], wq, x, 0);
          acc[q][1] = vdotq_laneq_s32(acc[q][1], wq, x, 1);
          acc[q][2] = vdotq_laneq_s32(acc[q][2], wq, x, 2);
          acc[q][3] = vdotq_laneq_s32(acc[q][3], wq, x, 3);
        }
      }
      for (int p = 0; p < 4; ++p) {
        for (int q = 0; q < 4; ++q) vst1q_s32(sums[p] + 4 * q, acc[q][p]);
      }
      StorePixels(a, o0, g, 4, sums);
    }
  }
}

const Qs8PatConvUkernel kKernel = {
    &Kernel, "qs8_conv3x3_pattern_minmax_16x16__neondot", Isa::kNeon, 0,
    false, 16};

}  // namespace

const Qs8PatConvUkernel& Qs8PatConvUkernelNeonDot() { return kKernel; }

}  // namespace tf_sparse
