#include "cc/formats/qs8_row_group.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

namespace tf_sparse {
namespace {

// Row sums and absolute row sums into padded arrays (16 per group).
void RowSums(const int8_t* w, int rows, int cols, int num_groups,
             AlignedBuffer<int32_t>* sums, AlignedBuffer<int32_t>* abs_sums,
             const char* who) {
  const size_t padded = static_cast<size_t>(num_groups) * kQs8RowGroupRows;
  sums->Resize(padded);  // Zero-filled: padding rows sum to 0.
  abs_sums->Resize(padded);
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
          std::string(who) + ": the absolute weights of row " +
          std::to_string(o) + " sum beyond int32; cols must be smaller");
    }
    (*sums)[o] = static_cast<int32_t>(sum);
    (*abs_sums)[o] = static_cast<int32_t>(abs_sum);
  }
}

// The nonzero columns of each row of group g (16 lists; rows past `rows`
// stay empty).
void GroupColumns(const int8_t* w, int rows, int cols, int g,
                  std::vector<int32_t>* lists) {
  for (int l = 0; l < kQs8RowGroupRows; ++l) {
    lists[l].clear();
    const int row = g * kQs8RowGroupRows + l;
    if (row >= rows) continue;
    const int8_t* r = w + static_cast<int64_t>(row) * cols;
    for (int k = 0; k < cols; ++k) {
      if (r[k] != 0) lists[l].push_back(k);
    }
  }
}

// The packing rule of the header, for one group: calls
// on_window(base, num_slices, cursor, avail) for each window, where lane l
// takes its entries cursor[l] .. cursor[l] + min(avail[l], 4 num_slices)
// of lists[l], 4 per slice.
template <class OnWindow>
void WalkGroup(const std::vector<int32_t>* lists, int cols,
               OnWindow on_window) {
  constexpr int kLanes = kQs8RowGroupRows;
  size_t cursor[kLanes] = {};
  size_t avail[kLanes];
  const int32_t max_base = std::max(0, cols - kQs8RowGroupCols);
  for (;;) {
    int32_t base = std::numeric_limits<int32_t>::max();
    for (int l = 0; l < kLanes; ++l) {
      if (cursor[l] < lists[l].size()) {
        base = std::min(base, lists[l][cursor[l]]);
      }
    }
    if (base == std::numeric_limits<int32_t>::max()) return;
    base = std::min(base, max_base);
    const int64_t end = static_cast<int64_t>(base) + kQs8RowGroupCols;
    size_t most = 0;
    for (int l = 0; l < kLanes; ++l) {
      size_t e = cursor[l];
      while (e < lists[l].size() && lists[l][e] < end) ++e;
      avail[l] = e - cursor[l];
      most = std::max(most, avail[l]);
    }
    // Slice k of the window holds min(4, avail - 4k) entries per lane.
    int64_t num_slices = 1;
    for (;;) {
      const size_t skip = static_cast<size_t>(num_slices) * kQs8RowGroupDepth;
      if (skip >= most) break;
      int fill = 0;
      for (int l = 0; l < kLanes; ++l) {
        if (avail[l] > skip) {
          fill += static_cast<int>(
              std::min<size_t>(avail[l] - skip, kQs8RowGroupDepth));
        }
      }
      if (fill < kQs8RowGroupMinSliceFill) break;
      ++num_slices;
    }
    on_window(base, num_slices, cursor, avail);
    for (int l = 0; l < kLanes; ++l) {
      cursor[l] += std::min<size_t>(
          avail[l], static_cast<size_t>(num_slices) * kQs8RowGroupDepth);
    }
  }
}

}  // namespace

std::string CheckQs8RowGroupShape(int64_t rows, int64_t cols) {
  if (rows < 1 || cols < 1) return "matrix dimensions must be >= 1";
  const int64_t max_i32 = std::numeric_limits<int32_t>::max();
  if (rows > max_i32 - kQs8RowGroupRows || cols > max_i32) {
    return "matrix dimensions exceed the int32 range";
  }
  return "";
}

