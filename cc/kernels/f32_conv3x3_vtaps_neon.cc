// NEON VT kernel: 6 pixels x 16 filters (24 accumulators of 4 lanes, four
// weight registers and a broadcast of the 32 registers). Advanced SIMD is
// part of every AArch64 CPU: no extra flags, aarch64 builds only.
#if !defined(__aarch64__)
#error "f32_conv3x3_vtaps_neon.cc is for aarch64 only"
#endif

#include <arm_neon.h>

#include "cc/kernels/f32_conv3x3_vtaps_generic.inc.h"

namespace tf_sparse {
namespace {

struct NeonVec {
  using T = float32x4_t;
  static constexpr int kLanes = 4;
  static T Load(const float* p) { return vld1q_f32(p); }
  static void Store(float* p, T v) { vst1q_f32(p, v); }
  static T Broadcast(float v) { return vdupq_n_f32(v); }
  static T Fma(T a, T b, T c) { return vfmaq_f32(c, a, b); }
  static T Min(T a, T b) { return vminq_f32(a, b); }
  static T Max(T a, T b) { return vmaxq_f32(a, b); }
};

constexpr int kTile = 6;

F32VtapsFn Select(int pixel_stride) {
  return vtaps_internal::SelectRow<NeonVec, kTile>(pixel_stride);
}

const F32VtapsUkernel kKernel = {"f32_conv3x3_vtaps_6x16__neonfma",
                                 Isa::kNeon, kTile, Select};

}  // namespace

const F32VtapsUkernel& F32VtapsUkernelNeon() { return kKernel; }

}  // namespace tf_sparse
