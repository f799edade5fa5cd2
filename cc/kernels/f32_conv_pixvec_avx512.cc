// AVX-512 PV kernel: 64 flat positions (4 zmm) x 16 output channels per
// call, two accumulator chains, 16 x 16 transposes for the NHWC store and
// the input pack. Only reached when the CPU and OS support AVX-512.
//
// GCC 12's AVX-512 shuffles pass _mm512_undefined_ps() (a self-initialised
// variable), which -Wuninitialized reports once they are inlined here.
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include "cc/kernels/f32_conv_pixvec_generic.inc.h"

namespace tf_sparse {
namespace {

struct Avx512Vec {
  using T = __m512;
  static constexpr int kLanes = 16;
  static T Zero() { return _mm512_setzero_ps(); }
  static T Add(T a, T b) { return _mm512_add_ps(a, b); }
  static T Load(const float* p) { return _mm512_loadu_ps(p); }
  static void Store(float* p, T v) { _mm512_storeu_ps(p, v); }
  static void PrefetchWrite(const float* p) {
    asm volatile("prefetchw %0" : : "m"(*p));
  }
  static void StorePartial(float* p, T v, int n) {
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), v);
  }
  static T Broadcast(float v) { return _mm512_set1_ps(v); }
  static T Fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static T Min(T a, T b) { return _mm512_min_ps(a, b); }
  static T Max(T a, T b) { return _mm512_max_ps(a, b); }
  // Unpack pairs, 4-float shuffles, then 128-bit lane shuffles.
  static void Transpose(T r[16]) {
    __m512 t[16], u[16];
    for (int j = 0; j < 16; j += 2) {
      t[j] = _mm512_unpacklo_ps(r[j], r[j + 1]);
      t[j + 1] = _mm512_unpackhi_ps(r[j], r[j + 1]);
    }
    // u[4q + i]: elements 4q..4q+3 of columns 4k + i in 128-bit lane k.
    for (int q = 0; q < 4; ++q) {
      const __m512 a0 = t[4 * q], a1 = t[4 * q + 1];
      const __m512 b0 = t[4 * q + 2], b1 = t[4 * q + 3];
      u[4 * q + 0] = _mm512_shuffle_ps(a0, b0, 0x44);
      u[4 * q + 1] = _mm512_shuffle_ps(a0, b0, 0xEE);
      u[4 * q + 2] = _mm512_shuffle_ps(a1, b1, 0x44);
      u[4 * q + 3] = _mm512_shuffle_ps(a1, b1, 0xEE);
    }
    for (int i = 0; i < 4; ++i) {
      const __m512 v0 = _mm512_shuffle_f32x4(u[i], u[4 + i], 0x88);
      const __m512 v1 = _mm512_shuffle_f32x4(u[8 + i], u[12 + i], 0x88);
      const __m512 v2 = _mm512_shuffle_f32x4(u[i], u[4 + i], 0xDD);
      const __m512 v3 = _mm512_shuffle_f32x4(u[8 + i], u[12 + i], 0xDD);
      r[i] = _mm512_shuffle_f32x4(v0, v1, 0x88);
      r[8 + i] = _mm512_shuffle_f32x4(v0, v1, 0xDD);
      r[4 + i] = _mm512_shuffle_f32x4(v2, v3, 0x88);
      r[12 + i] = _mm512_shuffle_f32x4(v2, v3, 0xDD);
    }
  }
};

constexpr int kVecs = 4;

const F32PixvecUkernel kKernel = {
    "f32_conv_pixvec_64x16__avx512", Isa::kAvx512, kVecs * 16, 16,
    pixvec_internal::PixvecTile<Avx512Vec, kVecs>,
    pixvec_internal::PixvecPack<Avx512Vec>,
    pixvec_internal::PixvecGather<Avx512Vec>};

}  // namespace

const F32PixvecUkernel& F32PixvecUkernelAvx512() { return kKernel; }

}  // namespace tf_sparse
