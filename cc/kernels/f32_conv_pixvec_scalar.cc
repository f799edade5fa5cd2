// Scalar PV kernel: 8 flat positions x 1 output channel (the portable
// fallback and the reference for the vector kernels' structure).
#include "cc/kernels/f32_conv_pixvec_generic.inc.h"

namespace tf_sparse {
namespace {

struct ScalarVec {
  using T = float;
  static constexpr int kLanes = 1;
  static T Zero() { return 0.0f; }
  static T Add(T a, T b) { return a + b; }
  static T Load(const float* p) { return *p; }
  static void Store(float* p, T v) { *p = v; }
  static void PrefetchWrite(const float*) {}
  static void StorePartial(float* p, T v, int n) {
    if (n > 0) *p = v;
  }
  static T Broadcast(float v) { return v; }
  static T Fma(T a, T b, T c) { return a * b + c; }
  // b when either is NaN, as x86's minps / maxps.
  static T Min(T a, T b) { return a < b ? a : b; }
  static T Max(T a, T b) { return a > b ? a : b; }
  static void Transpose(T*) {}
};

constexpr int kVecs = 8;

const F32PixvecUkernel kKernel = {
    "f32_conv_pixvec_8x1__scalar", Isa::kScalar, kVecs, 1,
    pixvec_internal::PixvecTile<ScalarVec, kVecs>,
    pixvec_internal::PixvecPack<ScalarVec>,
    pixvec_internal::PixvecGather<ScalarVec>};

}  // namespace

const F32PixvecUkernel& F32PixvecUkernelScalar() { return kKernel; }

}  // namespace tf_sparse
