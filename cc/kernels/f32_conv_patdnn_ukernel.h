// Micro-kernels of the pattern-sparse (PatDNN FKW) 3x3 convolution.
//
// The operator (f32_conv_patdnn.h) transforms the NHWC input once per call
// into a zero-bordered, channel-planar, stride-phase-split layout:
//
//   X[c][a][ph][b],  ph = py * stride_w + px  (py < stride_h, px < stride_w)
//   X[c][a][ph][b] = input[n][a*stride_h + py - pad_top]
//                             [b*stride_w + px - pad_left][c]  (0 outside)
//
// so that tap (dy, dx) of output (oy, ox) reads X[c][oy + dy / stride_h]
// [ph(dy, dx)][ox + dx / stride_w] with ph(dy, dx) = (dy % stride_h) *
// stride_w + dx % stride_w: for every stride, a row of outputs reads a
// contiguous row of X, and a vector of outputs is one unaligned load. A
// row b holds row_floats (B) floats: the phase stride is B, the row stride
// stride_h * stride_w * B. Kernels specialised for B (48, 80, 144) and the
// stride see every tap offset as a constant.
//
// One micro-kernel call runs one filter (or the part of it in one block of
// input channels) over tiles_y x tiles_x output tiles of tile_rows x
// tile_cols outputs (tile (ty, tx) starts at row ty * tile_rows, column
// tx * tile_cols of x). The filter's kernels come as pattern groups: all
// kernels of a group share one 4-tap pattern, so one loop specialised for
// that pattern (its 4 tap offsets compile-time constants, for strides 1x1
// and 2x2) runs over them: per group one jump, per weight no branch. The
// tile's accumulators stay in registers across all groups; tile (ty, tx)
// starts from and ends in acc + (ty * tiles_x + tx) * tile_rows *
// tile_cols (row-major, tile_cols floats a row). Kernels check nothing;
// the operator guarantees that every read stays inside X.
//
// Names: f32_conv3x3_patdnn_<tile>__<isa>.
#ifndef TF_SPARSE_CC_KERNELS_F32_CONV_PATDNN_UKERNEL_H_
#define TF_SPARSE_CC_KERNELS_F32_CONV_PATDNN_UKERNEL_H_

#include <cstddef>
#include <cstdint>

#include "cc/kernels/f32_bsr_ukernel.h"  // Isa.

namespace tf_sparse {

// A run of kernels with one pattern: entries [begin, begin + count) of the
// FKW index array (and 4 * that of weight).
struct F32PatdnnGroup {
  uint16_t mask;  // 9-bit pattern, 4 bits set (bit 3 * dy + dx).
  int32_t begin;
  int32_t count;  // >= 1.
};

struct F32PatdnnFilterArgs {
  const float* x;         // X at (channel 0, phase 0, first tile).
  size_t channel_stride;  // Floats between channels of X.
  size_t phase_stride;    // B: floats between the phases of a row.
  size_t row_stride;      // stride_h * stride_w * B: between rows a.
  int stride_h;           // Read by the generic-stride kernel only.
  int stride_w;
  const F32PatdnnGroup* groups;
  int num_groups;         // >= 0.
  const int32_t* index;   // FKW index (input channel of each kernel).
  const float* weight;    // FKW weight, 4 values per kernel in tap order.
  int tiles_x;            // >= 1.
  int tiles_y;            // >= 1.
  float* acc;             // tiles_y * tiles_x * tile_rows * tile_cols.
};

using F32PatdnnFilterFn = void (*)(const F32PatdnnFilterArgs& args);

// Output of 16 channels x 16 pixels: out[p * out_stride + j] =
// min(max(src[j][p] + bias[j], lo), hi) for p, j < 16 (a transpose of the
// planar accumulators into NHWC).
struct F32PatdnnWriteArgs {
  const float* src[16];
  const float* bias;
  float lo;
  float hi;
  float* out;
  size_t out_stride;
};

using F32PatdnnWriteFn = void (*)(const F32PatdnnWriteArgs& args);

struct F32PatdnnUkernel {
  const char* name;
  Isa isa;
  int tile_rows;
  int tile_cols;
  // The kernel for a stride and row length B: strides 1x1 and 2x2 with B
  // of 48, 80 or 144 fully specialised, others partly or generic.
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

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_CONV_PATDNN_UKERNEL_H_
