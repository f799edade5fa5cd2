// AVX-512 BSR kernels. Compiled with -mavx512f -mavx512vl -mavx512dq
// -mavx512bw -mfma; only reached through the dispatcher when the CPU and OS
// support all of them.
#include <immintrin.h>

#include "cc/kernels/f32_bsr_generic.inc.h"
#include "cc/kernels/f32_bsr_ukernel.h"

namespace tf_sparse {
namespace {

inline __m128 Hadd4x4(__m128 s0, __m128 s1, __m128 s2, __m128 s3) {
  return _mm_hadd_ps(_mm_hadd_ps(s0, s1), _mm_hadd_ps(s2, s3));
}

inline float Hsum128(__m128 v) {
  __m128 sh = _mm_movehdup_ps(v);
  __m128 s = _mm_add_ps(v, sh);
  sh = _mm_movehl_ps(sh, s);
  s = _mm_add_ss(s, sh);
  return _mm_cvtss_f32(s);
}

inline __m128 Fold256(__m256 v) {
  return _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
}

inline __m256 Fold512(__m512 v) {
  return _mm256_add_ps(_mm512_castps512_ps256(v),
                       _mm512_extractf32x8_ps(v, 1));
}

// Four 4-float slices of x at the given columns, in one register.
inline __m512 Load4x4(const float* x, int32_t i0, int32_t i1, int32_t i2,
                      int32_t i3) {
  __m512 v = _mm512_castps128_ps512(_mm_loadu_ps(x + i0));
  v = _mm512_insertf32x4(v, _mm_loadu_ps(x + i1), 1);
  v = _mm512_insertf32x4(v, _mm_loadu_ps(x + i2), 2);
  return _mm512_insertf32x4(v, _mm_loadu_ps(x + i3), 3);
}

// ---- 1x4: one output row, four consecutive inputs per block. ----
//
// Four blocks share one 512-bit FMA: their 16 weights are contiguous in the
// packed values, and the four x slices are assembled by 128-bit inserts.
// Rows are reduced to 4 lanes each and four rows are finished together with
// two levels of horizontal adds.
// Four consecutive column indices with one 64-bit (uint16) or two 64-bit
// (int32) loads: the load ports are the bottleneck of the 1x4 kernel, the
// shifts run on the otherwise idle integer ALUs.
inline void LoadIdx4(const uint16_t* p, int32_t* i0, int32_t* i1, int32_t* i2,
                     int32_t* i3) {
  uint64_t v;
  __builtin_memcpy(&v, p, sizeof(v));
  *i0 = static_cast<int32_t>(v & 0xFFFF);
  *i1 = static_cast<int32_t>((v >> 16) & 0xFFFF);
  *i2 = static_cast<int32_t>((v >> 32) & 0xFFFF);
  *i3 = static_cast<int32_t>(v >> 48);
}
inline void LoadIdx4(const int32_t* p, int32_t* i0, int32_t* i1, int32_t* i2,
                     int32_t* i3) {
  uint64_t v0, v1;
  __builtin_memcpy(&v0, p, sizeof(v0));
  __builtin_memcpy(&v1, p + 2, sizeof(v1));
  *i0 = static_cast<int32_t>(static_cast<uint32_t>(v0));
  *i1 = static_cast<int32_t>(v0 >> 32);
  *i2 = static_cast<int32_t>(static_cast<uint32_t>(v1));
  *i3 = static_cast<int32_t>(v1 >> 32);
}

template <typename Index>
inline __m512 Gather1x4(const float* x, const Index* idx) {
  int32_t i0, i1, i2, i3;
  LoadIdx4(idx, &i0, &i1, &i2, &i3);
  return Load4x4(x, i0, i1, i2, i3);
}

template <typename Index>
inline __m128 Row1x4(const float* x, const Index* idx, const float* v,
                     int32_t k, int32_t end) {
  __m512 acc0 = _mm512_setzero_ps();
  __m512 acc1 = _mm512_setzero_ps();
  for (; k + 8 <= end; k += 8) {
    const __m512 xa = Gather1x4(x, idx + k);
    const __m512 xb = Gather1x4(x, idx + k + 4);
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(v + 4 * k), xa, acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(v + 4 * k + 16), xb, acc1);
  }
  if (k + 4 <= end) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(v + 4 * k), Gather1x4(x, idx + k),
                           acc0);
    k += 4;
  }
  __m128 s = Fold256(Fold512(_mm512_add_ps(acc0, acc1)));
  for (; k < end; ++k) {
    s = _mm_fmadd_ps(_mm_load_ps(v + 4 * k), _mm_loadu_ps(x + idx[k]), s);
  }
  return s;
}

