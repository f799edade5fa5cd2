// AVX2 PV kernel: 32 flat positions (4 ymm) x 8 output channels per call,
// two accumulator chains (8 of the 16 ymm registers), 8 x 8 transposes for
// the NHWC store and the input pack.
#include <immintrin.h>

#include "cc/kernels/f32_conv_pixvec_generic.inc.h"

namespace tf_sparse {
namespace {

struct Avx2Vec {
  using T = __m256;
  static constexpr int kLanes = 8;
  static T Zero() { return _mm256_setzero_ps(); }
  static T Add(T a, T b) { return _mm256_add_ps(a, b); }
  static T Load(const float* p) { return _mm256_loadu_ps(p); }
  static void Store(float* p, T v) { _mm256_storeu_ps(p, v); }
  static void PrefetchWrite(const float*) {}
  static void StorePartial(float* p, T v, int n) {
    const __m256i mask = _mm256_cmpgt_epi32(
        _mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    _mm256_maskstore_ps(p, mask, v);
  }
  static T Broadcast(float v) { return _mm256_set1_ps(v); }
  static T Fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static T Min(T a, T b) { return _mm256_min_ps(a, b); }
  static T Max(T a, T b) { return _mm256_max_ps(a, b); }
  static void Transpose(T r[8]) {
    __m256 t[8], u[8];
    for (int j = 0; j < 8; j += 2) {
      t[j] = _mm256_unpacklo_ps(r[j], r[j + 1]);
      t[j + 1] = _mm256_unpackhi_ps(r[j], r[j + 1]);
    }
    // u[4q + i]: elements 4q..4q+3 of columns i and 4 + i (128-bit halves).
    for (int q = 0; q < 2; ++q) {
      u[4 * q + 0] = _mm256_shuffle_ps(t[4 * q], t[4 * q + 2], 0x44);
      u[4 * q + 1] = _mm256_shuffle_ps(t[4 * q], t[4 * q + 2], 0xEE);
      u[4 * q + 2] = _mm256_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0x44);
      u[4 * q + 3] = _mm256_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0xEE);
    }
    for (int i = 0; i < 4; ++i) {
      r[i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x20);
      r[4 + i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x31);
    }
  }
};

constexpr int kVecs = 4;

const F32PixvecUkernel kKernel = {
    "f32_conv_pixvec_32x8__avx2", Isa::kAvx2, kVecs * 8, 8,
    pixvec_internal::PixvecTile<Avx2Vec, kVecs>,
    pixvec_internal::PixvecPack<Avx2Vec>,
    pixvec_internal::PixvecGather<Avx2Vec>};

}  // namespace

const F32PixvecUkernel& F32PixvecUkernelAvx2() { return kKernel; }

}  // namespace tf_sparse
