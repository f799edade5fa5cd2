// AVX-512 VNNI pattern conv kernel (x as uint8, input offset 128). Tiles of
// up to 64 pixels, gathered with 512-bit (or, for 32 or 16 pixels, 256- or
// 128-bit) unpacks. Then per block of 16 filters and 16-pixel sub-tile the
// vector lanes are pixels and the 16 accumulators the filters: an entry
// costs one 64-byte load of its slot's pixels and 16 vpdpbusd, each taking
// one filter's 4 weights as a broadcast memory operand (one fused uop).
// Putting pixels in lanes halves the instructions per vpdpbusd against
// filters in lanes (one broadcast of x per vpdpbusd), at the price of a
// transpose of the 16 x 16 outputs per block and sub-tile.
#include <immintrin.h>

#include "cc/kernels/qs8_conv3x3_pattern_ukernel.h"

namespace tf_sparse {
namespace {

constexpr int kTile = 64;

// Slot s: 4 tap rows of 16 nl bytes (nl = 4, 2 or 1 lanes of 128 bits:
// 64, 32 or 16 pixels) interleaved into words by two rounds of in-lane
// unpacks (a 4 x 16 byte transpose per lane). Register k of the result
// holds, in lane L, pixels 16 L + 4 k + (0..3); it is stored at
// xbuf + 256 s + 16 nl k. So the 16-byte chunk q of a slot holds pixels
// 16 (q % nl) + 4 (q / nl) + (0..3), and sub-tile v is chunks 4 v .. 4 v + 3
// (one 512-bit load).
template <typename V, V (*Load)(const void*), void (*Store)(void*, V),
          V (*Lo8)(V, V), V (*Hi8)(V, V), V (*Lo16)(V, V), V (*Hi16)(V, V)>
inline void GatherSlot(const Qs8PatConvArgs& a, size_t s) {
  constexpr size_t kBytes = sizeof(V);
  {
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
    Store(dst + 0 * kBytes, Lo16(lo01, lo23));
    Store(dst + 1 * kBytes, Hi16(lo01, lo23));
    Store(dst + 2 * kBytes, Lo16(hi01, hi23));
    Store(dst + 3 * kBytes, Hi16(hi01, hi23));
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

// The requantization constants of 16 filters, each broadcast from here.
struct FilterConstants {
  int64_t multiplier[16];
  int64_t nudge[16];
  int64_t shift[16];  // 31 + right shift.
  int32_t left[16];
  bool any_left;  // Some multiplier >= 1 (a left shift).
};

inline void PrepareConstants(const Qs8PatConvArgs& a, size_t o0,
                             FilterConstants* k) {
  k->any_left = false;
  for (int f = 0; f < 16; ++f) {
    const int32_t shift = a.shift[o0 + f];
    k->any_left |= shift > 0;
    const int32_t right = shift < 0 ? -shift : 0;
    k->left[f] = shift > 0 ? shift : 0;
    k->multiplier[f] = a.multiplier[o0 + f];
    k->nudge[f] = (int64_t{1} << 30) +
                  (right > 0 ? int64_t{1} << (30 + right) : 0);
    k->shift[f] = 31 + right;
  }
}

// One filter's 16 pixels: requantize.h's RequantizeToInt8 in the single
// 64-bit rounding of qs8_conv3x3_requantize_avx512.h (bit-exact), with the
// filter's constants broadcast; lo, hi are the clamp minus the zero point.
template <bool kLeft>
inline __m512i RequantizeFilter(__m512i acc, const FilterConstants& k, int f,
                                __m512i lo, __m512i hi, __m512i zp) {
  const __m512i m = _mm512_set1_epi64(k.multiplier[f]);
  const __m512i nudge = _mm512_set1_epi64(k.nudge[f]);
  const __m512i shift = _mm512_set1_epi64(k.shift[f]);
  const __m512i x =
      kLeft ? _mm512_sllv_epi32(acc, _mm512_set1_epi32(k.left[f])) : acc;
  const __m512i even =
      _mm512_srav_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, m), nudge), shift);
  const __m512i odd = _mm512_srav_epi64(
      _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), m), nudge),
      shift);
  const __m512i v =
      _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  return _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(v, lo), hi), zp);
}

template <int C>
inline void StoreChunk(const Qs8PatConvArgs& a, __m512i w, size_t base,
                       int8_t* y, __mmask16 m) {
  if (base < a.num_pixels) {
    _mm_mask_storeu_epi8(y + base * a.y_stride, m,
                         _mm512_extracti32x4_epi32(w, C));
  }
}

