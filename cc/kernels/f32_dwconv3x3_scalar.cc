// Scalar tap-sparse depthwise 3x3 kernel: the fallback on CPUs without
// AVX2 or NEON, and the reference path the vector kernels are tested
// against besides the dense oracle. One channel per group: each channel
// runs exactly its own taps.

#include "cc/kernels/f32_dwconv3x3_generic.inc.h"
#include "cc/kernels/f32_dwconv3x3_ukernel.h"

namespace tf_sparse {
namespace {

struct ScalarVec {
  using T = float;
  static constexpr int kLanes = 1;
  static T Zero() { return 0.0f; }
  static T Add(T a, T b) { return a + b; }
  // Like minps/maxps: b when either is NaN (see the contract).
  static T Min(T a, T b) { return a < b ? a : b; }
  static T Max(T a, T b) { return a > b ? a : b; }
  static T Load(const float* p) { return *p; }
  static void Store(float* p, T v) { *p = v; }
  static T LoadN(const float* p, int n) { return n > 0 ? *p : 0.0f; }
  static void StoreN(float* p, T v, int n) {
    if (n > 0) *p = v;
  }
  static T Broadcast(float v) { return v; }
  static T Fma(T a, T b, T c) { return a * b + c; }
};

const F32DwConv3x3Ukernel kKernel = {"f32_dwconv3x3_taps_1__scalar",
                                     Isa::kScalar, ScalarVec::kLanes,
                                     &dwconv_internal::Run<ScalarVec, 4>};

}  // namespace

const F32DwConv3x3Ukernel& F32DwConv3x3UkernelScalar() { return kKernel; }

}  // namespace tf_sparse