Qs8RowGroupMatrix PackQs8RowGroups(const int8_t* w, int rows, int cols) {
  const std::string problem = CheckQs8RowGroupShape(rows, cols);
  if (!problem.empty()) {
    throw std::invalid_argument("PackQs8RowGroups: " + problem);
  }
  Qs8RowGroupMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.num_groups = (rows + kQs8RowGroupRows - 1) / kQs8RowGroupRows;
  RowSums(w, rows, cols, m.num_groups, &m.row_sums, &m.row_abs_sums,
          "PackQs8RowGroups");

  std::vector<int32_t> window_ptr(1, 0);
  std::vector<int32_t> slice_ptr(1, 0);
  std::vector<int32_t> base;
  std::vector<int8_t> slices;
  std::vector<int32_t> lists[kQs8RowGroupRows];
  const int64_t max_i32 = std::numeric_limits<int32_t>::max();
  for (int g = 0; g < m.num_groups; ++g) {
    GroupColumns(w, rows, cols, g, lists);
    WalkGroup(lists, cols, [&](int32_t b, int64_t n, const size_t* cursor,
                               const size_t* avail) {
      const int64_t first = slice_ptr.back();
      if (first + n > max_i32 ||
          static_cast<int64_t>(base.size()) + 1 >= max_i32) {
        throw std::invalid_argument(
            "PackQs8RowGroups: more than 2^31 - 1 slices");
      }
      base.push_back(b);
      slice_ptr.push_back(static_cast<int32_t>(first + n));
      slices.resize(static_cast<size_t>(first + n) * kQs8RowGroupSliceBytes,
                    0);
      for (int64_t s = 0; s < n; ++s) {
        int8_t* out = slices.data() + (first + s) * kQs8RowGroupSliceBytes;
        for (int l = 0; l < kQs8RowGroupRows; ++l) {
          const int64_t row = int64_t{g} * kQs8RowGroupRows + l;
          for (int j = 0; j < kQs8RowGroupDepth; ++j) {
            const size_t e = static_cast<size_t>(s) * kQs8RowGroupDepth + j;
            if (e >= avail[l]) break;
            const int32_t col = lists[l][cursor[l] + e];
            out[4 * l + j] = static_cast<int8_t>(col - b);
            out[kQs8RowGroupCols + 4 * l + j] = w[row * cols + col];
          }
        }
      }
    });
    window_ptr.push_back(static_cast<int32_t>(base.size()));
  }
  m.window_ptr.Resize(window_ptr.size());
  std::memcpy(m.window_ptr.data(), window_ptr.data(), window_ptr.size() * 4);
  m.slice_ptr.Resize(slice_ptr.size());
  std::memcpy(m.slice_ptr.data(), slice_ptr.data(), slice_ptr.size() * 4);
  m.base.Resize(base.size());
  if (!base.empty()) {
    std::memcpy(m.base.data(), base.data(), base.size() * 4);
  }
  m.slices.Resize(slices.size());
  if (!slices.empty()) {
    std::memcpy(m.slices.data(), slices.data(), slices.size());
  }
  return m;
}

void UnpackQs8RowGroups(const Qs8RowGroupMatrix& m, int8_t* w) {
  std::memset(w, 0, static_cast<size_t>(m.rows) * m.cols);
  for (int g = 0; g < m.num_groups; ++g) {
    for (int32_t win = m.window_ptr[g]; win < m.window_ptr[g + 1]; ++win) {
      for (int32_t s = m.slice_ptr[win]; s < m.slice_ptr[win + 1]; ++s) {
        const int8_t* in =
            m.slices.data() + static_cast<int64_t>(s) * kQs8RowGroupSliceBytes;
        for (int e = 0; e < kQs8RowGroupCols; ++e) {
          const int8_t v = in[kQs8RowGroupCols + e];
          if (v == 0) continue;
          const int64_t row = int64_t{g} * kQs8RowGroupRows + e / 4;
          const int64_t col =
              m.base[win] + static_cast<uint8_t>(in[e]);
          w[row * m.cols + col] = v;
        }
      }
    }
  }
}

int64_t CountQs8RowGroupSlices(const int8_t* w, int rows, int cols) {
  if (w == nullptr || !CheckQs8RowGroupShape(rows, cols).empty()) return -1;
  const int num_groups = (rows + kQs8RowGroupRows - 1) / kQs8RowGroupRows;
  std::vector<int32_t> lists[kQs8RowGroupRows];
  int64_t total = 0;
  for (int g = 0; g < num_groups; ++g) {
    GroupColumns(w, rows, cols, g, lists);
    WalkGroup(lists, cols,
              [&](int32_t, int64_t n, const size_t*, const size_t*) {
                total += n;
              });
  }
  return total;
}

