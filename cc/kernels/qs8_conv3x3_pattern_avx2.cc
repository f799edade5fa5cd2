// AVX2 pattern conv kernel: vpmaddwd on int16. A pixel's 4 tap bytes are
// broadcast and sign-extended ([x0 x1 x2 x3] four times); an entry's
// weights are stored as int16 (4 filters x 4 taps per vector), so one
// vpmaddwd leaves per filter two partial sums (taps 0+1, 2+3) in adjacent
// lanes, added pairwise once per block (vphaddd). Two pixels at a time
// (8 accumulators of 4 filters).
#include <immintrin.h>

#include "cc/kernels/qs8_conv3x3_pattern_ukernel.h"
#include "cc/kernels/requantize_avx2.h"

namespace tf_sparse {
namespace {

inline void GatherSlots(const Qs8PatConvArgs& a) {
  for (size_t s = 0; s < a.num_slots; ++s) {
    const int8_t* xc =
        a.x + static_cast<size_t>(a.slot_channel[s]) * a.channel_stride;
    const uint8_t* t = a.slot_taps + 4 * s;
    const __m128i r0 = _mm_loadu_si128(
        reinterpret_cast<const __m128i*>(xc + a.tap_offset[t[0]]));
    const __m128i r1 = _mm_loadu_si128(
        reinterpret_cast<const __m128i*>(xc + a.tap_offset[t[1]]));
    const __m128i r2 = _mm_loadu_si128(
        reinterpret_cast<const __m128i*>(xc + a.tap_offset[t[2]]));
    const __m128i r3 = _mm_loadu_si128(
        reinterpret_cast<const __m128i*>(xc + a.tap_offset[t[3]]));
    const __m128i lo01 = _mm_unpacklo_epi8(r0, r1);
    const __m128i hi01 = _mm_unpackhi_epi8(r0, r1);
    const __m128i lo23 = _mm_unpacklo_epi8(r2, r3);
    const __m128i hi23 = _mm_unpackhi_epi8(r2, r3);
    __m128i* dst = reinterpret_cast<__m128i*>(a.xbuf + 64 * s);
    _mm_store_si128(dst + 0, _mm_unpacklo_epi16(lo01, lo23));
    _mm_store_si128(dst + 1, _mm_unpackhi_epi16(lo01, lo23));
    _mm_store_si128(dst + 2, _mm_unpacklo_epi16(hi01, hi23));
    _mm_store_si128(dst + 3, _mm_unpackhi_epi16(hi01, hi23));
  }
}

// Filters 0-7 and 8-15 of one pixel from its four pair-split accumulators.
inline void Finish(const __m256i acc[4], __m256i* f0_7, __m256i* f8_15) {
  *f0_7 = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[0], acc[1]), 0xD8);
  *f8_15 = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[2], acc[3]), 0xD8);
}

void Kernel(const Qs8PatConvArgs& a) {
  GatherSlots(a);
  const __m256i zero_point = _mm256_set1_epi32(a.output_zero_point);
  const __m256i lo = _mm256_set1_epi32(a.output_min);
  const __m256i hi = _mm256_set1_epi32(a.output_max);
  alignas(32) int32_t out[16];
  for (size_t b = 0; b < a.num_blocks; ++b) {
    const size_t o0 = b * kQs8PatBlockFilters;
    const size_t n = a.out_c - o0 < 16 ? a.out_c - o0 : 16;
    const int32_t e0 = a.entry_ptr[b];
    const int32_t e1 = a.entry_ptr[b + 1];
    for (size_t j = 0; j < a.num_pixels; j += 2) {
      __m256i acc[2][4];
      for (int p = 0; p < 2; ++p) {
        for (int q = 0; q < 4; ++q) acc[p][q] = _mm256_setzero_si256();
      }
      for (int32_t e = e0; e < e1; ++e) {
        const int32_t* xs = reinterpret_cast<const int32_t*>(
            a.xbuf + static_cast<size_t>(a.entry_slot[e]) * 64);
        const __m256i* w = reinterpret_cast<const __m256i*>(
            a.weights16 + static_cast<size_t>(e) * 64);
        const __m256i x0 = _mm256_cvtepi8_epi16(_mm_set1_epi32(xs[j]));
        const __m256i x1 = _mm256_cvtepi8_epi16(_mm_set1_epi32(xs[j + 1]));
        for (int q = 0; q < 4; ++q) {
          const __m256i wq = _mm256_load_si256(w + q);
          acc[0][q] = _mm256_add_epi32(acc[0][q], _mm256_madd_epi16(x0, wq));
          acc[1][q] = _mm256_add_epi32(acc[1][q], _mm256_madd_epi16(x1, wq));
        }
      }
      for (int p = 0; p < 2 && j + p < a.num_pixels; ++p) {
        __m256i f0, f1;
        Finish(acc[p], &f0, &f1);
        for (int h = 0; h < 2; ++h) {
          const size_t o = o0 + 8 * h;
          const __m256i v = _mm256_add_epi32(
              h == 0 ? f0 : f1,
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bias + o)));
          _mm256_store_si256(
              reinterpret_cast<__m256i*>(out + 8 * h),
              Requantize8(v,
                          _mm256_loadu_si256(
                              reinterpret_cast<const __m256i*>(a.multiplier + o)),
                          _mm256_loadu_si256(
                              reinterpret_cast<const __m256i*>(a.shift + o)),
                          zero_point, lo, hi));
        }
        int8_t* y = a.y + (j + p) * a.y_stride + o0;
        for (size_t f = 0; f < n; ++f) y[f] = static_cast<int8_t>(out[f]);
      }
    }
  }
}

const Qs8PatConvUkernel kKernel = {
    &Kernel, "qs8_conv3x3_pattern_minmax_16x16__avx2", Isa::kAvx2, 0, true, 16};

}  // namespace

const Qs8PatConvUkernel& Qs8PatConvUkernelAvx2() { return kKernel; }

}  // namespace tf_sparse
