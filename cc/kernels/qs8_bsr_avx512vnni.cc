// AVX-512 VNNI int8 BSR kernel for 1 x 4 blocks: 16 blocks of a row per
// vpdpbusd. The x words of the 16 blocks are gathered (one 32-bit gather at
// the blocks' starting columns), the 64 weight bytes are contiguous. x is
// read as uint8 (x + 128, input_offset 128): vpdpbusd multiplies unsigned
// by signed bytes and sums the four products into int32 exactly.
#include <immintrin.h>

#include "cc/kernels/qs8_bsr_ukernel.h"

namespace tf_sparse {
namespace {

inline __m512i LoadIndices(const uint16_t* p) {
  return _mm512_cvtepu16_epi32(
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512i LoadIndices(const int32_t* p) { return _mm512_loadu_si512(p); }
inline __m512i LoadIndices(const uint16_t* p, __mmask16 m) {
  return _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
}
inline __m512i LoadIndices(const int32_t* p, __mmask16 m) {
  return _mm512_maskz_loadu_epi32(m, p);
}

// requantize.h's RequantizeToInt8 on 16 lanes, bit for bit. Step 1 uses
// that TFLite's nudge-and-truncate equals floor((a * b + 2^30) / 2^31); its
// one saturating case (a == b == INT32_MIN) cannot occur because the
// multipliers are 0 or in [2^30, 2^31).
inline __m128i Requantize16(__m512i acc, __m512i multiplier, __m512i shift,
                            __m512i zero_point, __m512i lo, __m512i hi) {
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
  v = _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);
  return _mm512_cvtepi32_epi8(v);
}

// The dot product of one row of 1 x 4 blocks with x.
template <typename Index>
inline int32_t RowDot(const Index* idx, const int8_t* w, size_t n,
                      const int* x) {
  __m512i acc = _mm512_setzero_si512();
  size_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m512i xv = _mm512_i32gather_epi32(LoadIndices(idx + j), x, 1);
    acc = _mm512_dpbusd_epi32(acc, xv, _mm512_loadu_si512(w + j * 4));
  }
  const size_t tail = n - j;
  if (tail != 0) {
    const __mmask16 m = static_cast<__mmask16>((1u << tail) - 1);
    const __m512i xv = _mm512_mask_i32gather_epi32(
        _mm512_setzero_si512(), m, LoadIndices(idx + j, m), x, 1);
    acc = _mm512_dpbusd_epi32(acc, xv, _mm512_maskz_loadu_epi32(m, w + j * 4));
  }
  return _mm512_reduce_add_epi32(acc);
}

// Rows in groups of 16: the dot products one row at a time, then bias and
// requantization of the 16 rows in one vector.
template <typename Index>
void Kernel1x4(const Qs8BsrArgs<Index>& a) {
  const __m512i zero_point = _mm512_set1_epi32(a.output_zero_point);
  const __m512i lo = _mm512_set1_epi32(a.output_min);
  const __m512i hi = _mm512_set1_epi32(a.output_max);
  alignas(64) int32_t sums[16];
  for (size_t g = 0; g < a.num_block_rows; g += 16) {
    const size_t rows = a.num_block_rows - g < 16 ? a.num_block_rows - g : 16;
    const __mmask16 m = static_cast<__mmask16>((1u << rows) - 1);
    const __m512i bias = _mm512_maskz_loadu_epi32(m, a.bias + g);
    const __m512i multiplier = _mm512_maskz_loadu_epi32(m, a.multiplier + g);
    const __m512i shift = _mm512_maskz_loadu_epi32(m, a.shift + g);
    for (size_t b = 0; b < a.batch; ++b) {
      const int* x = reinterpret_cast<const int*>(a.x + b * a.x_stride);
      for (size_t i = 0; i < rows; ++i) {
        const int32_t begin = a.row_ptr[g + i];
        sums[i] = RowDot(a.col_idx + begin,
                         a.values + static_cast<size_t>(begin) * 4,
                         static_cast<size_t>(a.row_ptr[g + i + 1] - begin), x);
      }
      const __m512i acc =
          _mm512_add_epi32(_mm512_maskz_load_epi32(m, sums), bias);
      _mm_mask_storeu_epi8(
          a.y + b * a.y_stride + g, m,
          Requantize16(acc, multiplier, shift, zero_point, lo, hi));
    }
  }
}

const Qs8BsrUkernel kTable[] = {
    {1, 4, &Kernel1x4<uint16_t>, &Kernel1x4<int32_t>,
     "qs8_bsr_minmax_1x4__avx512vnni", Isa::kAvx512, 128},
};

}  // namespace

const Qs8BsrUkernel* Qs8BsrUkernelsAvx512Vnni(size_t* count) {
  *count = sizeof(kTable) / sizeof(kTable[0]);
  return kTable;
}

}  // namespace tf_sparse