int Qs8NmDegreeOf4(const int8_t* w, int rows, int cols) {
  if (w == nullptr || !CheckQs8RowGroupShape(rows, cols).empty()) return -1;
  int degree = 0;
  for (int o = 0; o < rows; ++o) {
    const int8_t* row = w + static_cast<int64_t>(o) * cols;
    for (int k0 = 0; k0 < cols; k0 += 4) {
      int count = 0;
      for (int k = k0; k < k0 + 4 && k < cols; ++k) count += row[k] != 0;
      degree = std::max(degree, count);
    }
  }
  return degree;
}

Qs8Nm4RowGroupMatrix PackQs8Nm4RowGroups(const int8_t* w, int rows,
                                         int cols) {
  const std::string problem = CheckQs8RowGroupShape(rows, cols);
  if (!problem.empty()) {
    throw std::invalid_argument("PackQs8Nm4RowGroups: " + problem);
  }
  const int n = Qs8NmDegreeOf4(w, rows, cols);
  if (n != 1 && n != 2) {
    throw std::invalid_argument(
        "PackQs8Nm4RowGroups: the weights have " + std::to_string(n) +
        " nonzeros in some group of 4 columns; 1 or 2 (1:4, 2:4) needed");
  }
  Qs8Nm4RowGroupMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.n = n;
  m.num_groups = (rows + kQs8RowGroupRows - 1) / kQs8RowGroupRows;
  m.num_windows = (cols + kQs8RowGroupCols - 1) / kQs8RowGroupCols;
  RowSums(w, rows, cols, m.num_groups, &m.row_sums, &m.row_abs_sums,
          "PackQs8Nm4RowGroups");
  const int64_t slices = m.num_slices();
  m.positions.Resize(static_cast<size_t>(slices) * 16);
  m.weights.Resize(static_cast<size_t>(slices) * 64);
  const int cols_per_slice = 16 / n;
  for (int g = 0; g < m.num_groups; ++g) {
    for (int64_t s = 0; s < m.slices_per_group(); ++s) {
      const int64_t slice = g * m.slices_per_group() + s;
      const int64_t col0 = s * cols_per_slice;  // Window w = s / 4n.
      uint8_t* pos = m.positions.data() + slice * 16;
      int8_t* wt = m.weights.data() + slice * 64;
      for (int l = 0; l < kQs8RowGroupRows; ++l) {
        const int64_t row = int64_t{g} * kQs8RowGroupRows + l;
        if (row >= rows) continue;
        for (int grp = 0; grp < 4 / n; ++grp) {
          int j = grp * n;  // Next entry of this group.
          for (int p = 0; p < 4; ++p) {
            const int64_t col = col0 + 4 * grp + p;
            if (col >= cols) break;
            const int8_t v = w[row * cols + col];
            if (v == 0) continue;
            const int e = 4 * l + j;
            wt[e] = v;
            const int bit = Qs8Nm4PositionBit(e);
            pos[bit / 8] = static_cast<uint8_t>(pos[bit / 8] |
                                                (p << (bit % 8)));
            ++j;
          }
        }
      }
    }
  }
  return m;
}

void UnpackQs8Nm4RowGroups(const Qs8Nm4RowGroupMatrix& m, int8_t* w) {
  std::memset(w, 0, static_cast<size_t>(m.rows) * m.cols);
  const int cols_per_slice = 16 / m.n;
  for (int g = 0; g < m.num_groups; ++g) {
    for (int64_t s = 0; s < m.slices_per_group(); ++s) {
      const int64_t slice = g * m.slices_per_group() + s;
      const uint8_t* pos = m.positions.data() + slice * 16;
      const int8_t* wt = m.weights.data() + slice * 64;
      for (int e = 0; e < 64; ++e) {
        if (wt[e] == 0) continue;
        const int bit = Qs8Nm4PositionBit(e);
        const int p = (pos[bit / 8] >> (bit % 8)) & 3;
        const int j = e % 4;
        const int64_t row = int64_t{g} * kQs8RowGroupRows + e / 4;
        const int64_t col = s * cols_per_slice + 4 * (j / m.n) + p;
        w[row * m.cols + col] = wt[e];
      }
    }
  }
}

}  // namespace tf_sparse
