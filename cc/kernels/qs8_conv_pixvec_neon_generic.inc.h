// The NEON int8 pixel-vector 1x1 kernel, shared by the plain and the dot
// product variants (qs8_conv_pixvec_neon.cc, qs8_conv_pixvec_neondot.cc,
// whose compiler flags choose Qs8Dot4, qs8_neon_dot4.h): one
// 16-byte vector of X is 4 pixels x 4 input channels (int8), multiplied by
// a kept group's 4 weights (duplicated word) into 4 int32 pixel sums.
// Accumulators: tile / 4 pixel vectors times C output channels (8
// registers); the sums of a block of 4 channels are requantized by
// requantize.h's scalar function.
#include <arm_neon.h>

#include <cstring>

#include "cc/kernels/qs8_conv_pixvec_ukernel.h"
#include "cc/kernels/qs8_neon_dot4.h"
#include "cc/kernels/requantize.h"

namespace tf_sparse {
namespace {

void Pack(const int8_t* x, const int32_t* pixel_offset, int pixels, int in,
          size_t tile, int8_t* X) {
  const int full = in / 4;
  for (int p = 0; p < pixels; ++p) {
    const int8_t* src = x + pixel_offset[p];
    for (int g = 0; g < full; ++g) {
      std::memcpy(X + (static_cast<size_t>(g) * tile + p) * 4, src + 4 * g, 4);
    }
    if (full * 4 != in) {
      int8_t* dst = X + (static_cast<size_t>(full) * tile + p) * 4;
      for (int j = 0; j < 4; ++j) {
        dst[j] = 4 * full + j < in ? src[4 * full + j] : int8_t{0};
      }
    }
  }
}

// Channels o .. o + C - 1 over all tile pixels into acc ([C][tile]).
template <int V, int C>
inline void Channels(const Qs8PixvecTileArgs& a, int o, int32_t* acc) {
  int32x4_t s[C][V];
  int32_t k[C];
  int32_t n = 0x7fffffff;
  for (int c = 0; c < C; ++c) {
    for (int v = 0; v < V; ++v) s[c][v] = vdupq_n_s32(0);
    k[c] = a.group_ptr[o + c];
    const int32_t len = a.group_ptr[o + c + 1] - k[c];
    n = len < n ? len : n;
  }
  auto step = [&](int c, int32_t j) {
    const int8_t* xg = a.x + a.offset[j];
    const int8x16_t w = vreinterpretq_s8_s32(vdupq_n_s32(a.weights[j]));
    for (int v = 0; v < V; ++v) {
      s[c][v] = Qs8Dot4(s[c][v], w, vld1q_s8(xg + 16 * v));
    }
  };
  for (int32_t i = 0; i < n; ++i) {
    for (int c = 0; c < C; ++c) step(c, k[c] + i);
  }
  for (int c = 0; c < C; ++c) {
    for (int32_t j = k[c] + n; j < a.group_ptr[o + c + 1]; ++j) step(c, j);
    for (int v = 0; v < V; ++v) vst1q_s32(acc + c * a.tile + 4 * v, s[c][v]);
  }
}

template <int V>
void TileV(const Qs8PixvecTileArgs& a) {
  constexpr int C = 8 / V;
  for (int o0 = 0; o0 < a.channels; o0 += 4) {
    const int nc = a.channels - o0 < 4 ? a.channels - o0 : 4;
    int c = 0;
    for (; c + C <= nc; c += C) {
      Channels<V, C>(a, o0 + c, a.acc + static_cast<size_t>(c) * a.tile);
    }
    for (; c < nc; ++c) {
      Channels<V, 1>(a, o0 + c, a.acc + static_cast<size_t>(c) * a.tile);
    }
    for (int p = 0; p < a.pixels; ++p) {
      int8_t* y = a.y + static_cast<size_t>(p) * a.y_stride + o0;
      for (int j = 0; j < nc; ++j) {
        const int o = o0 + j;
        y[j] = RequantizeToInt8(a.acc[j * a.tile + p] + a.bias[o],
                                a.multiplier[o], a.shift[o],
                                a.output_zero_point, a.output_min,
                                a.output_max);
      }
    }
  }
}

void Tile(const Qs8PixvecTileArgs& a) {
  switch (a.tile / 4) {
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

}  // namespace
}  // namespace tf_sparse
