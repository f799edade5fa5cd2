#include <immintrin.h>

#include "cc/bench/f32_peak_fma.h"

namespace tf_sparse {

float f32_peak_fma__avx512(long long iterations) {
  constexpr int kChains = 24;  // > 2 ports x 4-cycle latency, with margin.
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(0.001f * i);
  const __m512 a = _mm512_set1_ps(0.999f);
  const __m512 b = _mm512_set1_ps(0.0001f);
  for (long long it = 0; it < iterations; ++it) {
#pragma GCC unroll 24
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  }
  __m512 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_ps(s, acc[i]);
  return _mm512_reduce_add_ps(s);
}

}  // namespace tf_sparse
