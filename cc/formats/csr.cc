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

// Nonzeros per (row of the group, panel) of row group g.
void PanelCounts(const float* w, int rows, int cols, int g, int num_panels,
                 std::vector<int>* counts) {
  counts->assign(static_cast<size_t>(kCsrPanelRows) * num_panels, 0);
  for (int l = 0; l < kCsrPanelRows; ++l) {
    const int row = g * kCsrPanelRows + l;
    if (row >= rows) break;
    const float* r = w + static_cast<int64_t>(row) * cols;
    int* c = counts->data() + static_cast<size_t>(l) * num_panels;
    for (int j = 0; j < cols; ++j) c[j / kCsrPanelCols] += r[j] != 0.0f;
  }
}

}  // namespace

int64_t CountCsrPanelSlices(const float* w, int rows, int cols) {
  const int groups = (rows + kCsrPanelRows - 1) / kCsrPanelRows;
  const int panels = (cols + kCsrPanelCols - 1) / kCsrPanelCols;
  std::vector<int> counts;
  int64_t slices = 0;
  for (int g = 0; g < groups; ++g) {
    PanelCounts(w, rows, cols, g, panels, &counts);
    for (int q = 0; q < panels; ++q) {
      int most = 0;
      for (int l = 0; l < kCsrPanelRows; ++l) {
        most = std::max(most, counts[static_cast<size_t>(l) * panels + q]);
      }
      slices += most;
    }
  }
  return slices;
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
  m.num_panels = (cols + kCsrPanelCols - 1) / kCsrPanelCols;
  const int P = m.num_panels;
  const int64_t total = CountCsrPanelSlices(w, rows, cols);
  if (total > std::numeric_limits<int32_t>::max() / kCsrPanelRows) {
    throw std::invalid_argument("PackCsrPanels: too many nonzeros");
  }
  m.slice_ptr.Resize(static_cast<size_t>(m.num_groups) * P + 1);
  m.values.Resize(static_cast<size_t>(total) * kCsrPanelRows);
  m.offsets.Resize(static_cast<size_t>(total) * kCsrPanelRows);
  std::vector<int> counts;
  int32_t s0 = 0;
  for (int g = 0; g < m.num_groups; ++g) {
    PanelCounts(w, rows, cols, g, P, &counts);
    for (int q = 0; q < P; ++q) {
      int most = 0;
      for (int l = 0; l < kCsrPanelRows; ++l) {
        most = std::max(most, counts[static_cast<size_t>(l) * P + q]);
      }
      const int j0 = q * kCsrPanelCols;
      const int j1 = std::min(cols, j0 + kCsrPanelCols);
      for (int l = 0; l < kCsrPanelRows; ++l) {
        const int row = g * kCsrPanelRows + l;
        if (row >= rows) break;
        const float* r = w + static_cast<int64_t>(row) * cols;
        int s = s0;
        for (int j = j0; j < j1; ++j) {
          if (r[j] == 0.0f) continue;
          const size_t k = static_cast<size_t>(s++) * kCsrPanelRows + l;
          m.values[k] = r[j];
          m.offsets[k] = static_cast<uint8_t>(j - j0);
        }
      }
      s0 += most;
      m.slice_ptr[static_cast<size_t>(g) * P + q + 1] = s0;
    }
  }
  return m;
}

void UnpackCsrPanels(const CsrPanelMatrix& m, float* w) {
  for (int64_t i = 0; i < static_cast<int64_t>(m.rows) * m.cols; ++i) {
    w[i] = 0.0f;
  }
  for (int g = 0; g < m.num_groups; ++g) {
    for (int q = 0; q < m.num_panels; ++q) {
      const size_t cell = static_cast<size_t>(g) * m.num_panels + q;
      for (int32_t s = m.slice_ptr[cell]; s < m.slice_ptr[cell + 1]; ++s) {
        for (int l = 0; l < kCsrPanelRows; ++l) {
          const size_t k = static_cast<size_t>(s) * kCsrPanelRows + l;
          if (m.values[k] == 0.0f) continue;
          const int row = g * kCsrPanelRows + l;
          w[static_cast<int64_t>(row) * m.cols + q * kCsrPanelCols +
            m.offsets[k]] = m.values[k];
        }
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