// Four batch items at once: each block's weights are loaded once and
// broadcast to the four 128-bit lanes, which hold the x slices of the four
// items; lane b of the accumulator is item b's partial sum.
template <typename Index>
void Rows1x4Batch4(const F32BsrArgs<Index>& a, const float* x0, size_t xs,
                   float* y0, size_t ys) {
  const int32_t* rp = a.row_ptr;
  const Index* idx = a.col_idx;
  const float* v = a.values;
  const float* x1 = x0 + xs;
  const float* x2 = x1 + xs;
  const float* x3 = x2 + xs;
  const __m128 vmin = _mm_set1_ps(a.output_min);
  const __m128 vmax = _mm_set1_ps(a.output_max);
  for (size_t i = 0; i < a.num_block_rows; ++i) {
    int32_t k = rp[i];
    const int32_t end = rp[i + 1];
    __m512 acc0 = _mm512_setzero_ps();
    __m512 acc1 = _mm512_setzero_ps();
    for (; k + 2 <= end; k += 2) {
      const int32_t c0 = idx[k];
      const int32_t c1 = idx[k + 1];
      const __m512 w0 = _mm512_broadcast_f32x4(_mm_load_ps(v + 4 * k));
      const __m512 w1 = _mm512_broadcast_f32x4(_mm_load_ps(v + 4 * k + 4));
      __m512 xa = _mm512_castps128_ps512(_mm_loadu_ps(x0 + c0));
      xa = _mm512_insertf32x4(xa, _mm_loadu_ps(x1 + c0), 1);
      xa = _mm512_insertf32x4(xa, _mm_loadu_ps(x2 + c0), 2);
      xa = _mm512_insertf32x4(xa, _mm_loadu_ps(x3 + c0), 3);
      __m512 xb = _mm512_castps128_ps512(_mm_loadu_ps(x0 + c1));
      xb = _mm512_insertf32x4(xb, _mm_loadu_ps(x1 + c1), 1);
      xb = _mm512_insertf32x4(xb, _mm_loadu_ps(x2 + c1), 2);
      xb = _mm512_insertf32x4(xb, _mm_loadu_ps(x3 + c1), 3);
      acc0 = _mm512_fmadd_ps(w0, xa, acc0);
      acc1 = _mm512_fmadd_ps(w1, xb, acc1);
    }
    if (k < end) {
      const int32_t c0 = idx[k];
      const __m512 w0 = _mm512_broadcast_f32x4(_mm_load_ps(v + 4 * k));
      __m512 xa = _mm512_castps128_ps512(_mm_loadu_ps(x0 + c0));
      xa = _mm512_insertf32x4(xa, _mm_loadu_ps(x1 + c0), 1);
      xa = _mm512_insertf32x4(xa, _mm_loadu_ps(x2 + c0), 2);
      xa = _mm512_insertf32x4(xa, _mm_loadu_ps(x3 + c0), 3);
      acc0 = _mm512_fmadd_ps(w0, xa, acc0);
    }
    const __m512 acc = _mm512_add_ps(acc0, acc1);
    __m128 s = Hadd4x4(_mm512_castps512_ps128(acc),
                       _mm512_extractf32x4_ps(acc, 1),
                       _mm512_extractf32x4_ps(acc, 2),
                       _mm512_extractf32x4_ps(acc, 3));
    s = _mm_add_ps(s, _mm_set1_ps(a.bias[i]));
    s = _mm_min_ps(vmax, _mm_max_ps(vmin, s));
    float out[4];
    _mm_storeu_ps(out, s);
    y0[i] = out[0];
    y0[ys + i] = out[1];
    y0[2 * ys + i] = out[2];
    y0[3 * ys + i] = out[3];
  }
}

