// BATCH_MATMUL with constant weights in the delegate against a fake runtime
// (fake_graph.h): claimed nodes against a plain reference through resizes,
// in both weight orientations (adj_y) and with broadcast leading dims, and
// what is declined and why.
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "delegate/tests/fake_graph.h"
#include "delegate/tests/plugin_delegate.h"
#include "gtest/gtest.h"

namespace tf_sparse {
namespace testing {
namespace {

std::mt19937 g_rng(29);

std::vector<float> Random(size_t n) {
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = value(g_rng);
  return v;
}

// FC weights [n][k] with ~10% of the 16x1 blocks (16 consecutive outputs,
// one input) kept, the rest zero.
std::vector<float> BlockWeights(int n, int k) {
  std::vector<float> w = Random(static_cast<size_t>(n) * k);
  std::bernoulli_distribution keep(0.1);
  for (int b = 0; b < (n + 15) / 16; ++b) {
    for (int j = 0; j < k; ++j) {
      if (keep(g_rng)) continue;
      for (int i = b * 16; i < n && i < b * 16 + 16; ++i) {
        w[static_cast<size_t>(i) * k + j] = 0.0f;
      }
    }
  }
  return w;
}

// y [rows][n] = x [rows][k] times fc [n][k] transposed.
std::vector<float> Reference(const std::vector<float>& x,
                             const std::vector<float>& fc, int n, int k) {
  const size_t rows = x.size() / k;
  std::vector<float> y(rows * n);
  for (size_t r = 0; r < rows; ++r) {
    for (int o = 0; o < n; ++o) {
      double acc = 0.0;
      for (int j = 0; j < k; ++j) {
        acc += static_cast<double>(x[r * k + j]) *
               fc[static_cast<size_t>(o) * k + j];
      }
      y[r * n + o] = static_cast<float>(acc);
    }
  }
  return y;
}

struct BmmGraph {
  FakeGraph g;
  TfLiteBatchMatMulParams params;
  int x = -1, w = -1, y = -1, node = -1;
  std::vector<float> fc;  // The weights as FC [n][k].

  // x_dims: the left-hand side; weights [lead..., K, N] (adj_y false) or
  // [lead..., N, K] (adj_y true) holding `fc_weights` [n][k].
  BmmGraph(const std::vector<int>& x_dims, const std::vector<int>& lead, int n,
           int k, const std::vector<float>& fc_weights, bool adj_y,
           bool adj_x = false) {
    std::memset(&params, 0, sizeof(params));
    params.adj_x = adj_x;
    params.adj_y = adj_y;
    fc = fc_weights;
    std::vector<float> stored(fc.size());
    for (int o = 0; o < n; ++o) {
      for (int j = 0; j < k; ++j) {
        const float v = fc[static_cast<size_t>(o) * k + j];
        if (adj_y) {
          stored[static_cast<size_t>(o) * k + j] = v;
        } else {
          stored[static_cast<size_t>(j) * n + o] = v;
        }
      }
    }
    std::vector<int> w_dims = lead;
    w_dims.push_back(adj_y ? n : k);
    w_dims.push_back(adj_y ? k : n);
    x = g.AddTensor(x_dims, false);
    w = g.AddTensor(w_dims, true, stored);
    std::vector<int> y_dims(x_dims.begin(), x_dims.end() - 1);
    y_dims.push_back(n);
    y = g.AddTensor(y_dims, false);
    node = g.AddOtherNode(kTfLiteBuiltinBatchMatmul, {x, w}, {y});
    g.SetBuiltinData(node, &params);
    g.SetGraphOutputs({y});
  }

