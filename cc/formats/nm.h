// N:M sparsity: at most n nonzeros in every m consecutive columns (along the
// reduction axis) of each row of the GEMM view W[rows][cols].
//
// Packed for the kernels in chunks of 16 kept values, so that one 512-bit
// register (or two 256-bit ones) holds a chunk and every chunk starts at the
// same offset of its group pattern. Field by field in docs/formats.md, "N:M":
//
//   groups          ceil(cols / m) groups of m columns per row.
//   padded_groups   groups rounded up to a multiple of 16 / n (whole chunks);
//                   padded_cols = padded_groups * m.
//   kept_per_row    padded_groups * n, a multiple of 16.
//   values          float32 [rows][kept_per_row]: group after group, the n
//                   kept values of each in ascending column order; a group
//                   with fewer than n nonzeros (and every padding group) is
//                   filled with 0.0f.
//   positions       the in-group position (0 .. m-1) of every value,
//                   index_bits each (2 for m <= 4, 4 for m <= 16, else 8),
//                   packed LSB first into little-endian uint32 words;
//                   position k of row i is bits [(k * index_bits) % 32, +
//                   index_bits) of word i * words_per_row + k * index_bits /
//                   32. Filler slots take the lowest positions not used by
//                   the group's nonzeros, so positions ascend in a group.
//
// Value k of row i multiplies x[(k / n) * m + position(i, k)].
// n must divide 16 (1, 2, 4, 8, 16) and n < m <= 256.
#ifndef TF_SPARSE_CC_FORMATS_NM_H_
#define TF_SPARSE_CC_FORMATS_NM_H_

#include <cstdint>
#include <string>

#include "cc/util/aligned_buffer.h"

namespace tf_sparse {

constexpr int kNmChunk = 16;  // Kept values per kernel step.

struct NmMatrix {
  int32_t rows = 0;
  int32_t cols = 0;
  int32_t n = 0;
  int32_t m = 0;
  int32_t index_bits = 0;  // 2, 4 or 8.
  int32_t padded_groups = 0;
  int32_t padded_cols = 0;
  int32_t kept_per_row = 0;
  int32_t words_per_row = 0;  // kept_per_row * index_bits / 32.
  AlignedBuffer<float> values;
  AlignedBuffer<uint32_t> positions;

  int64_t PackedBytes() const {
    return static_cast<int64_t>(rows) * kept_per_row * 4 +
           static_cast<int64_t>(rows) * words_per_row * 4;
  }
};

// The kernels' layout for m in 2, 4, 8, 16, 32 ("N:M row groups" in
// docs/formats.md): the same values and positions, regrouped so that one
// 16-lane vector step serves 16 rows (lane l = row 16 g + l) and every step
// reads x from one 32-column window, which fits in two registers.
//
//   kept              ceil(cols / m) * n values per row.
//   values[num_row_groups][kept][16]      float32; slot k of lane l is value
//                     k of row 16 g + l (0.0f for rows >= rows and fillers).
//   positions[num_row_groups][kept][words_per_slot]  uint32; lane l's
//                     position (0 .. m-1) of slot k at bits
//                     [(l * index_bits) % 32, + index_bits) of word
//                     (l * index_bits) / 32 (words_per_slot = index_bits / 2).
//
// Slot k multiplies x[(k / n) * m + position]; for m dividing 32 the n
// slots of a group share one 32-column window.
struct NmRowGroupMatrix {
  int32_t rows = 0;
  int32_t cols = 0;
  int32_t n = 0;
  int32_t m = 0;
  int32_t index_bits = 0;
  int32_t num_row_groups = 0;  // ceil(rows / 16).
  int32_t kept = 0;            // ceil(cols / m) * n.
  int32_t words_per_slot = 0;
  AlignedBuffer<float> values;
  AlignedBuffer<uint32_t> positions;

  int64_t PackedBytes() const {
    return static_cast<int64_t>(num_row_groups) * kept *
           (16 * 4 + words_per_slot * 4);
  }
};

// Whether PackNmRowGroups takes group size m (powers of two up to 32).
bool NmRowGroupsSupported(int m);
// Same checks as PackNm, plus NmRowGroupsSupported.
NmRowGroupMatrix PackNmRowGroups(const float* w, int rows, int cols, int n,
                                 int m);
void UnpackNmRowGroups(const NmRowGroupMatrix& p, float* w);

// Bits per stored position for group size m.
int NmIndexBits(int m);

// Empty when a rows x cols matrix can be stored as n:m, else why not
// (shape or pattern parameters only; the weights are checked by PackNm).
std::string CheckNmShape(int64_t rows, int64_t cols, int n, int m);

// The most nonzeros any group of m consecutive columns holds.
int MaxNonzerosPerGroup(const float* w, int rows, int cols, int m);

// Packs a dense row-major matrix; throws std::invalid_argument when the
// shape or parameters fail CheckNmShape or a group holds more than n
// nonzeros.
NmMatrix PackNm(const float* w, int rows, int cols, int n, int m);

void UnpackNm(const NmMatrix& p, float* w);

// Bytes PackNm would produce, without building it.
int64_t NmPackedBytes(int64_t rows, int64_t cols, int n, int m);

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_FORMATS_NM_H_
