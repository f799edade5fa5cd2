// Gather-scatter (GS) packs (shared/design algorithms.md section 1).
//
// The GEMM view W[rows][cols] is split into row groups of R = B / e
// consecutive rows (B banks, e elements per row and pack). Column c lives in
// bank c mod B. A pack holds B entries of one group: e per row, one per
// bank, so one B-lane gather reads it without bank conflicts and, with
// e == 1, lane l accumulates row l of the group (no reduction).
// Field by field in docs/formats.md, "Gather-scatter (GS)", shared with the
// Python encoder tf_sparse/formats/gs.py (untiled layout):
//
//   group_ptr[num_groups + 1]  int32; packs of group g are
//                              [group_ptr[g], group_ptr[g+1]).
//   values[num_packs][B]       float32; lane l belongs to row g * R + l / e,
//                              the e lanes of a row in ascending bank order;
//                              padding lanes hold 0.0f.
//   col_idx[num_packs][B]      column of each lane (uint16 when cols <=
//                              65536, else int32); the lanes of a pack fall in
//                              distinct banks. A padding lane points at the
//                              first column of its bank (column = bank).
//
// Requirements: e divides B, cols % B == 0, rows % R == 0. Any matrix of
// that shape packs: each group gets the fewest packs that hold its
// nonzeros, max(ceil(max row count / e), max bank count), and lanes that no
// nonzero fills are padding. A matrix with the GS structure (every row of a
// group the same count, every bank the same count) packs without padding.
#ifndef TF_SPARSE_CC_FORMATS_GS_H_
#define TF_SPARSE_CC_FORMATS_GS_H_

#include <cstdint>
#include <string>

#include "cc/util/aligned_buffer.h"

namespace tf_sparse {

struct GsMatrix {
  int32_t rows = 0;
  int32_t cols = 0;
  int32_t banks = 0;             // B.
  int32_t elements_per_row = 0;  // e.
  int32_t rows_per_group = 0;    // R = B / e.
  int32_t num_groups = 0;        // rows / R.
  int32_t index_bytes = 0;       // 2 or 4.
  AlignedBuffer<int32_t> group_ptr;
  AlignedBuffer<float> values;
  AlignedBuffer<uint16_t> col_idx16;
  AlignedBuffer<int32_t> col_idx32;

  int64_t num_packs() const {
    return num_groups == 0 ? 0 : group_ptr[num_groups];
  }
  int64_t PackedBytes() const {
    return 4 * (static_cast<int64_t>(num_groups) + 1) +
           num_packs() * banks * (4 + index_bytes);
  }
};

// Empty when a rows x cols matrix can be packed with B banks and e elements
// per row, else why not.
std::string CheckGsShape(int64_t rows, int64_t cols, int banks,
                         int elements_per_row);

// What packing would give, from one pass over the weights.
struct GsStats {
  int64_t nonzeros = 0;
  int64_t packs = 0;      // Sum over groups of the packs each needs.
  int64_t padding = 0;    // Lanes without a nonzero: packs * B - nonzeros.
  bool balanced = false;  // Every group: equal row counts, equal banks.
};
GsStats MeasureGs(const float* w, int rows, int cols, int banks,
                  int elements_per_row);

// Packs a dense row-major matrix; throws std::invalid_argument when the
// shape fails CheckGsShape.
GsMatrix PackGs(const float* w, int rows, int cols, int banks,
                int elements_per_row);

void UnpackGs(const GsMatrix& m, float* w);

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_FORMATS_GS_H_
