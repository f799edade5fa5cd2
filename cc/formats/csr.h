// Compressed sparse rows (CSR): the format for unstructured sparsity.
//
// The matrix is the GEMM view W[rows][cols] (FULLY_CONNECTED weights
// [out, in] as TFLite stores them). Every entry != 0.0f is kept (-0.0f
// counts as zero). Field by field in docs/formats.md, "Compressed sparse
// rows (CSR)", shared with the Python encoder tf_sparse/formats/csr.py:
//
//   row_ptr[rows + 1]  int32; row i's entries are [row_ptr[i], row_ptr[i+1]).
//   col_idx[nnz]       column of each entry, ascending inside a row; uint16
//                      when cols <= 65536, else int32 (index_bytes).
//   values[nnz]        float32.
//
// All arrays are 64-byte aligned and zero-padded to a multiple of 64 bytes;
// kernels may read (never use) the padding, so a masked vector load past the
// last entry stays inside the allocation.
#ifndef TF_SPARSE_CC_FORMATS_CSR_H_
#define TF_SPARSE_CC_FORMATS_CSR_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "cc/util/aligned_buffer.h"

namespace tf_sparse {

struct CsrMatrix {
  int32_t rows = 0;
  int32_t cols = 0;
  int32_t index_bytes = 0;  // 2 or 4.
  AlignedBuffer<int32_t> row_ptr;
  AlignedBuffer<uint16_t> col_idx16;  // nnz entries if index_bytes == 2.
  AlignedBuffer<int32_t> col_idx32;   // nnz entries if index_bytes == 4.
  AlignedBuffer<float> values;

  int64_t nnz() const { return rows == 0 ? 0 : row_ptr[rows]; }
  // Bytes of row_ptr + col_idx + values without padding.
  int64_t PackedBytes() const {
    return 4 * (static_cast<int64_t>(rows) + 1) + nnz() * (index_bytes + 4);
  }
};

// The kernels' layout of an unstructured matrix: CSR regrouped so that one
// 16-lane vector step serves 16 rows at once (no horizontal sums) and every
// index is one byte (docs/formats.md, "CSR row-group quads").
//
// Rows are taken 16 at a time (row group g = rows 16g .. 16g+15, lane l =
// row 16g + l). A group's nonzeros are stored as `quads` of 4 slices of 16
// lanes. A quad has a window of 64 columns starting at base[q]; in lane l
// its 4 slices hold the next (up to) 4 nonzeros of row l (ascending column)
// that fall in the window, fillers (0.0f) after. The packer slides the
// window to the lowest column any row of the group still needs, so rows
// never wait on a fixed panel boundary. A kernel loads the window once per
// quad (four 512-bit registers) and fetches each slice's x by permutes.
//
//   slice_ptr[num_groups + 1]  int32; slices of group g are
//                              [slice_ptr[g], slice_ptr[g + 1]), a
//                              multiple of 4 (whole quads).
//   base[num_slices / 4]       int32, the window's first column of each
//                              quad; 0 <= base <= max(0, cols - 64), so the
//                              window lies inside x when cols >= 64.
//   values[num_slices][16]     float32, fillers 0.0f.
//   offsets[num_slices / 4][16][4]
//                              uint8, column - base (0..63); a filler takes
//                              the first column of the window where its
//                              row's weight is zero (else 0, and 0 for rows
//                              >= rows), so 0 * Inf = NaN only where the
//                              dense product is NaN too; the
//                              offset of lane l of slice s is byte
//                              CsrPanelOffsetAt(s, l) = 64 (s / 4) + 4 l +
//                              s % 4: one 64-byte load holds, in byte k of
//                              each 32-bit lane, the offsets of slice k (a
//                              kernel shifts instead of widening bytes).
//
// Lanes of rows >= rows (a ragged last group) are fillers only.
constexpr int kCsrPanelRows = 16;
constexpr int kCsrPanelCols = 64;
constexpr int kCsrPanelQuad = 4;

// Byte of offsets that holds lane `lane` of slice `slice`.
size_t CsrPanelOffsetAt(int64_t slice, int lane);

struct CsrPanelMatrix {
  int32_t rows = 0;
  int32_t cols = 0;
  int32_t num_groups = 0;  // ceil(rows / 16).
  AlignedBuffer<int32_t> slice_ptr;
  AlignedBuffer<int32_t> base;  // One per quad.
  AlignedBuffer<float> values;
  AlignedBuffer<uint8_t> offsets;

  int64_t num_slices() const {
    return slice_ptr.size() == 0 ? 0 : slice_ptr[slice_ptr.size() - 1];
  }
  int64_t PackedBytes() const {
    return 4 * static_cast<int64_t>(slice_ptr.size()) +
           num_slices() * (kCsrPanelRows * 5 + 1);
  }
};

// Packs a dense row-major matrix (same checks as PackCsr).
CsrPanelMatrix PackCsrPanels(const float* w, int rows, int cols);
void UnpackCsrPanels(const CsrPanelMatrix& m, float* w);
// The slices PackCsrPanels would produce, from one pass over the weights.
int64_t CountCsrPanelSlices(const float* w, int rows, int cols);

// Index width used for `cols` columns: 2 when cols <= 65536, else 4.
int CsrIndexBytes(int64_t cols);

// Empty when a rows x cols matrix can be packed, else why not.
std::string CheckCsrShape(int64_t rows, int64_t cols);

// Packs a dense row-major matrix; throws std::invalid_argument on a bad
// shape or more than 2^31-1 nonzeros.
CsrMatrix PackCsr(const float* w, int rows, int cols);

// Writes the dense matrix `m` encodes.
void UnpackCsr(const CsrMatrix& m, float* w);

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_FORMATS_CSR_H_
