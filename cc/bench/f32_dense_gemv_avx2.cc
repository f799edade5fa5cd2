#include <immintrin.h>

#include "cc/bench/f32_dense_gemv.h"

namespace tf_sparse {

// Four rows at a time, 8 columns per step; `in` tail done in scalar.
void f32_dense_gemv__avx2(size_t out, size_t in, const float* w,
                          const float* bias, const float* x, float* y) {
  size_t o = 0;
  for (; o + 4 <= out; o += 4) {
    const float* w0 = w + o * in;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    size_t k = 0;
    for (; k + 8 <= in; k += 8) {
      const __m256 xv = _mm256_loadu_ps(x + k);
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + k), xv, a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + in + k), xv, a1);
      a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + 2 * in + k), xv, a2);
      a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + 3 * in + k), xv, a3);
    }
    const __m256 h01 = _mm256_hadd_ps(a0, a1);
    const __m256 h23 = _mm256_hadd_ps(a2, a3);
    const __m256 h = _mm256_hadd_ps(h01, h23);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h),
                          _mm256_extractf128_ps(h, 1));
    float r[4];
    _mm_storeu_ps(r, s);
    for (int u = 0; u < 4; ++u) {
      for (size_t j = k; j < in; ++j) r[u] += w0[u * in + j] * x[j];
      y[o + u] = r[u] + bias[o + u];
    }
  }
  for (; o < out; ++o) {
    float s = bias[o];
    for (size_t k = 0; k < in; ++k) s += w[o * in + k] * x[k];
    y[o] = s;
  }
}

}  // namespace tf_sparse
