// AVX-512 VNNI pattern conv kernel: 16 filters per vector, 16 pixel
// accumulators; every entry is one 64-byte weight load and, per pixel, one
// broadcast of the pixel's 4 tap bytes and one vpdpbusd (x as uint8, input
// offset 128). Tiles of 64 pixels, so that the gathering unpacks run on
// full 512-bit registers; the blocks then go over 16-pixel sub-tiles (the
// last one rounded up to 4, 8 or 12 pixels).
#include <immintrin.h>

#include "cc/kernels/qs8_conv3x3_pattern_ukernel.h"

namespace tf_sparse {
namespace {

// requantize.h's RequantizeToInt8 on 16 lanes, bit for bit: the same
// sequence as the VNNI BSR kernel's (qs8_bsr_avx512vnni.cc).
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
  const __m512i mask =
      _mm512_sub_epi32(_mm512_sllv_epi32(_mm512_set1_epi32(1), right),
                       _mm512_set1_epi32(1));
  const __m512i remainder = _mm512_and_si512(high, mask);
  const __m512i threshold = _mm512_srli_epi32(mask, 1);
  __m512i v = _mm512_srav_epi32(high, right);
  v = _mm512_mask_add_epi32(v, _mm512_cmpgt_epi32_mask(remainder, threshold),
                            v, _mm512_set1_epi32(1));
  v = _mm512_min_epi32(_mm512_max_epi32(v, _mm512_set1_epi32(-512)),
                       _mm512_set1_epi32(512));
  v = _mm512_add_epi32(v, zero_point);
  v = _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);
  return _mm512_cvtepi32_epi8(v);
}

constexpr int kTile = 64;

// Slot s: 4 tap rows of 64 bytes interleaved into 64 words by two rounds of
// in-lane unpacks (a 4 x 16 byte transpose per 128-bit lane). Register k
// of the result holds, in lane L, pixels 16 L + 4 k .. 16 L + 4 k + 3; it
// is stored at xbuf + 256 s + 64 k, so pixel 16 L + j sits at byte
// 256 s + 64 (j / 4) + 16 L + 4 (j % 4).
inline void GatherSlots(const Qs8PatConvArgs& a) {
  for (size_t s = 0; s < a.num_slots; ++s) {
    const int8_t* xc =
        a.x + static_cast<size_t>(a.slot_channel[s]) * a.channel_stride;
    const uint8_t* t = a.slot_taps + 4 * s;
    const __m512i r0 = _mm512_loadu_si512(xc + a.tap_offset[t[0]]);
    const __m512i r1 = _mm512_loadu_si512(xc + a.tap_offset[t[1]]);
    const __m512i r2 = _mm512_loadu_si512(xc + a.tap_offset[t[2]]);
    const __m512i r3 = _mm512_loadu_si512(xc + a.tap_offset[t[3]]);
    const __m512i lo01 = _mm512_unpacklo_epi8(r0, r1);
    const __m512i hi01 = _mm512_unpackhi_epi8(r0, r1);
    const __m512i lo23 = _mm512_unpacklo_epi8(r2, r3);
    const __m512i hi23 = _mm512_unpackhi_epi8(r2, r3);
    int8_t* dst = a.xbuf + 256 * s;
    _mm512_store_si512(dst + 0, _mm512_unpacklo_epi16(lo01, lo23));
    _mm512_store_si512(dst + 64, _mm512_unpackhi_epi16(lo01, lo23));
    _mm512_store_si512(dst + 128, _mm512_unpacklo_epi16(hi01, hi23));
    _mm512_store_si512(dst + 192, _mm512_unpackhi_epi16(hi01, hi23));
  }
}

// Block b's filters for the P (16 or 8) pixels of sub-tile L.
template <int P>
inline void SubTile(const Qs8PatConvArgs& a, size_t b, size_t lane,
                    size_t pixels, __m512i zero_point, __m512i lo,
                    __m512i hi) {
  const size_t o0 = b * kQs8PatBlockFilters;
  const __m512i bias = _mm512_loadu_si512(a.bias + o0);
  __m512i acc[P];
#pragma GCC unroll 16
  for (int j = 0; j < P; ++j) acc[j] = bias;
  const int8_t* xl = a.xbuf + 16 * lane;
  const int32_t e1 = a.entry_ptr[b + 1];
  for (int32_t e = a.entry_ptr[b]; e < e1; ++e) {
    const int8_t* xs = xl + static_cast<size_t>(a.entry_slot[e]) * 256;
    const __m512i w =
        _mm512_load_si512(a.weights + static_cast<size_t>(e) * 64);
#pragma GCC unroll 16
    for (int j = 0; j < P; ++j) {
      int32_t word;
      __builtin_memcpy(&word, xs + 64 * (j / 4) + 4 * (j % 4), 4);
      acc[j] = _mm512_dpbusd_epi32(acc[j], _mm512_set1_epi32(word), w);
    }
  }
  const __m512i multiplier = _mm512_loadu_si512(a.multiplier + o0);
  const __m512i shift = _mm512_loadu_si512(a.shift + o0);
  const size_t n = a.out_c - o0 < 16 ? a.out_c - o0 : 16;
  const __mmask16 m = static_cast<__mmask16>((1u << n) - 1);
  int8_t* y = a.y + 16 * lane * a.y_stride + o0;
#pragma GCC unroll 16
  for (int j = 0; j < P; ++j) {
    if (static_cast<size_t>(j) >= pixels) break;
    _mm_mask_storeu_epi8(
        y + j * a.y_stride, m,
        Requantize16(acc[j], multiplier, shift, zero_point, lo, hi));
  }
}

void Kernel(const Qs8PatConvArgs& a) {
  GatherSlots(a);
  const __m512i zero_point = _mm512_set1_epi32(a.output_zero_point);
  const __m512i lo = _mm512_set1_epi32(a.output_min);
  const __m512i hi = _mm512_set1_epi32(a.output_max);
  for (size_t b = 0; b < a.num_blocks; ++b) {
    for (size_t lane = 0; 16 * lane < a.num_pixels; ++lane) {
      const size_t pixels = a.num_pixels - 16 * lane;
      if (pixels > 12) {
        SubTile<16>(a, b, lane, pixels, zero_point, lo, hi);
      } else if (pixels > 8) {
        SubTile<12>(a, b, lane, pixels, zero_point, lo, hi);
      } else if (pixels > 4) {
        SubTile<8>(a, b, lane, pixels, zero_point, lo, hi);
      } else {
        SubTile<4>(a, b, lane, pixels, zero_point, lo, hi);
      }
    }
  }
}

const Qs8PatConvUkernel kKernel = {
    &Kernel, "qs8_conv3x3_pattern_minmax_64x16__avx512vnni", Isa::kAvx512,
    128, false, kTile};

}  // namespace

const Qs8PatConvUkernel& Qs8PatConvUkernelAvx512Vnni() { return kKernel; }

}  // namespace tf_sparse
