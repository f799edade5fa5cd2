// Micro-kernels for y = clamp(W x + bias) with W packed as gather-scatter
// packs (cc/formats/gs.h). For each batch item b and each group g handed in,
// lane l of every pack p of the group accumulates
//
//   acc[l] += values[p][l] * x[b * x_stride + col_idx[p][l]]
//
// and row j of the group (dense row g * R + j) gets
//   y = clamp(bias + acc[j * e] + ... + acc[j * e + e - 1]).
// group_ptr, bias and y point at the first group / its first row;
// group_ptr's entries are absolute pack numbers into values and col_idx.
// Names: f32_gs_minmax__<isa>.
#ifndef TF_SPARSE_CC_KERNELS_F32_GS_UKERNEL_H_
#define TF_SPARSE_CC_KERNELS_F32_GS_UKERNEL_H_

#include <cstddef>
#include <cstdint>

#include "cc/kernels/f32_bsr_ukernel.h"  // Isa.

namespace tf_sparse {

template <typename Index>
struct F32GsArgs {
  size_t batch;
  size_t num_groups;
  size_t banks;             // B (<= 256), lanes per pack.
  size_t elements_per_row;  // e; R = B / e rows per group.
  const int32_t* group_ptr;
  const Index* col_idx;  // [packs][B].
  const float* values;   // [packs][B].
  const float* bias;
  const float* x;
  size_t x_stride;
  float* y;
  size_t y_stride;
  float output_min;
  float output_max;
};

struct F32GsUkernel {
  void (*fn16)(const F32GsArgs<uint16_t>& args);
  void (*fn32)(const F32GsArgs<int32_t>& args);
  const char* name;
  Isa isa;
};

const F32GsUkernel& F32GsUkernelScalar();
const F32GsUkernel& F32GsUkernelAvx2();    // x86-64 builds only.
const F32GsUkernel& F32GsUkernelAvx512();  // x86-64 builds only.
const F32GsUkernel& F32GsUkernelNeon();    // aarch64 builds only.
const F32GsUkernel& F32GsUkernelSve();     // aarch64 builds only.

// Writes the R rows of one group from its B lane sums (shared by all ISAs).
inline void F32GsFinishGroup(const float* lanes, size_t banks, size_t e,
                             const float* bias, float output_min,
                             float output_max, float* y) {
  const size_t rows = banks / e;
  for (size_t j = 0; j < rows; ++j) {
    float acc = bias[j];
    for (size_t t = 0; t < e; ++t) acc += lanes[j * e + t];
    acc = acc < output_min ? output_min : acc;
    acc = acc > output_max ? output_max : acc;
    y[j] = acc;
  }
}

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_GS_UKERNEL_H_
