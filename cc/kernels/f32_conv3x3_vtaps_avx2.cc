// AVX2 VT kernel: 6 pixels x 16 filters (12 accumulators of 8 lanes, two
// weight registers and a broadcast: 15 of the 16 ymm registers).
#include <immintrin.h>

#include "cc/kernels/f32_conv3x3_vtaps_generic.inc.h"

namespace tf_sparse {
namespace {

struct Avx2Vec {
  using T = __m256;
  static constexpr int kLanes = 8;
  static T Load(const float* p) { return _mm256_loadu_ps(p); }
  static void Store(float* p, T v) { _mm256_storeu_ps(p, v); }
  static T Broadcast(float v) { return _mm256_set1_ps(v); }
  static T Fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static T Min(T a, T b) { return _mm256_min_ps(a, b); }
  static T Max(T a, T b) { return _mm256_max_ps(a, b); }
};

constexpr int kTile = 6;

F32VtapsFn Select(int pixel_stride) {
  return vtaps_internal::SelectRow<Avx2Vec, kTile>(pixel_stride);
}

const F32VtapsUkernel kKernel = {"f32_conv3x3_vtaps_6x16__avx2", Isa::kAvx2,
                                 kTile, Select};

}  // namespace

const F32VtapsUkernel& F32VtapsUkernelAvx2() { return kKernel; }

}  // namespace tf_sparse
