#include <immintrin.h>

#include "cc/bench/f32_dense_gemv.h"

namespace tf_sparse {

// Four rows at a time, 16 columns per step; `in` tail done in scalar.
void f32_dense_gemv__avx512(size_t out, size_t in, const float* w,
                            const float* bias, const float* x, float* y) {
  size_t o = 0;
  for (; o + 4 <= out; o += 4) {
    const float* w0 = w + o * in;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    size_t k = 0;
    for (; k + 16 <= in; k += 16) {
      const __m512 xv = _mm512_loadu_ps(x + k);
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + k), xv, a0);
      a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + in + k), xv, a1);
      a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + 2 * in + k), xv, a2);
      a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + 3 * in + k), xv, a3);
    }
    float r[4] = {_mm512_reduce_add_ps(a0), _mm512_reduce_add_ps(a1),
                  _mm512_reduce_add_ps(a2), _mm512_reduce_add_ps(a3)};
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
