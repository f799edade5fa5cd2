// AVX-512 N:M kernel. A chunk of 16 kept values covers W = 16 / n * m
// consecutive columns of x. Positions are decoded with one variable shift
// and a mask (or a byte widening for 8-bit positions) and added to each
// lane's group offset; x is then fetched without gathers when the chunk's
// columns fit in two or four registers (W <= 32: one vpermt2ps, as for 2:4
// and 4:8; W <= 64: two and a blend, as for 1:4 and 2:8), else with
// _mm512_i32gather_ps.
#include <immintrin.h>

#include "cc/kernels/f32_nm_ukernel.h"

namespace tf_sparse {
namespace {

enum Fetch { kPermute32, kPermute64, kGather };

struct Decoder {
  __m512i shift, mask, base, word_sel;
  int bits;
  inline __m512i Columns(const uint32_t* w) const {
    __m512i v;
    if (bits == 2) {
      v = _mm512_set1_epi32(static_cast<int>(w[0]));
      v = _mm512_and_si512(_mm512_srlv_epi32(v, shift), mask);
    } else if (bits == 4) {
      const __m128i two = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(w));
      v = _mm512_permutexvar_epi32(word_sel, _mm512_castsi128_si512(two));
      v = _mm512_and_si512(_mm512_srlv_epi32(v, shift), mask);
    } else {
      v = _mm512_cvtepu8_epi32(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(w)));
    }
    return _mm512_add_epi32(v, base);
  }
};

inline __mmask16 LaneMask(int lanes) {
  if (lanes <= 0) return 0;
  if (lanes >= 16) return 0xFFFF;
  return static_cast<__mmask16>((1u << lanes) - 1);
}

template <Fetch kFetch>
void NmRows(const F32NmArgs& a, const Decoder& dec, int chunk_cols) {
  const int words_per_chunk = 16 * a.index_bits / 32;
  const size_t chunks = a.kept_per_row / 16;
  const __mmask16 m1 = LaneMask(chunk_cols - 16);
  const __mmask16 m2 = LaneMask(chunk_cols - 32);
  const __mmask16 m3 = LaneMask(chunk_cols - 48);
  const __m512i bit5 = _mm512_set1_epi32(32);
  for (size_t o = 0; o < a.num_rows; ++o) {
    const float* v = a.values + o * a.kept_per_row;
    const uint32_t* words = a.positions + o * a.words_per_row;
    for (size_t b = 0; b < a.batch; ++b) {
      const float* x = a.x + b * a.x_stride;
      __m512 acc0 = _mm512_setzero_ps();
      __m512 acc1 = _mm512_setzero_ps();
      for (size_t c = 0; c < chunks; ++c) {
        const __m512i idx = dec.Columns(words + c * words_per_chunk);
        const float* xc = x + c * chunk_cols;
        __m512 xv;
        if (kFetch == kPermute32) {
          xv = _mm512_permutex2var_ps(_mm512_loadu_ps(xc), idx,
                                      _mm512_maskz_loadu_ps(m1, xc + 16));
        } else if (kFetch == kPermute64) {
          const __m512 lo = _mm512_permutex2var_ps(_mm512_loadu_ps(xc), idx,
                                                   _mm512_loadu_ps(xc + 16));
          const __m512 hi =
              _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(m2, xc + 32), idx,
                                     _mm512_maskz_loadu_ps(m3, xc + 48));
          xv = _mm512_mask_blend_ps(_mm512_test_epi32_mask(idx, bit5), lo, hi);
        } else {
          xv = _mm512_i32gather_ps(idx, xc, 4);
        }
        if (c & 1) {
          acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(v + 16 * c), xv, acc1);
        } else {
          acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(v + 16 * c), xv, acc0);
        }
      }
      float acc = a.bias[o] + _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
      acc = acc < a.output_min ? a.output_min : acc;
      acc = acc > a.output_max ? a.output_max : acc;
      a.y[b * a.y_stride + o] = acc;
    }
  }
}

void NmAvx512(const F32NmArgs& a) {
  const int bits = a.index_bits;
  alignas(64) int32_t shift[16], base[16], sel[16];
  for (int l = 0; l < 16; ++l) {
    shift[l] = (l * bits) % 32;
    base[l] = (l / a.n) * a.m;
    sel[l] = (l * bits) / 32;
  }
  Decoder dec;
  dec.bits = bits;
  dec.shift = _mm512_load_si512(shift);
  dec.base = _mm512_load_si512(base);
  dec.word_sel = _mm512_load_si512(sel);
  dec.mask = _mm512_set1_epi32((1 << bits) - 1);
  const int chunk_cols = 16 / a.n * a.m;
  if (chunk_cols <= 32) {
    NmRows<kPermute32>(a, dec, chunk_cols);
  } else if (chunk_cols <= 64) {
    NmRows<kPermute64>(a, dec, chunk_cols);
  } else {
    NmRows<kGather>(a, dec, chunk_cols);
  }
}

