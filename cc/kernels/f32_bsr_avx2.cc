// AVX2 + FMA3 BSR kernels. Compiled with -mavx2 -mfma; only reached through
// the dispatcher when the CPU and OS support both.
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

// Two 4-float slices in one register.
inline __m256 Load2x4(const float* lo, const float* hi) {
  return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(lo)),
                              _mm_loadu_ps(hi), 1);
}
// Two 4-float slices of x, at columns i0 and i1.
inline __m256 Load2x4(const float* x, int32_t i0, int32_t i1) {
  return Load2x4(x + i0, x + i1);
}

// ---- 1x4: one output row, four consecutive inputs per block. ----

// Partial sums (4 lanes) of one row; the caller reduces them.
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

// Partial sums (4 lanes) of one row; the caller reduces them.
template <typename Index>
inline __m128 Row1x4(const float* x, const Index* idx, const float* v,
                     int32_t k, int32_t end) {
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  for (; k + 4 <= end; k += 4) {
    int32_t i0, i1, i2, i3;
    LoadIdx4(idx + k, &i0, &i1, &i2, &i3);
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(v + 4 * k), Load2x4(x, i0, i1),
                           acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(v + 4 * k + 8), Load2x4(x, i2, i3),
                           acc1);
  }
  __m128 s = Fold256(_mm256_add_ps(acc0, acc1));
  for (; k < end; ++k) {
    s = _mm_fmadd_ps(_mm_load_ps(v + 4 * k), _mm_loadu_ps(x + idx[k]), s);
  }
  return s;
}

