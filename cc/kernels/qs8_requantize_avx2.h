// requantize.h's RequantizeToInt8 on 8 int32 lanes of AVX2, shared by the
// int8 kernels compiled for AVX2 (include only from such a translation
// unit).
#ifndef TF_SPARSE_CC_KERNELS_QS8_REQUANTIZE_AVX2_H_
#define TF_SPARSE_CC_KERNELS_QS8_REQUANTIZE_AVX2_H_

#include <immintrin.h>

#include <cstdint>

namespace tf_sparse {
namespace {

// requantize.h's RequantizeToInt8 on 8 lanes, bit for bit (as the AVX-512
// VNNI kernel's Requantize16: step 1 is floor((a * b + 2^30) / 2^31), whose
// low 32 bits a logical 64-bit shift gives as well as an arithmetic one).
inline __m256i Requantize8(__m256i acc, __m256i multiplier, __m256i shift,
                           __m256i zero_point, __m256i lo, __m256i hi) {
  const __m256i zero = _mm256_setzero_si256();
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i left = _mm256_max_epi32(shift, zero);
  const __m256i right = _mm256_max_epi32(_mm256_sub_epi32(zero, shift), zero);
  const __m256i x = _mm256_sllv_epi32(acc, left);
  const __m256i half = _mm256_set1_epi64x(int64_t{1} << 30);
  const __m256i even = _mm256_srli_epi64(
      _mm256_add_epi64(_mm256_mul_epi32(x, multiplier), half), 31);
  const __m256i odd = _mm256_srli_epi64(
      _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32),
                                        _mm256_srli_epi64(multiplier, 32)),
                       half),
      31);
  const __m256i high =
      _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  const __m256i mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, right), one);
  const __m256i remainder = _mm256_and_si256(high, mask);
  const __m256i threshold = _mm256_sub_epi32(_mm256_srli_epi32(mask, 1),
                                             _mm256_srai_epi32(high, 31));
  __m256i v = _mm256_srav_epi32(high, right);
  // cmpgt gives -1 where the remainder rounds up.
  v = _mm256_sub_epi32(v, _mm256_cmpgt_epi32(remainder, threshold));
  v = _mm256_min_epi32(_mm256_max_epi32(v, _mm256_set1_epi32(-512)),
                       _mm256_set1_epi32(512));
  v = _mm256_add_epi32(v, zero_point);
  return _mm256_min_epi32(_mm256_max_epi32(v, lo), hi);
}

}  // namespace
}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_QS8_REQUANTIZE_AVX2_H_
