// NEON (AArch64 Advanced SIMD with FMA) GS kernel. A pack's lanes are
// taken 16 at a time (four registers of accumulators held across all the
// group's packs), then four at a time, the last B % 4 scalar; x is
// assembled lane by lane (NEON has no gather; the SVE gathers would serve
// here). With e == 1 and B a multiple of 4 the lane sums are the rows:
// bias, clamp and store straight from the registers.
// Only built for aarch64 (cc/kernels/BUILD; cc/tests/arm/run.sh).
#if !defined(__aarch64__)
#error "f32_gs_neon.cc is for aarch64 only"
#endif

#include <arm_neon.h>

#include "cc/kernels/f32_gs_ukernel.h"
#include "cc/kernels/f32_neon_window.h"

namespace tf_sparse {
namespace {

using neon::Clamp4;
using neon::Gather4;

template <typename Index>
void f32_gs_minmax__neonfma(const F32GsArgs<Index>& a) {
  const size_t B = a.banks;
  const size_t e = a.elements_per_row;
  const size_t R = B / e;
  const size_t lanes16 = B / 16 * 16;
  const size_t lanes4 = B / 4 * 4;
  const bool direct = e == 1 && lanes4 == B;
  const float32x4_t vmin = vdupq_n_f32(a.output_min);
  const float32x4_t vmax = vdupq_n_f32(a.output_max);
  float lanes[256];
  for (size_t g = 0; g < a.num_groups; ++g) {
    const int32_t p0 = a.group_ptr[g];
    const int32_t p1 = a.group_ptr[g + 1];
    const float* bias = a.bias + g * R;
    for (size_t b = 0; b < a.batch; ++b) {
      const float* x = a.x + b * a.x_stride;
      float* y = a.y + b * a.y_stride + g * R;
      // The lane sums of lanes [l0, l0 + 4 * count) go to y (direct) or to
      // `lanes`.
      auto finish = [&](const float32x4_t* acc, size_t l0, int count) {
        for (int i = 0; i < count; ++i) {
          if (direct) {
            vst1q_f32(y + l0 + 4 * i,
                      Clamp4(vaddq_f32(acc[i], vld1q_f32(bias + l0 + 4 * i)),
                             vmin, vmax));
          } else {
            vst1q_f32(lanes + l0 + 4 * i, acc[i]);
          }
        }
      };
      size_t l0 = 0;
      for (; l0 < lanes16; l0 += 16) {
        float32x4_t acc[4];
        for (int i = 0; i < 4; ++i) acc[i] = vdupq_n_f32(0.0f);
        const float* v = a.values + static_cast<size_t>(p0) * B + l0;
        const Index* c = a.col_idx + static_cast<size_t>(p0) * B + l0;
        for (int32_t p = p0; p < p1; ++p, v += B, c += B) {
          for (int i = 0; i < 4; ++i) {
            acc[i] = vfmaq_f32(acc[i], vld1q_f32(v + 4 * i),
                               Gather4(x, c + 4 * i));
          }
        }
        finish(acc, l0, 4);
      }
      for (; l0 < lanes4; l0 += 4) {
        float32x4_t acc[2] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
        const float* v = a.values + static_cast<size_t>(p0) * B + l0;
        const Index* c = a.col_idx + static_cast<size_t>(p0) * B + l0;
        int32_t p = p0;
        for (; p + 2 <= p1; p += 2, v += 2 * B, c += 2 * B) {
          acc[0] = vfmaq_f32(acc[0], vld1q_f32(v), Gather4(x, c));
          acc[1] = vfmaq_f32(acc[1], vld1q_f32(v + B), Gather4(x, c + B));
        }
        if (p < p1) acc[0] = vfmaq_f32(acc[0], vld1q_f32(v), Gather4(x, c));
        acc[0] = vaddq_f32(acc[0], acc[1]);
        finish(acc, l0, 1);
      }
      if (direct) continue;
      for (size_t l = lanes4; l < B; ++l) {
        float acc = 0.0f;
        for (int32_t p = p0; p < p1; ++p) {
          const size_t k = static_cast<size_t>(p) * B + l;
          acc += a.values[k] * x[a.col_idx[k]];
        }
        lanes[l] = acc;
      }
      F32GsFinishGroup(lanes, B, e, bias, a.output_min, a.output_max, y);
    }
  }
}

}  // namespace

const F32GsUkernel& F32GsUkernelNeon() {
  static const F32GsUkernel k = {&f32_gs_minmax__neonfma<uint16_t>,
                                 &f32_gs_minmax__neonfma<int32_t>,
                                 "f32_gs_minmax__neonfma", Isa::kNeon};
  return k;
}

}  // namespace tf_sparse
