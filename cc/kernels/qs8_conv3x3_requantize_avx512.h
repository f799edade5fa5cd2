// requantize.h's RequantizeToInt8 on 16 int32 lanes (16 output channels),
// bit for bit, with the per-channel constants prepared once per block of
// channels. Include only from files compiled for AVX-512 (F, BW).
//
// TFLite's two roundings (requantize.h) are
//   high = floor((x * m + 2^30) / 2^31)        (x = acc << left)
//   v    = floor((high + 2^(r-1)) / 2^r)        (r = right shift; r = 0: high)
// and since floor(floor(a) / n) = floor(a / n) for an integer n > 0, they
// are one 64-bit rounding:
//   v = floor((x * m + 2^30 + [r > 0] 2^(30+r)) / 2^(31+r)),
// exact in int64 (|x * m| < 2^62). The multiplier is 0 or in [2^30, 2^31),
// so TFLite's one saturating case (INT32_MIN * INT32_MIN) cannot occur.
// The clamp goes before the zero point is added ([lo - zp, hi - zp], within
// +-255), so adding it cannot wrap.
#ifndef TF_SPARSE_CC_KERNELS_QS8_CONV3X3_REQUANTIZE_AVX512_H_
#define TF_SPARSE_CC_KERNELS_QS8_CONV3X3_REQUANTIZE_AVX512_H_

#include <immintrin.h>

#include <cstdint>

namespace tf_sparse {

struct Qs8Requantize16 {
  __m512i left;                  // int32 lanes: max(shift, 0).
  __m512i m_even, m_odd;         // Multipliers in the low half of 64 bits.
  __m512i nudge_even, nudge_odd;  // int64 lanes.
  __m512i shift_even, shift_odd;  // int64 lanes: 31 + r.
  __m512i lo, hi, zero_point;     // lo, hi minus the zero point.

  Qs8Requantize16(const int32_t* multiplier, const int32_t* shift,
                  int32_t output_zero_point, int32_t output_min,
                  int32_t output_max) {
    const __m512i zero = _mm512_setzero_si512();
    const __m512i s = _mm512_loadu_si512(shift);
    const __m512i m = _mm512_loadu_si512(multiplier);
    left = _mm512_max_epi32(s, zero);
    const __m512i right = _mm512_max_epi32(_mm512_sub_epi32(zero, s), zero);
    const __m512i low32 = _mm512_set1_epi64(0xFFFFFFFFll);
    const __m512i r_even = _mm512_and_si512(right, low32);
    const __m512i r_odd = _mm512_srli_epi64(right, 32);
    m_even = m;
    m_odd = _mm512_srli_epi64(m, 32);
    const __m512i half = _mm512_set1_epi64(int64_t{1} << 30);
    const __m512i thirty = _mm512_set1_epi64(30);
    const __m512i one = _mm512_set1_epi64(1);
    nudge_even = _mm512_add_epi64(
        half, _mm512_maskz_sllv_epi64(_mm512_cmpgt_epi64_mask(r_even, zero),
                                      one, _mm512_add_epi64(r_even, thirty)));
    nudge_odd = _mm512_add_epi64(
        half, _mm512_maskz_sllv_epi64(_mm512_cmpgt_epi64_mask(r_odd, zero),
                                      one, _mm512_add_epi64(r_odd, thirty)));
    const __m512i thirty_one = _mm512_set1_epi64(31);
    shift_even = _mm512_add_epi64(r_even, thirty_one);
    shift_odd = _mm512_add_epi64(r_odd, thirty_one);
    zero_point = _mm512_set1_epi32(output_zero_point);
    lo = _mm512_set1_epi32(output_min - output_zero_point);
    hi = _mm512_set1_epi32(output_max - output_zero_point);
  }

  __m128i operator()(__m512i acc) const {
    const __m512i x = _mm512_sllv_epi32(acc, left);
    const __m512i even = _mm512_srav_epi64(
        _mm512_add_epi64(_mm512_mul_epi32(x, m_even), nudge_even), shift_even);
    const __m512i odd = _mm512_srav_epi64(
        _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), m_odd),
                         nudge_odd),
        shift_odd);
    __m512i v =
        _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
    v = _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);
    return _mm512_cvtepi32_epi8(_mm512_add_epi32(v, zero_point));
  }
};

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_QS8_CONV3X3_REQUANTIZE_AVX512_H_
