// Micro-kernels for y = clamp(W x + bias) with W packed as BSR (cc/formats).
//
// For every batch item b and every dense row o of the block rows handed in:
//
//   y[b * y_stride + o] = min(max(bias[o] + sum_k W[o][k] * x[b * x_stride + k],
//                                 output_min), output_max)
//
// A micro-kernel takes pointers and counts only and checks nothing; the
// operator (f32_bsr_fully_connected.h) establishes the contract:
//  - row_ptr points at the first block row to compute (num_block_rows + 1
//    entries follow); its entries are absolute offsets into col_idx and
//    values, which point at the start of the packed arrays.
//  - Every block row is complete: it writes r rows of y and reads r rows of
//    bias (the caller pads the last, ragged block row).
//  - x rows are readable up to padded_cols, zero beyond cols (the caller pads
//    when cols % c != 0).
//  - bias is never null (zeros when the layer has none).
// Kernel names follow data type, operation, fused clamp, block shape, ISA:
// f32_bsr_minmax_1x4__avx512.
#ifndef TF_SPARSE_CC_KERNELS_F32_BSR_UKERNEL_H_
#define TF_SPARSE_CC_KERNELS_F32_BSR_UKERNEL_H_

#include <cstddef>
#include <cstdint>

#include "cc/kernels/isa.h"

namespace tf_sparse {

template <typename Index>
struct F32BsrArgs {
  size_t batch;           // Batch items (>= 1).
  size_t num_block_rows;  // Block rows to compute.
  size_t r;               // Block height; read by generic kernels only.
  size_t c;               // Block width; read by generic kernels only.
  const int32_t* row_ptr;
  const Index* col_idx;   // Starting column of each block, in elements.
  const float* values;    // Block values, r * c per block, row-major.
  const float* bias;      // num_block_rows * r entries.
  const float* x;         // Input rows, x_stride floats apart.
  size_t x_stride;
  float* y;               // Output rows, y_stride floats apart.
  size_t y_stride;
  float output_min;
  float output_max;
};

using F32BsrFn16 = void (*)(const F32BsrArgs<uint16_t>& args);
using F32BsrFn32 = void (*)(const F32BsrArgs<int32_t>& args);

struct F32BsrUkernel {
  int r;  // Block shape served; 0 x 0 means any shape (generic).
  int c;
  F32BsrFn16 fn16;  // For 16-bit column indices.
  F32BsrFn32 fn32;  // For 32-bit column indices.
  const char* name;
  Isa isa;
};

// Kernel tables, one per instruction set, each defined in its own
// translation unit compiled for that ISA. The last entry is the generic
// kernel. Only call a table's kernels when the CPU supports its ISA. The
// x86 tables exist only in x86-64 builds, the NEON and SVE tables only in
// aarch64 builds.
const F32BsrUkernel* F32BsrUkernelsScalar(size_t* count);
const F32BsrUkernel* F32BsrUkernelsAvx2(size_t* count);
const F32BsrUkernel* F32BsrUkernelsAvx512(size_t* count);
const F32BsrUkernel* F32BsrUkernelsNeon(size_t* count);
const F32BsrUkernel* F32BsrUkernelsSve(size_t* count);

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_BSR_UKERNEL_H_
