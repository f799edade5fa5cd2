// TFLite's sparse encoding: decoding, direct conversion to BSR, the
// operator built from it, and rejection of inconsistent encodings.
#include "delegate/tflite_sparsity.h"

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cc/formats/bsr.h"
#include "cc/kernels/f32_bsr_fully_connected.h"
#include "cc/kernels/f32_dense_reference.h"
#include "delegate/tests/tflite_encoding.h"
#include "gtest/gtest.h"

namespace tf_sparse {
namespace {

using namespace tflite_abi;  // NOLINT
using testing::Encoded;

// Random weights with r x c blocks zeroed at `sparsity`.
std::vector<float> BlockSparse(int rows, int cols, int r, int c,
                               double sparsity, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  std::vector<float> w(static_cast<size_t>(rows) * cols);
  for (float& v : w) v = value(rng);
  for (int i = 0; i < rows; i += r) {
    for (int j = 0; j < cols; j += c) {
      if (coin(rng) >= sparsity) continue;
      for (int u = i; u < rows && u < i + r; ++u) {
        for (int v = j; v < cols && v < j + c; ++v) w[u * cols + v] = 0.0f;
      }
    }
  }
  return w;
}

// What the encoding keeps of w: whole blocks only.
std::vector<float> Truncated(std::vector<float> w, int rows, int cols, int r,
                             int c) {
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < cols; ++j) {
      if (i >= rows / r * r || j >= cols / c * c) w[i * cols + j] = 0.0f;
    }
  }
  return w;
}

struct Case {
  int rows, cols, r, c;
};

class TfLiteSparsityTest : public ::testing::TestWithParam<Case> {};

TEST_P(TfLiteSparsityTest, DecodesAndConvertsExactly) {
  const Case k = GetParam();
  for (double sparsity : {0.0, 0.75, 0.9, 1.0}) {
    const std::vector<float> w =
        BlockSparse(k.rows, k.cols, k.r, k.c, sparsity, 7);
    const std::vector<float> expected =
        Truncated(w, k.rows, k.cols, k.r, k.c);
    Encoded enc(w, k.rows, k.cols, k.r, k.c);

    TfLiteSparseLayout layout;
    ASSERT_EQ(ReadTfLiteSparsity(enc.tensor(), &layout), "");
    EXPECT_TRUE(layout.direct_bsr);
    EXPECT_EQ(layout.block_size[0], k.r);
    EXPECT_EQ(layout.block_size[1], k.c);

    std::vector<float> dense;
    ASSERT_EQ(DecodeTfLiteSparsityToDense(enc.tensor(), &dense), "");
    EXPECT_EQ(dense, expected);

    BsrMatrix m;
    ASSERT_EQ(TfLiteSparsityToBsr(enc.tensor(), BsrIndexWidth::kAuto, &m), "");
    EXPECT_EQ(m.num_blocks(), layout.num_blocks);
    std::vector<float> unpacked(expected.size());
    UnpackBsr(m, unpacked.data());
    EXPECT_EQ(unpacked, expected);
    // The same as packing the dense matrix ourselves.
    const BsrMatrix ref =
        PackBsr(expected.data(), k.rows, k.cols, k.r, k.c);
    ASSERT_EQ(ref.num_blocks(), m.num_blocks());
    for (int i = 0; i <= m.num_block_rows; ++i) {
      ASSERT_EQ(ref.row_ptr[i], m.row_ptr[i]) << "row_ptr " << i;
    }
    for (int64_t i = 0; i < m.num_blocks() * k.r * k.c; ++i) {
      ASSERT_EQ(ref.values[i], m.values[i]) << "value " << i;
    }
  }
}

