// requantize.h's RequantizeToInt8 on 16 int32 lanes of a 512-bit register
// (AVX-512 F + BW), shared by the int8 AVX-512 kernels. Include only from
// translation units compiled for AVX-512.
#ifndef TF_SPARSE_CC_KERNELS_REQUANTIZE_AVX512_H_
#define TF_SPARSE_CC_KERNELS_REQUANTIZE_AVX512_H_

#include <immintrin.h>

#include <cstdint>

namespace tf_sparse {

// requantize.h's RequantizeToInt8 on 16 lanes, bit for bit. Step 1 uses
// that TFLite's nudge-and-truncate equals floor((a * b + 2^30) / 2^31); its
// one saturating case (a == b == INT32_MIN) cannot occur because the
// multipliers are 0 or in [2^30, 2^31).
inline __m512i Requantize16ToInt32(__m512i acc, __m512i multiplier,
                                   __m512i shift, __m512i zero_point,
                                   __m512i lo, __m512i hi) {
  const __m512i zero = _mm512_setzero_si512();
  const __m512i left = _mm512_max_epi32(shift, zero);
  const __m512i right = _mm512_max_epi32(_mm512_sub_epi32(zero, shift), zero);
  const __m512i x = _mm512_sllv_epi32(acc, left);
  const __m512i half = _mm512_set1_epi64(int64_t{1} << 30);
  const __m512i even = _mm512_srai_epi64(
      _mm512_add_epi64(_mm512_mul_epi32(x, multiplier), half), 31);
  const __m512i odd = _mm512_srai_epi64(
      _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32),
                                        _mm512_srli_epi64(multiplier, 32)),
                       half),
      31);
  const __m512i high =
      _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  // Rounding division by 2^right, ties towards +infinity.
  const __m512i mask =
      _mm512_sub_epi32(_mm512_sllv_epi32(_mm512_set1_epi32(1), right),
                       _mm512_set1_epi32(1));
  const __m512i remainder = _mm512_and_si512(high, mask);
  const __m512i threshold = _mm512_srli_epi32(mask, 1);
  __m512i v = _mm512_srav_epi32(high, right);
  v = _mm512_mask_add_epi32(v, _mm512_cmpgt_epi32_mask(remainder, threshold),
                            v, _mm512_set1_epi32(1));
  // Bounding v first keeps the zero point addition from wrapping without
  // changing any clamped result.
  v = _mm512_min_epi32(_mm512_max_epi32(v, _mm512_set1_epi32(-512)),
                       _mm512_set1_epi32(512));
  v = _mm512_add_epi32(v, zero_point);
  return _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);
}

// The same, narrowed to 16 int8.
inline __m128i Requantize16(__m512i acc, __m512i multiplier, __m512i shift,
                            __m512i zero_point, __m512i lo, __m512i hi) {
  return _mm512_cvtepi32_epi8(
      Requantize16ToInt32(acc, multiplier, shift, zero_point, lo, hi));
}

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_REQUANTIZE_AVX512_H_
