// AVX-512 VNNI int8 BSR kernel for 1 x 4 blocks: 16 blocks of a row per
// vpdpbusd. The x words of the 16 blocks are gathered (one 32-bit gather at
// the blocks' starting columns), the 64 weight bytes are contiguous. x is
// read as uint8 (x + 128, input_offset 128): vpdpbusd multiplies unsigned
// by signed bytes and sums the four products into int32 exactly.
#include <immintrin.h>

#include "cc/kernels/qs8_bsr_ukernel.h"
#include "cc/kernels/requantize.h"

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

template <typename Index>
void Kernel1x4(const Qs8BsrArgs<Index>& a) {
  for (size_t i = 0; i < a.num_block_rows; ++i) {
    const int32_t begin = a.row_ptr[i];
    const size_t n = static_cast<size_t>(a.row_ptr[i + 1] - begin);
    const Index* idx = a.col_idx + begin;
    const int8_t* w = a.values + static_cast<size_t>(begin) * 4;
    const size_t tail = n % 16;
    const __mmask16 tail_mask = static_cast<__mmask16>((1u << tail) - 1);
    for (size_t b = 0; b < a.batch; ++b) {
      const int* x = reinterpret_cast<const int*>(a.x + b * a.x_stride);
      __m512i acc = _mm512_setzero_si512();
      size_t j = 0;
      for (; j + 16 <= n; j += 16) {
        const __m512i xv = _mm512_i32gather_epi32(LoadIndices(idx + j), x, 1);
        const __m512i wv = _mm512_loadu_si512(w + j * 4);
        acc = _mm512_dpbusd_epi32(acc, xv, wv);
      }
      if (tail != 0) {
        const __m512i xv = _mm512_mask_i32gather_epi32(
            _mm512_setzero_si512(), tail_mask, LoadIndices(idx + j, tail_mask),
            x, 1);
        const __m512i wv = _mm512_maskz_loadu_epi32(tail_mask, w + j * 4);
        acc = _mm512_dpbusd_epi32(acc, xv, wv);
      }
      const int32_t sum = a.bias[i] + _mm512_reduce_add_epi32(acc);
      a.y[b * a.y_stride + i] =
          RequantizeToInt8(sum, a.multiplier[i], a.shift[i],
                           a.output_zero_point, a.output_min, a.output_max);
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