TEST_P(TfLiteSparsityTest, OperatorMatchesDenseReference) {
  const Case k = GetParam();
  const std::vector<float> w = BlockSparse(k.rows, k.cols, k.r, k.c, 0.8, 3);
  const std::vector<float> kept = Truncated(w, k.rows, k.cols, k.r, k.c);
  Encoded enc(w, k.rows, k.cols, k.r, k.c);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  const int batch = 3;
  std::vector<float> x(batch * k.cols), bias(k.rows);
  for (float& v : x) v = value(rng);
  for (float& v : bias) v = value(rng);
  std::vector<float> expected(batch * k.rows);
  F32DenseFullyConnectedReference(batch, k.rows, k.cols, kept.data(),
                                  bias.data(), x.data(), expected.data(),
                                  -1.0f, 1.5f);
  // Direct (the encoding's shape) and repacked (another shape).
  for (const auto& shape : {std::make_pair(k.r, k.c), std::make_pair(4, 1)}) {
    F32BsrFullyConnected::Options options;
    options.block_height = shape.first;
    options.block_width = shape.second;
    std::string error;
    auto op = CreateFcFromTfLiteSparsity(enc.tensor(), bias.data(), -1.0f,
                                         1.5f, options, &error);
    ASSERT_NE(op, nullptr) << error;
    EXPECT_EQ(op->matrix().block_height, shape.first);
    std::vector<float> y(batch * k.rows);
    op->Run(batch, x.data(), y.data(), nullptr);
    for (size_t i = 0; i < y.size(); ++i) {
      ASSERT_NEAR(y[i], expected[i], 1e-4f) << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, TfLiteSparsityTest,
    ::testing::Values(Case{32, 64, 1, 4}, Case{37, 53, 1, 4},
                      Case{1, 4, 1, 4}, Case{5, 3, 1, 4},  // No whole block.
                      Case{16, 24, 4, 4}, Case{18, 26, 4, 4},
                      Case{17, 13, 1, 1}, Case{24, 40, 8, 1},
                      Case{300, 1028, 1, 4}),
    [](const ::testing::TestParamInfo<Case>& info) {
      const Case& k = info.param;
      return std::to_string(k.rows) + "x" + std::to_string(k.cols) + "_b" +
             std::to_string(k.r) + "x" + std::to_string(k.c);
    });

TEST(TfLiteSparsityTest, NonIdentityTraversalDecodesButIsNotDirect) {
  // Column-major storage of a 1x1 encoding: traversal {1, 0}, DENSE columns,
  // SPARSE_CSR rows.
  const int rows = 3, cols = 4;
  std::vector<float> w = {1, 0, 0, 2,  //
                          0, 3, 0, 0,  //
                          4, 0, 0, 5};
  Encoded enc(w, rows, cols, 1, 1);
  // Rewrite the arrays in place as the transposed encoding.
  std::vector<int> order_storage = {2, 1, 0};  // Columns, then rows.
  std::vector<int> seg_storage = {5, 0, 2, 3, 3, 5};
  // Each array's first int is its size (TfLiteIntArray layout).
  std::vector<int> idx_storage = {5, 0, 2, 1, 0, 2};
  std::vector<float> values = {1, 4, 3, 2, 5};
  auto* order = reinterpret_cast<TfLiteIntArray*>(order_storage.data());
  auto* seg = reinterpret_cast<TfLiteIntArray*>(seg_storage.data());
  auto* idx = reinterpret_cast<TfLiteIntArray*>(idx_storage.data());
  TfLiteDimensionMetadata meta[2] = {
      {kTfLiteDimDense, cols, nullptr, nullptr},
      {kTfLiteDimSparseCSR, 0, seg, idx}};
  TfLiteSparsity sp{order, nullptr, meta, 2};
  TfLiteTensor t = enc.tensor();
  t.sparsity = &sp;
  t.data = values.data();
  t.bytes = values.size() * sizeof(float);
  TfLiteSparseLayout layout;
  ASSERT_EQ(ReadTfLiteSparsity(t, &layout), "");
  EXPECT_FALSE(layout.direct_bsr);
  std::vector<float> dense;
  ASSERT_EQ(DecodeTfLiteSparsityToDense(t, &dense), "");
  EXPECT_EQ(dense, w);
  BsrMatrix m;
  EXPECT_NE(TfLiteSparsityToBsr(t, BsrIndexWidth::kAuto, &m), "");
}

TEST(TfLiteSparsityTest, DecodesConvWeightsAsTheConverterStoresThem) {
  // CONV_2D weights [out, kh, kw, in] behind a DENSIFY op: DENSE out, kh,
  // kw, SPARSE_CSR over the input channels, no blocks.
  const std::vector<int> dims = {3, 2, 2, 5};
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::vector<float> w(3 * 2 * 2 * 5);
  for (float& v : w) v = value(rng) > 0.4f ? value(rng) : 0.0f;
  std::vector<int> seg_storage = {12, 0};  // 3 * 2 * 2 segments + 1.
  std::vector<int> idx_storage = {0};
  std::vector<float> values;
  for (int row = 0; row < 12; ++row) {
    for (int c = 0; c < 5; ++c) {
      if (w[row * 5 + c] == 0.0f) continue;
      idx_storage.push_back(c);
      values.push_back(w[row * 5 + c]);
    }
    seg_storage.push_back(static_cast<int>(values.size()));
  }
  seg_storage[0] = 13;
  idx_storage[0] = static_cast<int>(values.size());
  std::vector<int> order_storage = {4, 0, 1, 2, 3};
  std::vector<int> dims_storage = {4, 3, 2, 2, 5};
  auto as_array = [](std::vector<int>& v) {
    return reinterpret_cast<TfLiteIntArray*>(v.data());
  };
  TfLiteDimensionMetadata meta[4] = {
      {kTfLiteDimDense, 3, nullptr, nullptr},
      {kTfLiteDimDense, 2, nullptr, nullptr},
      {kTfLiteDimDense, 2, nullptr, nullptr},
      {kTfLiteDimSparseCSR, 0, as_array(seg_storage), as_array(idx_storage)}};
  TfLiteSparsity sp{as_array(order_storage), nullptr, meta, 4};
  TfLiteTensor t{};
  t.type = kTfLiteFloat32;
  t.data = values.data();
  t.dims = as_array(dims_storage);
  t.allocation_type = kTfLiteMmapRo;
  t.bytes = values.size() * sizeof(float);
  t.sparsity = &sp;
  TfLiteSparseLayout layout;
  ASSERT_EQ(ReadTfLiteSparsity(t, &layout), "");
  EXPECT_FALSE(layout.direct_bsr);  // Not 2-D.
  EXPECT_EQ(layout.dims, dims);
  std::vector<float> dense;
  ASSERT_EQ(DecodeTfLiteSparsityToDense(t, &dense), "");
  EXPECT_EQ(dense, w);
}

TEST(TfLiteSparsityTest, RejectsInconsistentEncodings) {
  const std::vector<float> w = BlockSparse(8, 16, 1, 4, 0.5, 1);
  auto expect_rejected = [](Encoded& enc, const char* what) {
    EXPECT_NE(ReadTfLiteSparsity(enc.tensor(), nullptr), "") << what;
    std::vector<float> dense;
    EXPECT_NE(DecodeTfLiteSparsityToDense(enc.tensor(), &dense), "") << what;
  };
  {
    Encoded enc(w, 8, 16, 1, 4);
    enc.tensor().bytes -= 4;
    expect_rejected(enc, "byte size");
  }
  {
    Encoded enc(w, 8, 16, 1, 4);
    enc.indices()->data[0] = 4;  // 16 / 4 block columns: 0..3.
    expect_rejected(enc, "index out of range");
  }
  {
    Encoded enc(w, 8, 16, 1, 4);
    enc.segments()->data[1] = enc.segments()->data[2] + 1;
    expect_rejected(enc, "decreasing segments");
  }
  {
    Encoded enc(w, 8, 16, 1, 4);
    enc.traversal()->data[1] = 0;
    expect_rejected(enc, "not a permutation");
  }
  {
    Encoded enc(w, 8, 16, 1, 4);
    enc.meta()[0].dense_size = 7;
    expect_rejected(enc, "dense size");
  }
  {
    Encoded enc(w, 8, 16, 1, 4);
    enc.sparsity().dim_metadata_size = 2;
    expect_rejected(enc, "metadata count");
  }
  {
    Encoded enc(w, 8, 16, 1, 4);
    enc.meta()[1].array_indices = nullptr;
    expect_rejected(enc, "missing indices");
  }
  {
    Encoded enc(w, 8, 16, 1, 4);
    enc.tensor().type = kTfLiteInt8;
    expect_rejected(enc, "type");
  }
}

}  // namespace
}  // namespace tf_sparse