template <typename Index>
void Rows1x4Batch1(const F32BsrArgs<Index>& a, const float* x, float* y) {
  const __m128 vmin = _mm_set1_ps(a.output_min);
  const __m128 vmax = _mm_set1_ps(a.output_max);
  const int32_t* rp = a.row_ptr;
  const size_t n = a.num_block_rows;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m128 s0 = Row1x4(x, a.col_idx, a.values, rp[i], rp[i + 1]);
    const __m128 s1 = Row1x4(x, a.col_idx, a.values, rp[i + 1], rp[i + 2]);
    const __m128 s2 = Row1x4(x, a.col_idx, a.values, rp[i + 2], rp[i + 3]);
    const __m128 s3 = Row1x4(x, a.col_idx, a.values, rp[i + 3], rp[i + 4]);
    __m128 s = _mm_add_ps(Hadd4x4(s0, s1, s2, s3), _mm_loadu_ps(a.bias + i));
    s = _mm_min_ps(vmax, _mm_max_ps(vmin, s));
    _mm_storeu_ps(y + i, s);
  }
  for (; i < n; ++i) {
    const float s =
        Hsum128(Row1x4(x, a.col_idx, a.values, rp[i], rp[i + 1])) + a.bias[i];
    y[i] = ClampF32(s, a.output_min, a.output_max);
  }
}

template <typename Index>
void f32_bsr_minmax_1x4__avx512(const F32BsrArgs<Index>& a) {
  size_t b = 0;
  for (; b + 4 <= a.batch; b += 4) {
    Rows1x4Batch4(a, a.x + b * a.x_stride, a.x_stride, a.y + b * a.y_stride,
                  a.y_stride);
  }
  for (; b < a.batch; ++b) {
    Rows1x4Batch1(a, a.x + b * a.x_stride, a.y + b * a.y_stride);
  }
}

// ---- 1x1: one weight per block (unstructured sparsity, CSR-like). ----
//
// Sixteen nonzeros of a row per 512-bit FMA, their x values gathered by
// column index; a masked gather finishes the row.
inline __m512i LoadIdx16(const uint16_t* p) {
  return _mm512_cvtepu16_epi32(
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512i LoadIdx16(const int32_t* p) {
  return _mm512_loadu_si512(p);
}
inline __m512i MaskLoadIdx16(__mmask16 m, const uint16_t* p) {
  return _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
}
inline __m512i MaskLoadIdx16(__mmask16 m, const int32_t* p) {
  return _mm512_maskz_loadu_epi32(m, p);
}

template <typename Index>
inline __m128 Row1x1(const float* x, const Index* idx, const float* v,
                     int32_t k, int32_t end) {
  __m512 acc0 = _mm512_setzero_ps();
  __m512 acc1 = _mm512_setzero_ps();
  for (; k + 32 <= end; k += 32) {
    const __m512 g0 = _mm512_i32gather_ps(LoadIdx16(idx + k), x, 4);
    const __m512 g1 = _mm512_i32gather_ps(LoadIdx16(idx + k + 16), x, 4);
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(v + k), g0, acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(v + k + 16), g1, acc1);
  }
  if (k + 16 <= end) {
    const __m512 g0 = _mm512_i32gather_ps(LoadIdx16(idx + k), x, 4);
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(v + k), g0, acc0);
    k += 16;
  }
  if (k < end) {
    const __mmask16 m = static_cast<__mmask16>((1u << (end - k)) - 1u);
    const __m512 g = _mm512_mask_i32gather_ps(
        _mm512_setzero_ps(), m, MaskLoadIdx16(m, idx + k), x, 4);
    acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, v + k), g, acc1);
  }
  return Fold256(Fold512(_mm512_add_ps(acc0, acc1)));
}

