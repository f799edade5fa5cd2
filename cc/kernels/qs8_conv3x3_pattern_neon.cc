// Baseline NEON pattern conv kernel: vmull_s8 of a pixel's 4 tap bytes
// (duplicated) by 2 filters x 4 taps, vpadalq_s16 into per-filter pair
// sums (taps 0+1, 2+3), added pairwise once per block; two pixels at a
// time (16 accumulators).
#include "cc/kernels/qs8_conv3x3_pattern_neon_gather.inc.h"

namespace tf_sparse {
namespace {

void Kernel(const Qs8PatConvArgs& a) {
  GatherSlots(a);
  int32_t sums[2][16];
  for (size_t b = 0; b < a.num_blocks; ++b) {
    const size_t o0 = b * kQs8PatBlockFilters;
    for (size_t j = 0; j < a.num_pixels; j += 2) {
      int32x4_t acc[2][8];  // [pixel][filter pair]
      for (int p = 0; p < 2; ++p) {
        for (int q = 0; q < 8; ++q) acc[p][q] = vdupq_n_s32(0);
      }
      for (int32_t e = a.entry_ptr[b]; e < a.entry_ptr[b + 1]; ++e) {
        const int32_t* xs = reinterpret_cast<const int32_t*>(
            a.xbuf + static_cast<size_t>(a.entry_slot[e]) * 64);
        const int8x8_t x0 = vreinterpret_s8_s32(vdup_n_s32(xs[j]));
        const int8x8_t x1 = vreinterpret_s8_s32(vdup_n_s32(xs[j + 1]));
        const int8_t* w = a.weights + static_cast<size_t>(e) * 64;
        for (int q = 0; q < 8; ++q) {
          const int8x8_t wq = vld1_s8(w + 8 * q);
          acc[0][q] = vpadalq_s16(acc[0][q], vmull_s8(x0, wq));
          acc[1][q] = vpadalq_s16(acc[1][q], vmull_s8(x1, wq));
        }
      }
      for (int p = 0; p < 2; ++p) {
        for (int q = 0; q < 4; ++q) {
          vst1q_s32(sums[p] + 4 * q,
                    vpaddq_s32(acc[p][2 * q], acc[p][2 * q + 1]));
        }
      }
      StorePixels(a, o0, j, 2, sums);
    }
  }
}

const Qs8PatConvUkernel kKernel = {
    &Kernel, "qs8_conv3x3_pattern_minmax_16x16__neon", Isa::kNeon, 0, false,
    16};

}  // namespace

const Qs8PatConvUkernel& Qs8PatConvUkernelNeon() { return kKernel; }

}  // namespace tf_sparse
