// Int8 micro-kernels for y = requantize(W x + bias) with W packed as int8
// BSR (cc/formats/qs8_bsr.h): the int8 sibling of f32_bsr_ukernel.h.
//
// For every batch item b and every dense row o of the block rows handed in:
//
//   acc = bias[o] + sum_k W[o][k] * xk[b * x_stride + k]          (int32)
//   y[b * y_stride + o] = RequantizeToInt8(acc, multiplier[o], shift[o],
//                                          output_zero_point,
//                                          output_min, output_max)
//
// where xk is the input as the kernel reads it: the int8 values themselves
// when input_offset == 0, or their bytes XOR 0x80, i.e. x + 128 as uint8,
// when input_offset == 128 (vpdpbusd multiplies unsigned by signed bytes).
// The input zero point and the offset are folded into bias by the operator:
//   bias[o] = layer_bias[o] - (input_zero_point + input_offset) * row_sums[o].
// The requantization is requantize.h's, so every kernel is bit-exact with
// the scalar one and with TFLite.
//
// Contract (established by the operator, qs8_bsr_fully_connected.h), as for
// the float kernels: row_ptr entries are absolute; every block row is
// complete (r rows of bias, multiplier, shift, y); x rows are readable up to
// padded_cols (the values there do not matter: their weights are 0); the
// accumulator of every row fits int32 (checked at creation).
// Kernel names: qs8_bsr_minmax_1x4__avx512vnni (data type, op, clamp, block
// shape, ISA).
#ifndef TF_SPARSE_CC_KERNELS_QS8_BSR_UKERNEL_H_
#define TF_SPARSE_CC_KERNELS_QS8_BSR_UKERNEL_H_

#include <cstddef>
#include <cstdint>

#include "cc/kernels/isa.h"

namespace tf_sparse {

template <typename Index>
struct Qs8BsrArgs {
  size_t batch;           // Batch items (>= 1).
  size_t num_block_rows;  // Block rows to compute.
  size_t r;               // Block height; read by generic kernels only.
  size_t c;               // Block width; read by generic kernels only.
  const int32_t* row_ptr;
  const Index* col_idx;   // Starting column of each block, in elements.
  const int8_t* values;   // r * c int8 per block, row-major.
  const int32_t* bias;    // Folded bias, num_block_rows * r entries.
  const int32_t* multiplier;  // Per row, QuantizedMultiplier::multiplier.
  const int32_t* shift;       // Per row, QuantizedMultiplier::shift.
  const int8_t* x;        // Input bytes (see input_offset), x_stride apart.
  size_t x_stride;
  int8_t* y;              // Output rows, y_stride apart.
  size_t y_stride;
  int32_t output_zero_point;
  int32_t output_min;
  int32_t output_max;
};

using Qs8BsrFn16 = void (*)(const Qs8BsrArgs<uint16_t>& args);
using Qs8BsrFn32 = void (*)(const Qs8BsrArgs<int32_t>& args);

struct Qs8BsrUkernel {
  int r;  // Block shape served; 0 x 0 means any shape (generic).
  int c;
  Qs8BsrFn16 fn16;
  Qs8BsrFn32 fn32;
  const char* name;
  Isa isa;
  int32_t input_offset;  // 0: reads x as int8; 128: as uint8 (x ^ 0x80).
};

// Kernel tables, one per instruction set (variant), each in its own
// translation unit compiled for it; the last entry of a table is its
// generic kernel, or the table has one 1 x 4 kernel and the selection falls
// back to scalar for other shapes. Call a table's kernels only when the CPU
// supports it: AVX-512 VNNI needs CpuFeatures::avx512vnni besides AVX-512,
// NEON dot product CpuFeatures::neon_dot.
const Qs8BsrUkernel* Qs8BsrUkernelsScalar(size_t* count);
// Sign-extends to int16 and uses vpmaddwd: exact for every int8 input.
// (vpmaddubsw with x + 128 would saturate: 2 * 255 * 127 > 32767.)
const Qs8BsrUkernel* Qs8BsrUkernelsAvx2(size_t* count);
const Qs8BsrUkernel* Qs8BsrUkernelsAvx512Vnni(size_t* count);
// vmull_s8 + vpadalq_s16: baseline Advanced SIMD.
const Qs8BsrUkernel* Qs8BsrUkernelsNeon(size_t* count);
// sdot (ARMv8.2 dot product extension).
const Qs8BsrUkernel* Qs8BsrUkernelsNeonDot(size_t* count);

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_QS8_BSR_UKERNEL_H_
