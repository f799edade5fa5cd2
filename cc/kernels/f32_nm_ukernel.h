// Micro-kernels for y = clamp(W x + bias) with W packed as N:M
// (cc/formats/nm.h). For each batch item b and each row o handed in:
//
//   y[b * y_stride + o] = clamp(bias[o] + sum_k values[o][k] *
//                               x[b * x_stride + (k / n) * m + pos(o, k)])
//
// over the kept_per_row values of the row (a multiple of 16). values,
// positions, bias and y point at the first row to compute; x rows are
// readable up to padded_cols (the caller pads when cols != padded_cols).
// Names: f32_nm_minmax__<isa>.
#ifndef TF_SPARSE_CC_KERNELS_F32_NM_UKERNEL_H_
#define TF_SPARSE_CC_KERNELS_F32_NM_UKERNEL_H_

#include <cstddef>
#include <cstdint>

#include "cc/kernels/f32_bsr_ukernel.h"  // Isa.

namespace tf_sparse {

struct F32NmArgs {
  size_t batch;
  size_t num_rows;
  size_t kept_per_row;   // Values per row, a multiple of 16.
  size_t words_per_row;  // uint32 position words per row.
  int n;
  int m;
  int index_bits;  // 2, 4 or 8.
  const float* values;
  const uint32_t* positions;
  const float* bias;
  const float* x;
  size_t x_stride;
  float* y;
  size_t y_stride;
  float output_min;
  float output_max;
};

// The same product on the row-group layout (NmRowGroupMatrix): for each
// row group g handed in and slot k, lane l accumulates
//   values[g][k][l] * x[b * x_stride + (k / n) * m + position(g, k, l)]
// and row 16 g + l gets clamp(bias + sum) when it is below num_rows. x is
// readable up to cols only; bias for every lane of the groups handed in.
struct F32NmRowGroupArgs {
  size_t batch;
  size_t num_groups;
  size_t num_rows;  // Rows from the first group's first row on.
  size_t cols;
  size_t kept;
  size_t words_per_slot;
  int n;
  int m;  // 2, 4, 8, 16 or 32.
  int index_bits;
  const float* values;        // First group's first slot.
  const uint32_t* positions;  // Likewise.
  const float* bias;
  const float* x;
  size_t x_stride;
  float* y;
  size_t y_stride;
  float output_min;
  float output_max;
};

struct F32NmUkernel {
  void (*fn)(const F32NmArgs& args);
  const char* name;
  Isa isa;
  void (*row_group_fn)(const F32NmRowGroupArgs& args);
  const char* row_group_name;
};

const F32NmUkernel& F32NmUkernelScalar();
const F32NmUkernel& F32NmUkernelAvx2();    // x86-64 builds only.
const F32NmUkernel& F32NmUkernelAvx512();  // x86-64 builds only.
const F32NmUkernel& F32NmUkernelNeon();    // aarch64 builds only.

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_NM_UKERNEL_H_