  // Resizes x, runs, and checks y's shape and values against Reference.
  void Check(const std::vector<int>& x_dims,
             const std::vector<int>& expected_y_dims, int n, int k) {
    g.ResizeInput(x, x_dims);
    ASSERT_EQ(g.AllocateTensors(), kTfLiteOk) << g.errors().back();
    EXPECT_EQ(g.dims(y), expected_y_dims);
    size_t elements = 1;
    for (int d : x_dims) elements *= static_cast<size_t>(d);
    const std::vector<float> xv = Random(elements);
    // An empty input has no buffer (memcpy's pointers must not be null even for 0 bytes).
    if (!xv.empty()) std::memcpy(g.data(x), xv.data(), xv.size() * sizeof(float));
    ASSERT_EQ(g.Invoke(), kTfLiteOk);
    const std::vector<float> expect = Reference(xv, fc, n, k);
    for (size_t i = 0; i < expect.size(); ++i) {
      ASSERT_NEAR(g.data(y)[i], expect[i], 1e-4f) << i;
    }
  }
};

TEST(BmmDelegate, ClaimsConstantWeightsInBothOrientations) {
  const int n = 48, k = 40;
  const std::vector<float> fc = BlockWeights(n, k);
  for (bool adj_y : {false, true}) {
    for (const char* format : {"bsr:16x1", "csr"}) {
      SCOPED_TRACE(std::string(format) + (adj_y ? " adj_y" : ""));
      BmmGraph bg({2, 7, k}, {1}, n, k, fc, adj_y);
      Delegate d(Opts{{"format", format}, {"num_threads", "2"}});
      ASSERT_NE(d.get(), nullptr) << LastPluginError();
      ASSERT_EQ(bg.g.ApplyDelegate(d.get()), kTfLiteOk);
      const std::string report = d.report();
      EXPECT_EQ(bg.g.replaced_nodes(), std::vector<int>{bg.node}) << report;
      EXPECT_NE(report.find("\"op\": \"BATCH_MATMUL\""), std::string::npos);
      EXPECT_NE(report.find("\"shape\": [48, 40]"), std::string::npos);
      EXPECT_NE(report.find(std::string("\"adj_y\": ") +
                            (adj_y ? "true" : "false")),
                std::string::npos);
      if (std::string(format) == "bsr:16x1") {
        // The 16x1 blocks are found whichever way the weights are stored.
        EXPECT_EQ(report.find("\"block_density\": null"), std::string::npos)
            << report;
      }
      bg.Check({2, 7, k}, {2, 7, n}, n, k);
      bg.Check({3, 1, k}, {3, 1, n}, n, k);
      bg.Check({1, 33, k}, {1, 33, n}, n, k);
      // No rows: an empty output, nothing to run.
      bg.Check({0, 5, k}, {0, 5, n}, n, k);
      // A last dimension other than K is refused at prepare.
      bg.g.ResizeInput(bg.x, {2, 7, k + 1});
      EXPECT_NE(bg.g.AllocateTensors(), kTfLiteOk);
    }
  }
}

TEST(BmmDelegate, BroadcastsLeadingDimensions) {
  const int n = 32, k = 24;
  const std::vector<float> fc = BlockWeights(n, k);
  {
    // x of rank 4 against weights [1, K, N]: [a, b, M, N].
    BmmGraph bg({2, 3, 5, k}, {1}, n, k, fc, false);
    Delegate d(Opts{{"format", "bsr:16x1"}});
    ASSERT_EQ(bg.g.ApplyDelegate(d.get()), kTfLiteOk);
    ASSERT_EQ(bg.g.replaced_nodes(), std::vector<int>{bg.node}) << d.report();
    bg.Check({2, 3, 5, k}, {2, 3, 5, n}, n, k);
  }
  {
    // x [M, K] against weights [1, 1, N, K]: the output takes W's rank.
    BmmGraph bg({5, k}, {1, 1}, n, k, fc, true);
    Delegate d(Opts{{"format", "bsr:16x1"}});
    ASSERT_EQ(bg.g.ApplyDelegate(d.get()), kTfLiteOk);
    ASSERT_EQ(bg.g.replaced_nodes(), std::vector<int>{bg.node}) << d.report();
    bg.Check({5, k}, {1, 1, 5, n}, n, k);
  }
}

TEST(BmmDelegate, AutoFormatClaimsLargeSparseProducts) {
  // 128 rows of 512 -> 512 at 90% in 16x1 blocks: far below XNNPACK's GEMM.
  const int n = 512, k = 512;
  BmmGraph bg({1, 128, k}, {}, n, k, BlockWeights(n, k), false);
  Delegate d(Opts{{"calibration", "off"}});
  ASSERT_EQ(bg.g.ApplyDelegate(d.get()), kTfLiteOk);
  EXPECT_EQ(bg.g.replaced_nodes(), std::vector<int>{bg.node}) << d.report();
  EXPECT_NE(d.report().find("\"batch_rows\": 128"), std::string::npos);
  bg.Check({1, 128, k}, {1, 128, n}, n, k);
}

TEST(BmmDelegate, DeclinesWithAReason) {
  const int n = 32, k = 16;
  const std::vector<float> fc = BlockWeights(n, k);
  auto declined = [](BmmGraph& bg, const char* why) {
    Delegate d(Opts{{"format", "bsr:16x1"}});
    ASSERT_EQ(bg.g.ApplyDelegate(d.get()), kTfLiteOk);
    EXPECT_TRUE(bg.g.replaced_nodes().empty());
    EXPECT_NE(d.report().find(why), std::string::npos) << d.report();
  };
  {
    BmmGraph bg({2, k, 4}, {1}, n, k, fc, false, /*adj_x=*/true);
    declined(bg, "adj_x is set");
  }
  {
    // Weights per batch: [2, K, N].
    BmmGraph bg({2, 4, k}, {2}, n, k, std::vector<float>(2 * fc.size()), false);
    declined(bg, "batch dimension other than 1");
  }
  {
    // Two activations (attention's Q K^T).
    FakeGraph g;
    TfLiteBatchMatMulParams params{};
    const int a = g.AddTensor({1, 4, 8, 16}, false);
    const int b = g.AddTensor({1, 4, 16, 8}, false);
    const int c = g.AddTensor({1, 4, 8, 8}, false);
    const int node = g.AddOtherNode(kTfLiteBuiltinBatchMatmul, {a, b}, {c});
    g.SetBuiltinData(node, &params);
    g.SetGraphOutputs({c});
    Delegate d(Opts{{"format", "bsr:16x1"}});
    ASSERT_EQ(g.ApplyDelegate(d.get()), kTfLiteOk);
    EXPECT_TRUE(g.replaced_nodes().empty());
    EXPECT_NE(d.report().find("no constant operand"), std::string::npos);
  }
  {
    // Constant left-hand side: weights times activations.
    FakeGraph g;
    TfLiteBatchMatMulParams params{};
    const int a = g.AddTensor({1, n, k}, true, fc);
    const int b = g.AddTensor({1, k, 8}, false);
    const int c = g.AddTensor({1, n, 8}, false);
    const int node = g.AddOtherNode(kTfLiteBuiltinBatchMatmul, {a, b}, {c});
    g.SetBuiltinData(node, &params);
    g.SetGraphOutputs({c});
    Delegate d(Opts{{"format", "bsr:16x1"}});
    ASSERT_EQ(g.ApplyDelegate(d.get()), kTfLiteOk);
    EXPECT_TRUE(g.replaced_nodes().empty());
    EXPECT_NE(d.report().find("constant operand is the left-hand side"),
              std::string::npos);
  }
  {
    // Dense weights: below min_sparsity, in format auto.
    BmmGraph bg({2, 4, k}, {}, n, k, Random(static_cast<size_t>(n) * k), true);
    Delegate d(Opts{{"calibration", "off"}});
    ASSERT_EQ(bg.g.ApplyDelegate(d.get()), kTfLiteOk);
    EXPECT_TRUE(bg.g.replaced_nodes().empty());
    EXPECT_NE(d.report().find("below min_sparsity"), std::string::npos);
  }
}

}  // namespace
}  // namespace testing
}  // namespace tf_sparse