// Block b (filters o0 .. o0 + 15) on sub-tile v: lanes are 16 pixels, the
// 16 accumulators are the filters; every entry is one load of the slot's
// 64 bytes and, per filter, one vpdpbusd with its 4 weights broadcast from
// memory. The results go back to [pixel][filter] through packs, a 4 x 4
// byte transpose per word and a 4 x 4 word transpose per lane.
template <bool kLeft>
inline void SubTile(const Qs8PatConvArgs& a, size_t b, size_t v, size_t nl,
                    const FilterConstants& k) {
  const size_t o0 = b * kQs8PatBlockFilters;
  __m512i acc[16];
#pragma GCC unroll 16
  for (int f = 0; f < 16; ++f) acc[f] = _mm512_set1_epi32(a.bias[o0 + f]);
  const int8_t* xv = a.xbuf + 64 * v;
  const int32_t e1 = a.entry_ptr[b + 1];
  for (int32_t e = a.entry_ptr[b]; e < e1; ++e) {
    const __m512i x = _mm512_load_si512(
        xv + static_cast<size_t>(a.entry_slot[e]) * 256);
    const int8_t* w = a.weights + static_cast<size_t>(e) * 64;
    // GCC neither folds the broadcast into vpdpbusd nor keeps the 16
    // accumulators in place through the intrinsic: written out.
    __asm__(
        "vpdpbusd 0(%[w])%{1to16%}, %[x], %[a0]\n\t"
        "vpdpbusd 4(%[w])%{1to16%}, %[x], %[a1]\n\t"
        "vpdpbusd 8(%[w])%{1to16%}, %[x], %[a2]\n\t"
        "vpdpbusd 12(%[w])%{1to16%}, %[x], %[a3]\n\t"
        "vpdpbusd 16(%[w])%{1to16%}, %[x], %[a4]\n\t"
        "vpdpbusd 20(%[w])%{1to16%}, %[x], %[a5]\n\t"
        "vpdpbusd 24(%[w])%{1to16%}, %[x], %[a6]\n\t"
        "vpdpbusd 28(%[w])%{1to16%}, %[x], %[a7]\n\t"
        : [a0] "+v"(acc[0]), [a1] "+v"(acc[1]), [a2] "+v"(acc[2]),
          [a3] "+v"(acc[3]), [a4] "+v"(acc[4]), [a5] "+v"(acc[5]),
          [a6] "+v"(acc[6]), [a7] "+v"(acc[7])
        : [x] "v"(x), [w] "r"(w), "m"(*reinterpret_cast<const char(*)[64]>(w)));
    __asm__(
        "vpdpbusd 32(%[w])%{1to16%}, %[x], %[a8]\n\t"
        "vpdpbusd 36(%[w])%{1to16%}, %[x], %[a9]\n\t"
        "vpdpbusd 40(%[w])%{1to16%}, %[x], %[a10]\n\t"
        "vpdpbusd 44(%[w])%{1to16%}, %[x], %[a11]\n\t"
        "vpdpbusd 48(%[w])%{1to16%}, %[x], %[a12]\n\t"
        "vpdpbusd 52(%[w])%{1to16%}, %[x], %[a13]\n\t"
        "vpdpbusd 56(%[w])%{1to16%}, %[x], %[a14]\n\t"
        "vpdpbusd 60(%[w])%{1to16%}, %[x], %[a15]\n\t"
        : [a8] "+v"(acc[8]), [a9] "+v"(acc[9]), [a10] "+v"(acc[10]),
          [a11] "+v"(acc[11]), [a12] "+v"(acc[12]), [a13] "+v"(acc[13]),
          [a14] "+v"(acc[14]), [a15] "+v"(acc[15])
        : [x] "v"(x), [w] "r"(w), "m"(*reinterpret_cast<const char(*)[64]>(w)));
  }
  const __m512i lo = _mm512_set1_epi32(a.output_min - a.output_zero_point);
  const __m512i hi = _mm512_set1_epi32(a.output_max - a.output_zero_point);
  const __m512i zp = _mm512_set1_epi32(a.output_zero_point);
  // Outputs are in [-128, 127]: the saturating packs are exact.
  __m512i p16[8];
#pragma GCC unroll 8
  for (int f = 0; f < 8; ++f) {
    p16[f] = _mm512_packs_epi32(
        RequantizeFilter<kLeft>(acc[f], k, f, lo, hi, zp),
        RequantizeFilter<kLeft>(acc[f + 8], k, f + 8, lo, hi, zp));
  }
  // Per chunk, the packs leave filters f, f + 8, f + 4, f + 12 of pixels
  // 0..3 in 4-byte groups; after the 4 x 4 byte transpose word i of t[f]
  // holds those filters of pixel i.
  const __m512i bytes4x4 = _mm512_broadcast_i32x4(
      _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
  __m512i t[4];
#pragma GCC unroll 4
  for (int f = 0; f < 4; ++f) {
    t[f] = _mm512_shuffle_epi8(
        _mm512_packs_epi16(p16[f], p16[f + 4]), bytes4x4);
  }
  const __m512i u0 = _mm512_unpacklo_epi32(t[0], t[1]);
  const __m512i u1 = _mm512_unpackhi_epi32(t[0], t[1]);
  const __m512i u2 = _mm512_unpacklo_epi32(t[2], t[3]);
  const __m512i u3 = _mm512_unpackhi_epi32(t[2], t[3]);
  // Bytes of a pixel now in filter order 0 8 4 12 1 9 5 13 2 10 6 14 3 11
  // 7 15; back to 0..15.
  const __m512i order = _mm512_broadcast_i32x4(
      _mm_setr_epi8(0, 4, 8, 12, 2, 6, 10, 14, 1, 5, 9, 13, 3, 7, 11, 15));
  const __m512i w[4] = {
      _mm512_shuffle_epi8(_mm512_unpacklo_epi64(u0, u2), order),
      _mm512_shuffle_epi8(_mm512_unpackhi_epi64(u0, u2), order),
      _mm512_shuffle_epi8(_mm512_unpacklo_epi64(u1, u3), order),
      _mm512_shuffle_epi8(_mm512_unpackhi_epi64(u1, u3), order)};
  const size_t n = a.out_c - o0 < 16 ? a.out_c - o0 : 16;
  const __mmask16 m = static_cast<__mmask16>((1u << n) - 1);
  int8_t* y = a.y + o0;
  // Chunk c of the sub-tile is chunk q = 4 v + c of the slot (nl is 1, 2
  // or 4: shifts, not divisions).
  const size_t nl_log2 = nl >> 1;
  size_t base[4];
  for (size_t c = 0; c < 4; ++c) {
    const size_t q = 4 * v + c;
    base[c] = 16 * (q & (nl - 1)) + 4 * (q >> nl_log2);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    StoreChunk<0>(a, w[i], base[0] + i, y, m);
    StoreChunk<1>(a, w[i], base[1] + i, y, m);
    StoreChunk<2>(a, w[i], base[2] + i, y, m);
    StoreChunk<3>(a, w[i], base[3] + i, y, m);
  }
}

void GatherSlot(const Qs8PatConvArgs& a, size_t s, size_t nl) {
  if (nl == 4) {
    GatherSlot<__m512i, Load512, Store512, Lo8x512, Hi8x512, Lo16x512,
               Hi16x512>(a, s);
  } else if (nl == 2) {
    GatherSlot<__m256i, Load256, Store256, Lo8x256, Hi8x256, Lo16x256,
               Hi16x256>(a, s);
  } else {
    GatherSlot<__m128i, Load128, Store128, Lo8x128, Hi8x128, Lo16x128,
               Hi16x128>(a, s);
  }
}

// Slots are gathered when the first block that reads them comes, so that
// a block's inputs are still in L1 when its sub-tiles read them (most
// slots serve one block: gathering them all first would send them through
// L2 on wide layers).
void Kernel(const Qs8PatConvArgs& a) {
  const size_t nl = a.num_pixels > 32 ? 4 : (a.num_pixels > 16 ? 2 : 1);
  uint8_t* gathered = reinterpret_cast<uint8_t*>(a.xbuf) + a.num_slots * 256;
  __builtin_memset(gathered, 0, a.num_slots);
  FilterConstants k;
  for (size_t b = 0; b < a.num_blocks; ++b) {
    for (int32_t e = a.entry_ptr[b]; e < a.entry_ptr[b + 1]; ++e) {
      const size_t s = static_cast<size_t>(a.entry_slot[e]);
      if (!gathered[s]) {
        GatherSlot(a, s, nl);
        gathered[s] = 1;
      }
    }
    PrepareConstants(a, b * kQs8PatBlockFilters, &k);
    for (size_t v = 0; v < nl; ++v) {
      if (k.any_left) {
        SubTile<true>(a, b, v, nl, k);
      } else {
        SubTile<false>(a, b, v, nl, k);
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
