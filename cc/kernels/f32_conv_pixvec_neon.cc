// NEON PV kernel: 32 flat positions (8 q registers) x 4 output channels per
// call, two accumulator chains (16 of the 32 registers), 4 x 4 transposes
// for the NHWC store and the input pack. Advanced SIMD is part of every
// AArch64 CPU: no extra flags, aarch64 builds only.
#if !defined(__aarch64__)
#error "f32_conv_pixvec_neon.cc is for aarch64 only"
#endif

#include <arm_neon.h>

#include "cc/kernels/f32_conv_pixvec_generic.inc.h"

namespace tf_sparse {
namespace {

struct NeonVec {
  using T = float32x4_t;
  static constexpr int kLanes = 4;
  static T Zero() { return vdupq_n_f32(0.0f); }
  static T Add(T a, T b) { return vaddq_f32(a, b); }
  static T Load(const float* p) { return vld1q_f32(p); }
  static void Store(float* p, T v) { vst1q_f32(p, v); }
  static void PrefetchWrite(const float*) {}
  static void StorePartial(float* p, T v, int n) {
    if (n >= 2) {
      vst1_f32(p, vget_low_f32(v));
      if (n == 3) vst1q_lane_f32(p + 2, v, 2);
    } else if (n == 1) {
      vst1q_lane_f32(p, v, 0);
    }
  }
  static T Broadcast(float v) { return vdupq_n_f32(v); }
  static T Fma(T a, T b, T c) { return vfmaq_f32(c, a, b); }
  // NaN in, NaN out.
  static T Min(T a, T b) { return vminq_f32(a, b); }
  static T Max(T a, T b) { return vmaxq_f32(a, b); }
  static void Transpose(T r[4]) {
    const float32x4x2_t a = vtrnq_f32(r[0], r[1]);
    const float32x4x2_t b = vtrnq_f32(r[2], r[3]);
    r[0] = vcombine_f32(vget_low_f32(a.val[0]), vget_low_f32(b.val[0]));
    r[1] = vcombine_f32(vget_low_f32(a.val[1]), vget_low_f32(b.val[1]));
    r[2] = vcombine_f32(vget_high_f32(a.val[0]), vget_high_f32(b.val[0]));
    r[3] = vcombine_f32(vget_high_f32(a.val[1]), vget_high_f32(b.val[1]));
  }
};

constexpr int kVecs = 8;

const F32PixvecUkernel kKernel = {
    "f32_conv_pixvec_32x4__neonfma", Isa::kNeon, kVecs * 4, 4,
    pixvec_internal::PixvecTile<NeonVec, kVecs>,
    pixvec_internal::PixvecPack<NeonVec>,
    pixvec_internal::PixvecGather<NeonVec>};

}  // namespace

const F32PixvecUkernel& F32PixvecUkernelNeon() { return kKernel; }

}  // namespace tf_sparse
