// AVX2 int8 pixel-vector 1x1 kernel: X holds int16 (sign-extended at pack),
// one 32-byte vector = 4 pixels x 4 input channels, multiplied by a kept
// group's 4 weights (int16, broadcast) with vpmaddwd, which leaves two pair
// sums per pixel; they are added pairwise (vphaddd) once per channel.
// Exact for every int8 pair (vpmaddubsw on x + 128 would saturate).
// Accumulators: tile / 8 pixel vectors (two registers each) times C output
// channels (8 registers). Blocks of 8 output channels are transposed 8 x 8
// and requantized one pixel per vector (per-channel scales in the lanes)
// through requantize.h's float shortcut (FMA and conversions in the
// default round-to-nearest mode of MXCSR), the integer steps near ties.
#include <immintrin.h>

#include <cstring>

#include "cc/kernels/qs8_conv_pixvec_ukernel.h"
#include "cc/kernels/requantize_avx2.h"

namespace tf_sparse {
namespace {

// 4 pixels x 4 groups per step: 16-byte rows transposed as 4 x 4 words,
// each group's 16 bytes widened to int16.
void Pack(const int8_t* x, const int32_t* pixel_offset, int pixels, int in,
          size_t tile, int8_t* X) {
  const int groups = (in + 3) / 4;
  int16_t* X16 = reinterpret_cast<int16_t*>(X);
  for (int p0 = 0; p0 < pixels; p0 += 4) {
    const int np = pixels - p0 < 4 ? pixels - p0 : 4;
    for (int g0 = 0; g0 < groups; g0 += 4) {
      const int bytes = in - 4 * g0 < 16 ? in - 4 * g0 : 16;
      __m128i r[4];
      for (int i = 0; i < 4; ++i) {
        if (i >= np) {
          r[i] = _mm_setzero_si128();
        } else if (bytes == 16) {
          r[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(
              x + pixel_offset[p0 + i] + 4 * g0));
        } else {
          alignas(16) int8_t buf[16] = {};
          std::memcpy(buf, x + pixel_offset[p0 + i] + 4 * g0, bytes);
          r[i] = _mm_load_si128(reinterpret_cast<const __m128i*>(buf));
        }
      }
      const __m128i t0 = _mm_unpacklo_epi32(r[0], r[1]);
      const __m128i t1 = _mm_unpackhi_epi32(r[0], r[1]);
      const __m128i t2 = _mm_unpacklo_epi32(r[2], r[3]);
      const __m128i t3 = _mm_unpackhi_epi32(r[2], r[3]);
      const __m128i c[4] = {
          _mm_unpacklo_epi64(t0, t2), _mm_unpackhi_epi64(t0, t2),
          _mm_unpacklo_epi64(t1, t3), _mm_unpackhi_epi64(t1, t3)};
      const int ng = groups - g0 < 4 ? groups - g0 : 4;
      for (int j = 0; j < ng; ++j) {
        _mm256_store_si256(
            reinterpret_cast<__m256i*>(
                X16 + ((static_cast<size_t>(g0) + j) * tile + p0) * 4),
            _mm256_cvtepi8_epi16(c[j]));
      }
    }
  }
}

// Channels o .. o + C - 1 over all tile pixels into acc ([C][tile]).
template <int V, int C>
inline void Channels(const Qs8PixvecTileArgs& a, int o, int32_t* acc) {
  __m256i s[C][2 * V];
  int32_t k[C];
  int32_t n = 0x7fffffff;
  for (int c = 0; c < C; ++c) {
    for (int v = 0; v < 2 * V; ++v) s[c][v] = _mm256_setzero_si256();
    k[c] = a.group_ptr[o + c];
    const int32_t len = a.group_ptr[o + c + 1] - k[c];
    n = len < n ? len : n;
  }
  auto step = [&](int c, int32_t j) {
    const int8_t* xg = a.x + a.offset[j];
    const __m256i w = _mm256_broadcastq_epi64(
        _mm_cvtepi8_epi16(_mm_cvtsi32_si128(a.weights[j])));
    for (int v = 0; v < 2 * V; ++v) {
      s[c][v] = _mm256_add_epi32(
          s[c][v],
          _mm256_madd_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(
                                xg + 32 * v)),
                            w));
    }
  };
  for (int32_t i = 0; i < n; ++i) {
    for (int c = 0; c < C; ++c) step(c, k[c] + i);
  }
  for (int c = 0; c < C; ++c) {
    for (int32_t j = k[c] + n; j < a.group_ptr[o + c + 1]; ++j) step(c, j);
    for (int v = 0; v < V; ++v) {
      const __m256i h = _mm256_hadd_epi32(s[c][2 * v], s[c][2 * v + 1]);
      _mm256_store_si256(
          reinterpret_cast<__m256i*>(acc + c * a.tile + 8 * v),
          _mm256_permute4x64_epi64(h, 0xD8));
    }
  }
}

