// Int8 row-group windows: the layout of the int8 kernels for unstructured
// and N:M sparse weights (docs/formats.md, "Int8 row-group windows").
//
// The matrix is the GEMM view W[rows][cols] (FULLY_CONNECTED weights
// [out, in], zero point 0); every entry != 0 is kept. Rows are taken 16 at a
// time (row group g = rows 16g .. 16g + 15; lane l = row 16g + l), which is
// one 32-bit lane per row of a 512-bit register, so one vpdpbusd serves 16
// rows and no sum is reduced horizontally.
//
// A group's nonzeros are stored in windows of 64 consecutive input columns
// [base, base + 64). A window holds one or more slices; in lane l a slice
// holds the next (up to) 4 nonzeros of row 16g + l (ascending column) that
// fall in the window, fillers (weight 0, offset 0) after. The packer slides
// each window to the lowest column any row of the group still needs
// (clamped to cols - 64, so the window lies inside x when cols >= 64), and
// keeps adding slices to a window while the next one would hold at least
// kQs8RowGroupMinSliceFill nonzeros; a window always has one slice. With
// 2:4 sparsity a window is 8 full slices (32 nonzeros of 64 columns in
// every row); with 1:4 it is 4.
//
//   window_ptr[num_groups + 1]  int32; windows of group g are
//                               [window_ptr[g], window_ptr[g + 1]).
//   slice_ptr[num_windows + 1]  int32; slices of window w are
//                               [slice_ptr[w], slice_ptr[w + 1]), >= 1.
//   base[num_windows]           int32, the window's first column,
//                               0 <= base <= max(0, cols - 64).
//   slices[num_slices][128]     bytes 0..63: uint8 offsets, column - base
//                               (0..63); bytes 64..127: int8 weights. Byte
//                               4l + j of either half is lane l's j-th
//                               entry (j = 0..3): a 64-byte load is the
//                               operand of one vpermb (offsets) or one
//                               vpdpbusd (weights). Fillers: 0 and 0.
//   row_sums[16 * num_groups]   int32, sum_k W[o][k] (0 past rows), for
//                               folding input offsets into the bias.
//   row_abs_sums[16 * num_groups] int32, sum_k |W[o][k]|, for the overflow
//                               check.
//
// Lane l of slice s of window w in group g multiplies x[base[w] + offset]
// by its weight into row 16g + l. A kernel reads x[base, base + 64), so x
// rows must be readable up to max(cols, 64) (the operator pads a copy).
// Arrays are 64-byte aligned (AlignedBuffer).
#ifndef TF_SPARSE_CC_FORMATS_QS8_ROW_GROUP_H_
#define TF_SPARSE_CC_FORMATS_QS8_ROW_GROUP_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "cc/util/aligned_buffer.h"

namespace tf_sparse {

constexpr int kQs8RowGroupRows = 16;     // Rows (lanes) per group.
constexpr int kQs8RowGroupCols = 64;     // Columns per window.
constexpr int kQs8RowGroupDepth = 4;     // Nonzeros per lane per slice.
constexpr int kQs8RowGroupSliceBytes = 128;  // Offsets + weights.
// A window takes another slice while that slice would hold at least this
// many of its 64 entries. On 1024 x 1024 at 90% random sparsity, 1 gives
// 3184 slices in 1024 windows, 16 gives 2432 in 1446 and 32 2213 in 2116:
// 16 trades slices (a permute and a dot product each) against windows (a
// load and loop overhead each); N:M packs into full slices either way.
constexpr int kQs8RowGroupMinSliceFill = 16;

struct Qs8RowGroupMatrix {
  int32_t rows = 0;
  int32_t cols = 0;
  int32_t num_groups = 0;  // ceil(rows / 16).
  AlignedBuffer<int32_t> window_ptr;
  AlignedBuffer<int32_t> slice_ptr;
  AlignedBuffer<int32_t> base;
  AlignedBuffer<int8_t> slices;
  AlignedBuffer<int32_t> row_sums;
  AlignedBuffer<int32_t> row_abs_sums;

