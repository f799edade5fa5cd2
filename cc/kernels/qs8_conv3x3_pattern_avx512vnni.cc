// AVX-512 VNNI pattern conv kernel: 16 filters per vector, 16 pixel
// accumulators; every entry is one 64-byte weight load and, per pixel, one
// broadcast of the pixel's 4 tap bytes and one vpdpbusd (x as uint8, input
// offset 128). Tiles of 64 pixels, so that the gathering unpacks run on
// full 512-bit registers; the blocks then go over 16-pixel sub-tiles (the
// last one rounded up to 4, 8 or 12 pixels).
#include <immintrin.h>

#include "cc/kernels/qs8_conv3x3_pattern_ukernel.h"
#include "cc/kernels/qs8_conv3x3_requantize_avx512.h"

namespace tf_sparse {
namespace {

constexpr int kTile = 64;

// Slot s: 4 tap rows of 64 bytes interleaved into 64 words by two rounds of
// in-lane unpacks (a 4 x 16 byte transpose per 128-bit lane). Register k
// of the result holds, in lane L, pixels 16 L + 4 k .. 16 L + 4 k + 3; it
// is stored at xbuf + 256 s + 64 k, so pixel 16 L + j sits at byte
// 256 s + 64 (j / 4) + 16 L + 4 (j % 4). Tiles of at most 32 (16) pixels
// take the same steps on 256-bit (128-bit) registers, into the same
// places.
template <typename V, V (*Load)(const void*), void (*Store)(void*, V),
          V (*Lo8)(V, V), V (*Hi8)(V, V), V (*Lo16)(V, V), V (*Hi16)(V, V)>
inline void GatherSlots(const Qs8PatConvArgs& a) {
  for (size_t s = 0; s < a.num_slots; ++s) {
    const int8_t* xc =
        a.x + static_cast<size_t>(a.slot_channel[s]) * a.channel_stride;
    const uint8_t* t = a.slot_taps + 4 * s;
    const V r0 = Load(xc + a.tap_offset[t[0]]);
    const V r1 = Load(xc + a.tap_offset[t[1]]);
    const V r2 = Load(xc + a.tap_offset[t[2]]);
    const V r3 = Load(xc + a.tap_offset[t[3]]);
    const V lo01 = Lo8(r0, r1);
    const V hi01 = Hi8(r0, r1);
    const V lo23 = Lo8(r2, r3);
    const V hi23 = Hi8(r2, r3);
    int8_t* dst = a.xbuf + 256 * s;
    Store(dst + 0, Lo16(lo01, lo23));
    Store(dst + 64, Hi16(lo01, lo23));
    Store(dst + 128, Lo16(hi01, hi23));
    Store(dst + 192, Hi16(hi01, hi23));
  }
}

inline __m512i Load512(const void* p) { return _mm512_loadu_si512(p); }
inline void Store512(void* p, __m512i v) { _mm512_store_si512(p, v); }
inline __m512i Lo8x512(__m512i a, __m512i b) { return _mm512_unpacklo_epi8(a, b); }
inline __m512i Hi8x512(__m512i a, __m512i b) { return _mm512_unpackhi_epi8(a, b); }
inline __m512i Lo16x512(__m512i a, __m512i b) { return _mm512_unpacklo_epi16(a, b); }
inline __m512i Hi16x512(__m512i a, __m512i b) { return _mm512_unpackhi_epi16(a, b); }
inline __m256i Load256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}
inline void Store256(void* p, __m256i v) {
  _mm256_store_si256(static_cast<__m256i*>(p), v);
}
inline __m256i Lo8x256(__m256i a, __m256i b) { return _mm256_unpacklo_epi8(a, b); }
inline __m256i Hi8x256(__m256i a, __m256i b) { return _mm256_unpackhi_epi8(a, b); }
inline __m256i Lo16x256(__m256i a, __m256i b) { return _mm256_unpacklo_epi16(a, b); }
inline __m256i Hi16x256(__m256i a, __m256i b) { return _mm256_unpackhi_epi16(a, b); }
inline __m128i Load128(const void* p) {
  return _mm_loadu_si128(static_cast<const __m128i*>(p));
}
inline void Store128(void* p, __m128i v) {
  _mm_store_si128(static_cast<__m128i*>(p), v);
}
inline __m128i Lo8x128(__m128i a, __m128i b) { return _mm_unpacklo_epi8(a, b); }
inline __m128i Hi8x128(__m128i a, __m128i b) { return _mm_unpackhi_epi8(a, b); }
inline __m128i Lo16x128(__m128i a, __m128i b) { return _mm_unpacklo_epi16(a, b); }
inline __m128i Hi16x128(__m128i a, __m128i b) { return _mm_unpackhi_epi16(a, b); }

// Block b's filters for the P (16 or 8) pixels of sub-tile L.
template <int P>
inline void SubTile(const Qs8PatConvArgs& a, size_t b, size_t lane,
                    size_t pixels) {
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
  const Qs8Requantize16 requantize(a.multiplier + o0, a.shift + o0,
                                   a.output_zero_point, a.output_min,
                                   a.output_max);
  const size_t n = a.out_c - o0 < 16 ? a.out_c - o0 : 16;
  const __mmask16 m = static_cast<__mmask16>((1u << n) - 1);
  int8_t* y = a.y + 16 * lane * a.y_stride + o0;
#pragma GCC unroll 16
  for (int j = 0; j < P; ++j) {
    if (static_cast<size_t>(j) >= pixels) break;
    _mm_mask_storeu_epi8(y + j * a.y_stride, m, requantize(acc[j]));
  }
}

void Kernel(const Qs8PatConvArgs& a) {
  if (a.num_pixels > 32) {
    GatherSlots<__m512i, Load512, Store512, Lo8x512, Hi8x512, Lo16x512,
                Hi16x512>(a);
  } else if (a.num_pixels > 16) {
    GatherSlots<__m256i, Load256, Store256, Lo8x256, Hi8x256, Lo16x256,
                Hi16x256>(a);
  } else {
    GatherSlots<__m128i, Load128, Store128, Lo8x128, Hi8x128, Lo16x128,
                Hi16x128>(a);
  }
  for (size_t b = 0; b < a.num_blocks; ++b) {
    for (size_t lane = 0; 16 * lane < a.num_pixels; ++lane) {
      const size_t pixels = a.num_pixels - 16 * lane;
      if (pixels > 12) {
        SubTile<16>(a, b, lane, pixels);
      } else if (pixels > 8) {
        SubTile<12>(a, b, lane, pixels);
      } else if (pixels > 4) {
        SubTile<8>(a, b, lane, pixels);
      } else {
        SubTile<4>(a, b, lane, pixels);
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
