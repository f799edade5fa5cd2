#include "cc/formats/csr.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <vector>

namespace tf_sparse {

int CsrIndexBytes(int64_t cols) { return cols <= 65536 ? 2 : 4; }

std::string CheckCsrShape(int64_t rows, int64_t cols) {
  if (rows < 1 || cols < 1) return "matrix dimensions must be >= 1";
  const int64_t max_i32 = std::numeric_limits<int32_t>::max();
  if (rows >= max_i32 || cols > max_i32) {
    return "matrix dimensions exceed the int32 range";
  }
  return "";
}

CsrMatrix PackCsr(const float* w, int rows, int cols) {
  const std::string problem = CheckCsrShape(rows, cols);
  if (!problem.empty()) throw std::invalid_argument("PackCsr: " + problem);
  CsrMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.index_bytes = CsrIndexBytes(cols);
  m.row_ptr.Resize(static_cast<size_t>(rows) + 1);
  int64_t nnz = 0;
  for (int i = 0; i < rows; ++i) {
    const float* row = w + static_cast<int64_t>(i) * cols;
    for (int j = 0; j < cols; ++j) nnz += row[j] != 0.0f;
    if (nnz > std::numeric_limits<int32_t>::max()) {
      throw std::invalid_argument("PackCsr: more than 2^31-1 nonzeros");
    }
    m.row_ptr[i + 1] = static_cast<int32_t>(nnz);
  }
  if (m.index_bytes == 2) {
    m.col_idx16.Resize(static_cast<size_t>(nnz));
  } else {
    m.col_idx32.Resize(static_cast<size_t>(nnz));
  }
  m.values.Resize(static_cast<size_t>(nnz));
  int64_t k = 0;
  for (int i = 0; i < rows; ++i) {
    const float* row = w + static_cast<int64_t>(i) * cols;
    for (int j = 0; j < cols; ++j) {
      if (row[j] == 0.0f) continue;
      if (m.index_bytes == 2) {
        m.col_idx16[k] = static_cast<uint16_t>(j);
      } else {
        m.col_idx32[k] = j;
      }
      m.values[k++] = row[j];
    }
  }
  return m;
}

namespace {

// The quads of row group g, in order: calls emit(base, col) with
// col[4 l + k] the column that lane l takes in slice k of the quad (base <=
// col < base + 64), or -1 for a filler. Greedy: the window starts at the
// lowest column any row of the group still has to consume (clamped so that
// it ends inside x), and every row takes up to 4 of its next nonzeros that
// fall in the window. The row that lags therefore always advances, and
// rows that run ahead wait instead of padding a fixed panel to its fullest
// row (at 90% random sparsity ~1.3 slots a nonzero, against ~2 for fixed
// 32-column panels of one slice each).
template <typename Emit>
void GroupQuads(const float* w, int rows, int cols, int g, Emit&& emit) {
  std::vector<int> nz[kCsrPanelRows];
  size_t next[kCsrPanelRows] = {};
  for (int l = 0; l < kCsrPanelRows; ++l) {
    const int row = g * kCsrPanelRows + l;
    if (row >= rows) break;
    const float* r = w + static_cast<int64_t>(row) * cols;
    for (int j = 0; j < cols; ++j) {
      if (r[j] != 0.0f) nz[l].push_back(j);
    }
  }
  const int last_base = std::max(0, cols - kCsrPanelCols);
  int col[kCsrPanelRows * kCsrPanelQuad];
  for (;;) {
    int front = std::numeric_limits<int>::max();
    for (int l = 0; l < kCsrPanelRows; ++l) {
      if (next[l] < nz[l].size()) front = std::min(front, nz[l][next[l]]);
    }
    if (front == std::numeric_limits<int>::max()) return;
    const int base = std::min(front, last_base);
    for (int l = 0; l < kCsrPanelRows; ++l) {
      for (int k = 0; k < kCsrPanelQuad; ++k) {
        int& c = col[kCsrPanelQuad * l + k];
        c = -1;
        if (next[l] < nz[l].size() &&
            nz[l][next[l]] < base + kCsrPanelCols) {
          c = nz[l][next[l]++];
        }
      }
    }
    emit(base, col);
  }
}

}  // namespace

int64_t CountCsrPanelSlices(const float* w, int rows, int cols) {
  const int groups = (rows + kCsrPanelRows - 1) / kCsrPanelRows;
  int64_t quads = 0;
  for (int g = 0; g < groups; ++g) {
    GroupQuads(w, rows, cols, g, [&](int, const int*) { ++quads; });
  }
  return quads * kCsrPanelQuad;
}

size_t CsrPanelOffsetAt(int64_t slice, int lane) {
  return static_cast<size_t>(slice / kCsrPanelQuad) * kCsrPanelQuad *
             kCsrPanelRows +
         static_cast<size_t>(lane) * kCsrPanelQuad + slice % kCsrPanelQuad;
}

CsrPanelMatrix PackCsrPanels(const float* w, int rows, int cols) {
  const std::string problem = CheckCsrShape(rows, cols);
  if (!problem.empty()) {
    throw std::invalid_argument("PackCsrPanels: " + problem);
  }
  CsrPanelMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.num_groups = (rows + kCsrPanelRows - 1) / kCsrPanelRows;
  const int64_t total = CountCsrPanelSlices(w, rows, cols);
  if (total > std::numeric_limits<int32_t>::max() / kCsrPanelRows) {
    throw std::invalid_argument("PackCsrPanels: too many nonzeros");
  }
  m.slice_ptr.Resize(static_cast<size_t>(m.num_groups) + 1);
  m.base.Resize(static_cast<size_t>(total / kCsrPanelQuad));
  m.values.Resize(static_cast<size_t>(total) * kCsrPanelRows);
  m.offsets.Resize(static_cast<size_t>(total) * kCsrPanelRows);
  size_t q = 0;
  for (int g = 0; g < m.num_groups; ++g) {
    GroupQuads(w, rows, cols, g, [&](int base, const int* col) {
      m.base[q] = base;
      for (int l = 0; l < kCsrPanelRows; ++l) {
        const int row = g * kCsrPanelRows + l;
        if (row >= rows) break;  // Fillers of missing rows: 0.0f at offset 0.
        const float* r = w + static_cast<int64_t>(row) * cols;
        // A filler (0.0f) reads a column where the row's weight is zero when
        // the window has one, so that 0 * Inf = NaN only reaches an output
        // the dense product also gives NaN.
        int zero_offset = 0;
        while (zero_offset + 1 < kCsrPanelCols && base + zero_offset + 1 < cols &&
               r[base + zero_offset] != 0.0f) {
          ++zero_offset;
        }
        for (int k = 0; k < kCsrPanelQuad; ++k) {
          const int c = col[kCsrPanelQuad * l + k];
          const size_t s = q * kCsrPanelQuad + k;
          if (c < 0) {
            m.offsets[CsrPanelOffsetAt(s, l)] =
                static_cast<uint8_t>(zero_offset);
            continue;
          }
          m.values[s * kCsrPanelRows + l] = r[c];
          m.offsets[CsrPanelOffsetAt(s, l)] = static_cast<uint8_t>(c - base);
        }
      }
      ++q;
    });
    m.slice_ptr[static_cast<size_t>(g) + 1] =
        static_cast<int32_t>(q * kCsrPanelQuad);
  }
  return m;
}

void UnpackCsrPanels(const CsrPanelMatrix& m, float* w) {
  for (int64_t i = 0; i < static_cast<int64_t>(m.rows) * m.cols; ++i) {
    w[i] = 0.0f;
  }
  for (int g = 0; g < m.num_groups; ++g) {
    for (int32_t s = m.slice_ptr[g]; s < m.slice_ptr[g + 1]; ++s) {
      for (int l = 0; l < kCsrPanelRows; ++l) {
        const size_t k = static_cast<size_t>(s) * kCsrPanelRows + l;
        if (m.values[k] == 0.0f) continue;
        const int row = g * kCsrPanelRows + l;
        w[static_cast<int64_t>(row) * m.cols + m.base[s / kCsrPanelQuad] +
          m.offsets[CsrPanelOffsetAt(s, l)]] = m.values[k];
      }
    }
  }
}

void UnpackCsr(const CsrMatrix& m, float* w) {
  for (int64_t i = 0; i < static_cast<int64_t>(m.rows) * m.cols; ++i) {
    w[i] = 0.0f;
  }
  for (int i = 0; i < m.rows; ++i) {
    for (int32_t k = m.row_ptr[i]; k < m.row_ptr[i + 1]; ++k) {
      const int j = m.index_bytes == 2 ? m.col_idx16[k] : m.col_idx32[k];
      w[static_cast<int64_t>(i) * m.cols + j] = m.values[k];
    }
  }
}

}  // namespace tf_sparse
