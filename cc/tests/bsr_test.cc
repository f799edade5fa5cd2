#include "cc/formats/bsr.h"

#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace tf_sparse {
namespace {

// Dense matrix with roughly `sparsity` of its r x c blocks zeroed, and some
// zeros inside kept blocks too.
std::vector<float> BlockSparseMatrix(int rows, int cols, int r, int c,
                                     double sparsity, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  std::vector<float> w(static_cast<size_t>(rows) * cols);
  for (float& v : w) v = coin(rng) < 0.2 ? 0.0f : value(rng);
  for (int bi = 0; bi * r < rows; ++bi) {
    for (int bj = 0; bj * c < cols; ++bj) {
      if (coin(rng) >= sparsity) continue;
      for (int i = bi * r; i < rows && i < (bi + 1) * r; ++i) {
        for (int j = bj * c; j < cols && j < (bj + 1) * c; ++j) {
          w[static_cast<size_t>(i) * cols + j] = 0.0f;
        }
      }
    }
  }
  return w;
}

struct Shape {
  int rows, cols, r, c;
};

class BsrRoundTrip : public ::testing::TestWithParam<Shape> {};

TEST_P(BsrRoundTrip, PackThenUnpackGivesTheMatrixBack) {
  const Shape s = GetParam();
  for (double sparsity : {0.0, 0.5, 0.9, 1.0}) {
    for (BsrIndexWidth width : {BsrIndexWidth::kAuto, BsrIndexWidth::k32}) {
      const std::vector<float> w =
          BlockSparseMatrix(s.rows, s.cols, s.r, s.c, sparsity, 7);
      const BsrMatrix m = PackBsr(w.data(), s.rows, s.cols, s.r, s.c, width);
      std::vector<float> back(w.size(), -1.0f);
      UnpackBsr(m, back.data());
      ASSERT_EQ(back, w) << "sparsity " << sparsity;

      // Structural invariants.
      EXPECT_EQ(m.num_block_rows, (s.rows + s.r - 1) / s.r);
      EXPECT_EQ(m.padded_rows % s.r, 0);
      EXPECT_EQ(m.padded_cols % s.c, 0);
      EXPECT_EQ(m.row_ptr[0], 0);
      const BlockDensity d =
          MeasureBlockDensity(w.data(), s.rows, s.cols, s.r, s.c);
      EXPECT_EQ(m.num_blocks(), d.nonzero_blocks);
      for (int bi = 0; bi < m.num_block_rows; ++bi) {
        ASSERT_LE(m.row_ptr[bi], m.row_ptr[bi + 1]);
        for (int32_t k = m.row_ptr[bi]; k < m.row_ptr[bi + 1]; ++k) {
          const int32_t col =
              m.index_bytes == 2 ? m.col_idx16[k] : m.col_idx32[k];
          EXPECT_EQ(col % s.c, 0);
          EXPECT_LT(col, m.padded_cols);
          if (k > m.row_ptr[bi]) {
            const int32_t prev = m.index_bytes == 2 ? m.col_idx16[k - 1]
                                                    : m.col_idx32[k - 1];
            EXPECT_LT(prev, col);
          }
        }
      }
      // Alignment promised by the format.
      if (!m.values.empty()) {
        EXPECT_EQ(reinterpret_cast<uintptr_t>(m.values.data()) % 64, 0u);
      }
      EXPECT_EQ(m.index_bytes, width == BsrIndexWidth::k32 ? 4 : 2);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, BsrRoundTrip,
    ::testing::Values(Shape{1, 1, 1, 1}, Shape{1, 7, 1, 4}, Shape{7, 1, 4, 1},
                      Shape{16, 16, 1, 4}, Shape{17, 13, 4, 4},
                      Shape{33, 70, 16, 1}, Shape{9, 31, 2, 3},
                      Shape{64, 64, 8, 1}, Shape{5, 50, 1, 8},
                      Shape{3, 3, 8, 8}));

TEST(BsrTest, RaggedEdgeBlocksArePaddedWithZeros) {
  // 3 x 5 matrix, 2 x 4 blocks: the block at (1, 1) covers row 2 and column 4
  // only.
  std::vector<float> w(15, 0.0f);
  w[2 * 5 + 4] = 3.0f;
  const BsrMatrix m = PackBsr(w.data(), 3, 5, 2, 4);
  ASSERT_EQ(m.num_blocks(), 1);
  EXPECT_EQ(m.row_ptr[0], 0);
  EXPECT_EQ(m.row_ptr[1], 0);
  EXPECT_EQ(m.row_ptr[2], 1);
  EXPECT_EQ(m.col_idx16[0], 4);
  const float expected[8] = {3, 0, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(m.values[i], expected[i]) << i;
  EXPECT_EQ(m.padded_rows, 4);
  EXPECT_EQ(m.padded_cols, 8);
}

TEST(BsrTest, BlockValuesAreRowMajorInsideTheBlock) {
  // 2 x 2 matrix, one 2 x 2 block.
  const float w[4] = {1, 2, 3, 4};
  const BsrMatrix m = PackBsr(w, 2, 2, 2, 2);
  ASSERT_EQ(m.num_blocks(), 1);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(m.values[i], w[i]);
}

TEST(BsrTest, NegativeZeroCountsAsZero) {
  const float w[4] = {-0.0f, 0.0f, 0.0f, 0.0f};
  const BsrMatrix m = PackBsr(w, 1, 4, 1, 4);
  EXPECT_EQ(m.num_blocks(), 0);
}

TEST(BsrTest, AllZeroMatrixHasNoBlocks) {
  std::vector<float> w(40 * 30, 0.0f);
  const BsrMatrix m = PackBsr(w.data(), 40, 30, 1, 4);
  EXPECT_EQ(m.num_blocks(), 0);
  EXPECT_EQ(m.num_block_rows, 40);
  const BlockDensity d = MeasureBlockDensity(w.data(), 40, 30, 1, 4);
  EXPECT_EQ(d.nonzero_blocks, 0);
  EXPECT_EQ(d.total_blocks, 40 * 8);
  EXPECT_EQ(d.density(), 0.0);
}

TEST(BsrTest, IndexWidthFollowsPaddedColumns) {
  EXPECT_EQ(BsrAutoIndexBytes(65536, 4), 2);
  EXPECT_EQ(BsrAutoIndexBytes(65537, 1), 4);
  EXPECT_EQ(BsrAutoIndexBytes(65535, 4), 2);  // padded to 65536
  EXPECT_EQ(BsrAutoIndexBytes(65537, 4), 4);  // padded to 65540
  // A wide matrix falls back to 32-bit indices and round-trips.
  const int cols = 70000;
  std::vector<float> w(2 * cols, 0.0f);
  w[cols - 1] = 1.0f;
  w[cols + 69999] = 2.0f;
  const BsrMatrix m = PackBsr(w.data(), 2, cols, 1, 4);
  EXPECT_EQ(m.index_bytes, 4);
  std::vector<float> back(w.size());
  UnpackBsr(m, back.data());
  EXPECT_EQ(back, w);
  EXPECT_THROW(PackBsr(w.data(), 2, cols, 1, 4, BsrIndexWidth::k16),
               std::invalid_argument);
}

TEST(BsrTest, MeasureBlockDensityCountsBlocksAndNonzeros) {
  // 4 x 8, 1x4 blocks: nonzeros in blocks (0,0), (0,0), (2,1).
  std::vector<float> w(32, 0.0f);
  w[0] = 1.0f;
  w[3] = 1.0f;
  w[2 * 8 + 5] = 1.0f;
  const BlockDensity d = MeasureBlockDensity(w.data(), 4, 8, 1, 4);
  EXPECT_EQ(d.total_blocks, 8);
  EXPECT_EQ(d.nonzero_blocks, 2);
  EXPECT_EQ(d.nonzeros, 3);
  EXPECT_DOUBLE_EQ(d.density(), 0.25);
  const BlockDensity d4 = MeasureBlockDensity(w.data(), 4, 8, 4, 1);
  EXPECT_EQ(d4.total_blocks, 8);
  EXPECT_EQ(d4.nonzero_blocks, 3);
}

TEST(BsrTest, PackedBytesMatchesThePackedMatrix) {
  const std::vector<float> w = BlockSparseMatrix(100, 64, 1, 4, 0.8, 3);
  const BsrMatrix m = PackBsr(w.data(), 100, 64, 1, 4);
  EXPECT_EQ(BsrPackedBytes(100, 64, 1, 4, m.num_blocks()), m.PackedBytes());
  EXPECT_EQ(m.PackedBytes(), 101 * 4 + m.num_blocks() * (2 + 16));
}

TEST(BsrTest, CheckBsrShapeRejectsBadShapes) {
  EXPECT_EQ(CheckBsrShape(10, 10, 1, 4), "");
  EXPECT_NE(CheckBsrShape(0, 10, 1, 4), "");
  EXPECT_NE(CheckBsrShape(10, 10, 0, 4), "");
  EXPECT_NE(CheckBsrShape(10, 10, 64, 64), "");
  EXPECT_NE(CheckBsrShape(int64_t{1} << 31, 10, 1, 4), "");
  EXPECT_THROW(PackBsr(nullptr, 0, 4, 1, 4), std::invalid_argument);
}

}  // namespace
}  // namespace tf_sparse
