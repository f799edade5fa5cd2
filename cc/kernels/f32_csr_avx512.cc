// AVX-512 CSR kernel: sixteen entries per step, x fetched with
// _mm512_i32gather_ps, two accumulators; a row's last partial step uses
// masked loads and a masked gather, so no entry runs scalar.
#include <immintrin.h>

#include "cc/kernels/f32_csr_ukernel.h"

namespace tf_sparse {
namespace {

inline __m512i Load16(const uint16_t* p) {
  return _mm512_cvtepu16_epi32(
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512i Load16(const int32_t* p) { return _mm512_loadu_si512(p); }
inline __m512i MaskLoad16(__mmask16 m, const uint16_t* p) {
  return _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
}
inline __m512i MaskLoad16(__mmask16 m, const int32_t* p) {
  return _mm512_maskz_loadu_epi32(m, p);
}

template <typename Index>
void CsrAvx512(const F32CsrArgs<Index>& a) {
  const __m512 zero = _mm512_setzero_ps();
  for (size_t o = 0; o < a.num_rows; ++o) {
    const int32_t begin = a.row_ptr[o];
    const int32_t end = a.row_ptr[o + 1];
    for (size_t b = 0; b < a.batch; ++b) {
      const float* x = a.x + b * a.x_stride;
      __m512 acc0 = zero;
      __m512 acc1 = zero;
      int32_t k = begin;
      for (; k + 32 <= end; k += 32) {
        const __m512 x0 = _mm512_i32gather_ps(Load16(a.col_idx + k), x, 4);
        const __m512 x1 = _mm512_i32gather_ps(Load16(a.col_idx + k + 16), x, 4);
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a.values + k), x0, acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a.values + k + 16), x1, acc1);
      }
      if (k + 16 <= end) {
        const __m512 x0 = _mm512_i32gather_ps(Load16(a.col_idx + k), x, 4);
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a.values + k), x0, acc0);
        k += 16;
      }
      if (k < end) {
        const __mmask16 m = static_cast<__mmask16>((1u << (end - k)) - 1);
        const __m512 x0 = _mm512_mask_i32gather_ps(
            zero, m, MaskLoad16(m, a.col_idx + k), x, 4);
        acc1 =
            _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a.values + k), x0, acc1);
      }
      float acc = a.bias[o] + _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
      acc = acc < a.output_min ? a.output_min : acc;
      acc = acc > a.output_max ? a.output_max : acc;
      a.y[b * a.y_stride + o] = acc;
    }
  }
}

// Panels: the 32 columns of a panel sit in two registers and one vpermt2ps
// per slice fetches each lane's x, so a slice of 16 nonzeros costs a byte
// widening, a permute and an FMA; four accumulators hide the FMA latency.
void CsrPanelAvx512(const F32CsrPanelArgs& a) {
  constexpr size_t L = 16;
  const __m512 vmin = _mm512_set1_ps(a.output_min);
  const __m512 vmax = _mm512_set1_ps(a.output_max);
  const size_t full_panels = a.cols / 32;
  const int tail = static_cast<int>(a.cols % 32);
  const __mmask16 tail_lo =
      static_cast<__mmask16>(tail >= 16 ? 0xFFFF : (1u << tail) - 1);
  const __mmask16 tail_hi =
      static_cast<__mmask16>(tail <= 16 ? 0 : (1u << (tail - 16)) - 1);
  for (size_t g = 0; g < a.num_groups; ++g) {
    const int32_t* sp = a.slice_ptr + g * a.num_panels;
    for (size_t b = 0; b < a.batch; ++b) {
      const float* x = a.x + b * a.x_stride;
      __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
      __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
      for (size_t q = 0; q < a.num_panels; ++q) {
        int32_t s = sp[q];
        const int32_t end = sp[q + 1];
        if (s == end) continue;
        const float* xq = x + 32 * q;
        __m512 xlo, xhi;
        if (q < full_panels) {
          xlo = _mm512_loadu_ps(xq);
          xhi = _mm512_loadu_ps(xq + 16);
        } else {
          xlo = _mm512_maskz_loadu_ps(tail_lo, xq);
          xhi = _mm512_maskz_loadu_ps(tail_hi, xq + 16);
        }
        const float* v = a.values + static_cast<size_t>(s) * L;
        const uint8_t* off = a.offsets + static_cast<size_t>(s) * L;
        auto step = [&](__m512 acc, int k) {
          const __m512i idx = _mm512_cvtepu8_epi32(
              _mm_loadu_si128(reinterpret_cast<const __m128i*>(off + k * L)));
          return _mm512_fmadd_ps(_mm512_loadu_ps(v + k * L),
                                 _mm512_permutex2var_ps(xlo, idx, xhi), acc);
        };
        for (; s + 4 <= end; s += 4, v += 4 * L, off += 4 * L) {
          acc0 = step(acc0, 0);
          acc1 = step(acc1, 1);
          acc2 = step(acc2, 2);
          acc3 = step(acc3, 3);
        }
        if (s < end) acc0 = step(acc0, 0);
        if (s + 1 < end) acc1 = step(acc1, 1);
        if (s + 2 < end) acc2 = step(acc2, 2);
      }
      __m512 r =
          _mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3));
      r = _mm512_add_ps(r, _mm512_loadu_ps(a.bias + g * L));
      r = _mm512_min_ps(_mm512_max_ps(r, vmin), vmax);
      float* y = a.y + b * a.y_stride + g * L;
      if ((g + 1) * L <= a.num_rows) {
        _mm512_storeu_ps(y, r);
      } else {
        const size_t n = a.num_rows - g * L;
        _mm512_mask_storeu_ps(y, static_cast<__mmask16>((1u << n) - 1), r);
      }
    }
  }
}

}  // namespace

const F32CsrUkernel& F32CsrUkernelAvx512() {
  static const F32CsrUkernel k = {
      &CsrAvx512<uint16_t>,     &CsrAvx512<int32_t>,
      "f32_csr_minmax__avx512", Isa::kAvx512,
      &CsrPanelAvx512,          "f32_csr_panel_minmax_16x32__avx512"};
  return k;
}

}  // namespace tf_sparse
