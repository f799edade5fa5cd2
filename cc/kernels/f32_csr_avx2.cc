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

// Quads: each slice is two 8-lane halves, x fetched by _mm256_i32gather_ps
// from the quad's window (only the lanes' own columns are read).
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
      // A quad's offsets: 16 lanes x 4 slices, slice k in byte k of each
      // 32-bit lane (cc/formats/csr.h); 32 bytes hold 8 lanes.
      const __m256i byte = _mm256_set1_epi32(0xFF);
      for (int32_t s = a.slice_ptr[g]; s < a.slice_ptr[g + 1]; s += 4) {
        const uint8_t* off = a.offsets + static_cast<size_t>(s) * L;
        const float* v = a.values + static_cast<size_t>(s) * L;
        const __m256i q_lo =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(off));
        const __m256i q_hi =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(off + 32));
        const float* xq = x + a.base[s / 4];
        for (int k = 0; k < 4; ++k) {
          const __m256i i_lo = _mm256_and_si256(
              _mm256_srlv_epi32(q_lo, _mm256_set1_epi32(8 * k)), byte);
          const __m256i i_hi = _mm256_and_si256(
              _mm256_srlv_epi32(q_hi, _mm256_set1_epi32(8 * k)), byte);
          __m256& sum_lo = (k & 1) ? lo1 : lo0;
          __m256& sum_hi = (k & 1) ? hi1 : hi0;
          sum_lo = _mm256_fmadd_ps(_mm256_loadu_ps(v + k * L),
                                   _mm256_i32gather_ps(xq, i_lo, 4), sum_lo);
          sum_hi = _mm256_fmadd_ps(_mm256_loadu_ps(v + k * L + 8),
                                   _mm256_i32gather_ps(xq, i_hi, 4), sum_hi);
        }
      }
      __m256 lo = _mm256_add_ps(_mm256_add_ps(lo0, lo1),
                                _mm256_loadu_ps(a.bias + g * L));
      __m256 hi = _mm256_add_ps(_mm256_add_ps(hi0, hi1),
                                _mm256_loadu_ps(a.bias + g * L + 8));
      lo = _mm256_min_ps(vmax, _mm256_max_ps(vmin, lo));
      hi = _mm256_min_ps(vmax, _mm256_max_ps(vmin, hi));
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
      &CsrPanelAvx2,          "f32_csr_panel_minmax_16x64__avx2"};
  return k;
}

}  // namespace tf_sparse