template <typename Index>
void f32_bsr_minmax_1x1__avx512(const F32BsrArgs<Index>& a) {
  const __m128 vmin = _mm_set1_ps(a.output_min);
  const __m128 vmax = _mm_set1_ps(a.output_max);
  const int32_t* rp = a.row_ptr;
  const size_t n = a.num_block_rows;
  for (size_t b = 0; b < a.batch; ++b) {
    const float* x = a.x + b * a.x_stride;
    float* y = a.y + b * a.y_stride;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
      const __m128 s0 = Row1x1(x, a.col_idx, a.values, rp[i], rp[i + 1]);
      const __m128 s1 = Row1x1(x, a.col_idx, a.values, rp[i + 1], rp[i + 2]);
      const __m128 s2 = Row1x1(x, a.col_idx, a.values, rp[i + 2], rp[i + 3]);
      const __m128 s3 = Row1x1(x, a.col_idx, a.values, rp[i + 3], rp[i + 4]);
      __m128 s =
          _mm_add_ps(Hadd4x4(s0, s1, s2, s3), _mm_loadu_ps(a.bias + i));
      s = _mm_min_ps(vmax, _mm_max_ps(vmin, s));
      _mm_storeu_ps(y + i, s);
    }
    for (; i < n; ++i) {
      const float s =
          Hsum128(Row1x1(x, a.col_idx, a.values, rp[i], rp[i + 1])) +
          a.bias[i];
      y[i] = ClampF32(s, a.output_min, a.output_max);
    }
  }
}

// ---- 1x8: two blocks per 512-bit FMA. ----

template <typename Index>
void f32_bsr_minmax_1x8__avx512(const F32BsrArgs<Index>& a) {
  const int32_t* rp = a.row_ptr;
  for (size_t b = 0; b < a.batch; ++b) {
    const float* x = a.x + b * a.x_stride;
    float* y = a.y + b * a.y_stride;
    for (size_t i = 0; i < a.num_block_rows; ++i) {
      int32_t k = rp[i];
      const int32_t end = rp[i + 1];
      const Index* idx = a.col_idx;
      const float* v = a.values;
      __m512 acc0 = _mm512_setzero_ps();
      __m512 acc1 = _mm512_setzero_ps();
      for (; k + 4 <= end; k += 4) {
        __m512 xa = _mm512_castps256_ps512(_mm256_loadu_ps(x + idx[k]));
        xa = _mm512_insertf32x8(xa, _mm256_loadu_ps(x + idx[k + 1]), 1);
        __m512 xb = _mm512_castps256_ps512(_mm256_loadu_ps(x + idx[k + 2]));
        xb = _mm512_insertf32x8(xb, _mm256_loadu_ps(x + idx[k + 3]), 1);
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(v + 8 * k), xa, acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(v + 8 * k + 16), xb, acc1);
      }
      __m256 s = Fold512(_mm512_add_ps(acc0, acc1));
      for (; k < end; ++k) {
        s = _mm256_fmadd_ps(_mm256_load_ps(v + 8 * k),
                            _mm256_loadu_ps(x + idx[k]), s);
      }
      const float t = Hsum128(Fold256(s)) + a.bias[i];
      y[i] = ClampF32(t, a.output_min, a.output_max);
    }
  }
}

// ---- Nx1: N output rows, one input per block. ----

template <typename Index>
void f32_bsr_minmax_4x1__avx512(const F32BsrArgs<Index>& a) {
  const __m128 vmin = _mm_set1_ps(a.output_min);
  const __m128 vmax = _mm_set1_ps(a.output_max);
  const int32_t* rp = a.row_ptr;
  for (size_t b = 0; b < a.batch; ++b) {
    const float* x = a.x + b * a.x_stride;
    float* y = a.y + b * a.y_stride;
    for (size_t i = 0; i < a.num_block_rows; ++i) {
      int32_t k = rp[i];
      const int32_t end = rp[i + 1];
      const float* v = a.values;
      __m128 acc0 = _mm_loadu_ps(a.bias + 4 * i);
      __m128 acc1 = _mm_setzero_ps();
      __m128 acc2 = _mm_setzero_ps();
      __m128 acc3 = _mm_setzero_ps();
      for (; k + 4 <= end; k += 4) {
        acc0 = _mm_fmadd_ps(_mm_load_ps(v + 4 * k),
                            _mm_broadcast_ss(x + a.col_idx[k]), acc0);
        acc1 = _mm_fmadd_ps(_mm_load_ps(v + 4 * k + 4),
                            _mm_broadcast_ss(x + a.col_idx[k + 1]), acc1);
        acc2 = _mm_fmadd_ps(_mm_load_ps(v + 4 * k + 8),
                            _mm_broadcast_ss(x + a.col_idx[k + 2]), acc2);
        acc3 = _mm_fmadd_ps(_mm_load_ps(v + 4 * k + 12),
                            _mm_broadcast_ss(x + a.col_idx[k + 3]), acc3);
      }
      for (; k < end; ++k) {
        acc0 = _mm_fmadd_ps(_mm_load_ps(v + 4 * k),
                            _mm_broadcast_ss(x + a.col_idx[k]), acc0);
      }
      __m128 s = _mm_add_ps(_mm_add_ps(acc0, acc1), _mm_add_ps(acc2, acc3));
      s = _mm_min_ps(vmax, _mm_max_ps(vmin, s));
      _mm_storeu_ps(y + 4 * i, s);
    }
  }
}

