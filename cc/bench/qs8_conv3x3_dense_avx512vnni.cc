#include <immintrin.h>

#include <cstring>

#include "cc/bench/qs8_conv3x3_dense.h"
#include "cc/kernels/qs8_conv3x3_requantize_avx512.h"

namespace tf_sparse {
namespace {

constexpr int kTile = 6;

}  // namespace

Qs8DenseConv3x3Vnni::Qs8DenseConv3x3Vnni(const int8_t* w, int out_c, int in_c,
                                         const int32_t* bias,
                                         const Qs8FcQuantization& q)
    : out_c_(out_c), in_c_(in_c) {
  const int quads = in_c / 4;
  packed_.resize(static_cast<size_t>(out_c) * 9 * in_c + 64);
  for (int ob = 0; ob < out_c / 64; ++ob) {
    for (int t = 0; t < 9; ++t) {
      for (int cq = 0; cq < quads; ++cq) {
        int8_t* dst = packed_.data() +
                      ((static_cast<size_t>(ob) * 9 + t) * quads + cq) * 256;
        for (int f = 0; f < 64; ++f) {
          for (int k = 0; k < 4; ++k) {
            dst[4 * f + k] =
                w[(static_cast<size_t>(ob * 64 + f) * 9 + t) * in_c + 4 * cq + k];
          }
        }
      }
    }
  }
  std::vector<QuantizedMultiplier> m;
  ComputeFcMultipliers(q, out_c, &m);
  bias_.resize(out_c);
  multiplier_.resize(out_c);
  shift_.resize(out_c);
  for (int o = 0; o < out_c; ++o) {
    int64_t sum = 0;
    for (int i = 0; i < 9 * in_c; ++i) sum += w[static_cast<size_t>(o) * 9 * in_c + i];
    bias_[o] = static_cast<int32_t>((bias != nullptr ? bias[o] : 0) -
                                    (q.input_zero_point + 128) * sum);
    multiplier_[o] = m[o].multiplier;
    shift_[o] = m[o].shift;
  }
  zp_byte_ = static_cast<uint8_t>(q.input_zero_point) ^ 0x80u;
  out_zp_ = q.output_zero_point;
  out_min_ = q.output_min;
  out_max_ = q.output_max;
}

void Qs8DenseConv3x3Vnni::Run(const int8_t* x, int in_h, int in_w, int8_t* y) {
  // Padded input: 1 row/column of zero point around, kTile columns of
  // slack on the right for the ragged last tile.
  const int ph = in_h + 2, pw = in_w + 2 + kTile;
  const size_t row = static_cast<size_t>(pw) * in_c_;
  padded_.resize(static_cast<size_t>(ph) * row);
  std::memset(padded_.data(), zp_byte_, padded_.size());
  for (int iy = 0; iy < in_h; ++iy) {
    const int8_t* src = x + static_cast<size_t>(iy) * in_w * in_c_;
    int8_t* dst = padded_.data() + (iy + 1) * row + in_c_;
    const size_t n = static_cast<size_t>(in_w) * in_c_;
    size_t i = 0;
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    for (; i + 64 <= n; i += 64) {
      _mm512_storeu_si512(dst + i,
                          _mm512_xor_si512(_mm512_loadu_si512(src + i), flip));
    }
    for (; i < n; ++i) dst[i] = static_cast<int8_t>(src[i] ^ 0x80);
  }
  const int quads = in_c_ / 4;
  for (int ob = 0; ob < out_c_ / 64; ++ob) {
    const int8_t* wb = packed_.data() + static_cast<size_t>(ob) * 9 * quads * 256;
    __m512i bias[4];
    for (int v = 0; v < 4; ++v) bias[v] = _mm512_loadu_si512(bias_.data() + ob * 64 + 16 * v);
    const Qs8Requantize16 rq[4] = {
        {multiplier_.data() + ob * 64, shift_.data() + ob * 64, out_zp_,
         out_min_, out_max_},
        {multiplier_.data() + ob * 64 + 16, shift_.data() + ob * 64 + 16,
         out_zp_, out_min_, out_max_},
        {multiplier_.data() + ob * 64 + 32, shift_.data() + ob * 64 + 32,
         out_zp_, out_min_, out_max_},
        {multiplier_.data() + ob * 64 + 48, shift_.data() + ob * 64 + 48,
         out_zp_, out_min_, out_max_}};
    for (int oy = 0; oy < in_h; ++oy) {
      for (int ox = 0; ox < in_w; ox += kTile) {
        __m512i acc[kTile][4];
#pragma GCC unroll 24
        for (int p = 0; p < kTile; ++p) {
          for (int v = 0; v < 4; ++v) acc[p][v] = bias[v];
        }
        for (int kh = 0; kh < 3; ++kh) {
          for (int kw = 0; kw < 3; ++kw) {
            const int32_t* xs = reinterpret_cast<const int32_t*>(
                padded_.data() + (oy + kh) * row + (ox + kw) * in_c_);
            const int8_t* wt = wb + static_cast<size_t>(kh * 3 + kw) * quads * 256;
            const size_t pstride = static_cast<size_t>(in_c_) / 4;
            for (int cq = 0; cq < quads; ++cq) {
              const __m512i w0 = _mm512_loadu_si512(wt + 256 * cq);
              const __m512i w1 = _mm512_loadu_si512(wt + 256 * cq + 64);
              const __m512i w2 = _mm512_loadu_si512(wt + 256 * cq + 128);
              const __m512i w3 = _mm512_loadu_si512(wt + 256 * cq + 192);
#pragma GCC unroll 6
              for (int p = 0; p < kTile; ++p) {
                const __m512i xv = _mm512_set1_epi32(xs[p * pstride + cq]);
                acc[p][0] = _mm512_dpbusd_epi32(acc[p][0], xv, w0);
                acc[p][1] = _mm512_dpbusd_epi32(acc[p][1], xv, w1);
                acc[p][2] = _mm512_dpbusd_epi32(acc[p][2], xv, w2);
                acc[p][3] = _mm512_dpbusd_epi32(acc[p][3], xv, w3);
              }
            }
          }
        }
        for (int p = 0; p < kTile && ox + p < in_w; ++p) {
          int8_t* out = y + (static_cast<size_t>(oy) * in_w + ox + p) * out_c_ + ob * 64;
          for (int v = 0; v < 4; ++v) {
            _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16 * v),
                             rq[v](acc[p][v]));
          }
        }
      }
    }
  }
}

int32_t Qs8PeakVnni(long long iterations) {
  // 12 independent chains (latency 5 x 2 ports), written in assembly so
  // that nothing but vpdpbusd is in the loop.
  for (long long it = 0; it < iterations; ++it) {
    __asm__ volatile(
        "vpdpbusd %%zmm30, %%zmm31, %%zmm0\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm1\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm2\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm3\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm4\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm5\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm6\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm7\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm8\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm9\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm10\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm11\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm12\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm13\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm14\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm15\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm16\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm17\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm18\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm19\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm20\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm21\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm22\n\t"
        "vpdpbusd %%zmm30, %%zmm31, %%zmm23\n\t" ::
            : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
              "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
              "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21",
              "xmm22", "xmm23");
  }
  return static_cast<int32_t>(iterations);
}

}  // namespace tf_sparse
