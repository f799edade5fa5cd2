#include "cc/formats/nm.h"

#include <limits>
#include <stdexcept>

namespace tf_sparse {
namespace {

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

int64_t PaddedGroups(int64_t cols, int n, int m) {
  const int64_t per_chunk = kNmChunk / n;
  return CeilDiv(CeilDiv(cols, m), per_chunk) * per_chunk;
}

}  // namespace

int NmIndexBits(int m) { return m <= 4 ? 2 : (m <= 16 ? 4 : 8); }

std::string CheckNmShape(int64_t rows, int64_t cols, int n, int m) {
  if (rows < 1 || cols < 1) return "matrix dimensions must be >= 1";
  if (n < 1 || kNmChunk % n != 0) return "n must be 1, 2, 4, 8 or 16";
  if (m <= n || m > 256) return "need n < m <= 256";
  const int64_t padded_cols = PaddedGroups(cols, n, m) * m;
  const int64_t kept = PaddedGroups(cols, n, m) * n;
  if (padded_cols > std::numeric_limits<int32_t>::max() ||
      rows * kept > std::numeric_limits<int32_t>::max()) {
    return "matrix too large";
  }
  return "";
}

int MaxNonzerosPerGroup(const float* w, int rows, int cols, int m) {
  int best = 0;
  for (int i = 0; i < rows; ++i) {
    const float* row = w + static_cast<int64_t>(i) * cols;
    for (int j0 = 0; j0 < cols; j0 += m) {
      const int j1 = j0 + m < cols ? j0 + m : cols;
      int count = 0;
      for (int j = j0; j < j1; ++j) count += row[j] != 0.0f;
      if (count > best) best = count;
    }
  }
  return best;
}

int64_t NmPackedBytes(int64_t rows, int64_t cols, int n, int m) {
  const int64_t kept = PaddedGroups(cols, n, m) * n;
  return rows * kept * 4 + rows * kept * NmIndexBits(m) / 8;
}

NmMatrix PackNm(const float* w, int rows, int cols, int n, int m) {
  const std::string problem = CheckNmShape(rows, cols, n, m);
  if (!problem.empty()) throw std::invalid_argument("PackNm: " + problem);
  NmMatrix p;
  p.rows = rows;
  p.cols = cols;
  p.n = n;
  p.m = m;
  p.index_bits = NmIndexBits(m);
  p.padded_groups = static_cast<int32_t>(PaddedGroups(cols, n, m));
  p.padded_cols = p.padded_groups * m;
  p.kept_per_row = p.padded_groups * n;
  p.words_per_row = p.kept_per_row * p.index_bits / 32;
  p.values.Resize(static_cast<size_t>(rows) * p.kept_per_row);
  p.positions.Resize(static_cast<size_t>(rows) * p.words_per_row);
  const int bits = p.index_bits;
  for (int i = 0; i < rows; ++i) {
    const float* row = w + static_cast<int64_t>(i) * cols;
    float* vals = p.values.data() + static_cast<size_t>(i) * p.kept_per_row;
    uint32_t* words =
        p.positions.data() + static_cast<size_t>(i) * p.words_per_row;
    for (int g = 0; g < p.padded_groups; ++g) {
      const int j0 = g * m;
      // Positions of the nonzeros, then the lowest unused positions.
      int pos[256];
      bool used[256] = {};
      int count = 0;
      for (int t = 0; t < m && j0 + t < cols; ++t) {
        if (row[j0 + t] == 0.0f) continue;
        if (count == n) {
          throw std::invalid_argument(
              "PackNm: row " + std::to_string(i) + ", columns " +
              std::to_string(j0) + ".." + std::to_string(j0 + m - 1) +
              " hold more than " + std::to_string(n) + " nonzeros");
        }
        pos[count++] = t;
        used[t] = true;
      }
      const int real = count;
      for (int t = 0; count < n; ++t) {
        if (!used[t]) pos[count++] = t;
      }
      // Merge so that positions ascend inside the group.
      int sorted[16];
      for (int s = 0; s < n; ++s) sorted[s] = pos[s];
      for (int a = 1; a < n; ++a) {
        for (int b = a; b > 0 && sorted[b - 1] > sorted[b]; --b) {
          const int t = sorted[b];
          sorted[b] = sorted[b - 1];
          sorted[b - 1] = t;
        }
      }
      (void)real;
      for (int s = 0; s < n; ++s) {
        const int k = g * n + s;
        const int t = sorted[s];
        vals[k] = j0 + t < cols ? row[j0 + t] : 0.0f;
        const int bit = k * bits;
        words[bit / 32] |= static_cast<uint32_t>(t) << (bit % 32);
      }
    }
  }
  return p;
}

bool NmRowGroupsSupported(int m) {
  return m == 2 || m == 4 || m == 8 || m == 16 || m == 32;
}

NmRowGroupMatrix PackNmRowGroups(const float* w, int rows, int cols, int n,
                                 int m) {
  if (!NmRowGroupsSupported(m)) {
    throw std::invalid_argument("PackNmRowGroups: m must be 2, 4, 8, 16 or 32");
  }
  // The row layout checks the pattern and finds each slot's position.
  const NmMatrix row = PackNm(w, rows, cols, n, m);
  NmRowGroupMatrix p;
  p.rows = rows;
  p.cols = cols;
  p.n = n;
  p.m = m;
  p.index_bits = row.index_bits;
  p.num_row_groups = (rows + 15) / 16;
  p.kept = static_cast<int32_t>(CeilDiv(cols, m)) * n;
  p.words_per_slot = p.index_bits / 2;
  p.values.Resize(static_cast<size_t>(p.num_row_groups) * p.kept * 16);
  p.positions.Resize(static_cast<size_t>(p.num_row_groups) * p.kept *
                     p.words_per_slot);
  const uint32_t mask = (1u << p.index_bits) - 1;
  for (int i = 0; i < rows; ++i) {
    const int g = i / 16;
    const int l = i % 16;
    const float* vals =
        row.values.data() + static_cast<size_t>(i) * row.kept_per_row;
    const uint32_t* words =
        row.positions.data() + static_cast<size_t>(i) * row.words_per_row;
    for (int k = 0; k < p.kept; ++k) {
      const int bit = k * p.index_bits;
      const uint32_t t = (words[bit / 32] >> (bit % 32)) & mask;
      const size_t slot = static_cast<size_t>(g) * p.kept + k;
      p.values[slot * 16 + l] = vals[k];
      const int lbit = l * p.index_bits;
      p.positions[slot * p.words_per_slot + lbit / 32] |= t << (lbit % 32);
    }
  }
  return p;
}

void UnpackNmRowGroups(const NmRowGroupMatrix& p, float* w) {
  for (int64_t i = 0; i < static_cast<int64_t>(p.rows) * p.cols; ++i) {
    w[i] = 0.0f;
  }
  const uint32_t mask = (1u << p.index_bits) - 1;
  for (int i = 0; i < p.rows; ++i) {
    const int g = i / 16;
    const int l = i % 16;
    for (int k = 0; k < p.kept; ++k) {
      const size_t slot = static_cast<size_t>(g) * p.kept + k;
      const float v = p.values[slot * 16 + l];
      const int lbit = l * p.index_bits;
      const int t = static_cast<int>(
          (p.positions[slot * p.words_per_slot + lbit / 32] >> (lbit % 32)) &
          mask);
      const int j = (k / p.n) * p.m + t;
      if (j < p.cols && v != 0.0f) w[static_cast<int64_t>(i) * p.cols + j] = v;
    }
  }
}

void UnpackNm(const NmMatrix& p, float* w) {
  for (int64_t i = 0; i < static_cast<int64_t>(p.rows) * p.cols; ++i) {
    w[i] = 0.0f;
  }
  const uint32_t mask = (1u << p.index_bits) - 1;
  for (int i = 0; i < p.rows; ++i) {
    const float* vals =
        p.values.data() + static_cast<size_t>(i) * p.kept_per_row;
    const uint32_t* words =
        p.positions.data() + static_cast<size_t>(i) * p.words_per_row;
    for (int k = 0; k < p.kept_per_row; ++k) {
      const int bit = k * p.index_bits;
      const int t = static_cast<int>((words[bit / 32] >> (bit % 32)) & mask);
      const int j = (k / p.n) * p.m + t;
      if (j < p.cols && vals[k] != 0.0f) {
        w[static_cast<int64_t>(i) * p.cols + j] = vals[k];
      }
    }
  }
}

}  // namespace tf_sparse
