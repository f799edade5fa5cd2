// Micro-kernels of the pattern-sparse (PatDNN FKW) 3x3 convolution.
//
// The operator (f32_conv_patdnn.h) transforms the NHWC input once per call
// into a zero-bordered, channel-planar, stride-phase-split layout with
// shifted copies:
//
//   X[c][a][ph][k][b],  ph = py * stride_w + px,  py < stride_h,
//                       px < stride_w,
//                       k < S (PatdnnShiftCopies: 3 at stride_w 1, else 1)
//   X[c][a][ph][k][b] = input[n][a*stride_h + py - pad_top]
//                                [(b + k)*stride_w + px - pad_left][c]
//                       (0 outside)
//
// so that tap (dy, dx) of output (oy, ox) reads X[c][oy + dy / stride_h]
// [ph(dy, dx)][k][ox + dx / stride_w - k], k = min(dx / stride_w, S - 1),
// with ph(dy, dx) = (dy % stride_h) * stride_w + dx % stride_w: for every
// stride, a row of outputs reads a contiguous row of X, and a vector of
// outputs is one load, at stride 1 aligned when the tile's columns are (the
// copies turn the column shift into a choice of row instead of a misaligned
// load, which splits across cache lines and cost a third of the kernel's
// speed). A row holds row_floats (B) floats: the phase stride is S * B, the
// row stride stride_h * stride_w * S * B. Kernels specialised for the row
// stride see every tap's loads as constant displacements.
//
// One micro-kernel call runs one filter (or the part of it in one block of
// input channels) over tiles_y x tiles_x output tiles of tile_rows x
// tile_cols outputs (tile (ty, tx) starts at row ty * tile_rows, column
// tx * tile_cols of x). The operator resolves each kernel's input channel
// and pattern once per shape into 4 tap offsets in X (channel * channel
// stride + phase * S * B + copy * B + row * row stride + column), so the
// loop over kernels is the same for every pattern and stride: per tap one
// broadcast weight and tile_rows x tile_cols / lanes loads from constant
// displacements of one pointer, no branch. The tile's accumulators stay in
// registers across the filter's kernels; tile (ty, tx) starts from (unless
// accumulate is 0: from zero) and ends in acc + (ty * tiles_x + tx) *
// tile_rows * tile_cols (row-major, tile_cols floats a row). Kernels check
// nothing; the operator guarantees that every read stays inside X.
//
// Names: f32_conv3x3_patdnn_<tile>__<isa>.
#ifndef TF_SPARSE_CC_KERNELS_F32_CONV_PATDNN_UKERNEL_H_
#define TF_SPARSE_CC_KERNELS_F32_CONV_PATDNN_UKERNEL_H_

#include <cstddef>
#include <cstdint>

#include "cc/kernels/f32_bsr_ukernel.h"  // Isa.

namespace tf_sparse {

struct F32PatdnnFilterArgs {
  const float* x;         // X at (channel 0, phase 0, first tile).
  size_t row_stride;      // stride_h * stride_w * B: between rows a.
  const int32_t* tap;     // 4 offsets in X (floats) per kernel.
  const float* weight;    // 4 values per kernel, matching tap.
  int num_kernels;        // >= 0.
  int tiles_x;            // >= 1.
  int tiles_y;            // >= 1.
  float* acc;             // tiles_y * tiles_x * tile_rows * tile_cols.
  int accumulate;         // 0: the tiles start from zero (acc only written).
};

using F32PatdnnFilterFn = void (*)(const F32PatdnnFilterArgs& args);

// S: the shifted copies of each phase row. Stride 1 keeps copies for the
// column shifts 0, 1, 2; larger strides (at most one shifted tap column,
// and a transpose that costs more per copy) one copy, read misaligned.
constexpr int PatdnnShiftCopies(int stride_w) { return stride_w == 1 ? 3 : 1; }

// Output of 16 channels x `pixels` pixels: out[p * out_stride + j] =
// min(max(src[j][p] + bias[j], lo), hi) for p < pixels <= 16, j < 16 (a
// transpose of the planar accumulators into NHWC). src[j][p] is read for
// every p < 16. With copies > 1 each stored row p is stored again at
// out + p * out_stride + k * copy_step for 0 < k < copies (the shifted
// copies of the input transpose).
struct F32PatdnnWriteArgs {
  const float* src[16];
  const float* bias;
  float lo;
  float hi;
  float* out;
  size_t out_stride;
  int pixels;     // 1..16.
  int copies;     // >= 1.
  ptrdiff_t copy_step;
};

using F32PatdnnWriteFn = void (*)(const F32PatdnnWriteArgs& args);

struct F32PatdnnUkernel {
  const char* name;
  Isa isa;
  int tile_rows;
  int tile_cols;
  // The kernel for a stride and row length B: strides 1x1 and 2x2 with B
  // of 48, 80 or 144 with compile-time displacements, others run-time.
  F32PatdnnFilterFn (*select)(int stride_h, int stride_w, int row_floats);
  // The 16 x 16 output transpose, or null (the operator's loop then).
  F32PatdnnWriteFn write16;
};

// One per instruction set, each in its own translation unit compiled for
// it (the x86 ones in x86-64 builds only). Only use one whose ISA the CPU
// supports.
const F32PatdnnUkernel& F32PatdnnUkernelScalar();
const F32PatdnnUkernel& F32PatdnnUkernelAvx2();
const F32PatdnnUkernel& F32PatdnnUkernelAvx512();
const F32PatdnnUkernel& F32PatdnnUkernelNeon();  // aarch64 builds only.

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_CONV_PATDNN_UKERNEL_H_
