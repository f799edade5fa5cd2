// AVX-512 tap-sparse depthwise 3x3 kernel: 16 channels per group.
// Compiled with -mavx512f -mfma; only reached when the CPU and OS support
// AVX-512.
#include <immintrin.h>

#include "cc/kernels/f32_dwconv3x3_generic.inc.h"
#include "cc/kernels/f32_dwconv3x3_ukernel.h"

namespace tf_sparse {
namespace {

struct Avx512Vec {
  using T = __m512;
  static constexpr int kLanes = 16;
  static T Zero() { return _mm512_setzero_ps(); }
  static T Add(T a, T b) { return _mm512_add_ps(a, b); }
  static T Min(T a, T b) { return _mm512_min_ps(a, b); }
  static T Max(T a, T b) { return _mm512_max_ps(a, b); }
  static T Load(const float* p) { return _mm512_loadu_ps(p); }
  static void Store(float* p, T v) { _mm512_storeu_ps(p, v); }
  // Masked-off lanes are not accessed (no fault past the buffer's end).
  static T LoadN(const float* p, int n) {
    return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), p);
  }
  static void StoreN(float* p, T v, int n) {
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), v);
  }
  static T Broadcast(float v) { return _mm512_set1_ps(v); }
  static T Fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
};

// Tiles of 8 pixels: 8 independent FMA chains cover two FMA pipes of
// latency 4, and each weight vector loaded serves 8 FMAs (measured against
// tiles of 2, 4 and 16 on 14x14x512 .. 112x112x32 layers: 16 spills).
const F32DwConv3x3Ukernel kKernel = {"f32_dwconv3x3_taps_16__avx512",
                                     Isa::kAvx512, Avx512Vec::kLanes,
                                     &dwconv_internal::Run<Avx512Vec, 8>};

}  // namespace

const F32DwConv3x3Ukernel& F32DwConv3x3UkernelAvx512() { return kKernel; }

}  // namespace tf_sparse
