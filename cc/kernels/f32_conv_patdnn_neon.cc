// NEON (AArch64 Advanced SIMD with FMA) pattern kernels: the generic filter
// loop over 128-bit registers, and the 16 x 16 output transpose. Advanced SIMD is part of every AArch64 CPU:
// no extra flags, and only built for aarch64 (cc/kernels/BUILD;
// cc/tests/arm/run.sh).
#if !defined(__aarch64__)
#error "f32_conv_patdnn_neon.cc is for aarch64 only"
#endif

#include <arm_neon.h>

#include "cc/kernels/f32_conv_patdnn_generic.inc.h"
#include "cc/kernels/f32_conv_patdnn_ukernel.h"

namespace tf_sparse {
namespace {

struct NeonVec {
  using T = float32x4_t;
  static constexpr int kLanes = 4;
  static T Load(const float* p) { return vld1q_f32(p); }
  static void Store(float* p, T v) { vst1q_f32(p, v); }
  static T Zero() { return vdupq_n_f32(0.0f); }
  static T Add(T a, T b) { return vaddq_f32(a, b); }
  static T Broadcast(float v) { return vdupq_n_f32(v); }
  static T Fma(T a, T b, T c) { return vfmaq_f32(c, a, b); }
};

// 4 rows x 4 registers: 16 accumulators (one chain each) and 4 weight
// broadcasts of the 32 registers, the rest for the loads in flight.
constexpr int kRows = 4;
constexpr int kVecs = 4;
constexpr int kChains = 1;

F32PatdnnFilterFn Select(int stride_h, int stride_w, int row_floats) {
  return patdnn_internal::SelectFilter<NeonVec, kRows, kVecs, kChains>(
      stride_h, stride_w, row_floats);
}

// Channels 0..15 of pixels 0..15 in 4 x 4 blocks: each block is four
// loads, a transpose by 32- then 64-bit interleaves, and four stores of
// four channels of one pixel.
void f32_conv_patdnn_write16x16__neon(const F32PatdnnWriteArgs& a) {
  const float32x4_t lo = vdupq_n_f32(a.lo);
  const float32x4_t hi = vdupq_n_f32(a.hi);
  for (int jb = 0; jb < 16; jb += 4) {
    const float32x4_t bias = vld1q_f32(a.bias + jb);
    for (int pb = 0; pb < a.pixels; pb += 4) {
      const float32x4_t r0 = vld1q_f32(a.src[jb] + pb);
      const float32x4_t r1 = vld1q_f32(a.src[jb + 1] + pb);
      const float32x4_t r2 = vld1q_f32(a.src[jb + 2] + pb);
      const float32x4_t r3 = vld1q_f32(a.src[jb + 3] + pb);
      const float64x2_t t0 = vreinterpretq_f64_f32(vtrn1q_f32(r0, r1));
      const float64x2_t t1 = vreinterpretq_f64_f32(vtrn2q_f32(r0, r1));
      const float64x2_t t2 = vreinterpretq_f64_f32(vtrn1q_f32(r2, r3));
      const float64x2_t t3 = vreinterpretq_f64_f32(vtrn2q_f32(r2, r3));
      float32x4_t px[4] = {vreinterpretq_f32_f64(vtrn1q_f64(t0, t2)),
                           vreinterpretq_f32_f64(vtrn1q_f64(t1, t3)),
                           vreinterpretq_f32_f64(vtrn2q_f64(t0, t2)),
                           vreinterpretq_f32_f64(vtrn2q_f64(t1, t3))};
      for (int i = 0; i < 4 && pb + i < a.pixels; ++i) {
        const float32x4_t v =
            vminq_f32(vmaxq_f32(vaddq_f32(px[i], bias), lo), hi);
        float* out = a.out + static_cast<size_t>(pb + i) * a.out_stride + jb;
        for (int k = 0; k < a.copies; ++k) vst1q_f32(out + k * a.copy_step, v);
      }
    }
  }
}

const F32PatdnnUkernel kKernel = {"f32_conv3x3_patdnn_4x16__neonfma",
                                  Isa::kNeon,
                                  kRows,
                                  kVecs * NeonVec::kLanes,
                                  Select,
                                  f32_conv_patdnn_write16x16__neon};

}  // namespace

const F32PatdnnUkernel& F32PatdnnUkernelNeon() { return kKernel; }

}  // namespace tf_sparse
