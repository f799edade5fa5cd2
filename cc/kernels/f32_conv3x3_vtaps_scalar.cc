// Scalar VT kernel: the fallback without vector units, and the reference
// the vector kernels are tested against (one pixel, 16 filter lanes).
#include "cc/kernels/f32_conv3x3_vtaps_generic.inc.h"

namespace tf_sparse {
namespace {

struct ScalarVec {
  using T = float;
  static constexpr int kLanes = 1;
  static T Load(const float* p) { return *p; }
  static void Store(float* p, T v) { *p = v; }
  static T Broadcast(float v) { return v; }
  static T Fma(T a, T b, T c) { return a * b + c; }
  static T Min(T a, T b) { return a < b ? a : b; }
  static T Max(T a, T b) { return a > b ? a : b; }
};

F32VtapsFn Select(int pixel_stride) {
  return vtaps_internal::SelectRow<ScalarVec, 1>(pixel_stride);
}

const F32VtapsUkernel kKernel = {"f32_conv3x3_vtaps_1x16__scalar",
                                 Isa::kScalar, 1, Select};

}  // namespace

const F32VtapsUkernel& F32VtapsUkernelScalar() { return kKernel; }

}  // namespace tf_sparse
