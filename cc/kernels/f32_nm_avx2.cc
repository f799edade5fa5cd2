// AVX2 + FMA N:M kernel. A chunk of 16 kept values is two halves of eight;
// each half's positions are decoded with one variable shift and a mask,
// added to the lanes' group offsets, and x is fetched with
// _mm256_i32gather_ps.
#include <immintrin.h>

#include "cc/kernels/f32_nm_ukernel.h"

namespace tf_sparse {
namespace {

inline float Hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

void NmAvx2(const F32NmArgs& a) {
  const int bits = a.index_bits;
  const int words_per_chunk = 16 * bits / 32;
  const int chunk_cols = 16 / a.n * a.m;
  alignas(32) int32_t shift_lo[8], shift_hi[8], base_lo[8], base_hi[8];
  for (int l = 0; l < 8; ++l) {
    shift_lo[l] = (l * bits) % 32;
    shift_hi[l] = ((l + 8) * bits) % 32;
    base_lo[l] = (l / a.n) * a.m;
    base_hi[l] = ((l + 8) / a.n) * a.m;
  }
  const __m256i vshift_lo =
      _mm256_load_si256(reinterpret_cast<__m256i*>(shift_lo));
  const __m256i vshift_hi =
      _mm256_load_si256(reinterpret_cast<__m256i*>(shift_hi));
  const __m256i vbase_lo =
      _mm256_load_si256(reinterpret_cast<__m256i*>(base_lo));
  const __m256i vbase_hi =
      _mm256_load_si256(reinterpret_cast<__m256i*>(base_hi));
  const __m256i vmask = _mm256_set1_epi32((1 << bits) - 1);
  const size_t chunks = a.kept_per_row / 16;
  for (size_t o = 0; o < a.num_rows; ++o) {
    const float* v = a.values + o * a.kept_per_row;
    const uint32_t* words = a.positions + o * a.words_per_row;
    for (size_t b = 0; b < a.batch; ++b) {
      const float* x = a.x + b * a.x_stride;
      __m256 acc0 = _mm256_setzero_ps();
      __m256 acc1 = _mm256_setzero_ps();
      for (size_t c = 0; c < chunks; ++c) {
        const uint32_t* w = words + c * words_per_chunk;
        __m256i lo, hi;
        if (bits == 2) {
          lo = hi = _mm256_set1_epi32(static_cast<int>(w[0]));
        } else if (bits == 4) {
          lo = _mm256_set1_epi32(static_cast<int>(w[0]));
          hi = _mm256_set1_epi32(static_cast<int>(w[1]));
        } else {
          const __m128i bytes =
              _mm_loadu_si128(reinterpret_cast<const __m128i*>(w));
          lo = _mm256_cvtepu8_epi32(bytes);
          hi = _mm256_cvtepu8_epi32(_mm_srli_si128(bytes, 8));
        }
        if (bits != 8) {
          lo = _mm256_and_si256(_mm256_srlv_epi32(lo, vshift_lo), vmask);
          hi = _mm256_and_si256(_mm256_srlv_epi32(hi, vshift_hi), vmask);
        }
        const float* xc = x + c * chunk_cols;
        const __m256 x0 =
            _mm256_i32gather_ps(xc, _mm256_add_epi32(lo, vbase_lo), 4);
        const __m256 x1 =
            _mm256_i32gather_ps(xc, _mm256_add_epi32(hi, vbase_hi), 4);
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(v + 16 * c), x0, acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(v + 16 * c + 8), x1, acc1);
      }
      float acc = a.bias[o] + Hsum(_mm256_add_ps(acc0, acc1));
      acc = acc < a.output_min ? a.output_min : acc;
      acc = acc > a.output_max ? a.output_max : acc;
      a.y[b * a.y_stride + o] = acc;
    }
  }
}

// Row groups on AVX2: two 8-lane halves per slot, x fetched by gathers
// (fillers past cols point inside x: position 0 of a group that starts
// before cols, or are masked off by a zero value and a clamped column).
void NmRowGroupAvx2(const F32NmRowGroupArgs& a) {
  const int bits = a.index_bits;
  alignas(32) int32_t shift_lo[8], shift_hi[8];
  for (int l = 0; l < 8; ++l) {
    shift_lo[l] = (l * bits) % 32;
    shift_hi[l] = ((l + 8) * bits) % 32;
  }
  const __m256i vshift_lo =
      _mm256_load_si256(reinterpret_cast<__m256i*>(shift_lo));
  const __m256i vshift_hi =
      _mm256_load_si256(reinterpret_cast<__m256i*>(shift_hi));
  const __m256i vmask = _mm256_set1_epi32((1 << bits) - 1);
  const __m256i vlast = _mm256_set1_epi32(static_cast<int>(a.cols) - 1);
  const __m256 vmin = _mm256_set1_ps(a.output_min);
  const __m256 vmax = _mm256_set1_ps(a.output_max);
  const int hi_word = 8 * bits / 32;
  alignas(32) float out[16];
  for (size_t g = 0; g < a.num_groups; ++g) {
    for (size_t b = 0; b < a.batch; ++b) {
      const float* x = a.x + b * a.x_stride;
      __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
      for (size_t k = 0; k < a.kept; ++k) {
        const size_t slot = g * a.kept + k;
        const uint32_t* w = a.positions + slot * a.words_per_slot;
        const float* v = a.values + slot * 16;
        const __m256i base =
            _mm256_set1_epi32(static_cast<int>((k / a.n) * a.m));
        __m256i plo, phi;
        if (bits == 8) {
          const __m128i bytes =
              _mm_loadu_si128(reinterpret_cast<const __m128i*>(w));
          plo = _mm256_cvtepu8_epi32(bytes);
          phi = _mm256_cvtepu8_epi32(_mm_srli_si128(bytes, 8));
        } else {
          plo = _mm256_and_si256(
              _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(w[0])),
                                vshift_lo),
              vmask);
          phi = _mm256_and_si256(
              _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(w[hi_word])),
                                vshift_hi),
              vmask);
        }
        plo = _mm256_min_epi32(_mm256_add_epi32(plo, base), vlast);
        phi = _mm256_min_epi32(_mm256_add_epi32(phi, base), vlast);
        lo = _mm256_fmadd_ps(_mm256_loadu_ps(v), _mm256_i32gather_ps(x, plo, 4),
                             lo);
        hi = _mm256_fmadd_ps(_mm256_loadu_ps(v + 8),
                             _mm256_i32gather_ps(x, phi, 4), hi);
      }
      lo = _mm256_add_ps(lo, _mm256_loadu_ps(a.bias + g * 16));
      hi = _mm256_add_ps(hi, _mm256_loadu_ps(a.bias + g * 16 + 8));
      _mm256_store_ps(out, _mm256_min_ps(vmax, _mm256_max_ps(vmin, lo)));
      _mm256_store_ps(out + 8, _mm256_min_ps(vmax, _mm256_max_ps(vmin, hi)));
      float* y = a.y + b * a.y_stride + g * 16;
      for (size_t l = 0; l < 16 && g * 16 + l < a.num_rows; ++l) y[l] = out[l];
    }
  }
}

}  // namespace

const F32NmUkernel& F32NmUkernelAvx2() {
  static const F32NmUkernel k = {&NmAvx2, "f32_nm_minmax__avx2", Isa::kAvx2,
                                 &NmRowGroupAvx2,
                                 "f32_nm_rowgroup_minmax_16__avx2"};
  return k;
}

}  // namespace tf_sparse
