// NEON (AArch64 Advanced SIMD with FMA) tap-sparse depthwise 3x3 kernel: 4
// channels per group. Advanced SIMD is part of every AArch64 CPU: no extra
// flags, and only built for aarch64 (cc/kernels/BUILD; cc/tests/arm/run.sh).
#if !defined(__aarch64__)
#error "f32_dwconv3x3_neon.cc is for aarch64 only"
#endif

#include <arm_neon.h>

#include "cc/kernels/f32_dwconv3x3_generic.inc.h"
#include "cc/kernels/f32_dwconv3x3_ukernel.h"

namespace tf_sparse {
namespace {

struct NeonVec {
  using T = float32x4_t;
  static constexpr int kLanes = 4;
  static T Zero() { return vdupq_n_f32(0.0f); }
  static T Add(T a, T b) { return vaddq_f32(a, b); }
  static T Min(T a, T b) { return vminq_f32(a, b); }
  static T Max(T a, T b) { return vmaxq_f32(a, b); }
  static T Load(const float* p) { return vld1q_f32(p); }
  static void Store(float* p, T v) { vst1q_f32(p, v); }
  // NEON has no masked loads: the n < 4 valid floats go through a staging
  // buffer, so nothing past them is touched.
  static T LoadN(const float* p, int n) {
    float tmp[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int i = 0; i < n; ++i) tmp[i] = p[i];
    return vld1q_f32(tmp);
  }
  static void StoreN(float* p, T v, int n) {
    float tmp[4];
    vst1q_f32(tmp, v);
    for (int i = 0; i < n; ++i) p[i] = tmp[i];
  }
  static T Broadcast(float v) { return vdupq_n_f32(v); }
  static T Fma(T a, T b, T c) { return vfmaq_f32(c, a, b); }
};

// Tiles of 8 pixels: 8 accumulators hide the FMA latency and each weight
// vector loaded serves 8 FMAs; 32 registers leave room for the loads.
const F32DwConv3x3Ukernel kKernel = {"f32_dwconv3x3_taps_4__neonfma",
                                     Isa::kNeon, NeonVec::kLanes,
                                     &dwconv_internal::Run<NeonVec, 8>};

}  // namespace

const F32DwConv3x3Ukernel& F32DwConv3x3UkernelNeon() { return kKernel; }

}  // namespace tf_sparse
