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

// Quads: the 64 columns of a quad's window sit in four registers, loaded
// once for its 4 slices, and each slice fetches its lanes' x with two
// vpermt2ps (one per 32-column half) and a blend on bit 5 of the offset:
// per slice a values load, a quarter of an offsets load and of the window,
// a shift, two permutes, a test, a blend and an FMA. The four slices of a
// quad use four accumulators, which hides the FMA latency. With fewer than
// 64 columns every window starts at 0 and is loaded once, masked.
template <bool kShort>
void CsrPanelAvx512Impl(const F32CsrPanelArgs& a) {
  constexpr size_t L = 16;
  const __m512 vmin = _mm512_set1_ps(a.output_min);
  const __m512 vmax = _mm512_set1_ps(a.output_max);
  const __m512i bit5 = _mm512_set1_epi32(32);
  __mmask16 short_mask[4];
  for (int i = 0; i < 4; ++i) {
    const int n = static_cast<int>(a.cols) - 16 * i;
    short_mask[i] = static_cast<__mmask16>(
        n >= 16 ? 0xFFFF : n <= 0 ? 0 : (1u << n) - 1);
  }
  for (size_t g = 0; g < a.num_groups; ++g) {
    for (size_t b = 0; b < a.batch; ++b) {
      const float* x = a.x + b * a.x_stride;
      __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
      __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
      __m512 w0 = _mm512_setzero_ps(), w1 = w0, w2 = w0, w3 = w0;
      if (kShort) {
        w0 = _mm512_maskz_loadu_ps(short_mask[0], x);
        w1 = _mm512_maskz_loadu_ps(short_mask[1], x + 16);
        w2 = _mm512_maskz_loadu_ps(short_mask[2], x + 32);
        w3 = _mm512_maskz_loadu_ps(short_mask[3], x + 48);
      }
      const int32_t end = a.slice_ptr[g + 1];
      for (int32_t s = a.slice_ptr[g]; s < end; s += 4) {
        if (!kShort) {
          const float* xs = x + a.base[s / 4];
          w0 = _mm512_loadu_ps(xs);
          w1 = _mm512_loadu_ps(xs + 16);
          w2 = _mm512_loadu_ps(xs + 32);
          w3 = _mm512_loadu_ps(xs + 48);
        }
        const float* v = a.values + static_cast<size_t>(s) * L;
        // One load holds the quad's offsets, slice k in byte k of each
        // lane; vpermt2ps reads only bits 0..4 of an index, so a shift by
        // 8k selects slice k's, and bit 5 picks the half.
        const __m512i q =
            _mm512_loadu_si512(a.offsets + static_cast<size_t>(s) * L);
        auto step = [&](__m512 acc, int k, __m512i idx) {
          const __m512 lo = _mm512_permutex2var_ps(w0, idx, w1);
          const __m512 hi = _mm512_permutex2var_ps(w2, idx, w3);
          const __m512 xv =
              _mm512_mask_mov_ps(lo, _mm512_test_epi32_mask(idx, bit5), hi);
          return _mm512_fmadd_ps(_mm512_loadu_ps(v + k * L), xv, acc);
        };
        acc0 = step(acc0, 0, q);
        acc1 = step(acc1, 1, _mm512_srli_epi32(q, 8));
        acc2 = step(acc2, 2, _mm512_srli_epi32(q, 16));
        acc3 = step(acc3, 3, _mm512_srli_epi32(q, 24));
      }
      __m512 r =
          _mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3));
      r = _mm512_add_ps(r, _mm512_loadu_ps(a.bias + g * L));
      r = _mm512_min_ps(vmax, _mm512_max_ps(vmin, r));
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

void CsrPanelAvx512(const F32CsrPanelArgs& a) {
  if (a.cols < 64) {
    CsrPanelAvx512Impl<true>(a);
  } else {
    CsrPanelAvx512Impl<false>(a);
  }
}

}  // namespace

const F32CsrUkernel& F32CsrUkernelAvx512() {
  static const F32CsrUkernel k = {
      &CsrAvx512<uint16_t>,     &CsrAvx512<int32_t>,
      "f32_csr_minmax__avx512", Isa::kAvx512,
      &CsrPanelAvx512,          "f32_csr_panel_minmax_16x64__avx512"};
  return k;
}

}  // namespace tf_sparse
