// Shared by the NEON pattern conv kernels: the slots' 4 tap rows
// interleaved into 16 words per slot by one st4 (vst4q_s8 stores 4
// registers interleaved byte by byte).
#include <arm_neon.h>

#include "cc/kernels/qs8_conv3x3_pattern_ukernel.h"
#include "cc/kernels/requantize.h"

namespace tf_sparse {
namespace {

inline void GatherSlots(const Qs8PatConvArgs& a) {
  for (size_t s = 0; s < a.num_slots; ++s) {
    const int8_t* xc =
        a.x + static_cast<size_t>(a.slot_channel[s]) * a.channel_stride;
    const uint8_t* t = a.slot_taps + 4 * s;
    int8x16x4_t r;
    r.val[0] = vld1q_s8(xc + a.tap_offset[t[0]]);
    r.val[1] = vld1q_s8(xc + a.tap_offset[t[1]]);
    r.val[2] = vld1q_s8(xc + a.tap_offset[t[2]]);
    r.val[3] = vld1q_s8(xc + a.tap_offset[t[3]]);
    vst4q_s8(a.xbuf + 64 * s, r);
  }
}

// Bias, requantization and store of `pixels` pixels' 16 accumulators
// (sums[p][f]).
inline void StorePixels(const Qs8PatConvArgs& a, size_t o0, size_t j0,
                        size_t pixels, const int32_t (*sums)[16]) {
  const size_t n = a.out_c - o0 < 16 ? a.out_c - o0 : 16;
  for (size_t p = 0; p < pixels && j0 + p < a.num_pixels; ++p) {
    int8_t* y = a.y + (j0 + p) * a.y_stride + o0;
    for (size_t f = 0; f < n; ++f) {
      y[f] = RequantizeToInt8(sums[p][f] + a.bias[o0 + f],
                              a.multiplier[o0 + f], a.shift[o0 + f],
                              a.output_zero_point, a.output_min,
                              a.output_max);
    }
  }
}

}  // namespace
}  // namespace tf_sparse
