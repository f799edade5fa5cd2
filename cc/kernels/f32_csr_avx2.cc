// AVX2 + FMA CSR kernel: eight entries per step, x fetched with
// _mm256_i32gather_ps, two accumulators to hide the FMA latency; the
// remaining entries of a row run scalar.
#include <immintrin.h>

#include "cc/kernels/f32_csr_ukernel.h"

namespace tf_sparse {
namespace {

inline __m256i Load8(const uint16_t* p) {
  return _mm256_cvtepu16_epi32(
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline __m256i Load8(const int32_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

inline float Hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <typename Index>
void CsrAvx2(const F32CsrArgs<Index>& a) {
  for (size_t o = 0; o < a.num_rows; ++o) {
    const int32_t begin = a.row_ptr[o];
    const int32_t end = a.row_ptr[o + 1];
    for (size_t b = 0; b < a.batch; ++b) {
      const float* x = a.x + b * a.x_stride;
      __m256 acc0 = _mm256_setzero_ps();
      __m256 acc1 = _mm256_setzero_ps();
      int32_t k = begin;
      for (; k + 16 <= end; k += 16) {
        const __m256 x0 = _mm256_i32gather_ps(x, Load8(a.col_idx + k), 4);
        const __m256 x1 = _mm256_i32gather_ps(x, Load8(a.col_idx + k + 8), 4);
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a.values + k), x0, acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a.values + k + 8), x1, acc1);
      }
      if (k + 8 <= end) {
        const __m256 x0 = _mm256_i32gather_ps(x, Load8(a.col_idx + k), 4);
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a.values + k), x0, acc0);
        k += 8;
      }
      float acc = a.bias[o] + Hsum(_mm256_add_ps(acc0, acc1));
      for (; k < end; ++k) acc += a.values[k] * x[a.col_idx[k]];
      acc = acc < a.output_min ? a.output_min : acc;
      acc = acc > a.output_max ? a.output_max : acc;
      a.y[b * a.y_stride + o] = acc;
    }
  }
}

// Panels: each slice is two 8-lane halves, x fetched by
// _mm256_i32gather_ps from the panel's columns.
void CsrPanelAvx2(const F32CsrPanelArgs& a) {
  constexpr size_t L = 16;
  const __m256 vmin = _mm256_set1_ps(a.output_min);
  const __m256 vmax = _mm256_set1_ps(a.output_max);
  alignas(32) float out[L];
  for (size_t g = 0; g < a.num_groups; ++g) {
    for (size_t b = 0; b < a.batch; ++b) {
      const float* x = a.x + b * a.x_stride;
      __m256 lo0 = _mm256_setzero_ps(), hi0 = _mm256_setzero_ps();
      __m256 lo1 = _mm256_setzero_ps(), hi1 = _mm256_setzero_ps();
      for (size_t q = 0; q < a.num_panels; ++q) {
        const int32_t* sp = a.slice_ptr + g * a.num_panels + q;
        const float* xq = x + 32 * q;
        int32_t s = sp[0];
        for (; s + 2 <= sp[1]; s += 2) {
          const uint8_t* off = a.offsets + static_cast<size_t>(s) * L;
          const float* v = a.values + static_cast<size_t>(s) * L;
          const __m128i o0 =
              _mm_loadu_si128(reinterpret_cast<const __m128i*>(off));
          const __m128i o1 =
              _mm_loadu_si128(reinterpret_cast<const __m128i*>(off + L));
          lo0 = _mm256_fmadd_ps(
              _mm256_loadu_ps(v),
              _mm256_i32gather_ps(xq, _mm256_cvtepu8_epi32(o0), 4), lo0);
          hi0 = _mm256_fmadd_ps(
              _mm256_loadu_ps(v + 8),
              _mm256_i32gather_ps(
                  xq, _mm256_cvtepu8_epi32(_mm_srli_si128(o0, 8)), 4),
              hi0);
          lo1 = _mm256_fmadd_ps(
              _mm256_loadu_ps(v + L),
              _mm256_i32gather_ps(xq, _mm256_cvtepu8_epi32(o1), 4), lo1);
          hi1 = _mm256_fmadd_ps(
              _mm256_loadu_ps(v + L + 8),
              _mm256_i32gather_ps(
                  xq, _mm256_cvtepu8_epi32(_mm_srli_si128(o1, 8)), 4),
              hi1);
        }
        if (s < sp[1]) {
          const uint8_t* off = a.offsets + static_cast<size_t>(s) * L;
          const float* v = a.values + static_cast<size_t>(s) * L;
          const __m128i o0 =
              _mm_loadu_si128(reinterpret_cast<const __m128i*>(off));
          lo0 = _mm256_fmadd_ps(
              _mm256_loadu_ps(v),
              _mm256_i32gather_ps(xq, _mm256_cvtepu8_epi32(o0), 4), lo0);
          hi0 = _mm256_fmadd_ps(
              _mm256_loadu_ps(v + 8),
              _mm256_i32gather_ps(
                  xq, _mm256_cvtepu8_epi32(_mm_srli_si128(o0, 8)), 4),
              hi0);
        }
      }
      __m256 lo = _mm256_add_ps(_mm256_add_ps(lo0, lo1),
                                _mm256_loadu_ps(a.bias + g * L));
      __m256 hi = _mm256_add_ps(_mm256_add_ps(hi0, hi1),
                                _mm256_loadu_ps(a.bias + g * L + 8));
      lo = _mm256_min_ps(_mm256_max_ps(lo, vmin), vmax);
      hi = _mm256_min_ps(_mm256_max_ps(hi, vmin), vmax);
      float* y = a.y + b * a.y_stride + g * L;
      if ((g + 1) * L <= a.num_rows) {
        _mm256_storeu_ps(y, lo);
        _mm256_storeu_ps(y + 8, hi);
      } else {
        _mm256_store_ps(out, lo);
        _mm256_store_ps(out + 8, hi);
        for (size_t l = 0; g * L + l < a.num_rows; ++l) y[l] = out[l];
      }
    }
  }
}

}  // namespace

const F32CsrUkernel& F32CsrUkernelAvx2() {
  static const F32CsrUkernel k = {
      &CsrAvx2<uint16_t>,     &CsrAvx2<int32_t>,
      "f32_csr_minmax__avx2", Isa::kAvx2,
      &CsrPanelAvx2,          "f32_csr_panel_minmax_16x32__avx2"};
  return k;
}

}  // namespace tf_sparse
