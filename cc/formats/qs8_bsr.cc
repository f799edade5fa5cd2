#include "cc/formats/qs8_bsr.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace tf_sparse {
namespace {

template <typename Index>
void CopyBlocks(const int8_t* w, int rows, int cols, const Index* col_idx,
                Qs8BsrMatrix* m) {
  const BsrMatrix& l = m->layout;
  const int r = l.block_height;
  const int c = l.block_width;
  int8_t* v = m->values.data();
  for (int i = 0; i < l.num_block_rows; ++i) {
    for (int32_t j = l.row_ptr[i]; j < l.row_ptr[i + 1]; ++j) {
      const int col0 = static_cast<int>(col_idx[j]);
      for (int rr = 0; rr < r; ++rr) {
        const int row = i * r + rr;
        for (int cc = 0; cc < c; ++cc) {
          const int col = col0 + cc;
          v[static_cast<int64_t>(j) * r * c + rr * c + cc] =
              row < rows && col < cols
                  ? w[static_cast<int64_t>(row) * cols + col]
                  : int8_t{0};
        }
      }
    }
  }
}

}  // namespace

int64_t Qs8BsrMatrix::PackedBytes() const {
  return static_cast<int64_t>(layout.num_block_rows + 1) * 4 +
         num_blocks() * (layout.index_bytes + static_cast<int64_t>(
                                                  layout.block_height) *
                                                  layout.block_width);
}

Qs8BsrMatrix PackQs8Bsr(const int8_t* w, int rows, int cols, int r, int c,
                        BsrIndexWidth width) {
  const std::string problem = CheckBsrShape(rows, cols, r, c);
  if (!problem.empty()) throw std::invalid_argument("PackQs8Bsr: " + problem);
  // The block structure is PackBsr's on the same matrix as float (int8 is
  // exact in float, and a block is kept when any entry is nonzero in both).
  std::vector<float> wf(static_cast<size_t>(rows) * cols);
  for (size_t i = 0; i < wf.size(); ++i) wf[i] = static_cast<float>(w[i]);
  Qs8BsrMatrix m;
  m.layout = PackBsr(wf.data(), rows, cols, r, c, width);
  m.layout.values.Resize(0);
  m.values.Resize(static_cast<size_t>(m.num_blocks()) * r * c);
  if (m.layout.index_bytes == 2) {
    CopyBlocks(w, rows, cols, m.layout.col_idx16.data(), &m);
  } else {
    CopyBlocks(w, rows, cols, m.layout.col_idx32.data(), &m);
  }
  m.row_sums.Resize(m.layout.padded_rows);
  m.row_abs_sums.Resize(m.layout.padded_rows);
  for (int o = 0; o < rows; ++o) {
    int64_t sum = 0;
    int64_t abs_sum = 0;
    const int8_t* row = w + static_cast<int64_t>(o) * cols;
    for (int k = 0; k < cols; ++k) {
      sum += row[k];
      abs_sum += std::abs(static_cast<int32_t>(row[k]));
    }
    if (abs_sum > std::numeric_limits<int32_t>::max()) {
      throw std::invalid_argument(
          "PackQs8Bsr: the absolute weights of row " + std::to_string(o) +
          " sum beyond int32; cols must be smaller");
    }
    m.row_sums[o] = static_cast<int32_t>(sum);
    m.row_abs_sums[o] = static_cast<int32_t>(abs_sum);
  }
  return m;
}

void UnpackQs8Bsr(const Qs8BsrMatrix& m, int8_t* w) {
  const BsrMatrix& l = m.layout;
  const int rows = l.rows;
  const int cols = l.cols;
  const int r = l.block_height;
  const int c = l.block_width;
  std::memset(w, 0, static_cast<size_t>(rows) * cols);
  for (int i = 0; i < l.num_block_rows; ++i) {
    for (int32_t j = l.row_ptr[i]; j < l.row_ptr[i + 1]; ++j) {
      const int col0 = l.index_bytes == 2 ? l.col_idx16[j] : l.col_idx32[j];
      for (int rr = 0; rr < r; ++rr) {
        for (int cc = 0; cc < c; ++cc) {
          const int row = i * r + rr;
          const int col = col0 + cc;
          if (row < rows && col < cols) {
            w[static_cast<int64_t>(row) * cols + col] =
                m.values[static_cast<int64_t>(j) * r * c + rr * c + cc];
          }
        }
      }
    }
  }
}

}  // namespace tf_sparse
