// Block sparse rows (BSR): the packed weight format of the sparse kernels.
//
// The matrix is the GEMM view of a fully connected layer's weights,
// W[rows][cols] row-major, rows = output units, cols = the reduction
// dimension (TFLite's FULLY_CONNECTED weights [out, in] as they are). It is
// cut into a grid of r x c blocks aligned at multiples of r and c; a block is
// stored when any of its r*c entries is nonzero (exact comparison with 0.0f).
// The field-by-field description, shared with the Python encoders, is in
// docs/formats.md, "Block sparse rows (BSR)".
//
//   row_ptr[num_block_rows + 1]  int32; the blocks of block row i are the
//                                half-open range [row_ptr[i], row_ptr[i+1]);
//                                row_ptr[0] == 0, row_ptr[last] == num_blocks.
//   col_idx[num_blocks]          the STARTING COLUMN of each block, in
//                                elements (a multiple of c), ascending within
//                                a block row; uint16 when padded_cols <= 65536,
//                                else int32 (see index_bytes).
//   values[num_blocks * r * c]   float32, block after block, each block r*c
//                                values row-major; entries of ragged edge
//                                blocks outside the matrix are 0.0f.
//
// All three arrays are 64-byte aligned and zero-padded to a multiple of 64
// bytes, so a kernel may read (but must not use) up to that boundary.
#ifndef TF_SPARSE_CC_FORMATS_BSR_H_
#define TF_SPARSE_CC_FORMATS_BSR_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "cc/util/aligned_buffer.h"

namespace tf_sparse {

// Width of the stored column indices.
enum class BsrIndexWidth {
  kAuto,  // 16 bits when every starting column fits (padded_cols <= 65536).
  k16,
  k32,
};

struct BsrMatrix {
  int32_t rows = 0;            // Output units (dense rows).
  int32_t cols = 0;            // Reduction dimension (dense columns).
  int32_t block_height = 0;    // r: dense rows per block.
  int32_t block_width = 0;     // c: dense columns per block.
  int32_t num_block_rows = 0;  // ceil(rows / r).
  int32_t padded_rows = 0;     // num_block_rows * r.
  int32_t padded_cols = 0;     // ceil(cols / c) * c.
  int32_t index_bytes = 0;     // 2 or 4: which of col_idx16/col_idx32 is used.

  AlignedBuffer<int32_t> row_ptr;     // num_block_rows + 1 entries.
  AlignedBuffer<uint16_t> col_idx16;  // num_blocks entries if index_bytes == 2.
  AlignedBuffer<int32_t> col_idx32;   // num_blocks entries if index_bytes == 4.
  AlignedBuffer<float> values;        // num_blocks * r * c entries.

  int64_t num_blocks() const {
    return num_block_rows == 0 ? 0 : row_ptr[num_block_rows];
  }
  // Bytes of row_ptr + col_idx + values (without alignment padding).
  int64_t PackedBytes() const;
};

// Returns an empty string when a rows x cols matrix can be packed with r x c
// blocks, else a message saying which limit is exceeded.
std::string CheckBsrShape(int64_t rows, int64_t cols, int64_t r, int64_t c);

// Packs a dense row-major rows x cols matrix. The shape must pass
// CheckBsrShape (throws std::invalid_argument otherwise); k16 with
// padded_cols > 65536 also throws.
BsrMatrix PackBsr(const float* w, int rows, int cols, int r, int c,
                  BsrIndexWidth width = BsrIndexWidth::kAuto);

// Writes the dense rows x cols matrix (row-major) that `m` encodes.
void UnpackBsr(const BsrMatrix& m, float* w);

// How many r x c blocks of a dense matrix hold a nonzero entry.
struct BlockDensity {
  int32_t block_height = 0;
  int32_t block_width = 0;
  int64_t total_blocks = 0;    // ceil(rows/r) * ceil(cols/c).
  int64_t nonzero_blocks = 0;  // Blocks with any entry != 0.0f.
  int64_t nonzeros = 0;        // Entries != 0.0f.
  double density() const {
    return total_blocks == 0 ? 0.0
                             : static_cast<double>(nonzero_blocks) /
                                   static_cast<double>(total_blocks);
  }
};
BlockDensity MeasureBlockDensity(const float* w, int rows, int cols, int r,
                                 int c);
// The same for int8 weights (entries != 0).
BlockDensity MeasureBlockDensity(const int8_t* w, int rows, int cols, int r,
                                 int c);

// Bytes the packed matrix would take (row_ptr + col_idx + values) for a
// given number of kept blocks, using the kAuto index width.
int64_t BsrPackedBytes(int64_t rows, int64_t cols, int64_t r, int64_t c,
                       int64_t nonzero_blocks);

// Index width kAuto picks for a matrix with `cols` columns and block width c.
int BsrAutoIndexBytes(int64_t cols, int64_t c);

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_FORMATS_BSR_H_
