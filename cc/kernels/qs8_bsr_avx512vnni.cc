// AVX-512 VNNI int8 BSR kernel for 1 x 4 blocks: 16 blocks of a row per
// vpdpbusd. The x words of the 16 blocks are gathered (one 32-bit gather at
// the blocks' starting columns), the 64 weight bytes are contiguous. x is
// read as uint8 (x + 128, input_offset 128): vpdpbusd multiplies unsigned
// by signed bytes and sums the four products into int32 exactly.
#include <immintrin.h>

#include "cc/kernels/qs8_bsr_ukernel.h"
#include "cc/kernels/qs8_requantize_avx512.h"

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
