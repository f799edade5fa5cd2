#include "cc/formats/bsr.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <vector>

namespace tf_sparse {
namespace {

constexpr int64_t kMaxBlockEntries = 1024;  // r * c.

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

bool BlockIsNonzero(const float* w, int rows, int cols, int r, int c,
                    int block_row, int col0) {
  const int row0 = block_row * r;
  const int row_end = row0 + r < rows ? row0 + r : rows;
  const int col_end = col0 + c < cols ? col0 + c : cols;
  for (int i = row0; i < row_end; ++i) {
    const float* row = w + static_cast<int64_t>(i) * cols;
    for (int j = col0; j < col_end; ++j) {
      if (row[j] != 0.0f) return true;
    }
  }
  return false;
}

}  // namespace

int64_t BsrMatrix::PackedBytes() const {
  const int64_t nb = num_blocks();
  return static_cast<int64_t>(num_block_rows + 1) * 4 + nb * index_bytes +
         nb * block_height * block_width * 4;
}

std::string CheckBsrShape(int64_t rows, int64_t cols, int64_t r, int64_t c) {
  if (rows < 1 || cols < 1) return "matrix dimensions must be >= 1";
  if (r < 1 || c < 1) return "block dimensions must be >= 1";
  if (r * c > kMaxBlockEntries) {
    return "block has " + std::to_string(r * c) + " entries, at most " +
           std::to_string(kMaxBlockEntries) + " are supported";
  }
  const int64_t max_i32 = std::numeric_limits<int32_t>::max();
  const int64_t padded_rows = CeilDiv(rows, r) * r;
  const int64_t padded_cols = CeilDiv(cols, c) * c;
  if (padded_rows > max_i32 || padded_cols > max_i32) {
    return "matrix dimensions exceed the int32 range";
  }
  // Even a fully dense matrix must keep block and value counts in range.
  const int64_t max_blocks = CeilDiv(rows, r) * CeilDiv(cols, c);
  if (max_blocks > max_i32) return "more than 2^31-1 blocks";
  if (padded_rows * padded_cols > (int64_t{1} << 40)) {
    return "matrix too large";
  }
  return "";
}

int BsrAutoIndexBytes(int64_t cols, int64_t c) {
  return CeilDiv(cols, c) * c <= 65536 ? 2 : 4;
}

int64_t BsrPackedBytes(int64_t rows, int64_t cols, int64_t r, int64_t c,
                       int64_t nonzero_blocks) {
  return (CeilDiv(rows, r) + 1) * 4 +
         nonzero_blocks * BsrAutoIndexBytes(cols, c) +
         nonzero_blocks * r * c * 4;
}

BsrMatrix PackBsr(const float* w, int rows, int cols, int r, int c,
                  BsrIndexWidth width) {
  const std::string problem = CheckBsrShape(rows, cols, r, c);
  if (!problem.empty()) throw std::invalid_argument("PackBsr: " + problem);
  BsrMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.block_height = r;
  m.block_width = c;
  m.num_block_rows = static_cast<int32_t>(CeilDiv(rows, r));
  m.padded_rows = m.num_block_rows * r;
  const int num_block_cols = static_cast<int>(CeilDiv(cols, c));
  m.padded_cols = num_block_cols * c;
  switch (width) {
    case BsrIndexWidth::kAuto:
      m.index_bytes = BsrAutoIndexBytes(cols, c);
      break;
    case BsrIndexWidth::k16:
      if (m.padded_cols > 65536) {
        throw std::invalid_argument(
            "PackBsr: 16-bit indices need padded_cols <= 65536");
      }
      m.index_bytes = 2;
      break;
    case BsrIndexWidth::k32:
      m.index_bytes = 4;
      break;
  }

  // First pass: which blocks are kept.
  std::vector<int32_t> starts;
  m.row_ptr.Resize(m.num_block_rows + 1);
  m.row_ptr[0] = 0;
  for (int bi = 0; bi < m.num_block_rows; ++bi) {
    for (int bj = 0; bj < num_block_cols; ++bj) {
      if (BlockIsNonzero(w, rows, cols, r, c, bi, bj * c)) {
        starts.push_back(bj * c);
      }
    }
    m.row_ptr[bi + 1] = static_cast<int32_t>(starts.size());
  }

  // Second pass: indices and values (the buffers come zero-filled, which
  // provides the ragged-edge padding).
  const size_t nb = starts.size();
  if (m.index_bytes == 2) {
    m.col_idx16.Resize(nb);
    for (size_t k = 0; k < nb; ++k) {
      m.col_idx16[k] = static_cast<uint16_t>(starts[k]);
    }
  } else {
    m.col_idx32.Resize(nb);
    for (size_t k = 0; k < nb; ++k) m.col_idx32[k] = starts[k];
  }
  m.values.Resize(nb * static_cast<size_t>(r) * c);
  for (int bi = 0; bi < m.num_block_rows; ++bi) {
    for (int32_t k = m.row_ptr[bi]; k < m.row_ptr[bi + 1]; ++k) {
      float* block = m.values.data() + static_cast<size_t>(k) * r * c;
      const int col0 = starts[k];
      for (int i = 0; i < r; ++i) {
        const int row = bi * r + i;
        if (row >= rows) break;
        for (int j = 0; j < c && col0 + j < cols; ++j) {
          block[i * c + j] = w[static_cast<int64_t>(row) * cols + col0 + j];
        }
      }
    }
  }
  return m;
}

void UnpackBsr(const BsrMatrix& m, float* w) {
  const int r = m.block_height;
  const int c = m.block_width;
  for (int64_t i = 0; i < static_cast<int64_t>(m.rows) * m.cols; ++i) {
    w[i] = 0.0f;
  }
  for (int bi = 0; bi < m.num_block_rows; ++bi) {
    for (int32_t k = m.row_ptr[bi]; k < m.row_ptr[bi + 1]; ++k) {
      const int col0 =
          m.index_bytes == 2 ? m.col_idx16[k] : m.col_idx32[k];
      const float* block = m.values.data() + static_cast<size_t>(k) * r * c;
      for (int i = 0; i < r; ++i) {
        const int row = bi * r + i;
        if (row >= m.rows) break;
        for (int j = 0; j < c && col0 + j < m.cols; ++j) {
          w[static_cast<int64_t>(row) * m.cols + col0 + j] = block[i * c + j];
        }
      }
    }
  }
}

namespace {

template <typename T>
BlockDensity MeasureDensity(const T* w, int rows, int cols, int r, int c) {
  BlockDensity d;
  d.block_height = r;
  d.block_width = c;
  if (rows < 1 || cols < 1 || r < 1 || c < 1) return d;
  const int num_block_rows = static_cast<int>(CeilDiv(rows, r));
  const int num_block_cols = static_cast<int>(CeilDiv(cols, c));
  d.total_blocks = static_cast<int64_t>(num_block_rows) * num_block_cols;
  // One pass over the matrix: mark the block of every nonzero entry, per
  // block row.
  std::vector<uint8_t> hit(num_block_cols);
  for (int bi = 0; bi < num_block_rows; ++bi) {
    std::fill(hit.begin(), hit.end(), 0);
    const int row_end = (bi + 1) * r < rows ? (bi + 1) * r : rows;
    for (int i = bi * r; i < row_end; ++i) {
      const T* row = w + static_cast<int64_t>(i) * cols;
      int j = 0;
      for (int bj = 0; bj < num_block_cols; ++bj) {
        const int j_end = j + c < cols ? j + c : cols;
        for (; j < j_end; ++j) {
          if (row[j] != T(0)) {
            ++d.nonzeros;
            hit[bj] = 1;
          }
        }
      }
    }
    for (int bj = 0; bj < num_block_cols; ++bj) d.nonzero_blocks += hit[bj];
  }
  return d;
}

}  // namespace

BlockDensity MeasureBlockDensity(const float* w, int rows, int cols, int r,
                                 int c) {
  return MeasureDensity(w, rows, cols, r, c);
}

BlockDensity MeasureBlockDensity(const int8_t* w, int rows, int cols, int r,
                                 int c) {
  return MeasureDensity(w, rows, cols, r, c);
}

}  // namespace tf_sparse
