// Scalar pattern kernels: the fallback on CPUs without AVX2, and the
// PatDNN path that the vector kernels are tested against.
#include "cc/kernels/f32_conv_patdnn_generic.inc.h"
#include "cc/kernels/f32_conv_patdnn_ukernel.h"

namespace tf_sparse {
namespace {

struct ScalarVec {
  using T = float;
  static constexpr int kLanes = 1;
  static T Load(const float* p) { return *p; }
  static void Store(float* p, T v) { *p = v; }
  static T Zero() { return 0.0f; }
  static T Add(T a, T b) { return a + b; }
  static T Broadcast(float v) { return v; }
  static T Fma(T a, T b, T c) { return a * b + c; }
};

constexpr int kRows = 4;
constexpr int kVecs = 4;

F32PatdnnFilterFn Select(int stride_h, int stride_w, int row_floats) {
  return patdnn_internal::SelectFilter<ScalarVec, kRows, kVecs>(
      stride_h, stride_w, row_floats);
}

const F32PatdnnUkernel kKernel = {"f32_conv3x3_patdnn_4x4__scalar",
                                  Isa::kScalar, kRows, kVecs, Select,
                                  nullptr};

}  // namespace

const F32PatdnnUkernel& F32PatdnnUkernelScalar() { return kKernel; }

}  // namespace tf_sparse
