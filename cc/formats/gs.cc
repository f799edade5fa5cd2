#include "cc/formats/gs.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <vector>

namespace tf_sparse {
namespace {

// Nonzero counts of one row group per (row, bank), row-major R x B.
void GroupCounts(const float* w, int cols, int row0, int R, int B,
                 std::vector<int>* counts) {
  counts->assign(static_cast<size_t>(R) * B, 0);
  for (int r = 0; r < R; ++r) {
    const float* row = w + static_cast<int64_t>(row0 + r) * cols;
    int* c = counts->data() + static_cast<size_t>(r) * B;
    for (int j = 0; j < cols; ++j) c[j % B] += row[j] != 0.0f;
  }
}

// Packs a group needs: max(ceil(max row count / e), max bank count).
int GroupPacks(const std::vector<int>& counts, int R, int B, int e,
               bool* balanced) {
  int max_row = 0, min_row = std::numeric_limits<int>::max();
  int max_bank = 0, min_bank = std::numeric_limits<int>::max();
  for (int r = 0; r < R; ++r) {
    int s = 0;
    for (int b = 0; b < B; ++b) s += counts[r * B + b];
    max_row = std::max(max_row, s);
    min_row = std::min(min_row, s);
  }
  for (int b = 0; b < B; ++b) {
    int s = 0;
    for (int r = 0; r < R; ++r) s += counts[r * B + b];
    max_bank = std::max(max_bank, s);
    min_bank = std::min(min_bank, s);
  }
  *balanced = max_row == min_row && max_bank == min_bank && max_row % e == 0;
  return std::max((max_row + e - 1) / e, max_bank);
}

// Kuhn's augmenting path for a perfect matching of the B x B support.
bool Augment(int u, const std::vector<int>& y, int B, std::vector<int>* match,
             std::vector<char>* seen) {
  for (int b = 0; b < B; ++b) {
    if (y[u * B + b] == 0 || (*seen)[b]) continue;
    (*seen)[b] = 1;
    if ((*match)[b] < 0 || Augment((*match)[b], y, B, match, seen)) {
      (*match)[b] = u;
      return true;
    }
  }
  return false;
}

}  // namespace

std::string CheckGsShape(int64_t rows, int64_t cols, int banks,
                         int elements_per_row) {
  if (rows < 1 || cols < 1) return "matrix dimensions must be >= 1";
  if (banks < 1 || banks > 256) return "banks must be in [1, 256]";
  if (elements_per_row < 1 || banks % elements_per_row != 0) {
    return "elements_per_row must divide banks";
  }
  if (cols % banks != 0) return "banks must divide the columns";
  if (rows % (banks / elements_per_row) != 0) {
    return "banks / elements_per_row must divide the rows";
  }
  if (rows > std::numeric_limits<int32_t>::max() ||
      cols > std::numeric_limits<int32_t>::max()) {
    return "matrix dimensions exceed the int32 range";
  }
  return "";
}

GsStats MeasureGs(const float* w, int rows, int cols, int banks,
                  int elements_per_row) {
  GsStats s;
  if (!CheckGsShape(rows, cols, banks, elements_per_row).empty()) return s;
  const int B = banks;
  const int R = banks / elements_per_row;
  std::vector<int> counts;
  s.balanced = true;
  for (int row0 = 0; row0 < rows; row0 += R) {
    GroupCounts(w, cols, row0, R, B, &counts);
    bool balanced = false;
    s.packs += GroupPacks(counts, R, B, elements_per_row, &balanced);
    s.balanced = s.balanced && balanced;
    for (int c : counts) s.nonzeros += c;
  }
  s.padding = s.packs * B - s.nonzeros;
  return s;
}

GsMatrix PackGs(const float* w, int rows, int cols, int banks,
                int elements_per_row) {
  const std::string problem = CheckGsShape(rows, cols, banks, elements_per_row);
  if (!problem.empty()) throw std::invalid_argument("PackGs: " + problem);
  const int B = banks;
  const int e = elements_per_row;
  const int R = B / e;
  GsMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.banks = B;
  m.elements_per_row = e;
  m.rows_per_group = R;
  m.num_groups = rows / R;
  m.index_bytes = cols <= 65536 ? 2 : 4;
  m.group_ptr.Resize(static_cast<size_t>(m.num_groups) + 1);

  std::vector<float> values;
  std::vector<int32_t> cols_out;
  std::vector<int> counts, x, y, use(static_cast<size_t>(R) * B);
  std::vector<int> match(B), lanes(B);
  std::vector<char> seen(B);
  for (int g = 0; g < m.num_groups; ++g) {
    const int row0 = g * R;
    GroupCounts(w, cols, row0, R, B, &counts);
    bool balanced = false;
    const int packs = GroupPacks(counts, R, B, e, &balanced);
    // Padding so that every row has packs * e entries and every bank packs
    // (north-west corner rule on the deficits).
    x = counts;
    std::vector<int> dr(R), db(B);
    for (int r = 0; r < R; ++r) {
      int s = 0;
      for (int b = 0; b < B; ++b) s += counts[r * B + b];
      dr[r] = packs * e - s;
    }
    for (int b = 0; b < B; ++b) {
      int s = 0;
      for (int r = 0; r < R; ++r) s += counts[r * B + b];
      db[b] = packs - s;
    }
    for (int r = 0, b = 0; r < R && b < B;) {
      const int t = std::min(dr[r], db[b]);
      x[r * B + b] += t;
      dr[r] -= t;
      db[b] -= t;
      if (dr[r] == 0) ++r;
      if (b < B && db[b] == 0) ++b;
    }
    // Split each row into e sub-rows of `packs` entries each (round robin
    // over its banks): a packs-regular bipartite multigraph of B sub-rows
    // and B banks, which splits into `packs` perfect matchings.
    y.assign(static_cast<size_t>(B) * B, 0);
    for (int r = 0; r < R; ++r) {
      int k = 0;
      for (int b = 0; b < B; ++b) {
        for (int u = 0; u < x[r * B + b]; ++u, ++k) {
          ++y[(r * e + k % e) * B + b];
        }
      }
    }
    std::fill(use.begin(), use.end(), 0);
    int left = packs;
    while (left > 0) {
      std::fill(match.begin(), match.end(), -1);
      for (int u = 0; u < B; ++u) {
        std::fill(seen.begin(), seen.end(), 0);
        if (!Augment(u, y, B, &match, &seen)) {
          throw std::logic_error("PackGs: no perfect matching");
        }
      }
      int mult = left;
      for (int b = 0; b < B; ++b) mult = std::min(mult, y[match[b] * B + b]);
      for (int b = 0; b < B; ++b) y[match[b] * B + b] -= mult;
      // lanes[sub-row] = its bank; then each row's e banks ascending.
      for (int b = 0; b < B; ++b) lanes[match[b]] = b;
      for (int r = 0; r < R; ++r) {
        std::sort(lanes.begin() + r * e, lanes.begin() + (r + 1) * e);
      }
      for (int t = 0; t < mult; ++t) {
        for (int l = 0; l < B; ++l) {
          const int r = l / e;
          const int b = lanes[l];
          const int u = use[r * B + b]++;
          if (u < counts[r * B + b]) {
            // The u-th nonzero of cell (r, b), in ascending column order.
            const float* row = w + static_cast<int64_t>(row0 + r) * cols;
            int seen_nz = 0, col = b;
            for (int j = b; j < cols; j += B) {
              if (row[j] != 0.0f && seen_nz++ == u) {
                col = j;
                break;
              }
            }
            values.push_back(row[col]);
            cols_out.push_back(col);
          } else {
            values.push_back(0.0f);
            cols_out.push_back(b);
          }
        }
      }
      left -= mult;
    }
    m.group_ptr[g + 1] = m.group_ptr[g] + packs;
  }
  m.values.Resize(values.size());
  std::copy(values.begin(), values.end(), m.values.data());
  if (m.index_bytes == 2) {
    m.col_idx16.Resize(cols_out.size());
    for (size_t i = 0; i < cols_out.size(); ++i) {
      m.col_idx16[i] = static_cast<uint16_t>(cols_out[i]);
    }
  } else {
    m.col_idx32.Resize(cols_out.size());
    std::copy(cols_out.begin(), cols_out.end(), m.col_idx32.data());
  }
  return m;
}

void UnpackGs(const GsMatrix& m, float* w) {
  for (int64_t i = 0; i < static_cast<int64_t>(m.rows) * m.cols; ++i) {
    w[i] = 0.0f;
  }
  const int B = m.banks;
  for (int g = 0; g < m.num_groups; ++g) {
    for (int32_t p = m.group_ptr[g]; p < m.group_ptr[g + 1]; ++p) {
      for (int l = 0; l < B; ++l) {
        const size_t k = static_cast<size_t>(p) * B + l;
        const float v = m.values[k];
        if (v == 0.0f) continue;
        const int row = g * m.rows_per_group + l / m.elements_per_row;
        const int col = m.index_bytes == 2 ? m.col_idx16[k] : m.col_idx32[k];
        w[static_cast<int64_t>(row) * m.cols + col] = v;
      }
    }
  }
}

}  // namespace tf_sparse
