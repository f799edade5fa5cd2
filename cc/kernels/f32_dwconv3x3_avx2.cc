// AVX2 + FMA tap-sparse depthwise 3x3 kernel: 8 channels per group.
// Compiled with -mavx2 -mfma; only reached when the CPU supports both.
#include <immintrin.h>

#include "cc/kernels/f32_dwconv3x3_generic.inc.h"
#include "cc/kernels/f32_dwconv3x3_ukernel.h"

namespace tf_sparse {
namespace {

// Lane i of Mask(n) is all ones for i < n: what vmaskmovps takes.
inline __m256i Mask(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

struct Avx2Vec {
  using T = __m256;
  static constexpr int kLanes = 8;
  static T Zero() { return _mm256_setzero_ps(); }
  static T Add(T a, T b) { return _mm256_add_ps(a, b); }
  static T Min(T a, T b) { return _mm256_min_ps(a, b); }
  static T Max(T a, T b) { return _mm256_max_ps(a, b); }
  static T Load(const float* p) { return _mm256_loadu_ps(p); }
  static void Store(float* p, T v) { _mm256_storeu_ps(p, v); }
  // Masked-off lanes are not accessed (no fault past the buffer's end).
  static T LoadN(const float* p, int n) {
    return _mm256_maskload_ps(p, Mask(n));
  }
  static void StoreN(float* p, T v, int n) {
    _mm256_maskstore_ps(p, Mask(n), v);
  }
  static T Broadcast(float v) { return _mm256_set1_ps(v); }
  static T Fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
};

// Tiles of 4 pixels: 4 accumulators, a weight and the loads folded into
// the FMAs stay well inside the 16 registers.
const F32DwConv3x3Ukernel kKernel = {"f32_dwconv3x3_taps_8__avx2", Isa::kAvx2,
                                     Avx2Vec::kLanes,
                                     &dwconv_internal::Run<Avx2Vec, 4>};

}  // namespace

const F32DwConv3x3Ukernel& F32DwConv3x3UkernelAvx2() { return kKernel; }

}  // namespace tf_sparse
