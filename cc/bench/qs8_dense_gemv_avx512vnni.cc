#include <immintrin.h>

#include "cc/bench/qs8_dense_gemv.h"
#include "cc/kernels/requantize.h"

namespace tf_sparse {

void qs8_dense_gemv__avx512vnni(size_t out, size_t in, const int8_t* w,
                                const int32_t* bias, const uint8_t* x,
                                const int32_t* multiplier,
                                const int32_t* shift, int32_t output_zero_point,
                                int8_t* y) {
  // Four rows at a time share each 64-byte load of x.
  size_t o = 0;
  for (; o + 4 <= out; o += 4) {
    const int8_t* w0 = w + o * in;
    __m512i a0 = _mm512_setzero_si512();
    __m512i a1 = _mm512_setzero_si512();
    __m512i a2 = _mm512_setzero_si512();
    __m512i a3 = _mm512_setzero_si512();
    for (size_t k = 0; k < in; k += 64) {
      const __m512i xv = _mm512_loadu_si512(x + k);
      a0 = _mm512_dpbusd_epi32(a0, xv, _mm512_loadu_si512(w0 + k));
      a1 = _mm512_dpbusd_epi32(a1, xv, _mm512_loadu_si512(w0 + in + k));
      a2 = _mm512_dpbusd_epi32(a2, xv, _mm512_loadu_si512(w0 + 2 * in + k));
      a3 = _mm512_dpbusd_epi32(a3, xv, _mm512_loadu_si512(w0 + 3 * in + k));
    }
    const int32_t s[4] = {_mm512_reduce_add_epi32(a0),
                          _mm512_reduce_add_epi32(a1),
                          _mm512_reduce_add_epi32(a2),
                          _mm512_reduce_add_epi32(a3)};
    for (size_t i = 0; i < 4; ++i) {
      y[o + i] = RequantizeToInt8(bias[o + i] + s[i], multiplier[o + i],
                                  shift[o + i], output_zero_point, -128, 127);
    }
  }
  for (; o < out; ++o) {
    __m512i a = _mm512_setzero_si512();
    for (size_t k = 0; k < in; k += 64) {
      a = _mm512_dpbusd_epi32(a, _mm512_loadu_si512(x + k),
                              _mm512_loadu_si512(w + o * in + k));
    }
    y[o] = RequantizeToInt8(bias[o] + _mm512_reduce_add_epi32(a),
                            multiplier[o], shift[o], output_zero_point, -128,
                            127);
  }
}

}  // namespace tf_sparse