// Four batch items at once: each block's weights are loaded once (broadcast
// to both 128-bit lanes) for x slices of items 0/1 and 2/3.
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
    __m256 acc01 = _mm256_setzero_ps();
    __m256 acc23 = _mm256_setzero_ps();
    __m256 acc01b = _mm256_setzero_ps();
    __m256 acc23b = _mm256_setzero_ps();
    for (; k + 2 <= end; k += 2) {
      const int32_t c0 = idx[k];
      const int32_t c1 = idx[k + 1];
      const __m256 w0 =
          _mm256_broadcast_ps(reinterpret_cast<const __m128*>(v + 4 * k));
      const __m256 w1 =
          _mm256_broadcast_ps(reinterpret_cast<const __m128*>(v + 4 * k + 4));
      acc01 = _mm256_fmadd_ps(w0, Load2x4(x0 + c0, x1 + c0),
                              acc01);
      acc23 = _mm256_fmadd_ps(w0, Load2x4(x2 + c0, x3 + c0),
                              acc23);
      acc01b = _mm256_fmadd_ps(
          w1, Load2x4(x0 + c1, x1 + c1), acc01b);
      acc23b = _mm256_fmadd_ps(
          w1, Load2x4(x2 + c1, x3 + c1), acc23b);
    }
    if (k < end) {
      const int32_t c0 = idx[k];
      const __m256 w0 =
          _mm256_broadcast_ps(reinterpret_cast<const __m128*>(v + 4 * k));
      acc01 = _mm256_fmadd_ps(w0, Load2x4(x0 + c0, x1 + c0),
                              acc01);
      acc23 = _mm256_fmadd_ps(w0, Load2x4(x2 + c0, x3 + c0),
                              acc23);
    }
    acc01 = _mm256_add_ps(acc01, acc01b);
    acc23 = _mm256_add_ps(acc23, acc23b);
    __m128 s = Hadd4x4(_mm256_castps256_ps128(acc01),
                       _mm256_extractf128_ps(acc01, 1),
                       _mm256_castps256_ps128(acc23),
                       _mm256_extractf128_ps(acc23, 1));
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
void f32_bsr_minmax_1x4__avx2(const F32BsrArgs<Index>& a) {
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
// Eight nonzeros of a row per FMA, their x values gathered by column index;
// the row's last few in scalar.
inline __m256i LoadIdx8(const uint16_t* p) {
  return _mm256_cvtepu16_epi32(
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline __m256i LoadIdx8(const int32_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

template <typename Index>
inline float Row1x1(const float* x, const Index* idx, const float* v,
                    int32_t k, int32_t end) {
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  for (; k + 16 <= end; k += 16) {
    const __m256 g0 = _mm256_i32gather_ps(x, LoadIdx8(idx + k), 4);
    const __m256 g1 = _mm256_i32gather_ps(x, LoadIdx8(idx + k + 8), 4);
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(v + k), g0, acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(v + k + 8), g1, acc1);
  }
  if (k + 8 <= end) {
    const __m256 g0 = _mm256_i32gather_ps(x, LoadIdx8(idx + k), 4);
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(v + k), g0, acc0);
    k += 8;
  }
  float s = Hsum128(Fold256(_mm256_add_ps(acc0, acc1)));
  for (; k < end; ++k) s += v[k] * x[idx[k]];
  return s;
}

template <typename Index>
void f32_bsr_minmax_1x1__avx2(const F32BsrArgs<Index>& a) {
  const int32_t* rp = a.row_ptr;
  for (size_t b = 0; b < a.batch; ++b) {
    const float* x = a.x + b * a.x_stride;
    float* y = a.y + b * a.y_stride;
    for (size_t i = 0; i < a.num_block_rows; ++i) {
      const float s =
          Row1x1(x, a.col_idx, a.values, rp[i], rp[i + 1]) + a.bias[i];
      y[i] = ClampF32(s, a.output_min, a.output_max);
    }
  }
}

// ---- 1x8: one output row, eight consecutive inputs per block. ----

template <typename Index>
void f32_bsr_minmax_1x8__avx2(const F32BsrArgs<Index>& a) {
  const int32_t* rp = a.row_ptr;
  for (size_t b = 0; b < a.batch; ++b) {
    const float* x = a.x + b * a.x_stride;
    float* y = a.y + b * a.y_stride;
    for (size_t i = 0; i < a.num_block_rows; ++i) {
      int32_t k = rp[i];
      const int32_t end = rp[i + 1];
      __m256 acc0 = _mm256_setzero_ps();
      __m256 acc1 = _mm256_setzero_ps();
      for (; k + 2 <= end; k += 2) {
        acc0 = _mm256_fmadd_ps(_mm256_load_ps(a.values + 8 * k),
                               _mm256_loadu_ps(x + a.col_idx[k]), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_load_ps(a.values + 8 * k + 8),
                               _mm256_loadu_ps(x + a.col_idx[k + 1]), acc1);
      }
      if (k < end) {
        acc0 = _mm256_fmadd_ps(_mm256_load_ps(a.values + 8 * k),
                               _mm256_loadu_ps(x + a.col_idx[k]), acc0);
      }
      const float s = Hsum128(Fold256(_mm256_add_ps(acc0, acc1))) + a.bias[i];
      y[i] = ClampF32(s, a.output_min, a.output_max);
    }
  }
}

// ---- Nx1: N output rows, one input per block (N = 4, 8, 16). ----

template <typename Index>
void f32_bsr_minmax_4x1__avx2(const F32BsrArgs<Index>& a) {
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
void f32_bsr_minmax_8x1__avx2(const F32BsrArgs<Index>& a) {
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
void f32_bsr_minmax_16x1__avx2(const F32BsrArgs<Index>& a) {
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
      __m256 lo0 = _mm256_loadu_ps(a.bias + 16 * i);
      __m256 hi0 = _mm256_loadu_ps(a.bias + 16 * i + 8);
      __m256 lo1 = _mm256_setzero_ps();
      __m256 hi1 = _mm256_setzero_ps();
      for (; k + 2 <= end; k += 2) {
        const __m256 x0 = _mm256_broadcast_ss(x + a.col_idx[k]);
        const __m256 x1 = _mm256_broadcast_ss(x + a.col_idx[k + 1]);
        lo0 = _mm256_fmadd_ps(_mm256_load_ps(v + 16 * k), x0, lo0);
        hi0 = _mm256_fmadd_ps(_mm256_load_ps(v + 16 * k + 8), x0, hi0);
        lo1 = _mm256_fmadd_ps(_mm256_load_ps(v + 16 * k + 16), x1, lo1);
        hi1 = _mm256_fmadd_ps(_mm256_load_ps(v + 16 * k + 24), x1, hi1);
      }
      if (k < end) {
        const __m256 x0 = _mm256_broadcast_ss(x + a.col_idx[k]);
        lo0 = _mm256_fmadd_ps(_mm256_load_ps(v + 16 * k), x0, lo0);
        hi0 = _mm256_fmadd_ps(_mm256_load_ps(v + 16 * k + 8), x0, hi0);
      }
      __m256 lo = _mm256_add_ps(lo0, lo1);
      __m256 hi = _mm256_add_ps(hi0, hi1);
      lo = _mm256_min_ps(vmax, _mm256_max_ps(vmin, lo));
      hi = _mm256_min_ps(vmax, _mm256_max_ps(vmin, hi));
      _mm256_storeu_ps(y + 16 * i, lo);
      _mm256_storeu_ps(y + 16 * i + 8, hi);
    }
  }
}

// ---- 4x4: four output rows, four consecutive inputs per block. ----

template <typename Index>
void f32_bsr_minmax_4x4__avx2(const F32BsrArgs<Index>& a) {
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
      // acc01 holds rows 0 and 1 (4 partial products each), acc23 rows 2, 3.
      __m256 acc01a = _mm256_setzero_ps();
      __m256 acc23a = _mm256_setzero_ps();
      __m256 acc01b = _mm256_setzero_ps();
      __m256 acc23b = _mm256_setzero_ps();
      for (; k + 2 <= end; k += 2) {
        const __m256 x0 = _mm256_broadcast_ps(
            reinterpret_cast<const __m128*>(x + a.col_idx[k]));
        const __m256 x1 = _mm256_broadcast_ps(
            reinterpret_cast<const __m128*>(x + a.col_idx[k + 1]));
        acc01a = _mm256_fmadd_ps(_mm256_load_ps(v + 16 * k), x0, acc01a);
        acc23a = _mm256_fmadd_ps(_mm256_load_ps(v + 16 * k + 8), x0, acc23a);
        acc01b = _mm256_fmadd_ps(_mm256_load_ps(v + 16 * k + 16), x1, acc01b);
        acc23b = _mm256_fmadd_ps(_mm256_load_ps(v + 16 * k + 24), x1, acc23b);
      }
      if (k < end) {
        const __m256 x0 = _mm256_broadcast_ps(
            reinterpret_cast<const __m128*>(x + a.col_idx[k]));
        acc01a = _mm256_fmadd_ps(_mm256_load_ps(v + 16 * k), x0, acc01a);
        acc23a = _mm256_fmadd_ps(_mm256_load_ps(v + 16 * k + 8), x0, acc23a);
      }
      const __m256 acc01 = _mm256_add_ps(acc01a, acc01b);
      const __m256 acc23 = _mm256_add_ps(acc23a, acc23b);
      __m128 s = Hadd4x4(_mm256_castps256_ps128(acc01),
                         _mm256_extractf128_ps(acc01, 1),
                         _mm256_castps256_ps128(acc23),
                         _mm256_extractf128_ps(acc23, 1));
      s = _mm_add_ps(s, _mm_loadu_ps(a.bias + 4 * i));
      s = _mm_min_ps(vmax, _mm_max_ps(vmin, s));
      _mm_storeu_ps(y + 4 * i, s);
    }
  }
}