// r[i] (row i, 8 dwords) becomes column i.
inline void Transpose8(__m256i r[8]) {
  __m256i t[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {
    r[4 * i] = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    r[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    r[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    r[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  // r[4i + k], 128-bit lane L: rows 4i .. 4i + 3 of column 4L + k.
  for (int k = 0; k < 4; ++k) {
    t[k] = _mm256_permute2x128_si256(r[k], r[4 + k], 0x20);
    t[4 + k] = _mm256_permute2x128_si256(r[k], r[4 + k], 0x31);
  }
  for (int i = 0; i < 8; ++i) r[i] = t[i];
}

template <int V>
void TileV(const Qs8PixvecTileArgs& a) {
  constexpr int C = 4 / V;
  const __m256i zero_point = _mm256_set1_epi32(a.output_zero_point);
  const __m256i lo = _mm256_set1_epi32(a.output_min);
  const __m256i hi = _mm256_set1_epi32(a.output_max);
  const __m256 zero_point_f =
      _mm256_set1_ps(static_cast<float>(a.output_zero_point));
  const __m256 abs_mask =
      _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  const __m128i lo8 = _mm_set1_epi8(static_cast<char>(a.output_min));
  const __m128i hi8 = _mm_set1_epi8(static_cast<char>(a.output_max));
  for (int o0 = 0; o0 < a.channels; o0 += 8) {
    const int nc = a.channels - o0 < 8 ? a.channels - o0 : 8;
    int c = 0;
    for (; c + C <= nc; c += C) {
      Channels<V, C>(a, o0 + c, a.acc + static_cast<size_t>(c) * a.tile);
    }
    for (; c < nc; ++c) {
      Channels<V, 1>(a, o0 + c, a.acc + static_cast<size_t>(c) * a.tile);
    }
    alignas(32) int32_t param[3][8] = {};
    alignas(32) float fast[2][8] = {};
    for (int j = 0; j < nc; ++j) {
      param[0][j] = a.bias[o0 + j];
      param[1][j] = a.multiplier[o0 + j];
      param[2][j] = a.shift[o0 + j];
      fast[0][j] = a.fast[o0 + j].scale;
      fast[1][j] = a.fast[o0 + j].tie_limit;
    }
    const __m256i bias =
        _mm256_load_si256(reinterpret_cast<const __m256i*>(param[0]));
    const __m256i multiplier =
        _mm256_load_si256(reinterpret_cast<const __m256i*>(param[1]));
    const __m256i shift =
        _mm256_load_si256(reinterpret_cast<const __m256i*>(param[2]));
    const __m256 scale = _mm256_load_ps(fast[0]);
    const __m256 tie_limit = _mm256_load_ps(fast[1]);
    for (int p0 = 0; p0 < a.pixels; p0 += 8) {
      __m256i r[8];
      // Rows past nc hold stale sums: their lanes are never stored.
      for (int j = 0; j < 8; ++j) {
        r[j] = _mm256_load_si256(
            reinterpret_cast<const __m256i*>(a.acc + j * a.tile + p0));
      }
      Transpose8(r);
      const int np = a.pixels - p0 < 8 ? a.pixels - p0 : 8;
      int8_t* y = a.y + static_cast<size_t>(p0) * a.y_stride + o0;
      for (int p = 0; p < np; ++p) {
        // requantize.h's float shortcut (the channels' own scales in the
        // lanes), the integer steps when a lane is near a tie. Unclamped
        // shortcut values stay below 2^30 (scales below 1/2); the packs
        // saturate them and the byte clamp below bounds both paths.
        const __m256i acc = _mm256_add_epi32(r[p], bias);
        const __m256 z = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), scale,
                                         zero_point_f);
        const __m256 rounded =
            _mm256_round_ps(z, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        const __m256 d = _mm256_and_ps(_mm256_sub_ps(z, rounded), abs_mask);
        __m256i v;
        if (_mm256_movemask_ps(_mm256_cmp_ps(d, tie_limit, _CMP_GE_OQ)) !=
            0) {
          v = Requantize8(acc, multiplier, shift, zero_point, lo, hi);
        } else {
          v = _mm256_cvttps_epi32(rounded);
        }
        // int32 to bytes: two saturating packs, then the clamp.
        const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(v),
                                            _mm256_extracti128_si256(v, 1));
        const __m128i b = _mm_min_epi8(
            _mm_max_epi8(_mm_packs_epi16(w16, w16), lo8), hi8);
        int8_t* dst = y + static_cast<size_t>(p) * a.y_stride;
        if (nc == 8) {
          _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), b);
        } else {
          alignas(16) int8_t tmp[16];
          _mm_store_si128(reinterpret_cast<__m128i*>(tmp), b);
          std::memcpy(dst, tmp, nc);
        }
      }
    }
  }
}

void Tile(const Qs8PixvecTileArgs& a) {
  switch (a.tile / 8) {
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
    "qs8_conv1x1_pixvec_minmax__avx2", Isa::kAvx2, 8, 8, 2, 0, &Tile, &Pack};

}  // namespace

const Qs8PixvecUkernel& Qs8PixvecUkernelAvx2() { return kKernel; }

}  // namespace tf_sparse
