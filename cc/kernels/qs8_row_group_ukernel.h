// Int8 micro-kernels for y = requantize(W x + bias) with W packed as int8
// row-group windows (cc/formats/qs8_row_group.h).
//
// For every batch item b and every row o of the groups handed in, as
// qs8_bsr_ukernel.h:
//
//   acc = bias[o] + sum_k W[o][k] * xk[b * x_stride + k]          (int32)
//   y[b * y_stride + o] = RequantizeToInt8(acc, multiplier[o], shift[o],
//                                          output_zero_point,
//                                          output_min, output_max)
//
// with xk the int8 input (input_offset 0) or its bytes XOR 0x80, i.e.
// x + 128 as uint8 (input_offset 128, for vpdpbusd), and the input zero
// point and offset folded into bias by the operator.
//
// Contract (established by the operator, qs8_row_group_fully_connected.h):
// window_ptr, slice_ptr and base are the matrix's arrays offset to the
// first group handed in (entries stay absolute); bias, multiplier and shift
// have 16 entries per group (padding rows included); x rows are readable up
// to max(cols, 64) bytes; only rows [0, num_rows) of the groups are
// written to y (the last group may be ragged); every accumulator fits int32.
// Kernel names: qs8_rowgroup_minmax_16x64__avx512vbmi (data type, op,
// clamp, rows x window columns, ISA).
#ifndef TF_SPARSE_CC_KERNELS_QS8_ROW_GROUP_UKERNEL_H_
#define TF_SPARSE_CC_KERNELS_QS8_ROW_GROUP_UKERNEL_H_

#include <cstddef>
#include <cstdint>

#include "cc/kernels/isa.h"

namespace tf_sparse {

struct Qs8RowGroupArgs {
  size_t batch;       // Batch items (>= 1).
  size_t num_groups;  // Row groups to compute (>= 1).
  size_t num_rows;    // Rows of those groups to write, <= 16 * num_groups.
  const int32_t* window_ptr;  // num_groups + 1 entries.
  const int32_t* slice_ptr;   // Indexed by window.
  const int32_t* base;        // Indexed by window.
  const int8_t* slices;       // 128 bytes per slice (offsets, weights).
  const int32_t* bias;        // Folded bias, 16 per group.
  const int32_t* multiplier;  // 16 per group.
  const int32_t* shift;       // 16 per group.
  const int8_t* x;            // Input bytes (see input_offset).
  size_t x_stride;
  int8_t* y;                  // Output rows of the first group.
  size_t y_stride;
  int32_t output_zero_point;
  int32_t output_min;
  int32_t output_max;
};

using Qs8RowGroupFn = void (*)(const Qs8RowGroupArgs& args);

struct Qs8RowGroupUkernel {
  Qs8RowGroupFn fn;
  const char* name;
  Isa isa;
  int32_t input_offset;  // 0: reads x as int8; 128: as uint8 (x ^ 0x80).
};

// The kernels of Qs8Nm4RowGroupMatrix (the N:4 layout with 2-bit
// positions): the same computation and contract, with implicit windows
// (window w at column 64w, 4n slices each) and x rows readable up to
// 64 * num_windows bytes.
struct Qs8Nm4RowGroupArgs {
  size_t batch;
  size_t num_groups;
  size_t num_rows;
  size_t num_windows;
  int n;                      // 1 or 2.
  const uint8_t* positions;   // Of the first group handed in, 16 per slice.
  const int8_t* weights;      // Of the first group handed in, 64 per slice.
  const int32_t* bias;
  const int32_t* multiplier;
  const int32_t* shift;
  const int8_t* x;
  size_t x_stride;
  int8_t* y;
  size_t y_stride;
  int32_t output_zero_point;
  int32_t output_min;
  int32_t output_max;
};

using Qs8Nm4RowGroupFn = void (*)(const Qs8Nm4RowGroupArgs& args);

struct Qs8Nm4RowGroupUkernel {
  Qs8Nm4RowGroupFn fn;
  const char* name;
  Isa isa;
  int32_t input_offset;
};

// One kernel per instruction set (variant), each in its own translation
// unit compiled for it. Call a kernel only when the CPU supports it.
// The reference: plain C++.
const Qs8RowGroupUkernel& Qs8RowGroupUkernelScalar();
// A 64-byte table lookup from four vpshufb and three blends per 32 bytes,
// then sign extension and vpmaddwd (exact for every int8 pair): about 17
// vector instructions per 32 bytes of slice, against 1 permute + 1 dot
// product on AVX-512 VBMI + VNNI.
const Qs8RowGroupUkernel& Qs8RowGroupUkernelAvx2();
// vpermb (VBMI) + vpdpbusd (VNNI): needs CpuFeatures::avx512vbmi and
// avx512vnni besides AVX-512.
const Qs8RowGroupUkernel& Qs8RowGroupUkernelAvx512Vbmi();
// N:4 layout: the reference, and vpmultishiftqb + vpternlogd decoding the
// 2-bit positions into offsets before the vpermb + vpdpbusd of the
// windows kernel (AVX-512 VBMI + VNNI). Other ISAs use the windows layout.
const Qs8Nm4RowGroupUkernel& Qs8Nm4RowGroupUkernelScalar();
const Qs8Nm4RowGroupUkernel& Qs8Nm4RowGroupUkernelAvx512Vbmi();
// vqtbl4q_s8 lookups, then vmull_s8 + vpadalq_s16: baseline Advanced SIMD.
const Qs8RowGroupUkernel& Qs8RowGroupUkernelNeon();
// vqtbl4q_s8 lookups, then sdot (ARMv8.2 dot product extension).
const Qs8RowGroupUkernel& Qs8RowGroupUkernelNeonDot();

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_QS8_ROW_GROUP_UKERNEL_H_