#define TF_SPARSE_KERNEL(R, C, FN, NAME) \
  {R, C, FN<uint16_t>, FN<int32_t>, NAME, Isa::kAvx2}

const F32BsrUkernel kAvx2Kernels[] = {
    TF_SPARSE_KERNEL(1, 4, f32_bsr_minmax_1x4__avx2,
                     "f32_bsr_minmax_1x4__avx2"),
    TF_SPARSE_KERNEL(1, 8, f32_bsr_minmax_1x8__avx2,
                     "f32_bsr_minmax_1x8__avx2"),
    TF_SPARSE_KERNEL(1, 1, f32_bsr_minmax_1x1__avx2,
                     "f32_bsr_minmax_1x1__avx2"),
    TF_SPARSE_KERNEL(4, 1, f32_bsr_minmax_4x1__avx2,
                     "f32_bsr_minmax_4x1__avx2"),
    TF_SPARSE_KERNEL(8, 1, f32_bsr_minmax_8x1__avx2,
                     "f32_bsr_minmax_8x1__avx2"),
    TF_SPARSE_KERNEL(16, 1, f32_bsr_minmax_16x1__avx2,
                     "f32_bsr_minmax_16x1__avx2"),
    TF_SPARSE_KERNEL(4, 4, f32_bsr_minmax_4x4__avx2,
                     "f32_bsr_minmax_4x4__avx2"),
    TF_SPARSE_KERNEL(0, 0, F32BsrGeneric, "f32_bsr_minmax_rxc__avx2"),
};

#undef TF_SPARSE_KERNEL

}  // namespace

const F32BsrUkernel* F32BsrUkernelsAvx2(size_t* count) {
  *count = sizeof(kAvx2Kernels) / sizeof(kAvx2Kernels[0]);
  return kAvx2Kernels;
}

}  // namespace tf_sparse
