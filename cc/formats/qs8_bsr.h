// BSR (bsr.h) with int8 values: the packed weights of the int8 sparse
// kernels.
//
// The layout (row_ptr, col_idx, block grid, alignment and padding) is
// exactly BsrMatrix's; only the values are int8 instead of float32, and a
// block is stored when any of its entries is nonzero. With 1 x 4 blocks a
// block is the four consecutive int8 weights that one 32-bit lane of a dot
// product instruction (vpdpbusd, sdot) consumes.
//
//   layout                     a BsrMatrix whose `values` is empty.
//   values[num_blocks * r * c] int8, block after block, r*c row-major each;
//                              entries outside the matrix are 0.
//   row_sums[padded_rows]      int32: sum_k W[o][k] of each dense row (0 for
//                              padding rows), for folding input offsets
//                              into the bias: sum_k (x[k] - z) W[o][k] =
//                              sum_k x[k] W[o][k] - z * row_sums[o].
//   row_abs_sums[padded_rows]  int32: sum_k |W[o][k]|, bounding the
//                              accumulator (overflow checks).
#ifndef TF_SPARSE_CC_FORMATS_QS8_BSR_H_
#define TF_SPARSE_CC_FORMATS_QS8_BSR_H_

#include <cstdint>

#include "cc/formats/bsr.h"
#include "cc/util/aligned_buffer.h"

namespace tf_sparse {

struct Qs8BsrMatrix {
  BsrMatrix layout;  // Shape, row_ptr, col_idx; values unused (empty).
  AlignedBuffer<int8_t> values;
  AlignedBuffer<int32_t> row_sums;
  AlignedBuffer<int32_t> row_abs_sums;

  int64_t num_blocks() const { return layout.num_blocks(); }
  // Bytes of row_ptr + col_idx + int8 values (without alignment padding).
  int64_t PackedBytes() const;
};

// Packs a dense row-major rows x cols int8 matrix. The shape must pass
// CheckBsrShape (throws std::invalid_argument otherwise, like PackBsr).
Qs8BsrMatrix PackQs8Bsr(const int8_t* w, int rows, int cols, int r, int c,
                        BsrIndexWidth width = BsrIndexWidth::kAuto);

// Writes the dense rows x cols int8 matrix (row-major) that `m` encodes.
void UnpackQs8Bsr(const Qs8BsrMatrix& m, int8_t* w);

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_FORMATS_QS8_BSR_H_
