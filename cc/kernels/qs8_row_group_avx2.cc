// AVX2 int8 row-group kernel. AVX2 has no byte permute across 64 bytes: the
// window is held as its four 16-byte quarters, each broadcast to both
// 128-bit halves, and each 32 bytes of a slice fetch x with four vpshufb
// (one per quarter, on the offsets' low 4 bits) and three vpblendvb (on
// bits 4 and 5 of the offsets). The products are exact int8 x int8 through
// sign extension to int16 and vpmaddwd (as qs8_bsr_avx2.cc). About 17
// vector instructions per 32 bytes of slice, against 2 per 64 bytes on
// AVX-512 VBMI + VNNI: correct everywhere AVX2 runs, faster than dense only
// at high sparsity.
#include <immintrin.h>

#include <cstring>

#include "cc/formats/qs8_row_group.h"
#include "cc/kernels/qs8_row_group_ukernel.h"
#include "cc/kernels/requantize_avx2.h"

namespace tf_sparse {
namespace {

struct WindowTables {
  __m256i q0, q1, q2, q3;
};

inline WindowTables LoadWindow(const int8_t* x) {
  const __m128i* p = reinterpret_cast<const __m128i*>(x);
  return {_mm256_broadcastsi128_si256(_mm_loadu_si128(p)),
          _mm256_broadcastsi128_si256(_mm_loadu_si128(p + 1)),
          _mm256_broadcastsi128_si256(_mm_loadu_si128(p + 2)),
          _mm256_broadcastsi128_si256(_mm_loadu_si128(p + 3))};
}

// x[offset] for 32 offsets in 0..63.
inline __m256i Lookup(const WindowTables& t, __m256i offset) {
  // vpblendvb reads bit 7 of each byte: shifting 16-bit words left by 3
  // (2) brings bit 4 (5) of every byte there.
  const __m256i bit4 = _mm256_slli_epi16(offset, 3);
  const __m256i bit5 = _mm256_slli_epi16(offset, 2);
  const __m256i r01 = _mm256_blendv_epi8(_mm256_shuffle_epi8(t.q0, offset),
                                         _mm256_shuffle_epi8(t.q1, offset),
                                         bit4);
  const __m256i r23 = _mm256_blendv_epi8(_mm256_shuffle_epi8(t.q2, offset),
                                         _mm256_shuffle_epi8(t.q3, offset),
                                         bit4);
  return _mm256_blendv_epi8(r01, r23, bit5);
}

// acc_lo (the first 4 lanes of the 32 bytes) and acc_hi (the last 4) += the
// pairwise products, two int32 per lane.
inline void Dot(__m256i xv, __m256i wv, __m256i& acc_lo, __m256i& acc_hi) {
  const __m256i x_lo = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(xv));
  const __m256i x_hi = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(xv, 1));
  const __m256i w_lo = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(wv));
  const __m256i w_hi = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(wv, 1));
  acc_lo = _mm256_add_epi32(acc_lo, _mm256_madd_epi16(x_lo, w_lo));
  acc_hi = _mm256_add_epi32(acc_hi, _mm256_madd_epi16(x_hi, w_hi));
}

// The 8 lane sums of two pair accumulators (lanes 0..3, 4..7), in order.
inline __m256i LaneSums(__m256i a, __m256i b) {
  return _mm256_permute4x64_epi64(_mm256_hadd_epi32(a, b),
                                  _MM_SHUFFLE(3, 1, 2, 0));
}

void Kernel(const Qs8RowGroupArgs& a) {
  const __m256i zero_point = _mm256_set1_epi32(a.output_zero_point);
  const __m256i lo = _mm256_set1_epi32(a.output_min);
  const __m256i hi = _mm256_set1_epi32(a.output_max);
  for (size_t g = 0; g < a.num_groups; ++g) {
    const size_t row0 = g * kQs8RowGroupRows;
    const size_t rows = a.num_rows - row0 < kQs8RowGroupRows
                            ? a.num_rows - row0
                            : kQs8RowGroupRows;
    for (size_t b = 0; b < a.batch; ++b) {
      const int8_t* x = a.x + b * a.x_stride;
      __m256i acc0 = _mm256_setzero_si256();
      __m256i acc1 = _mm256_setzero_si256();
      __m256i acc2 = _mm256_setzero_si256();
      __m256i acc3 = _mm256_setzero_si256();
      for (int32_t w = a.window_ptr[g]; w < a.window_ptr[g + 1]; ++w) {
        const WindowTables t = LoadWindow(x + a.base[w]);
        const int8_t* p = a.slices + static_cast<size_t>(a.slice_ptr[w]) *
                                         kQs8RowGroupSliceBytes;
        const int8_t* end = a.slices + static_cast<size_t>(a.slice_ptr[w + 1]) *
                                           kQs8RowGroupSliceBytes;
        for (; p != end; p += kQs8RowGroupSliceBytes) {
          const __m256i* v = reinterpret_cast<const __m256i*>(p);
          Dot(Lookup(t, _mm256_load_si256(v)), _mm256_load_si256(v + 2), acc0,
              acc1);
          Dot(Lookup(t, _mm256_load_si256(v + 1)), _mm256_load_si256(v + 3),
              acc2, acc3);
        }
      }
      const __m256i* bias =
          reinterpret_cast<const __m256i*>(a.bias + row0);
      const __m256i* mult =
          reinterpret_cast<const __m256i*>(a.multiplier + row0);
      const __m256i* shift = reinterpret_cast<const __m256i*>(a.shift + row0);
      const __m256i v0 = Requantize8(
          _mm256_add_epi32(LaneSums(acc0, acc1), _mm256_loadu_si256(bias)),
          _mm256_loadu_si256(mult), _mm256_loadu_si256(shift), zero_point,
          lo, hi);
      const __m256i v1 = Requantize8(
          _mm256_add_epi32(LaneSums(acc2, acc3),
                           _mm256_loadu_si256(bias + 1)),
          _mm256_loadu_si256(mult + 1), _mm256_loadu_si256(shift + 1),
          zero_point, lo, hi);
      // int32 -> int16 -> int8 (values already in [-128, 127]).
      const __m256i p16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(v0, v1),
                                                   _MM_SHUFFLE(3, 1, 2, 0));
      const __m128i p8 = _mm_packs_epi16(_mm256_castsi256_si128(p16),
                                         _mm256_extracti128_si256(p16, 1));
      int8_t* y = a.y + b * a.y_stride + row0;
      if (rows == kQs8RowGroupRows) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y), p8);
      } else {
        alignas(16) int8_t tail[kQs8RowGroupRows];
        _mm_store_si128(reinterpret_cast<__m128i*>(tail), p8);
        std::memcpy(y, tail, rows);
      }
    }
  }
}

const Qs8RowGroupUkernel kKernel = {&Kernel, "qs8_rowgroup_minmax_16x64__avx2",
                                    Isa::kAvx2, 0};

}  // namespace

const Qs8RowGroupUkernel& Qs8RowGroupUkernelAvx2() { return kKernel; }

}  // namespace tf_sparse