// Row groups: lane l is row 16 g + l, so the 16 sums never need a
// horizontal reduction. A group of m columns lies inside one 32-column
// window (m divides 32); the window's x sits in two registers, and each slot
// costs a position decode (shift + ternary logic, or a byte widening), one
// vpermt2ps and one FMA.
template <int kBits>
void NmRowGroupAvx512T(const F32NmRowGroupArgs& a) {
  alignas(64) int32_t shift[16], sel[16];
  for (int l = 0; l < 16; ++l) {
    shift[l] = (l * kBits) % 32;
    sel[l] = (l * kBits) / 32;
  }
  const __m512i vshift = _mm512_load_si512(shift);
  const __m512i vsel = _mm512_load_si512(sel);
  const __m512i vmask = _mm512_set1_epi32((1 << kBits) - 1);
  const __m512 vmin = _mm512_set1_ps(a.output_min);
  const __m512 vmax = _mm512_set1_ps(a.output_max);
  const size_t spw = static_cast<size_t>(32 / a.m * a.n);  // Slots a window.
  // Offset of each slot's group inside its window.
  int32_t slot_base[32];
  for (size_t k = 0; k < spw; ++k) {
    slot_base[k] = static_cast<int32_t>(k / a.n * a.m);
  }
  const size_t full_windows = a.cols / 32;
  const int tail = static_cast<int>(a.cols % 32);
  const __mmask16 tail_lo =
      static_cast<__mmask16>(tail >= 16 ? 0xFFFF : (1u << tail) - 1);
  const __mmask16 tail_hi =
      static_cast<__mmask16>(tail <= 16 ? 0 : (1u << (tail - 16)) - 1);
  const size_t wps = kBits / 2;  // Words per slot.
  for (size_t g = 0; g < a.num_groups; ++g) {
    for (size_t b = 0; b < a.batch; ++b) {
      const float* x = a.x + b * a.x_stride;
      __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
      __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
      const float* v = a.values + g * a.kept * 16;
      const uint32_t* pw = a.positions + g * a.kept * wps;
      size_t win = 0;
      for (size_t k0 = 0; k0 < a.kept; k0 += spw, ++win) {
        const float* xw = x + 32 * win;
        __m512 xlo, xhi;
        if (win < full_windows) {
          xlo = _mm512_loadu_ps(xw);
          xhi = _mm512_loadu_ps(xw + 16);
        } else {
          xlo = _mm512_maskz_loadu_ps(tail_lo, xw);
          xhi = _mm512_maskz_loadu_ps(tail_hi, xw + 16);
        }
        const size_t n = k0 + spw < a.kept ? spw : a.kept - k0;
        const float* vw = v + k0 * 16;
        const uint32_t* ww = pw + k0 * wps;
        auto step = [&](__m512 acc, size_t k) {
          const uint32_t* w = ww + k * wps;
          __m512i p;
          if (kBits == 2) {
            p = _mm512_srlv_epi32(_mm512_set1_epi32(static_cast<int>(w[0])),
                                  vshift);
          } else if (kBits == 4) {
            const __m128i two =
                _mm_loadl_epi64(reinterpret_cast<const __m128i*>(w));
            p = _mm512_srlv_epi32(
                _mm512_permutexvar_epi32(vsel, _mm512_castsi128_si512(two)),
                vshift);
          } else {
            p = _mm512_cvtepu8_epi32(
                _mm_loadu_si128(reinterpret_cast<const __m128i*>(w)));
          }
          // The group offset is a multiple of m, above the position's bits:
          // OR adds it ((p & mask) | base in one ternary-logic op).
          const __m512i idx = _mm512_ternarylogic_epi32(
              p, vmask, _mm512_set1_epi32(slot_base[k]), 0xEA);
          return _mm512_fmadd_ps(_mm512_loadu_ps(vw + k * 16),
                                 _mm512_permutex2var_ps(xlo, idx, xhi), acc);
        };
        size_t k = 0;
        for (; k + 4 <= n; k += 4) {
          acc0 = step(acc0, k);
          acc1 = step(acc1, k + 1);
          acc2 = step(acc2, k + 2);
          acc3 = step(acc3, k + 3);
        }
        for (; k < n; ++k) acc0 = step(acc0, k);
      }
      __m512 r =
          _mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3));
      r = _mm512_add_ps(r, _mm512_loadu_ps(a.bias + g * 16));
      r = _mm512_min_ps(vmax, _mm512_max_ps(vmin, r));
      float* y = a.y + b * a.y_stride + g * 16;
      if ((g + 1) * 16 <= a.num_rows) {
        _mm512_storeu_ps(y, r);
      } else {
        const size_t rows = a.num_rows - g * 16;
        _mm512_mask_storeu_ps(y, static_cast<__mmask16>((1u << rows) - 1), r);
      }
    }
  }
}

void NmRowGroupAvx512(const F32NmRowGroupArgs& a) {
  if (a.index_bits == 2) {
    NmRowGroupAvx512T<2>(a);
  } else if (a.index_bits == 4) {
    NmRowGroupAvx512T<4>(a);
  } else {
    NmRowGroupAvx512T<8>(a);
  }
}

}  // namespace

const F32NmUkernel& F32NmUkernelAvx512() {
  static const F32NmUkernel k = {&NmAvx512, "f32_nm_minmax__avx512",
                                 Isa::kAvx512, &NmRowGroupAvx512,
                                 "f32_nm_rowgroup_minmax_16__avx512"};
  return k;
}

}  // namespace tf_sparse
