// Micro-kernels for y = clamp(W x + bias) with W packed as CSR
// (cc/formats/csr.h). For each batch item b and each row o handed in:
//
//   y[b * y_stride + o] = min(max(bias[o] + sum_k values[k] *
//                                 x[b * x_stride + col_idx[k]], min), max)
//
// over k in [row_ptr[o], row_ptr[o+1]). Pointers and counts only, no
// checks: row_ptr, bias and y point at the first row to compute; row_ptr's
// entries are absolute offsets into col_idx and values (which point at the
// start of the packed arrays, padded as the format guarantees); bias is
// never null. Names: f32_csr_minmax__<isa>.
#ifndef TF_SPARSE_CC_KERNELS_F32_CSR_UKERNEL_H_
#define TF_SPARSE_CC_KERNELS_F32_CSR_UKERNEL_H_

#include <cstddef>
#include <cstdint>

#include "cc/kernels/f32_bsr_ukernel.h"  // Isa.

namespace tf_sparse {

template <typename Index>
struct F32CsrArgs {
  size_t batch;
  size_t num_rows;
  const int32_t* row_ptr;
  const Index* col_idx;
  const float* values;
  const float* bias;
  const float* x;
  size_t x_stride;
  float* y;
  size_t y_stride;
  float output_min;
  float output_max;
};

// The same product on the row-group quad layout (CsrPanelMatrix): for
// each group g handed in, lane l of every slice s of the group accumulates
//   acc[l] += values[s][l] * x[b * x_stride + base[s / 4] + offset(s, l)]
// (offset(s, l) = offsets[CsrPanelOffsetAt(s, l)]) and row 16 g + l gets
// clamp(bias + acc[l]) when it is below num_rows. slice_ptr, bias and y
// point at the first group's entry / row; slice indices, and so base and
// offsets, are absolute; bias is readable for every lane of every group
// handed in. x[base[q] .. base[q] + 64) is readable when cols >= 64; with
// fewer columns every base is 0 and only x[0 .. cols) may be read.
struct F32CsrPanelArgs {
  size_t batch;
  size_t num_groups;
  size_t num_rows;  // Rows from the first group's first row on.
  size_t cols;      // x is readable up to cols (not beyond).
  const int32_t* slice_ptr;
  const int32_t* base;
  const float* values;
  const uint8_t* offsets;
  const float* bias;
  const float* x;
  size_t x_stride;
  float* y;
  size_t y_stride;
  float output_min;
  float output_max;
};

struct F32CsrUkernel {
  void (*fn16)(const F32CsrArgs<uint16_t>& args);
  void (*fn32)(const F32CsrArgs<int32_t>& args);
  const char* name;
  Isa isa;
  void (*panel_fn)(const F32CsrPanelArgs& args);
  const char* panel_name;
};

// One per ISA, each in its own translation unit; only call the kernels of
// an ISA the CPU supports.
const F32CsrUkernel& F32CsrUkernelScalar();
const F32CsrUkernel& F32CsrUkernelAvx2();    // x86-64 builds only.
const F32CsrUkernel& F32CsrUkernelAvx512();  // x86-64 builds only.
const F32CsrUkernel& F32CsrUkernelNeon();    // aarch64 builds only.

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_CSR_UKERNEL_H_
