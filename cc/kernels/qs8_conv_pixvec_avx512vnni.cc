// AVX-512 VNNI int8 pixel-vector 1x1 kernel: 16 pixels x 4 input channels
// per 64-byte vector of X (x + 128 as uint8), one vpdpbusd per kept group
// and vector of pixels, its 4 weights broadcast as a 32-bit word.
// Accumulators: tile / 16 pixel vectors times C output channels at once
// (8 independent chains: vpdpbusd's latency is hidden), the C channels'
// group lists walked together up to the shortest. Each block of 16 output
// channels is stored as [16][tile] int32, transposed 16 x 16 in registers
// and requantized one pixel (16 channels, per-channel multipliers in the
// lanes) per vector.
#include <immintrin.h>

#include "cc/kernels/qs8_conv_pixvec_ukernel.h"
#include "cc/kernels/qs8_requantize_avx512.h"

namespace tf_sparse {
namespace {

// r[i] (row i, 16 dwords) becomes column i.
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

// Channels o .. o + C - 1 over all tile pixels into acc ([C][tile]).
template <int V, int C>
inline void Channels(const Qs8PixvecTileArgs& a, int o, int32_t* acc) {
  const size_t row_bytes = a.tile * 4;
  __m512i s[C][V];
  int32_t k[C];
  int32_t n = 0x7fffffff;
  for (int c = 0; c < C; ++c) {
    for (int v = 0; v < V; ++v) s[c][v] = _mm512_setzero_si512();
    k[c] = a.group_ptr[o + c];
    const int32_t len = a.group_ptr[o + c + 1] - k[c];
    n = len < n ? len : n;
  }
  for (int32_t i = 0; i < n; ++i) {
    for (int c = 0; c < C; ++c) {
      const int32_t j = k[c] + i;
      const int8_t* xg = a.x + static_cast<size_t>(a.group[j]) * row_bytes;
      const __m512i w = _mm512_set1_epi32(a.weights[j]);
      for (int v = 0; v < V; ++v) {
        s[c][v] = _mm512_dpbusd_epi32(s[c][v],
                                      _mm512_load_si512(xg + 64 * v), w);
      }
    }
  }
  for (int c = 0; c < C; ++c) {
    for (int32_t j = k[c] + n; j < a.group_ptr[o + c + 1]; ++j) {
      const int8_t* xg = a.x + static_cast<size_t>(a.group[j]) * row_bytes;
      const __m512i w = _mm512_set1_epi32(a.weights[j]);
      for (int v = 0; v < V; ++v) {
        s[c][v] = _mm512_dpbusd_epi32(s[c][v],
                                      _mm512_load_si512(xg + 64 * v), w);
      }
    }
    for (int v = 0; v < V; ++v) {
      _mm512_store_si512(acc + c * a.tile + 16 * v, s[c][v]);
    }
  }
}

template <int V>
void TileV(const Qs8PixvecTileArgs& a) {
  constexpr int C = 8 / V;
  const __m512i zero_point = _mm512_set1_epi32(a.output_zero_point);
  const __m512i lo = _mm512_set1_epi32(a.output_min);
  const __m512i hi = _mm512_set1_epi32(a.output_max);
  for (int o0 = 0; o0 < a.channels; o0 += 16) {
    const int nc = a.channels - o0 < 16 ? a.channels - o0 : 16;
    int c = 0;
    for (; c + C <= nc; c += C) {
      Channels<V, C>(a, o0 + c, a.acc + static_cast<size_t>(c) * a.tile);
    }
    for (; c < nc; ++c) {
      Channels<V, 1>(a, o0 + c, a.acc + static_cast<size_t>(c) * a.tile);
    }
    const __mmask16 cm = static_cast<__mmask16>((1u << nc) - 1);
    const __m512i bias = _mm512_maskz_loadu_epi32(cm, a.bias + o0);
    const __m512i multiplier = _mm512_maskz_loadu_epi32(cm, a.multiplier + o0);
    const __m512i shift = _mm512_maskz_loadu_epi32(cm, a.shift + o0);
    for (int p0 = 0; p0 < a.pixels; p0 += 16) {
      __m512i r[16];
      // Rows past nc hold stale sums: their lanes are never stored.
      for (int j = 0; j < 16; ++j) {
        r[j] = _mm512_load_si512(a.acc + j * a.tile + p0);
      }
      Transpose16(r);
      const int np = a.pixels - p0 < 16 ? a.pixels - p0 : 16;
      int8_t* y = a.y + static_cast<size_t>(p0) * a.y_stride + o0;
      for (int p = 0; p < np; ++p) {
        _mm_mask_storeu_epi8(
            y + static_cast<size_t>(p) * a.y_stride, cm,
            Requantize16(_mm512_add_epi32(r[p], bias), multiplier, shift,
                         zero_point, lo, hi));
      }
    }
  }
}

void Tile(const Qs8PixvecTileArgs& a) {
  switch (a.tile / 16) {
    case 1:
      TileV<1>(a);
      break;
    case 2:
      TileV<2>(a);
      break;
    default:
      TileV<4>(a);
      break;
  }
}

const Qs8PixvecUkernel kKernel = {
    "qs8_conv1x1_pixvec_minmax__avx512vnni", Isa::kAvx512, 16, 16, 1, 128,
    &Tile, &Pack};

}  // namespace

const Qs8PixvecUkernel& Qs8PixvecUkernelAvx512Vnni() { return kKernel; }

}  // namespace tf_sparse
