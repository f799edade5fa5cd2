// AVX2 int8 BSR kernel for 1 x 4 blocks: 8 blocks of a row per step. The x
// words are gathered, both operands sign-extended to int16 and multiplied
// with vpmaddwd (pairs of products summed into int32), which is exact for
// every int8 pair. vpmaddubsw on x + 128 would be one instruction fewer but
// saturates: two products of 255 * (-128) reach -65280, beyond int16.
#include <immintrin.h>

#include "cc/kernels/qs8_bsr_ukernel.h"
#include "cc/kernels/qs8_requantize_avx2.h"

namespace tf_sparse {
namespace {

inline __m256i LoadIndices(const uint16_t* p) {
  return _mm256_cvtepu16_epi32(
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline __m256i LoadIndices(const int32_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

inline __m256i DotStep(__m256i acc, __m256i xv, __m256i wv) {
  const __m256i x_lo = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(xv));
  const __m256i x_hi = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(xv, 1));
  const __m256i w_lo = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(wv));
  const __m256i w_hi = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(wv, 1));
  acc = _mm256_add_epi32(acc, _mm256_madd_epi16(x_lo, w_lo));
  return _mm256_add_epi32(acc, _mm256_madd_epi16(x_hi, w_hi));
}

inline int32_t ReduceAdd(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v),
                            _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

// The dot product of one row of 1 x 4 blocks with x.
template <typename Index>
inline int32_t RowDot(const Index* idx, const int8_t* w, size_t n,
                      const int8_t* xb) {
  const int* x = reinterpret_cast<const int*>(xb);
  __m256i acc = _mm256_setzero_si256();
  size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256i xv = _mm256_i32gather_epi32(x, LoadIndices(idx + j), 1);
    const __m256i wv =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + j * 4));
    acc = DotStep(acc, xv, wv);
  }
  int32_t sum = ReduceAdd(acc);
  for (; j < n; ++j) {
    const int8_t* xj = xb + static_cast<size_t>(idx[j]);
    const int8_t* wj = w + j * 4;
    sum += xj[0] * wj[0] + xj[1] * wj[1] + xj[2] * wj[2] + xj[3] * wj[3];
  }
  return sum;
}

// Rows in groups of 8: the dot products one row at a time, then bias and
// requantization of the 8 rows in one vector.
template <typename Index>
void Kernel1x4(const Qs8BsrArgs<Index>& a) {
  const __m256i zero_point = _mm256_set1_epi32(a.output_zero_point);
  const __m256i lo = _mm256_set1_epi32(a.output_min);
  const __m256i hi = _mm256_set1_epi32(a.output_max);
  alignas(32) int32_t bias[8];
  alignas(32) int32_t multiplier[8];
  alignas(32) int32_t shift[8];
  alignas(32) int32_t sums[8];
  alignas(32) int32_t out[8];
  for (size_t g = 0; g < a.num_block_rows; g += 8) {
    const size_t rows = a.num_block_rows - g < 8 ? a.num_block_rows - g : 8;
    for (size_t i = 0; i < 8; ++i) {
      bias[i] = i < rows ? a.bias[g + i] : 0;
      multiplier[i] = i < rows ? a.multiplier[g + i] : 0;
      shift[i] = i < rows ? a.shift[g + i] : 0;
      sums[i] = 0;
    }
    const __m256i vb = _mm256_load_si256(reinterpret_cast<__m256i*>(bias));
    const __m256i vm =
        _mm256_load_si256(reinterpret_cast<__m256i*>(multiplier));
    const __m256i vs = _mm256_load_si256(reinterpret_cast<__m256i*>(shift));
    for (size_t b = 0; b < a.batch; ++b) {
      const int8_t* xb = a.x + b * a.x_stride;
      for (size_t i = 0; i < rows; ++i) {
        const int32_t begin = a.row_ptr[g + i];
        sums[i] = RowDot(a.col_idx + begin,
                         a.values + static_cast<size_t>(begin) * 4,
                         static_cast<size_t>(a.row_ptr[g + i + 1] - begin), xb);
      }
      const __m256i acc = _mm256_add_epi32(
          _mm256_load_si256(reinterpret_cast<__m256i*>(sums)), vb);
      _mm256_store_si256(reinterpret_cast<__m256i*>(out),
                         Requantize8(acc, vm, vs, zero_point, lo, hi));
      int8_t* y = a.y + b * a.y_stride + g;
      for (size_t i = 0; i < rows; ++i) y[i] = static_cast<int8_t>(out[i]);
    }
  }
}

const Qs8BsrUkernel kTable[] = {
    {1, 4, &Kernel1x4<uint16_t>, &Kernel1x4<int32_t>,
     "qs8_bsr_minmax_1x4__avx2", Isa::kAvx2, 0},
};

}  // namespace

const Qs8BsrUkernel* Qs8BsrUkernelsAvx2(size_t* count) {
  *count = sizeof(kTable) / sizeof(kTable[0]);
  return kTable;
}

}  // namespace tf_sparse
