// NEON (AArch64 Advanced SIMD with FMA) CSR kernels.
//
// Rows: eight entries per step, x assembled lane by lane (NEON has no
// gather), two accumulators, the remaining entries scalar. Quads (16 rows x 4
// slices on a 64-column window): x loaded lane by lane from the window.
// Only built for aarch64 (cc/kernels/BUILD; cc/tests/arm/run.sh).
#if !defined(__aarch64__)
#error "f32_csr_neon.cc is for aarch64 only"
#endif

#include <arm_neon.h>

#include "cc/kernels/f32_csr_ukernel.h"
#include "cc/kernels/f32_neon_window.h"

namespace tf_sparse {
namespace {

using neon::Clamp4;
using neon::Gather4;

template <typename Index>
void f32_csr_minmax__neonfma(const F32CsrArgs<Index>& a) {
  for (size_t o = 0; o < a.num_rows; ++o) {
    const int32_t begin = a.row_ptr[o];
    const int32_t end = a.row_ptr[o + 1];
    for (size_t b = 0; b < a.batch; ++b) {
      const float* x = a.x + b * a.x_stride;
      float32x4_t acc0 = vdupq_n_f32(0.0f);
      float32x4_t acc1 = vdupq_n_f32(0.0f);
      int32_t k = begin;
      for (; k + 8 <= end; k += 8) {
        acc0 = vfmaq_f32(acc0, vld1q_f32(a.values + k),
                         Gather4(x, a.col_idx + k));
        acc1 = vfmaq_f32(acc1, vld1q_f32(a.values + k + 4),
                         Gather4(x, a.col_idx + k + 4));
      }
      if (k + 4 <= end) {
        acc0 = vfmaq_f32(acc0, vld1q_f32(a.values + k),
                         Gather4(x, a.col_idx + k));
        k += 4;
      }
      float acc = a.bias[o] + vaddvq_f32(vaddq_f32(acc0, acc1));
      for (; k < end; ++k) acc += a.values[k] * x[a.col_idx[k]];
      acc = acc < a.output_min ? a.output_min : acc;
      acc = acc > a.output_max ? a.output_max : acc;
      a.y[b * a.y_stride + o] = acc;
    }
  }
}

void f32_csr_panel_minmax_16x64__neonfma(const F32CsrPanelArgs& a) {
  constexpr size_t L = 16;  // Rows per group: one lane each.
  const float32x4_t vmin = vdupq_n_f32(a.output_min);
  const float32x4_t vmax = vdupq_n_f32(a.output_max);
  for (size_t g = 0; g < a.num_groups; ++g) {
    for (size_t b = 0; b < a.batch; ++b) {
      const float* x = a.x + b * a.x_stride;
      float32x4_t acc[4], acc2[4];
      for (int i = 0; i < 4; ++i) acc[i] = acc2[i] = vdupq_n_f32(0.0f);
      const int32_t s_end = a.slice_ptr[g + 1];
      for (int32_t s = a.slice_ptr[g]; s < s_end; s += 4) {
        const float* xs = x + a.base[s / 4];
        // The quad's offsets, interleaved: byte 4 l + k is lane l of
        // slice k. A 64-column window does not fit NEON's 64-byte table
        // lookups, so lanes are loaded one by one.
        const uint8_t* off = a.offsets + static_cast<size_t>(s) * L;
        const float* v = a.values + static_cast<size_t>(s) * L;
        for (int k = 0; k < 4; ++k) {
          float32x4_t* sum = (k & 1) ? acc2 : acc;
          for (int i = 0; i < 4; ++i) {
            const uint8_t* o = off + 16 * i + k;
            float32x4_t xv = vld1q_dup_f32(xs + o[0]);
            xv = vld1q_lane_f32(xs + o[4], xv, 1);
            xv = vld1q_lane_f32(xs + o[8], xv, 2);
            xv = vld1q_lane_f32(xs + o[12], xv, 3);
            sum[i] = vfmaq_f32(sum[i], vld1q_f32(v + k * L + 4 * i), xv);
          }
        }
      }
      float* y = a.y + b * a.y_stride + g * L;
      const float* bias = a.bias + g * L;
      float32x4_t r[4];
      for (int i = 0; i < 4; ++i) {
        r[i] = Clamp4(vaddq_f32(vaddq_f32(acc[i], acc2[i]),
                                vld1q_f32(bias + 4 * i)),
                      vmin, vmax);
      }
      if ((g + 1) * L <= a.num_rows) {
        for (int i = 0; i < 4; ++i) vst1q_f32(y + 4 * i, r[i]);
      } else {
        float out[L];
        for (int i = 0; i < 4; ++i) vst1q_f32(out + 4 * i, r[i]);
        for (size_t l = 0; g * L + l < a.num_rows; ++l) y[l] = out[l];
      }
    }
  }
}

}  // namespace

const F32CsrUkernel& F32CsrUkernelNeon() {
  static const F32CsrUkernel k = {&f32_csr_minmax__neonfma<uint16_t>,
                                  &f32_csr_minmax__neonfma<int32_t>,
                                  "f32_csr_minmax__neonfma",
                                  Isa::kNeon,
                                  &f32_csr_panel_minmax_16x64__neonfma,
                                  "f32_csr_panel_minmax_16x64__neonfma"};
  return k;
}

}  // namespace tf_sparse