template <typename Index>
void f32_bsr_minmax_8x1__avx512(const F32BsrArgs<Index>& a) {
  const __m256 vmin = _mm256_set1_ps(a.output_min);
  const __m256 vmax = _mm256_set1_ps(a.output_max);
  const int32_t* rp = a.row_ptr;
  for (size_t b = 0; b < a.batch; ++b) {
    const float* x = a.x + b * a.x_stride;
    float* y = a.y + b * a.y_stride;
    for (size_t i = 0; i < a.num_block_rows; ++i) {
      int32_t k = rp[i];
      const int32_t end = rp[i + 1];
      const float* v = a.values;
      __m256 acc0 = _mm256_loadu_ps(a.bias + 8 * i);
      __m256 acc1 = _mm256_setzero_ps();
      __m256 acc2 = _mm256_setzero_ps();
      __m256 acc3 = _mm256_setzero_ps();
      for (; k + 4 <= end; k += 4) {
        acc0 = _mm256_fmadd_ps(_mm256_load_ps(v + 8 * k),
                               _mm256_broadcast_ss(x + a.col_idx[k]), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_load_ps(v + 8 * k + 8),
                               _mm256_broadcast_ss(x + a.col_idx[k + 1]), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_load_ps(v + 8 * k + 16),
                               _mm256_broadcast_ss(x + a.col_idx[k + 2]), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_load_ps(v + 8 * k + 24),
                               _mm256_broadcast_ss(x + a.col_idx[k + 3]), acc3);
      }
      for (; k < end; ++k) {
        acc0 = _mm256_fmadd_ps(_mm256_load_ps(v + 8 * k),
                               _mm256_broadcast_ss(x + a.col_idx[k]), acc0);
      }
      __m256 s =
          _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
      s = _mm256_min_ps(vmax, _mm256_max_ps(vmin, s));
      _mm256_storeu_ps(y + 8 * i, s);
    }
  }
}

template <typename Index>
void f32_bsr_minmax_16x1__avx512(const F32BsrArgs<Index>& a) {
  const __m512 vmin = _mm512_set1_ps(a.output_min);
  const __m512 vmax = _mm512_set1_ps(a.output_max);
  const int32_t* rp = a.row_ptr;
  for (size_t b = 0; b < a.batch; ++b) {
    const float* x = a.x + b * a.x_stride;
    float* y = a.y + b * a.y_stride;
    for (size_t i = 0; i < a.num_block_rows; ++i) {
      int32_t k = rp[i];
      const int32_t end = rp[i + 1];
      const float* v = a.values;
      __m512 acc0 = _mm512_loadu_ps(a.bias + 16 * i);
      __m512 acc1 = _mm512_setzero_ps();
      __m512 acc2 = _mm512_setzero_ps();
      __m512 acc3 = _mm512_setzero_ps();
      for (; k + 4 <= end; k += 4) {
        acc0 = _mm512_fmadd_ps(_mm512_load_ps(v + 16 * k),
                               _mm512_set1_ps(x[a.col_idx[k]]), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_load_ps(v + 16 * k + 16),
                               _mm512_set1_ps(x[a.col_idx[k + 1]]), acc1);
        acc2 = _mm512_fmadd_ps(_mm512_load_ps(v + 16 * k + 32),
                               _mm512_set1_ps(x[a.col_idx[k + 2]]), acc2);
        acc3 = _mm512_fmadd_ps(_mm512_load_ps(v + 16 * k + 48),
                               _mm512_set1_ps(x[a.col_idx[k + 3]]), acc3);
      }
      for (; k < end; ++k) {
        acc0 = _mm512_fmadd_ps(_mm512_load_ps(v + 16 * k),
                               _mm512_set1_ps(x[a.col_idx[k]]), acc0);
      }
      __m512 s =
          _mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3));
      s = _mm512_min_ps(vmax, _mm512_max_ps(vmin, s));
      _mm512_storeu_ps(y + 16 * i, s);
    }
  }
}

