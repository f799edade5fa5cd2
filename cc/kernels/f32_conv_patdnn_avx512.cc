// AVX-512 pattern kernels (7 x 32 tiles: 14 accumulators, one chain each)
// and the 16 x 16 transposes. Compiled with -mavx512f -mfma; only reached
// when the CPU and OS support AVX-512.
//
// GCC 12's AVX-512 shuffles pass _mm512_undefined_ps() (a self-initialised
// variable), which -Wuninitialized reports once they are inlined here.
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include "cc/kernels/f32_conv_patdnn_generic.inc.h"
#include "cc/kernels/f32_conv_patdnn_ukernel.h"

namespace tf_sparse {
namespace {

struct Avx512Vec {
  using T = __m512;
  static constexpr int kLanes = 16;
  static T Load(const float* p) { return _mm512_loadu_ps(p); }
  static void Store(float* p, T v) { _mm512_storeu_ps(p, v); }
  static T Zero() { return _mm512_setzero_ps(); }
  static T Add(T a, T b) { return _mm512_add_ps(a, b); }
  static T Broadcast(float v) { return _mm512_set1_ps(v); }
  static T Fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
};

// 7 rows: 56, 28, 14 and 7 output rows (ResNet stages) split without a
// padded row, and 14 accumulators share each weight broadcast.
constexpr int kRows = 7;
constexpr int kVecs = 2;

F32PatdnnFilterFn Select(int stride_h, int stride_w, int row_floats) {
  return patdnn_internal::SelectFilter<Avx512Vec, kRows, kVecs>(
      stride_h, stride_w, row_floats);
}

// Channels 0..15 of pixels 0..15: a 16 x 16 transpose in registers
// (unpack pairs, then 4-float shuffles, then 128-bit lane shuffles).
void f32_conv_patdnn_write16x16__avx512(const F32PatdnnWriteArgs& a) {
  __m512 r[16];
  for (int j = 0; j < 16; ++j) r[j] = _mm512_loadu_ps(a.src[j]);
  __m512 t[16];
  for (int j = 0; j < 16; j += 2) {
    t[j] = _mm512_unpacklo_ps(r[j], r[j + 1]);
    t[j + 1] = _mm512_unpackhi_ps(r[j], r[j + 1]);
  }
  // u[4q + i]: channels 4q..4q+3 of pixels 4k + i in lane k.
  __m512 u[16];
  for (int q = 0; q < 4; ++q) {
    const __m512 a0 = t[4 * q], a1 = t[4 * q + 1];
    const __m512 b0 = t[4 * q + 2], b1 = t[4 * q + 3];
    u[4 * q + 0] = _mm512_shuffle_ps(a0, b0, 0x44);
    u[4 * q + 1] = _mm512_shuffle_ps(a0, b0, 0xEE);
    u[4 * q + 2] = _mm512_shuffle_ps(a1, b1, 0x44);
    u[4 * q + 3] = _mm512_shuffle_ps(a1, b1, 0xEE);
  }
  const __m512 bias = _mm512_loadu_ps(a.bias);
  const __m512 lo = _mm512_set1_ps(a.lo);
  const __m512 hi = _mm512_set1_ps(a.hi);
  auto store = [&](int pixel, __m512 v) {
    if (pixel >= a.pixels) return;
    v = _mm512_min_ps(hi, _mm512_max_ps(lo, _mm512_add_ps(v, bias)));
    float* out = a.out + pixel * a.out_stride;
    for (int k = 0; k < a.copies; ++k) {
      _mm512_storeu_ps(out + k * a.copy_step, v);
    }
  };
  for (int i = 0; i < 4; ++i) {
    const __m512 v0 = _mm512_shuffle_f32x4(u[i], u[4 + i], 0x88);
    const __m512 v1 = _mm512_shuffle_f32x4(u[8 + i], u[12 + i], 0x88);
    const __m512 v2 = _mm512_shuffle_f32x4(u[i], u[4 + i], 0xDD);
    const __m512 v3 = _mm512_shuffle_f32x4(u[8 + i], u[12 + i], 0xDD);
    store(i, _mm512_shuffle_f32x4(v0, v1, 0x88));
    store(8 + i, _mm512_shuffle_f32x4(v0, v1, 0xDD));
    store(4 + i, _mm512_shuffle_f32x4(v2, v3, 0x88));
    store(12 + i, _mm512_shuffle_f32x4(v2, v3, 0xDD));
  }
}

const F32PatdnnUkernel kKernel = {"f32_conv3x3_patdnn_7x32__avx512",
                                  Isa::kAvx512,
                                  kRows,
                                  kVecs * Avx512Vec::kLanes,
                                  Select,
                                  f32_conv_patdnn_write16x16__avx512};

}  // namespace

const F32PatdnnUkernel& F32PatdnnUkernelAvx512() { return kKernel; }

}  // namespace tf_sparse