  int64_t num_windows() const {
    return num_groups == 0 ? 0 : window_ptr[num_groups];
  }
  int64_t num_slices() const {
    return num_windows() == 0 ? 0 : slice_ptr[num_windows()];
  }
  // Bytes of window_ptr, slice_ptr, base and slices (no padding).
  int64_t PackedBytes() const {
    return 4 * (static_cast<int64_t>(num_groups) + 1) +
           4 * (2 * num_windows() + 1) +
           kQs8RowGroupSliceBytes * num_slices();
  }
};

// Empty when a rows x cols matrix can be packed, else why not.
std::string CheckQs8RowGroupShape(int64_t rows, int64_t cols);

// Packs a dense row-major rows x cols int8 matrix. Throws
// std::invalid_argument on a bad shape (CheckQs8RowGroupShape), more than
// 2^31 - 1 slices, or a row whose absolute weights sum beyond int32.
Qs8RowGroupMatrix PackQs8RowGroups(const int8_t* w, int rows, int cols);

// Writes the dense rows x cols int8 matrix (row-major) that `m` encodes.
void UnpackQs8RowGroups(const Qs8RowGroupMatrix& m, int8_t* w);

// Int8 N:4 row groups (docs/formats.md, "Int8 N:4 row groups"): the same
// 16-row groups, 64-column windows and slices of 4 entries per lane, for
// weights with at most n in {1, 2} nonzeros in every aligned group of 4
// columns (2:4, 1:4), with each offset replaced by its 2-bit position in
// its group of 4: a slice is 16 bytes of positions + 64 bytes of weights
// instead of 128 bytes, 0.625 of dense int8 for 2:4. The windows are
// implicit: window w of every group is columns [64w, 64w + 64), with 4n
// slices; slice k of a window covers columns [64w + 16k/n, + 16/n) in
// every lane, entry j of a lane being the (j % n)-th nonzero of the group
// of 4 columns starting at 64w + 16k/n + 4 (j / n), or a filler (weight 0,
// position 0) when the group has fewer. A kernel reads x up to
// 64 * num_windows bytes (the operator pads a copy).
//
//   positions[num_groups][num_windows][4n][16]
//                       uint8; entry e = 4l + j (lane l) of a slice holds
//                       its position (0..3) at bit
//                       Qs8Nm4PositionBit(e) = 64 ((e / 8) % 2) +
//                       16 (e / 16) + 2 (e % 8) of the 16 bytes (little
//                       endian): broadcast to four 128-bit lanes, the
//                       positions of 64-bit lane q of the offsets are at
//                       bits 16 (q / 2) + 2i of that lane (one
//                       vpmultishiftqb).
//   weights[num_groups][num_windows][4n][64]
//                       int8, byte 4l + j = entry j of lane l; fillers 0.
//   row_sums, row_abs_sums as in Qs8RowGroupMatrix.
struct Qs8Nm4RowGroupMatrix {
  int32_t rows = 0;
  int32_t cols = 0;
  int32_t n = 0;            // 1 or 2: nonzeros per group of 4 at most.
  int32_t num_groups = 0;   // ceil(rows / 16).
  int32_t num_windows = 0;  // ceil(cols / 64).
  AlignedBuffer<uint8_t> positions;
  AlignedBuffer<int8_t> weights;
  AlignedBuffer<int32_t> row_sums;
  AlignedBuffer<int32_t> row_abs_sums;

  int64_t slices_per_group() const { return int64_t{num_windows} * 4 * n; }
  int64_t num_slices() const { return num_groups * slices_per_group(); }
  int64_t PackedBytes() const { return 80 * num_slices(); }
};

// The bit of a slice's 16 position bytes holding entry e (0..63).
inline int Qs8Nm4PositionBit(int e) {
  return 64 * ((e / 8) % 2) + 16 * (e / 16) + 2 * (e % 8);
}

// The largest count of nonzeros in an aligned group of 4 columns of any
// row (0..4): weights fit Qs8Nm4RowGroupMatrix when it is 1 or 2. -1 on a
// bad shape or null w.
int Qs8NmDegreeOf4(const int8_t* w, int rows, int cols);

// Packs a dense row-major matrix whose Qs8NmDegreeOf4 is 1 or 2. Throws
// std::invalid_argument otherwise, or on a bad shape.
Qs8Nm4RowGroupMatrix PackQs8Nm4RowGroups(const int8_t* w, int rows, int cols);
void UnpackQs8Nm4RowGroups(const Qs8Nm4RowGroupMatrix& m, int8_t* w);

// The slices PackQs8RowGroups would produce (one pass over the weights, no
// allocation beyond a few small vectors): the cost of the layer is about
// batch * (slices + windows / 4 + rows / 16) vector steps. -1 on a bad
// shape or null w.
int64_t CountQs8RowGroupSlices(const int8_t* w, int rows, int cols);

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_FORMATS_QS8_ROW_GROUP_H_
