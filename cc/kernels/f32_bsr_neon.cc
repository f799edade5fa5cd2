// NEON (AArch64 Advanced SIMD, with its fused multiply-add) BSR kernels.
// Advanced SIMD is part of every AArch64 CPU, so no extra flags are needed
// and the dispatcher may always select these on aarch64. This translation
// unit is only built for aarch64 (cc/kernels/BUILD selects it; the cross
// test in cc/tests/arm builds it with aarch64-linux-gnu-g++).
#if !defined(__aarch64__)
#error "f32_bsr_neon.cc is for aarch64 only"
#endif

#include <arm_neon.h>

#include "cc/kernels/f32_bsr_generic.inc.h"
#include "cc/kernels/f32_bsr_ukernel.h"

namespace tf_sparse {
namespace {

// [sum(s0), sum(s1), sum(s2), sum(s3)] with two levels of pairwise adds.
inline float32x4_t Hadd4x4(float32x4_t s0, float32x4_t s1, float32x4_t s2,
                           float32x4_t s3) {
  return vpaddq_f32(vpaddq_f32(s0, s1), vpaddq_f32(s2, s3));
}

inline float32x4_t Clamp4(float32x4_t v, float32x4_t lo, float32x4_t hi) {
  return vminq_f32(vmaxq_f32(v, lo), hi);
}

// ---- 1x4: one output row, four consecutive inputs per block. ----
//
// One 128-bit FMA per block; two accumulators per row hide the FMA latency.
// Four rows are finished together: bias, clamp and store of four outputs
// with one pairwise-add tree.
template <typename Index>
inline float32x4_t Row1x4(const float* x, const Index* idx, const float* v,
                          int32_t k, int32_t end) {
  float32x4_t acc0 = vdupq_n_f32(0.0f);
  float32x4_t acc1 = vdupq_n_f32(0.0f);
  for (; k + 4 <= end; k += 4) {
    const int32_t i0 = idx[k];
    const int32_t i1 = idx[k + 1];
    const int32_t i2 = idx[k + 2];
    const int32_t i3 = idx[k + 3];
    acc0 = vfmaq_f32(acc0, vld1q_f32(v + 4 * k), vld1q_f32(x + i0));
    acc1 = vfmaq_f32(acc1, vld1q_f32(v + 4 * k + 4), vld1q_f32(x + i1));
    acc0 = vfmaq_f32(acc0, vld1q_f32(v + 4 * k + 8), vld1q_f32(x + i2));
    acc1 = vfmaq_f32(acc1, vld1q_f32(v + 4 * k + 12), vld1q_f32(x + i3));
  }
  for (; k < end; ++k) {
    acc0 = vfmaq_f32(acc0, vld1q_f32(v + 4 * k), vld1q_f32(x + idx[k]));
  }
  return vaddq_f32(acc0, acc1);
}

template <typename Index>
void f32_bsr_minmax_1x4__neonfma(const F32BsrArgs<Index>& a) {
  const float32x4_t vmin = vdupq_n_f32(a.output_min);
  const float32x4_t vmax = vdupq_n_f32(a.output_max);
  const int32_t* rp = a.row_ptr;
  const size_t n = a.num_block_rows;
  for (size_t b = 0; b < a.batch; ++b) {
    const float* x = a.x + b * a.x_stride;
    float* y = a.y + b * a.y_stride;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
      const float32x4_t s0 = Row1x4(x, a.col_idx, a.values, rp[i], rp[i + 1]);
      const float32x4_t s1 =
          Row1x4(x, a.col_idx, a.values, rp[i + 1], rp[i + 2]);
      const float32x4_t s2 =
          Row1x4(x, a.col_idx, a.values, rp[i + 2], rp[i + 3]);
      const float32x4_t s3 =
          Row1x4(x, a.col_idx, a.values, rp[i + 3], rp[i + 4]);
      const float32x4_t s =
          vaddq_f32(Hadd4x4(s0, s1, s2, s3), vld1q_f32(a.bias + i));
      vst1q_f32(y + i, Clamp4(s, vmin, vmax));
    }
    for (; i < n; ++i) {
      const float s =
          vaddvq_f32(Row1x4(x, a.col_idx, a.values, rp[i], rp[i + 1])) +
          a.bias[i];
      y[i] = ClampF32(s, a.output_min, a.output_max);
    }
  }
}

// ---- 1x8: one output row, eight consecutive inputs per block. ----

template <typename Index>
void f32_bsr_minmax_1x8__neonfma(const F32BsrArgs<Index>& a) {
  const int32_t* rp = a.row_ptr;
  const float* v = a.values;
  for (size_t b = 0; b < a.batch; ++b) {
    const float* x = a.x + b * a.x_stride;
    float* y = a.y + b * a.y_stride;
    for (size_t i = 0; i < a.num_block_rows; ++i) {
      int32_t k = rp[i];
      const int32_t end = rp[i + 1];
      float32x4_t acc0 = vdupq_n_f32(0.0f);
      float32x4_t acc1 = vdupq_n_f32(0.0f);
      float32x4_t acc2 = vdupq_n_f32(0.0f);
      float32x4_t acc3 = vdupq_n_f32(0.0f);
      for (; k + 2 <= end; k += 2) {
        const float* x0 = x + a.col_idx[k];
        const float* x1 = x + a.col_idx[k + 1];
        acc0 = vfmaq_f32(acc0, vld1q_f32(v + 8 * k), vld1q_f32(x0));
        acc1 = vfmaq_f32(acc1, vld1q_f32(v + 8 * k + 4), vld1q_f32(x0 + 4));
        acc2 = vfmaq_f32(acc2, vld1q_f32(v + 8 * k + 8), vld1q_f32(x1));
        acc3 = vfmaq_f32(acc3, vld1q_f32(v + 8 * k + 12), vld1q_f32(x1 + 4));
      }
      if (k < end) {
        const float* x0 = x + a.col_idx[k];
        acc0 = vfmaq_f32(acc0, vld1q_f32(v + 8 * k), vld1q_f32(x0));
        acc1 = vfmaq_f32(acc1, vld1q_f32(v + 8 * k + 4), vld1q_f32(x0 + 4));
      }
      const float s =
          vaddvq_f32(vaddq_f32(vaddq_f32(acc0, acc1), vaddq_f32(acc2, acc3))) +
          a.bias[i];
      y[i] = ClampF32(s, a.output_min, a.output_max);
    }
  }
}

// ---- 1x1: one weight per block (unstructured sparsity). ----
//
// NEON has no gather: four x values are assembled lane by lane, then one
// FMA with four consecutive weights.
template <typename Index>
inline float32x4_t Gather4(const float* x, const Index* idx) {
  float32x4_t g = vld1q_dup_f32(x + idx[0]);
  g = vld1q_lane_f32(x + idx[1], g, 1);
  g = vld1q_lane_f32(x + idx[2], g, 2);
  return vld1q_lane_f32(x + idx[3], g, 3);
}

template <typename Index>
void f32_bsr_minmax_1x1__neonfma(const F32BsrArgs<Index>& a) {
  const int32_t* rp = a.row_ptr;
  const float* v = a.values;
  for (size_t b = 0; b < a.batch; ++b) {
    const float* x = a.x + b * a.x_stride;
    float* y = a.y + b * a.y_stride;
    for (size_t i = 0; i < a.num_block_rows; ++i) {
      int32_t k = rp[i];
      const int32_t end = rp[i + 1];
      float32x4_t acc0 = vdupq_n_f32(0.0f);
      float32x4_t acc1 = vdupq_n_f32(0.0f);
      for (; k + 8 <= end; k += 8) {
        acc0 = vfmaq_f32(acc0, vld1q_f32(v + k), Gather4(x, a.col_idx + k));
        acc1 = vfmaq_f32(acc1, vld1q_f32(v + k + 4),
                         Gather4(x, a.col_idx + k + 4));
      }
      if (k + 4 <= end) {
        acc0 = vfmaq_f32(acc0, vld1q_f32(v + k), Gather4(x, a.col_idx + k));
        k += 4;
      }
      float s = vaddvq_f32(vaddq_f32(acc0, acc1));
      for (; k < end; ++k) s += v[k] * x[a.col_idx[k]];
      y[i] = ClampF32(s + a.bias[i], a.output_min, a.output_max);
    }
  }
}

// ---- Nx1: N output rows, one input per block (N = 4, 8, 16). ----
//
// Each block's N weights are contiguous; one x value is broadcast into an
// FMA per four rows. The bias seeds the first accumulator.

template <typename Index>
void f32_bsr_minmax_4x1__neonfma(const F32BsrArgs<Index>& a) {
  const float32x4_t vmin = vdupq_n_f32(a.output_min);
  const float32x4_t vmax = vdupq_n_f32(a.output_max);
  const int32_t* rp = a.row_ptr;
  const float* v = a.values;
  for (size_t b = 0; b < a.batch; ++b) {
    const float* x = a.x + b * a.x_stride;
    float* y = a.y + b * a.y_stride;
    for (size_t i = 0; i < a.num_block_rows; ++i) {
      int32_t k = rp[i];
      const int32_t end = rp[i + 1];
      float32x4_t acc0 = vld1q_f32(a.bias + 4 * i);
      float32x4_t acc1 = vdupq_n_f32(0.0f);
      float32x4_t acc2 = vdupq_n_f32(0.0f);
      float32x4_t acc3 = vdupq_n_f32(0.0f);
      for (; k + 4 <= end; k += 4) {
        acc0 = vfmaq_n_f32(acc0, vld1q_f32(v + 4 * k), x[a.col_idx[k]]);
        acc1 = vfmaq_n_f32(acc1, vld1q_f32(v + 4 * k + 4), x[a.col_idx[k + 1]]);
        acc2 = vfmaq_n_f32(acc2, vld1q_f32(v + 4 * k + 8), x[a.col_idx[k + 2]]);
        acc3 =
            vfmaq_n_f32(acc3, vld1q_f32(v + 4 * k + 12), x[a.col_idx[k + 3]]);
      }
      for (; k < end; ++k) {
        acc0 = vfmaq_n_f32(acc0, vld1q_f32(v + 4 * k), x[a.col_idx[k]]);
      }
      const float32x4_t s =
          vaddq_f32(vaddq_f32(acc0, acc1), vaddq_f32(acc2, acc3));
      vst1q_f32(y + 4 * i, Clamp4(s, vmin, vmax));
    }
  }
}

// Rows of R = 4 * G (G = 2 or 4 registers) per block, two blocks in flight.
template <int G, typename Index>
void BsrNx1(const F32BsrArgs<Index>& a) {
  constexpr int R = 4 * G;
  const float32x4_t vmin = vdupq_n_f32(a.output_min);
  const float32x4_t vmax = vdupq_n_f32(a.output_max);
  const int32_t* rp = a.row_ptr;
  const float* v = a.values;
  for (size_t b = 0; b < a.batch; ++b) {
    const float* x = a.x + b * a.x_stride;
    float* y = a.y + b * a.y_stride;
    for (size_t i = 0; i < a.num_block_rows; ++i) {
      int32_t k = rp[i];
      const int32_t end = rp[i + 1];
      float32x4_t acc0[G];
      float32x4_t acc1[G];
      for (int g = 0; g < G; ++g) {
        acc0[g] = vld1q_f32(a.bias + R * i + 4 * g);
        acc1[g] = vdupq_n_f32(0.0f);
      }
      for (; k + 2 <= end; k += 2) {
        const float x0 = x[a.col_idx[k]];
        const float x1 = x[a.col_idx[k + 1]];
        for (int g = 0; g < G; ++g) {
          acc0[g] = vfmaq_n_f32(acc0[g], vld1q_f32(v + R * k + 4 * g), x0);
          acc1[g] = vfmaq_n_f32(acc1[g], vld1q_f32(v + R * k + R + 4 * g), x1);
        }
      }
      if (k < end) {
        const float x0 = x[a.col_idx[k]];
        for (int g = 0; g < G; ++g) {
          acc0[g] = vfmaq_n_f32(acc0[g], vld1q_f32(v + R * k + 4 * g), x0);
        }
      }
      for (int g = 0; g < G; ++g) {
        vst1q_f32(y + R * i + 4 * g,
                  Clamp4(vaddq_f32(acc0[g], acc1[g]), vmin, vmax));
      }
    }
  }
}

template <typename Index>
void f32_bsr_minmax_8x1__neonfma(const F32BsrArgs<Index>& a) {
  BsrNx1<2>(a);
}

template <typename Index>
void f32_bsr_minmax_16x1__neonfma(const F32BsrArgs<Index>& a) {
  BsrNx1<4>(a);
}

// ---- 4x4: four output rows, four consecutive inputs per block. ----

template <typename Index>
void f32_bsr_minmax_4x4__neonfma(const F32BsrArgs<Index>& a) {
  const float32x4_t vmin = vdupq_n_f32(a.output_min);
  const float32x4_t vmax = vdupq_n_f32(a.output_max);
  const int32_t* rp = a.row_ptr;
  const float* v = a.values;
  for (size_t b = 0; b < a.batch; ++b) {
    const float* x = a.x + b * a.x_stride;
    float* y = a.y + b * a.y_stride;
    for (size_t i = 0; i < a.num_block_rows; ++i) {
      float32x4_t acc0 = vdupq_n_f32(0.0f);
      float32x4_t acc1 = vdupq_n_f32(0.0f);
      float32x4_t acc2 = vdupq_n_f32(0.0f);
      float32x4_t acc3 = vdupq_n_f32(0.0f);
      for (int32_t k = rp[i]; k < rp[i + 1]; ++k) {
        const float32x4_t xv = vld1q_f32(x + a.col_idx[k]);
        acc0 = vfmaq_f32(acc0, vld1q_f32(v + 16 * k), xv);
        acc1 = vfmaq_f32(acc1, vld1q_f32(v + 16 * k + 4), xv);
        acc2 = vfmaq_f32(acc2, vld1q_f32(v + 16 * k + 8), xv);
        acc3 = vfmaq_f32(acc3, vld1q_f32(v + 16 * k + 12), xv);
      }
      const float32x4_t s = vaddq_f32(Hadd4x4(acc0, acc1, acc2, acc3),
                                      vld1q_f32(a.bias + 4 * i));
      vst1q_f32(y + 4 * i, Clamp4(s, vmin, vmax));
    }
  }
}

#define TF_SPARSE_KERNEL(R, C, FN, NAME) \
  {R, C, FN<uint16_t>, FN<int32_t>, NAME, Isa::kNeon}

const F32BsrUkernel kNeonKernels[] = {
    TF_SPARSE_KERNEL(1, 4, f32_bsr_minmax_1x4__neonfma,
                     "f32_bsr_minmax_1x4__neonfma"),
    TF_SPARSE_KERNEL(1, 8, f32_bsr_minmax_1x8__neonfma,
                     "f32_bsr_minmax_1x8__neonfma"),
    TF_SPARSE_KERNEL(1, 1, f32_bsr_minmax_1x1__neonfma,
                     "f32_bsr_minmax_1x1__neonfma"),
    TF_SPARSE_KERNEL(4, 1, f32_bsr_minmax_4x1__neonfma,
                     "f32_bsr_minmax_4x1__neonfma"),
    TF_SPARSE_KERNEL(8, 1, f32_bsr_minmax_8x1__neonfma,
                     "f32_bsr_minmax_8x1__neonfma"),
    TF_SPARSE_KERNEL(16, 1, f32_bsr_minmax_16x1__neonfma,
                     "f32_bsr_minmax_16x1__neonfma"),
    TF_SPARSE_KERNEL(4, 4, f32_bsr_minmax_4x4__neonfma,
                     "f32_bsr_minmax_4x4__neonfma"),
    // The generic loop nest, auto-vectorised for Advanced SIMD.
    TF_SPARSE_KERNEL(0, 0, F32BsrGeneric, "f32_bsr_minmax_rxc__neon"),
};

#undef TF_SPARSE_KERNEL

}  // namespace

const F32BsrUkernel* F32BsrUkernelsNeon(size_t* count) {
  *count = sizeof(kNeonKernels) / sizeof(kNeonKernels[0]);
  return kNeonKernels;
}

}  // namespace tf_sparse
