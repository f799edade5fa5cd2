#include <immintrin.h>

#include <cstring>

#include "cc/bench/qs8_dense_conv1x1.h"

namespace tf_sparse {
namespace {

// Accumulator tile: 6 pixels x 64 outputs in 24 registers, written out
// variable by variable (GCC keeps arrays of vectors updated by vpdpbusd in
// memory). Per 4 input channels: 4 weight loads, 6 broadcast loads, 24
// vpdpbusd.
// acc += dot(a as uint8, b as int8) in place: GCC 12 copies the
// accumulator of _mm512_dpbusd_epi32 through another register (and spills
// under pressure).
inline __m512i Dpbusd(__m512i acc, __m512i a, __m512i b) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
}

inline __m512i Broadcast(const uint8_t* p) {
  int32_t word;
  std::memcpy(&word, p, 4);
  return _mm512_set1_epi32(word);
}

inline void Store(__m512i acc, __m512 s, __m512i zp, __m512i lo, __m512i hi,
                  int8_t* y) {
  __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), s));
  q = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(q, zp), lo), hi);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(y), _mm512_cvtepi32_epi8(q));
}

#define TF_SPARSE_ROW(m)                                                 \
  __m512i a##m##0 = b0, a##m##1 = b1, a##m##2 = b2, a##m##3 = b3;
#define TF_SPARSE_DOT(m)                                                 \
  {                                                                      \
    const __m512i xv = Broadcast(x + (m) * static_cast<size_t>(in) + k); \
    a##m##0 = Dpbusd(a##m##0, xv, w0);                      \
    a##m##1 = Dpbusd(a##m##1, xv, w1);                      \
    a##m##2 = Dpbusd(a##m##2, xv, w2);                      \
    a##m##3 = Dpbusd(a##m##3, xv, w3);                      \
  }
#define TF_SPARSE_OUT(m)                                              \
  {                                                                   \
    int8_t* yr = y + (m) * static_cast<size_t>(out);                  \
    Store(a##m##0, s0, zp, lo, hi, yr);                               \
    Store(a##m##1, s1, zp, lo, hi, yr + 16);                          \
    Store(a##m##2, s2, zp, lo, hi, yr + 32);                          \
    Store(a##m##3, s3, zp, lo, hi, yr + 48);                          \
  }

constexpr int kMr = 6;
constexpr int kNv = 4;

// MR = 6 or 1 pixels.
template <int MR>
inline void Tile(int in, const uint8_t* x, const int8_t* w, size_t w_step,
                 const int32_t* bias, const float* scale, __m512i zp,
                 __m512i lo, __m512i hi, int8_t* y, int out) {
  const __m512i b0 = _mm512_loadu_si512(bias);
  const __m512i b1 = _mm512_loadu_si512(bias + 16);
  const __m512i b2 = _mm512_loadu_si512(bias + 32);
  const __m512i b3 = _mm512_loadu_si512(bias + 48);
  TF_SPARSE_ROW(0) TF_SPARSE_ROW(1) TF_SPARSE_ROW(2) TF_SPARSE_ROW(3)
  TF_SPARSE_ROW(4) TF_SPARSE_ROW(5)
  for (int k = 0; k < in; k += 4) {
    const int8_t* wk = w + static_cast<size_t>(k) * 16;
    const __m512i w0 = _mm512_load_si512(wk);
    const __m512i w1 = _mm512_load_si512(wk + w_step);
    const __m512i w2 = _mm512_load_si512(wk + 2 * w_step);
    const __m512i w3 = _mm512_load_si512(wk + 3 * w_step);
    TF_SPARSE_DOT(0)
    if (MR > 1) {
      TF_SPARSE_DOT(1) TF_SPARSE_DOT(2) TF_SPARSE_DOT(3) TF_SPARSE_DOT(4)
      TF_SPARSE_DOT(5)
    }
  }
  const __m512 s0 = _mm512_loadu_ps(scale);
  const __m512 s1 = _mm512_loadu_ps(scale + 16);
  const __m512 s2 = _mm512_loadu_ps(scale + 32);
  const __m512 s3 = _mm512_loadu_ps(scale + 48);
  TF_SPARSE_OUT(0)
  if (MR > 1) {
    TF_SPARSE_OUT(1) TF_SPARSE_OUT(2) TF_SPARSE_OUT(3) TF_SPARSE_OUT(4)
    TF_SPARSE_OUT(5)
  }
}

#undef TF_SPARSE_ROW
#undef TF_SPARSE_DOT
#undef TF_SPARSE_OUT

}  // namespace

void qs8_dense_conv1x1_pack(const int8_t* w, int out, int in, int8_t* packed) {
  for (int o0 = 0; o0 < out; o0 += 16) {
    for (int k = 0; k < in; k += 4) {
      for (int o = 0; o < 16; ++o) {
        for (int j = 0; j < 4; ++j) {
          *packed++ = w[static_cast<size_t>(o0 + o) * in + k + j];
        }
      }
    }
  }
}

void qs8_dense_conv1x1__avx512vnni(size_t pixels, int out, int in,
                                   const uint8_t* x, const int8_t* packed,
                                   const int32_t* bias, const float* scale,
                                   int32_t zero_point, int32_t output_min,
                                   int32_t output_max, int8_t* y) {
  const __m512i zp = _mm512_set1_epi32(zero_point);
  const __m512i lo = _mm512_set1_epi32(output_min);
  const __m512i hi = _mm512_set1_epi32(output_max);
  const size_t w_step = static_cast<size_t>(in) * 16;
  // Output blocks outermost: their weights (in * 64 bytes) stay in L1/L2
  // while every pixel streams past.
  for (int o0 = 0; o0 < out; o0 += 16 * kNv) {
    const int8_t* w = packed + static_cast<size_t>(o0) * in;
    size_t p = 0;
    for (; p + kMr <= pixels; p += kMr) {
      Tile<kMr>(in, x + p * in, w, w_step, bias + o0, scale + o0, zp, lo, hi,
                y + p * out + o0, out);
    }
    for (; p < pixels; ++p) {
      Tile<1>(in, x + p * in, w, w_step, bias + o0, scale + o0, zp, lo, hi,
              y + p * out + o0, out);
    }
  }
}

int32_t qs8_peak_vpdpbusd__avx512vnni(long long iterations) {
  const __m512i a = _mm512_set1_epi32(0x01010101);
  const __m512i b = _mm512_set1_epi32(0x01FF0102);
#define TF_SPARSE_ACC(i) __m512i c##i = _mm512_set1_epi32(i);
#define TF_SPARSE_STEP(i) c##i = Dpbusd(c##i, a, b);
#define TF_SPARSE_X12(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) \
  M(10) M(11)
  TF_SPARSE_X12(TF_SPARSE_ACC)
  for (long long it = 0; it < iterations; ++it) {
    TF_SPARSE_X12(TF_SPARSE_STEP)
    TF_SPARSE_X12(TF_SPARSE_STEP)
  }
  __m512i s = _mm512_add_epi32(c0, c1);
  s = _mm512_add_epi32(s, _mm512_add_epi32(c2, c3));
  s = _mm512_add_epi32(s, _mm512_add_epi32(c4, c5));
  s = _mm512_add_epi32(s, _mm512_add_epi32(c6, c7));
  s = _mm512_add_epi32(s, _mm512_add_epi32(c8, c9));
  s = _mm512_add_epi32(s, _mm512_add_epi32(c10, c11));
#undef TF_SPARSE_ACC
#undef TF_SPARSE_STEP
#undef TF_SPARSE_X12
  return _mm512_reduce_add_epi32(s);
}

}  // namespace tf_sparse
