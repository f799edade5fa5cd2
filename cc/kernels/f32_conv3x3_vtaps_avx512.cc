// AVX-512 VT kernel: 14 pixels x 16 filters (14 accumulators, one weight
// register, broadcasts in flight). 14 divides the widths of ResNet's
// stages (56, 28, 14) and leaves registers for the loads; per pair 15
// loads feed 14 FMAs, so the loop is bound by the two load ports near the
// FMA peak.
#include <immintrin.h>

#include "cc/kernels/f32_conv3x3_vtaps_generic.inc.h"

namespace tf_sparse {
namespace {

struct Avx512Vec {
  using T = __m512;
  static constexpr int kLanes = 16;
  static T Load(const float* p) { return _mm512_loadu_ps(p); }
  static void Store(float* p, T v) { _mm512_storeu_ps(p, v); }
  static T Broadcast(float v) { return _mm512_set1_ps(v); }
  static T Fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static T Min(T a, T b) { return _mm512_min_ps(a, b); }
  static T Max(T a, T b) { return _mm512_max_ps(a, b); }
};

constexpr int kTile = 14;

F32VtapsFn Select(int pixel_stride) {
  return vtaps_internal::SelectRow<Avx512Vec, kTile>(pixel_stride);
}

const F32VtapsUkernel kKernel = {"f32_conv3x3_vtaps_14x16__avx512",
                                 Isa::kAvx512, kTile, Select};

}  // namespace

const F32VtapsUkernel& F32VtapsUkernelAvx512() { return kKernel; }

}  // namespace tf_sparse