// ---- 4x4: one block per 512-bit FMA (rows in 128-bit lanes). ----

template <typename Index>
void f32_bsr_minmax_4x4__avx512(const F32BsrArgs<Index>& a) {
  const __m128 vmin = _mm_set1_ps(a.output_min);
  const __m128 vmax = _mm_set1_ps(a.output_max);
  const int32_t* rp = a.row_ptr;
  for (size_t b = 0; b < a.batch; ++b) {
    const float* x = a.x + b * a.x_stride;
    float* y = a.y + b * a.y_stride;
    for (size_t i = 0; i < a.num_block_rows; ++i) {
      int32_t k = rp[i];
      const int32_t end = rp[i + 1];
      const float* v = a.values;
      __m512 acc0 = _mm512_setzero_ps();
      __m512 acc1 = _mm512_setzero_ps();
      for (; k + 2 <= end; k += 2) {
        const __m512 x0 =
            _mm512_broadcast_f32x4(_mm_loadu_ps(x + a.col_idx[k]));
        const __m512 x1 =
            _mm512_broadcast_f32x4(_mm_loadu_ps(x + a.col_idx[k + 1]));
        acc0 = _mm512_fmadd_ps(_mm512_load_ps(v + 16 * k), x0, acc0);
        acc1 = _mm512_fmadd_ps(_mm512_load_ps(v + 16 * k + 16), x1, acc1);
      }
      if (k < end) {
        const __m512 x0 =
            _mm512_broadcast_f32x4(_mm_loadu_ps(x + a.col_idx[k]));
        acc0 = _mm512_fmadd_ps(_mm512_load_ps(v + 16 * k), x0, acc0);
      }
      const __m512 acc = _mm512_add_ps(acc0, acc1);
      __m128 s = Hadd4x4(_mm512_castps512_ps128(acc),
                         _mm512_extractf32x4_ps(acc, 1),
                         _mm512_extractf32x4_ps(acc, 2),
                         _mm512_extractf32x4_ps(acc, 3));
      s = _mm_add_ps(s, _mm_loadu_ps(a.bias + 4 * i));
      s = _mm_min_ps(vmax, _mm_max_ps(vmin, s));
      _mm_storeu_ps(y + 4 * i, s);
    }
  }
}

#define TF_SPARSE_KERNEL(R, C, FN, NAME) \
  {R, C, FN<uint16_t>, FN<int32_t>, NAME, Isa::kAvx512}

const F32BsrUkernel kAvx512Kernels[] = {
    TF_SPARSE_KERNEL(1, 4, f32_bsr_minmax_1x4__avx512,
                     "f32_bsr_minmax_1x4__avx512"),
    TF_SPARSE_KERNEL(1, 8, f32_bsr_minmax_1x8__avx512,
                     "f32_bsr_minmax_1x8__avx512"),
    TF_SPARSE_KERNEL(1, 1, f32_bsr_minmax_1x1__avx512,
                     "f32_bsr_minmax_1x1__avx512"),
    TF_SPARSE_KERNEL(4, 1, f32_bsr_minmax_4x1__avx512,
                     "f32_bsr_minmax_4x1__avx512"),
    TF_SPARSE_KERNEL(8, 1, f32_bsr_minmax_8x1__avx512,
                     "f32_bsr_minmax_8x1__avx512"),
    TF_SPARSE_KERNEL(16, 1, f32_bsr_minmax_16x1__avx512,
                     "f32_bsr_minmax_16x1__avx512"),
    TF_SPARSE_KERNEL(4, 4, f32_bsr_minmax_4x4__avx512,
                     "f32_bsr_minmax_4x4__avx512"),
    TF_SPARSE_KERNEL(0, 0, F32BsrGeneric, "f32_bsr_minmax_rxc__avx512"),
};

#undef TF_SPARSE_KERNEL

}  // namespace

const F32BsrUkernel* F32BsrUkernelsAvx512(size_t* count) {
  *count = sizeof(kAvx512Kernels) / sizeof(kAvx512Kernels[0]);
  return kAvx512Kernels;
}

}  // namespace tf_sparse
