// AVX-512 VNNI int8 pixel-vector 1x1 kernel: 16 pixels x 4 input channels
// per 64-byte vector of X (x + 128 as uint8), one vpdpbusd per kept group
// and vector of pixels, its 4 weights broadcast as a 32-bit word.
// Accumulators: tile / 16 pixel vectors times C output channels at once
// (8 independent chains: vpdpbusd's latency is hidden), started at the
// bias, the C channels' group lists walked together up to the shortest;
// when the C channels keep the same groups (filter-block pruning), each
// vector of X is loaded once for all of them.
// Each channel's sums are requantized in registers (requantize.h's float
// shortcut, 6 vector instructions per 16 outputs where the exact integer
// steps take about 25; the integer path for vectors near a tie) and kept
// as [16][tile] int32 per block of 16 channels, which packs and shuffles
// turn into NHWC bytes (StoreBlock).
#include <immintrin.h>

#include <cstdint>

#include "cc/kernels/qs8_conv_pixvec_ukernel.h"
#include "cc/kernels/requantize_avx512.h"

namespace tf_sparse {
namespace {

// r[i] (row i, 16 words) becomes column i.
inline void Transpose16(__m512i r[16]) {
  __m512i t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    r[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    r[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    r[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    r[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  // r[4i + k], 128-bit lane L: rows 4i .. 4i + 3 of column 4L + k.
  for (int k = 0; k < 4; ++k) {
    t[k] = _mm512_shuffle_i32x4(r[k], r[4 + k], 0x44);
    t[4 + k] = _mm512_shuffle_i32x4(r[k], r[4 + k], 0xEE);
    t[8 + k] = _mm512_shuffle_i32x4(r[8 + k], r[12 + k], 0x44);
    t[12 + k] = _mm512_shuffle_i32x4(r[8 + k], r[12 + k], 0xEE);
  }
  for (int k = 0; k < 4; ++k) {
    r[k] = _mm512_shuffle_i32x4(t[k], t[8 + k], 0x88);
    r[4 + k] = _mm512_shuffle_i32x4(t[k], t[8 + k], 0xDD);
    r[8 + k] = _mm512_shuffle_i32x4(t[4 + k], t[12 + k], 0x88);
    r[12 + k] = _mm512_shuffle_i32x4(t[4 + k], t[12 + k], 0xDD);
  }
}

// 16 pixels x 16 groups per step: 64-byte rows (masked at the channel
// tail, zeros past `in`) transposed as 16 x 16 words.
void Pack(const int8_t* x, const int32_t* pixel_offset, int pixels, int in,
          size_t tile, int8_t* X) {
  const int groups = (in + 3) / 4;
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int p0 = 0; p0 < pixels; p0 += 16) {
    const int np = pixels - p0 < 16 ? pixels - p0 : 16;
    for (int g0 = 0; g0 < groups; g0 += 16) {
      const int bytes = in - 4 * g0 < 64 ? in - 4 * g0 : 64;
      const __mmask64 m =
          bytes == 64 ? ~__mmask64{0} : (__mmask64{1} << bytes) - 1;
      __m512i r[16];
      for (int i = 0; i < 16; ++i) {
        r[i] = i < np ? _mm512_maskz_loadu_epi8(
                            m, x + pixel_offset[p0 + i] + 4 * g0)
                      : _mm512_setzero_si512();
      }
      Transpose16(r);
      const int ng = groups - g0 < 16 ? groups - g0 : 16;
      for (int j = 0; j < ng; ++j) {
        _mm512_store_si512(X + ((static_cast<size_t>(g0) + j) * tile + p0) * 4,
                           _mm512_xor_si512(r[j], flip));
      }
    }
  }
}

// acc + dot(x as uint8, w as int8), computed in place (GCC 12 copies the
// accumulator of _mm512_dpbusd_epi32 through another register). By value:
// a reference would make the accumulator arrays addressable (kept in
// memory).
inline __m512i Dpbusd(__m512i acc, __m512i x, __m512i w) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(x), "v"(w));
  return acc;
}

struct Output {
  __m512i zero_point, lo, hi;
  __m512 zero_point_f;
};

// One channel's 16 pixel sums (bias included) to int32 outputs, exact
// where in [lo, hi] (the caller clamps): requantize.h's float shortcut, z
// = acc * scale + zero point rounded to nearest (vreduceps gives z -
// round(z)), and the integer path for the vectors where some lane is near
// a tie. The shortcut is taken only for scales below 1/2 (tie_limit is
// negative otherwise), so |z| < 2^30 and the conversion cannot overflow.
inline __m512i Requantize(__m512i acc, const Qs8PixvecTileArgs& a, int o,
                          const Output& out) {
  // Rounding to nearest fixed in the instructions, whatever MXCSR holds.
  constexpr int kNearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  const __m512 z = _mm512_fmadd_round_ps(
      _mm512_cvt_roundepi32_ps(acc, kNearest),
      _mm512_set1_ps(a.fast[o].scale), out.zero_point_f, kNearest);
  const __m512 d = _mm512_abs_ps(
      _mm512_reduce_ps(z, kNearest));
  if (_mm512_cmp_ps_mask(d, _mm512_set1_ps(a.fast[o].tie_limit),
                         _CMP_GE_OQ) != 0) {
    return Requantize16ToInt32(acc, _mm512_set1_epi32(a.multiplier[o]),
                               _mm512_set1_epi32(a.shift[o]), out.zero_point,
                               out.lo, out.hi);
  }
  return _mm512_cvt_roundps_epi32(z, kNearest);
}

// Channels o .. o + C - 1 over all tile pixels: requantized int32 outputs
// to q ([C][tile]).
template <int V, int C>
inline void Channels(const Qs8PixvecTileArgs& a, int o, const Output& out,
                     int32_t* q) {
  __m512i s[C][V];
  int32_t k[C];
  int32_t n = 0x7fffffff;
  for (int c = 0; c < C; ++c) {
    const __m512i bias = _mm512_set1_epi32(a.bias[o + c]);
    for (int v = 0; v < V; ++v) s[c][v] = bias;
    k[c] = a.group_ptr[o + c];
    const int32_t len = a.group_ptr[o + c + 1] - k[c];
    n = len < n ? len : n;
  }
  if (C > 1 && a.run[o] >= C) {
    // The same groups (filter blocks): each vector of X feeds C channels.
    for (int32_t i = 0; i < n; ++i) {
      const int8_t* xg = a.x + a.offset[k[0] + i];
      __m512i xv[V];
      for (int v = 0; v < V; ++v) xv[v] = _mm512_load_si512(xg + 64 * v);
      for (int c = 0; c < C; ++c) {
        const __m512i w = _mm512_set1_epi32(a.weights[k[c] + i]);
        for (int v = 0; v < V; ++v) s[c][v] = Dpbusd(s[c][v], xv[v], w);
      }
    }
  } else {
    for (int32_t i = 0; i < n; ++i) {
      for (int c = 0; c < C; ++c) {
        const int32_t j = k[c] + i;
        const int8_t* xg = a.x + a.offset[j];
        const __m512i w = _mm512_set1_epi32(a.weights[j]);
        for (int v = 0; v < V; ++v) {
          s[c][v] = Dpbusd(s[c][v], _mm512_load_si512(xg + 64 * v), w);
        }
      }
    }
  }
  for (int c = 0; c < C; ++c) {
    for (int32_t j = k[c] + n; j < a.group_ptr[o + c + 1]; ++j) {
      const int8_t* xg = a.x + a.offset[j];
      const __m512i w = _mm512_set1_epi32(a.weights[j]);
      for (int v = 0; v < V; ++v) {
        s[c][v] = Dpbusd(s[c][v], _mm512_load_si512(xg + 64 * v), w);
      }
    }
    for (int v = 0; v < V; ++v) {
      _mm512_store_si512(q + c * a.tile + 16 * v,
                         Requantize(s[c][v], a, o + c, out));
    }
  }
}

// 16 channels x 16 pixels of int32 outputs (rows[c] + p) to NHWC bytes,
// clamped to [lo, hi] (8-bit): saturating packs leave, per 4 channels
// 4a..4a+3, 128-bit lane
// m = pixels 4m..4m+3 with one 32-bit word per channel; a byte shuffle
// makes each word one pixel's 4 channels, and two stages of two-source
// word permutations gather each 4 pixels' 4 channel quads, pixel-major;
// each pixel's 16 bytes are one store.
inline void StoreBlock(const int32_t* q, size_t tile, int p0, int pixels,
                       __m512i lo, __m512i hi, __mmask16 channel_mask,
                       int8_t* y, size_t y_stride) {
  const __m512i byte_t = _mm512_broadcast_i32x4(_mm_setr_epi8(
      0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
  // Two-source word permutations: stage A takes pixels 0-7 (lo) or 8-15
  // (hi) of two channel quads, stage B one pixel quad of all four.
  const __m512i a_lo = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6,
                                         7, 20, 21, 22, 23);
  const __m512i a_hi = _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12,
                                         13, 14, 15, 28, 29, 30, 31);
  const __m512i b_even = _mm512_setr_epi32(0, 4, 16, 20, 1, 5, 17, 21, 2, 6,
                                           18, 22, 3, 7, 19, 23);
  const __m512i b_odd = _mm512_setr_epi32(8, 12, 24, 28, 9, 13, 25, 29, 10,
                                          14, 26, 30, 11, 15, 27, 31);
  __m512i z[4];
  for (int g = 0; g < 4; ++g) {
    const int32_t* r = q + static_cast<size_t>(4 * g) * tile + p0;
    const __m512i p01 = _mm512_packs_epi32(_mm512_load_si512(r),
                                           _mm512_load_si512(r + tile));
    const __m512i p23 = _mm512_packs_epi32(_mm512_load_si512(r + 2 * tile),
                                           _mm512_load_si512(r + 3 * tile));
    const __m512i b = _mm512_min_epi8(
        _mm512_max_epi8(_mm512_packs_epi16(p01, p23), lo), hi);
    z[g] = _mm512_shuffle_epi8(b, byte_t);
  }
  const __m512i p01_lo = _mm512_permutex2var_epi32(z[0], a_lo, z[1]);
  const __m512i p01_hi = _mm512_permutex2var_epi32(z[0], a_hi, z[1]);
  const __m512i p23_lo = _mm512_permutex2var_epi32(z[2], a_lo, z[3]);
  const __m512i p23_hi = _mm512_permutex2var_epi32(z[2], a_hi, z[3]);
  const __m512i rows[4] = {_mm512_permutex2var_epi32(p01_lo, b_even, p23_lo),
                           _mm512_permutex2var_epi32(p01_lo, b_odd, p23_lo),
                           _mm512_permutex2var_epi32(p01_hi, b_even, p23_hi),
                           _mm512_permutex2var_epi32(p01_hi, b_odd, p23_hi)};
  for (int m = 0; m < 4 && 4 * m < pixels; ++m) {
    const __m512i r = rows[m];
    // 128-bit lane n holds pixel 4m + n.
    const __m128i lane[4] = {_mm512_castsi512_si128(r),
                             _mm512_extracti32x4_epi32(r, 1),
                             _mm512_extracti32x4_epi32(r, 2),
                             _mm512_extracti32x4_epi32(r, 3)};
    const int n_end = pixels - 4 * m < 4 ? pixels - 4 * m : 4;
    int8_t* dst = y + static_cast<size_t>(4 * m) * y_stride;
    if (channel_mask == 0xFFFF) {
      for (int n = 0; n < n_end; ++n) {
        _mm_storeu_si128(
            reinterpret_cast<__m128i*>(dst + static_cast<size_t>(n) * y_stride),
            lane[n]);
      }
    } else {
      for (int n = 0; n < n_end; ++n) {
        _mm_mask_storeu_epi8(dst + static_cast<size_t>(n) * y_stride,
                             channel_mask, lane[n]);
      }
    }
  }
}

template <int V>
void TileV(const Qs8PixvecTileArgs& a) {
  // 8 accumulators per channel walk, 16 when the channels share their
  // groups (vpdpbusd's latency of about 5 cycles at 2 a cycle needs 10
  // chains; separate lists leave too little common length for 16).
  constexpr int C = 8 / V;
  constexpr int CS = 16 / V;
  Output out;
  out.zero_point = _mm512_set1_epi32(a.output_zero_point);
  out.lo = _mm512_set1_epi32(a.output_min);
  out.hi = _mm512_set1_epi32(a.output_max);
  out.zero_point_f = _mm512_set1_ps(static_cast<float>(a.output_zero_point));
  const __m512i lo8 = _mm512_set1_epi8(static_cast<char>(a.output_min));
  const __m512i hi8 = _mm512_set1_epi8(static_cast<char>(a.output_max));
  for (int o0 = 0; o0 < a.channels; o0 += 16) {
    const int nc = a.channels - o0 < 16 ? a.channels - o0 : 16;
    int c = 0;
    while (c + C <= nc) {
      int32_t* q = a.acc + static_cast<size_t>(c) * a.tile;
      if (c + CS <= nc && a.run[o0 + c] >= CS) {
        Channels<V, CS>(a, o0 + c, out, q);
        c += CS;
      } else {
        Channels<V, C>(a, o0 + c, out, q);
        c += C;
      }
    }
    for (; c < nc; ++c) {
      Channels<V, 1>(a, o0 + c, out, a.acc + static_cast<size_t>(c) * a.tile);
    }
    // Rows past nc hold stale values: their bytes are never stored.
    const __mmask16 channel_mask = static_cast<__mmask16>((1u << nc) - 1);
    for (int p0 = 0; p0 < a.pixels; p0 += 16) {
      StoreBlock(a.acc, a.tile, p0, a.pixels - p0, lo8, hi8, channel_mask,
                 a.y + static_cast<size_t>(p0) * a.y_stride + o0, a.y_stride);
    }
  }
}

// Vectors of 16 pixels per channel: the tile's, or fewer for a last tile
// with fewer valid pixels (X keeps the tile's layout).
void Tile(const Qs8PixvecTileArgs& a) {
  const size_t needed = (static_cast<size_t>(a.pixels) + 15) / 16;
  const size_t vectors = needed < a.tile / 16 ? needed : a.tile / 16;
  if (vectors <= 1) {
    TileV<1>(a);
  } else if (vectors <= 2) {
    TileV<2>(a);
  } else {
    TileV<4>(a);
  }
}

const Qs8PixvecUkernel kKernel = {
    "qs8_conv1x1_pixvec_minmax__avx512vnni", Isa::kAvx512, 16, 16, 1, 128,
    &Tile, &Pack};

}  // namespace

const Qs8PixvecUkernel& Qs8PixvecUkernelAvx512Vnni() { return kKernel; }

}  // namespace tf_sparse
