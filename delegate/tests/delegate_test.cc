// The delegate against a fake runtime (fake_graph.h), through its exported
// C API, as TFLite and Python use it.
#include <algorithm>
#include <cmath>
#include <functional>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cc/kernels/dispatch.h"
#include "cc/kernels/f32_dense_reference.h"
#include "delegate/tests/fake_graph.h"
#include "delegate/tests/plugin_delegate.h"
#include "delegate/tests/tflite_encoding.h"
#include "gtest/gtest.h"

namespace tf_sparse {
namespace testing {
namespace {

std::mt19937 g_rng(5);

// [out, in] weights with `sparsity` of the 1 x 4 blocks zeroed.
std::vector<float> Weights(int out, int in, double sparsity, int r = 1,
                           int c = 4) {
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  std::vector<float> w(static_cast<size_t>(out) * in);
  for (float& v : w) v = value(g_rng);
  for (int bi = 0; bi * r < out; ++bi) {
    for (int bj = 0; bj * c < in; ++bj) {
      if (coin(g_rng) >= sparsity) continue;
      for (int i = bi * r; i < out && i < (bi + 1) * r; ++i) {
        for (int j = bj * c; j < in && j < (bj + 1) * c; ++j) {
          w[static_cast<size_t>(i) * in + j] = 0.0f;
        }
      }
    }
  }
  return w;
}

std::vector<float> Random(size_t n) {
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = value(g_rng);
  return v;
}

void ExpectNear(const float* actual, const std::vector<float>& expected) {
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_NEAR(actual[i], expected[i], 1e-4 + 1e-5 * std::fabs(expected[i]))
        << "at " << i;
  }
}

// ---- Options. ----

TEST(OptionsTest, UnknownKeyIsRejectedWithItsName) {
  Delegate d(Opts{{"threads", "2"}});
  EXPECT_EQ(d.get(), nullptr);
  EXPECT_NE(LastPluginError().find("'threads'"), std::string::npos) << LastPluginError();
  EXPECT_NE(LastPluginError().find("num_threads"), std::string::npos);
}

TEST(OptionsTest, BadValuesNameTheOptionAndAllowedValues) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"num_threads", "0"},     {"num_threads", "two"},
      {"num_threads", "1.5"},   {"min_sparsity", "1"},
      {"min_sparsity", "-0.1"}, {"min_sparsity", "x"},
      {"format", "coo"},        {"format", "bsr:0x4"},
      {"format", "bsr:4"},      {"format", "bsr:1x4x"},
      {"format", "nm:3:4"},     {"format", "nm:4:4"},
      {"format", "nm:2"},       {"format", "gs:16:3"},
      {"format", "gs:0"},       {"format", "csr:2"},
      {"verbose", "3"},         {"verbose", ""},
      // Strict forms: no spaces, signs, hex, or trailing characters.
      {"min_sparsity", " 0.5"}, {"min_sparsity", "0.5 "},
      {"min_sparsity", "0x0.8p0"}, {"min_sparsity", "+0.5"},
      {"min_sparsity", "nan"},  {"min_sparsity", "1e"},
      {"num_threads", "+2"},    {"num_threads", " 2"},
      {"num_threads", "0x2"},   {"verbose", "-0"},
      {"format", "bsr:+1x+4"},  {"format", "bsr: 1x4"},
      {"format", "nm:+2:4"},    {"format", "auto "},
      // Parameters the kernels do not run.
      {"format", "gs:3"},       {"format", "gs:7:7"},
      {"format", "nm:16:256"},  {"format", "nm:2:5"},
      {"corrupt_sparsity", "ignore"}, {"corrupt_sparsity", ""}};
  for (const auto& kv : bad) {
    Delegate d(Opts{kv});
    EXPECT_EQ(d.get(), nullptr) << kv.first << "=" << kv.second;
    EXPECT_NE(LastPluginError().find(kv.first), std::string::npos) << LastPluginError();
    EXPECT_NE(LastPluginError().find("allowed"), std::string::npos) << LastPluginError();
  }
}

TEST(OptionsTest, GoodValuesAreAccepted) {
  Delegate d(Opts{{"num_threads", "2"},
              {"min_sparsity", "0.25"},
              {"format", "bsr:8x1"},
              {"verbose", "0"}});
  EXPECT_NE(d.get(), nullptr) << LastPluginError();
  Delegate a(Opts{{"format", "auto"}});
  EXPECT_NE(a.get(), nullptr);
  Delegate none(Opts{});
  EXPECT_NE(none.get(), nullptr);
  for (const char* f : {"csr", "nm", "nm:2:4", "nm:1:4", "nm:4:8", "nm:16:32",
                        "gs", "gs:16", "gs:8:2", "gs:4:2", "gs:256:256"}) {
    Delegate forced(Opts{{"format", f}});
    EXPECT_NE(forced.get(), nullptr) << f << ": " << LastPluginError();
  }
}

TEST(OptionsTest, StrictNumbersAndCorruptSparsityModes) {
  for (const char* v : {"0", "0.5", ".5", "0.", "5e-1", "0.25E0"}) {
    Delegate d(Opts{{"min_sparsity", v}});
    EXPECT_NE(d.get(), nullptr) << v << ": " << LastPluginError();
  }
  for (const char* v : {"error", "decline"}) {
    Delegate d(Opts{{"corrupt_sparsity", v}});
    EXPECT_NE(d.get(), nullptr) << v << ": " << LastPluginError();
  }
  // The message names the option, echoes the value and says what is allowed.
  Delegate bad(Opts{{"format", "gs:3"}});
  EXPECT_EQ(bad.get(), nullptr);
  EXPECT_NE(LastPluginError().find("format='gs:3'"), std::string::npos)
      << LastPluginError();
  EXPECT_NE(LastPluginError().find("power of two"), std::string::npos);
}

TEST(OptionsTest, OnlyTheLow32BitsOfTheCountAreUsed) {
  Delegate d(Opts{{"num_threads", "1"}}, size_t{0xdead} << 32);
  EXPECT_NE(d.get(), nullptr) << LastPluginError();
}

TEST(CApiTest, UnknownHandlesAreRefused) {
  int dummy = 0;
  int64_t c = 0, i = 0;
  EXPECT_EQ(tf_sparse_delegate_stats(&dummy, &c, &i), -1);
  EXPECT_EQ(tf_sparse_delegate_stats(nullptr, &c, &i), -1);
  char buf[4];
  EXPECT_EQ(tf_sparse_delegate_report(&dummy, buf, sizeof(buf)), -1);
  const std::string isa = tf_sparse_delegate_isa();
  Isa parsed = Isa::kScalar;
  EXPECT_TRUE(ParseIsa(isa.c_str(), &parsed)) << isa;
  EXPECT_TRUE(IsaSupported(parsed)) << isa;
}

TEST(CApiTest, DelegateStructIsWellFormed) {
  Delegate d(Opts{});
  ASSERT_NE(d.get(), nullptr);
  EXPECT_EQ(d.get()->flags, kTfLiteDelegateFlagsAllowDynamicTensors);
  EXPECT_NE(d.get()->Prepare, nullptr);
  EXPECT_EQ(d.get()->opaque_delegate_builder, nullptr);
  EXPECT_EQ(d.get()->CopyFromBufferHandle, nullptr);
}

// ---- Claiming and running. ----

struct Fc {
  int out, in;
  std::vector<float> w, b;
};

TEST(DelegateTest, ClaimsASparseChainAndMatchesDense) {
  FakeGraph g;
  const int in = 64, hidden = 48, out = 21;
  Fc l1{hidden, in, Weights(hidden, in, 0.8), Random(hidden)};
  Fc l2{out, hidden, Weights(out, hidden, 0.8), Random(out)};
  const int x = g.AddTensor({1, in}, false);
  const int w1 = g.AddTensor({hidden, in}, true, l1.w);
  const int b1 = g.AddTensor({hidden}, true, l1.b);
  const int h = g.AddTensor({1, hidden}, false);
  const int w2 = g.AddTensor({out, hidden}, true, l2.w);
  const int y = g.AddTensor({1, out}, false);
  g.AddFullyConnected(x, w1, b1, h, kTfLiteActRelu);
  g.AddFullyConnected(h, w2, -1, y, kTfLiteActRelu6);
  g.SetGraphOutputs({y});

  Delegate d(Opts{{"verbose", "1"}});
  ASSERT_EQ(g.ApplyDelegate(d.get()), kTfLiteOk);
  EXPECT_EQ(g.replaced_nodes(), (std::vector<int>{0, 1}));
  EXPECT_EQ(d.claimed(), 2);
  EXPECT_EQ(g.tensor(h).allocation_type, kTfLiteMemNone);  // Internal.

  const float inf = std::numeric_limits<float>::infinity();
  for (int batch : {1, 5, 2}) {
    g.ResizeInput(x, {batch, in});
    ASSERT_EQ(g.AllocateTensors(), kTfLiteOk) << g.errors().back();
    EXPECT_EQ(g.dims(y), (std::vector<int>{batch, out}));
    const std::vector<float> xv = Random(static_cast<size_t>(batch) * in);
    std::memcpy(g.data(x), xv.data(), xv.size() * sizeof(float));
    ASSERT_EQ(g.Invoke(), kTfLiteOk);
    std::vector<float> hv(static_cast<size_t>(batch) * hidden);
    std::vector<float> yv(static_cast<size_t>(batch) * out);
    F32DenseFullyConnectedReference(batch, hidden, in, l1.w.data(),
                                    l1.b.data(), xv.data(), hv.data(), 0.0f,
                                    inf);
    F32DenseFullyConnectedReference(batch, out, hidden, l2.w.data(), nullptr,
                                    hv.data(), yv.data(), 0.0f, 6.0f);
    ExpectNear(g.data(y), yv);
  }
  EXPECT_EQ(d.invocations(), 6);  // 2 nodes x 3 invokes.

  const std::string report = d.report();
  EXPECT_NE(report.find("\"node\": 0"), std::string::npos) << report;
  EXPECT_NE(report.find("\"claimed\": true"), std::string::npos);
  EXPECT_NE(report.find("\"format\": \"bsr:"), std::string::npos);
  EXPECT_NE(report.find("\"shape\": [48, 64]"), std::string::npos);
  EXPECT_EQ(report.front(), '[');
  EXPECT_EQ(report.back(), ']');
}

TEST(DelegateTest, ReportTruncatesAndReturnsTheFullLength) {
  FakeGraph g;
  const int x = g.AddTensor({1, 8}, false);
  const int w = g.AddTensor({8, 8}, true, Weights(8, 8, 0.9));
  const int y = g.AddTensor({1, 8}, false);
  g.AddFullyConnected(x, w, -1, y);
  Delegate d(Opts{});
  ASSERT_EQ(g.ApplyDelegate(d.get()), kTfLiteOk);
  const std::string full = d.report();
  char buf[10];
  std::memset(buf, 'x', sizeof(buf));
  EXPECT_EQ(tf_sparse_delegate_report(d.get(), buf, sizeof(buf)),
            static_cast<int>(full.size()));
  EXPECT_EQ(std::string(buf), full.substr(0, 9));
}

TEST(DelegateTest, DeclinesDenseAndUnsupportedNodes) {
  FakeGraph g;
  const int in = 32, out = 16;
  const int x = g.AddTensor({1, in}, false);
  auto fc = [&](const std::vector<float>& w, int activation, int bias = -1) {
    const int wt = g.AddTensor({out, in}, true, w);
    const int yt = g.AddTensor({1, out}, false);
    return g.AddFullyConnected(x, wt, bias, yt, activation);
  };
  const std::vector<float> sparse = Weights(out, in, 0.9);
  const int dense_node = fc(Weights(out, in, 0.0), kTfLiteActNone);
  const int tanh_node = fc(sparse, kTfLiteActTanh);
  const int ok_node = fc(sparse, kTfLiteActReluN1To1);
  // Non-constant weights.
  const int wv = g.AddTensor({out, in}, false);
  const int y4 = g.AddTensor({1, out}, false);
  const int variable_node = g.AddFullyConnected(x, wv, -1, y4);
  // TFLite's sparse encoding, inconsistent (every field empty): declined.
  // Valid encodings are covered by tflite_sparsity_test and the Python
  // tests on converted models.
  const int ws = g.AddTensor({out, in}, true, sparse);
  TfLiteSparsity sparsity;
  std::memset(&sparsity, 0, sizeof(sparsity));
  g.tensor(ws).sparsity = &sparsity;
  const int y5 = g.AddTensor({1, out}, false);
  const int encoded_node = g.AddFullyConnected(x, ws, -1, y5);
  // Non-float bias.
  const int bi = g.AddTensor({out}, true, std::vector<float>(out, 1.0f),
                             kTfLiteInt32);
  const int int_bias_node = fc(sparse, kTfLiteActNone, bi);
  // Some other op.
  const int y7 = g.AddTensor({1, in}, false);
  g.AddOtherNode(22 /* RESHAPE */, {x}, {y7});

  // corrupt_sparsity=decline: the broken encoding is declined, not an error.
  Delegate d(Opts{{"corrupt_sparsity", "decline"}});
  ASSERT_EQ(g.ApplyDelegate(d.get()), kTfLiteOk);
  EXPECT_EQ(g.replaced_nodes(), (std::vector<int>{ok_node}));
  const std::string report = d.report();
  auto reason_of = [&](int node) {
    const std::string key = "{\"node\": " + std::to_string(node) + ",";
    const size_t at = report.find(key);
    EXPECT_NE(at, std::string::npos) << key;
    const size_t r = report.find("\"reason\": ", at);
    return report.substr(r, report.find("\", ", r) - r);
  };
  EXPECT_NE(reason_of(dense_node).find("min_sparsity"), std::string::npos);
  EXPECT_NE(reason_of(tanh_node).find("activation"), std::string::npos);
  EXPECT_NE(reason_of(variable_node).find("not constant"), std::string::npos);
  EXPECT_NE(reason_of(encoded_node).find("sparse encoding"),
            std::string::npos);
  EXPECT_NE(reason_of(int_bias_node).find("bias"), std::string::npos);
  EXPECT_EQ(report.find("{\"node\": 6,"), std::string::npos);  // RESHAPE.
  EXPECT_EQ(d.claimed(), 1);
}

TEST(DelegateTest, MinSparsityAndCostDecide) {
  FakeGraph g;
  const int x = g.AddTensor({1, 64}, false);
  const int w = g.AddTensor({32, 64}, true, Weights(32, 64, 0.6));
  const int y = g.AddTensor({1, 32}, false);
  g.AddFullyConnected(x, w, -1, y);
  {
    Delegate strict(Opts{{"min_sparsity", "0.7"}});
    ASSERT_EQ(g.ApplyDelegate(strict.get()), kTfLiteOk);
    EXPECT_EQ(strict.claimed(), 0);
  }
  // Unstructured zeros: sparse enough, but blocks are mostly kept.
  FakeGraph u;
  std::vector<float> wu = Random(32 * 64);
  std::bernoulli_distribution zero(0.5);
  for (float& v : wu) {
    if (zero(g_rng)) v = 0.0f;
  }
  const int ux = u.AddTensor({1, 64}, false);
  const int uw = u.AddTensor({32, 64}, true, wu);
  const int uy = u.AddTensor({1, 32}, false);
  u.AddFullyConnected(ux, uw, -1, uy);
  Delegate automatic(Opts{{"min_sparsity", "0.3"}});
  ASSERT_EQ(u.ApplyDelegate(automatic.get()), kTfLiteOk);
  EXPECT_EQ(automatic.claimed(), 0) << automatic.report();
  EXPECT_NE(automatic.report().find("cost"), std::string::npos);
}

TEST(DelegateTest, ForcedFormatIsUsed) {
  FakeGraph g;
  const int in = 24, out = 30;
  const std::vector<float> w = Weights(out, in, 0.7, 4, 1);
  const std::vector<float> b = Random(out);
  const int x = g.AddTensor({1, in}, false);
  const int wt = g.AddTensor({out, in}, true, w);
  const int bt = g.AddTensor({out}, true, b);
  const int y = g.AddTensor({1, out}, false);
  g.AddFullyConnected(x, wt, bt, y);
  Delegate d(Opts{{"format", "bsr:4x1"}, {"num_threads", "2"}});
  ASSERT_EQ(g.ApplyDelegate(d.get()), kTfLiteOk);
  EXPECT_NE(d.report().find("\"format\": \"bsr:4x1\""), std::string::npos)
      << d.report();
  ASSERT_EQ(g.AllocateTensors(), kTfLiteOk);
  const std::vector<float> xv = Random(in);
  std::memcpy(g.data(x), xv.data(), xv.size() * sizeof(float));
  ASSERT_EQ(g.Invoke(), kTfLiteOk);
  std::vector<float> expected(out);
  const float inf = std::numeric_limits<float>::infinity();
  F32DenseFullyConnectedReference(1, out, in, w.data(), b.data(), xv.data(),
                                  expected.data(), -inf, inf);
  ExpectNear(g.data(y), expected);
}

TEST(DelegateTest, KeepNumDimsShapesTheOutput) {
  for (bool keep : {true, false}) {
    FakeGraph g;
    const int in = 16, out = 12;
    const std::vector<float> w = Weights(out, in, 0.8);
    const int x = g.AddTensor({2, 3, in}, false);
    const int wt = g.AddTensor({out, in}, true, w);
    const int y = g.AddTensor({1, out}, false);
    g.AddFullyConnected(x, wt, -1, y, kTfLiteActNone, keep);
    Delegate d(Opts{{"format", "bsr:1x4"}, {"min_sparsity", "0"}});
    ASSERT_EQ(g.ApplyDelegate(d.get()), kTfLiteOk);
    ASSERT_EQ(d.claimed(), 1) << d.report();
    ASSERT_EQ(g.AllocateTensors(), kTfLiteOk);
    EXPECT_EQ(g.dims(y), keep ? (std::vector<int>{2, 3, out})
                              : (std::vector<int>{6, out}));
    const std::vector<float> xv = Random(6 * in);
    std::memcpy(g.data(x), xv.data(), xv.size() * sizeof(float));
    ASSERT_EQ(g.Invoke(), kTfLiteOk);
    std::vector<float> expected(6 * out);
    const float inf = std::numeric_limits<float>::infinity();
    F32DenseFullyConnectedReference(6, out, in, w.data(), nullptr, xv.data(),
                                    expected.data(), -inf, inf);
    ExpectNear(g.data(y), expected);
    // An input whose last dimension no longer matches is an error.
    if (keep) {
      g.ResizeInput(x, {2, 2 * in});
      EXPECT_NE(g.AllocateTensors(), kTfLiteOk);
    }
  }
}

TEST(DelegateTest, NonTrivialPartitionOutputsAreComputed) {
  // FC0 feeds FC1 and is also a graph output: both are partition outputs.
  FakeGraph g;
  const int n = 20;
  const std::vector<float> w0 = Weights(n, n, 0.8), w1 = Weights(n, n, 0.8);
  const int x = g.AddTensor({1, n}, false);
  const int wt0 = g.AddTensor({n, n}, true, w0);
  const int h = g.AddTensor({1, n}, false);
  const int wt1 = g.AddTensor({n, n}, true, w1);
  const int y = g.AddTensor({1, n}, false);
  g.AddFullyConnected(x, wt0, -1, h);
  g.AddFullyConnected(h, wt1, -1, y);
  g.SetGraphOutputs({h, y});
  Delegate d(Opts{});
  ASSERT_EQ(g.ApplyDelegate(d.get()), kTfLiteOk);
  EXPECT_EQ(g.tensor(h).allocation_type, kTfLiteArenaRw);
  ASSERT_EQ(g.AllocateTensors(), kTfLiteOk);
  const std::vector<float> xv = Random(n);
  std::memcpy(g.data(x), xv.data(), xv.size() * sizeof(float));
  ASSERT_EQ(g.Invoke(), kTfLiteOk);
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> hv(n), yv(n);
  F32DenseFullyConnectedReference(1, n, n, w0.data(), nullptr, xv.data(),
                                  hv.data(), -inf, inf);
  F32DenseFullyConnectedReference(1, n, n, w1.data(), nullptr, hv.data(),
                                  yv.data(), -inf, inf);
  ExpectNear(g.data(h), hv);
  ExpectNear(g.data(y), yv);
}

// ---- DENSIFY in front of the weights (compact files). ----

// x [2, in] -> FC(weights = DENSIFY(sparse constant)) -> y; the DENSIFY
// output is also read by `extra_readers` RESHAPE nodes.
struct DensifyGraph {
  static constexpr int kOut = 24, kIn = 40;
  std::vector<float> w = Weights(kOut, kIn, 0.9, 1, 1);
  Encoded enc{w, kOut, kIn, 1, 1};  // Outlives g, which points into it.
  FakeGraph g;
  int x, sparse, dense, y, densify_node, fc_node;

  explicit DensifyGraph(int extra_readers) {
    x = g.AddTensor({2, kIn}, false);
    sparse = g.AddTensor({kOut, kIn}, true, {0.0f});
    dense = g.AddTensor({kOut, kIn}, false);
    y = g.AddTensor({2, kOut}, false);
    std::vector<int> extra;
    for (int i = 0; i < extra_readers; ++i) {
      extra.push_back(g.AddTensor({kOut * kIn}, false));
    }
    densify_node = g.AddOtherNode(kTfLiteBuiltinDensify, {sparse}, {dense});
    fc_node = g.AddFullyConnected(x, dense, -1, y, kTfLiteActRelu);
    for (int t : extra) g.AddOtherNode(22 /* RESHAPE */, {dense}, {t});
    g.SetGraphOutputs({y});
    TfLiteTensor& s = g.tensor(sparse);
    s.data = enc.tensor().data;
    s.bytes = enc.tensor().bytes;
    s.sparsity = &enc.sparsity();
  }

  // Allocates, runs a random input and compares y with the dense reference.
  void AllocateRunAndCheck() {
    ASSERT_EQ(g.AllocateTensors(), kTfLiteOk);
    const std::vector<float> xv = Random(2 * kIn);
    std::memcpy(g.data(x), xv.data(), xv.size() * sizeof(float));
    ASSERT_EQ(g.Invoke(), kTfLiteOk);
    std::vector<float> yv(2 * kOut);
    F32DenseFullyConnectedReference(2, kOut, kIn, w.data(), nullptr, xv.data(),
                                    yv.data(), 0.0f,
                                    std::numeric_limits<float>::infinity());
    ExpectNear(g.data(y), yv);
  }
};

TEST(DelegateTest, DensifyIsTakenOverWithItsOnlyReader) {
  DensifyGraph dg(0);
  FakeGraph& g = dg.g;
  Delegate d(Opts{{"format", "csr"}});
  ASSERT_EQ(g.ApplyDelegate(d.get()), kTfLiteOk);
  std::vector<int> replaced = g.replaced_nodes();
  std::sort(replaced.begin(), replaced.end());
  EXPECT_EQ(replaced, (std::vector<int>{dg.densify_node, dg.fc_node}));
  EXPECT_EQ(g.num_partitions(), 1);
  EXPECT_EQ(d.claimed(), 1);
  // The DENSIFY output is internal to the partition: no memory.
  EXPECT_EQ(g.tensor(dg.dense).allocation_type, kTfLiteMemNone);
  EXPECT_NE(d.report().find("\"densify_node\": " +
                            std::to_string(dg.densify_node)),
            std::string::npos);
  dg.AllocateRunAndCheck();
}

// Weights that are also a graph output: the runtime keeps the DENSIFY node
// (and writes the dense weights there); the FC node, claimed, decodes the
// sparse input itself.
TEST(DelegateTest, DensifyOutputThatIsAGraphOutputStaysWithTheRuntime) {
  DensifyGraph dg(0);
  FakeGraph& g = dg.g;
  g.SetGraphOutputs({dg.y, dg.dense});
  Delegate d(Opts{{"format", "csr"}});
  ASSERT_EQ(g.ApplyDelegate(d.get()), kTfLiteOk);
  EXPECT_EQ(g.replaced_nodes(), std::vector<int>{dg.fc_node});
  EXPECT_EQ(d.claimed(), 1);
  EXPECT_NE(d.report().find("\"densify_claimed\": false"), std::string::npos);
  dg.AllocateRunAndCheck();
  EXPECT_EQ(g.dims(dg.dense), (std::vector<int>{DensifyGraph::kOut,
                                                 DensifyGraph::kIn}));
}

// Another reader of the dense weights: the runtime keeps the DENSIFY node for
// it, and the FC node still runs on the delegate from the sparse input.
TEST(DelegateTest, DensifyWithAnotherReaderStaysWithTheRuntime) {
  DensifyGraph dg(1);
  FakeGraph& g = dg.g;
  Delegate d(Opts{{"format", "csr"}});
  ASSERT_EQ(g.ApplyDelegate(d.get()), kTfLiteOk);
  EXPECT_EQ(g.replaced_nodes(), std::vector<int>{dg.fc_node});
  EXPECT_EQ(d.claimed(), 1);
  dg.AllocateRunAndCheck();
}

// A host without PreviewDelegatePartitioning cannot tell graph outputs apart:
// the DENSIFY node stays with it, the FC node is still claimed.
TEST(DelegateTest, WithoutAPartitionPreviewDensifyStaysWithTheRuntime) {
  DensifyGraph dg(0);
  dg.g.DisablePreview();
  Delegate d(Opts{{"format", "csr"}});
  ASSERT_EQ(dg.g.ApplyDelegate(d.get()), kTfLiteOk);
  EXPECT_EQ(dg.g.replaced_nodes(), std::vector<int>{dg.fc_node});
  EXPECT_EQ(d.claimed(), 1);
}

// x -> FC1 -> TANH -> FC2(weights = DENSIFY(sparse)) -> y. TFLite puts the
// DENSIFY node (constant inputs: ready at once) into the first partition, with
// FC1, and FC2 into a second one after TANH. The DENSIFY output then crosses
// partitions: it is sized empty, and FC2 runs on its own decoded weights.
TEST(DelegateTest, DensifyWhoseReaderIsInALaterPartition) {
  constexpr int kIn = 32, kMid = 40, kOut = 24;
  const std::vector<float> w1 = Weights(kMid, kIn, 0.9, 1, 1);
  const std::vector<float> w2 = Weights(kOut, kMid, 0.9, 1, 1);
  Encoded enc{w2, kOut, kMid, 1, 1};
  FakeGraph g;
  const int x = g.AddTensor({2, kIn}, false);
  const int wt1 = g.AddTensor({kMid, kIn}, true, w1);
  const int h = g.AddTensor({2, kMid}, false);
  const int t = g.AddTensor({2, kMid}, false);
  const int sparse = g.AddTensor({kOut, kMid}, true, {0.0f});
  const int dense = g.AddTensor({kOut, kMid}, false);
  const int y = g.AddTensor({2, kOut}, false);
  const int fc1 = g.AddFullyConnected(x, wt1, -1, h);
  g.AddOtherNode(28 /* TANH */, {h}, {t});
  const int densify = g.AddOtherNode(kTfLiteBuiltinDensify, {sparse}, {dense});
  const int fc2 = g.AddFullyConnected(t, dense, -1, y, kTfLiteActRelu);
  g.SetGraphOutputs({y});
  TfLiteTensor& s = g.tensor(sparse);
  s.data = enc.tensor().data;
  s.bytes = enc.tensor().bytes;
  s.sparsity = &enc.sparsity();
  Delegate d(Opts{{"format", "csr"}});
  ASSERT_EQ(g.ApplyDelegate(d.get()), kTfLiteOk);
  std::vector<int> replaced = g.replaced_nodes();
  std::sort(replaced.begin(), replaced.end());
  EXPECT_EQ(replaced, (std::vector<int>{fc1, densify, fc2}));
  EXPECT_EQ(g.num_partitions(), 2);
  EXPECT_EQ(d.claimed(), 2);
  ASSERT_EQ(g.AllocateTensors(), kTfLiteOk) << (g.errors().empty()
                                                    ? ""
                                                    : g.errors().back());
  EXPECT_EQ(g.dims(dense), std::vector<int>{0});
  const std::vector<float> xv = Random(2 * kIn);
  std::memcpy(g.data(x), xv.data(), xv.size() * sizeof(float));
  ASSERT_EQ(g.Invoke(), kTfLiteOk);
  std::vector<float> hv(2 * kMid), yv(2 * kOut);
  const float inf = std::numeric_limits<float>::infinity();
  F32DenseFullyConnectedReference(2, kMid, kIn, w1.data(), nullptr, xv.data(),
                                  hv.data(), -inf, inf);
  for (float& v : hv) v = std::tanh(v);
  F32DenseFullyConnectedReference(2, kOut, kMid, w2.data(), nullptr, hv.data(),
                                  yv.data(), 0.0f, inf);
  ExpectNear(g.data(y), yv);
}

TEST(DelegateTest, DensifyWithABrokenEncodingIsDeclinedOnRequest) {
  DensifyGraph dg(0);
  dg.enc.sparsity().traversal_order = nullptr;
  Delegate d(Opts{{"format", "csr"}, {"corrupt_sparsity", "decline"}});
  ASSERT_EQ(dg.g.ApplyDelegate(d.get()), kTfLiteOk);
  EXPECT_TRUE(dg.g.replaced_nodes().empty());
  EXPECT_NE(d.report().find("sparse encoding"), std::string::npos);
}

// By default a corrupt encoding fails the delegate's Prepare with a message
// naming the node, its op, the tensor and the problem.
TEST(DelegateTest, DensifyWithABrokenEncodingFailsTheLoad) {
  DensifyGraph dg(0);
  TfLiteIntArray* order = dg.enc.sparsity().traversal_order;
  std::swap(order->data[0], order->data[1]);
  order->data[1] = order->data[0];  // {x, x}: not a permutation.
  Delegate d(Opts{{"format", "csr"}});
  EXPECT_NE(dg.g.ApplyDelegate(d.get()), kTfLiteOk);
  EXPECT_TRUE(dg.g.replaced_nodes().empty());
  ASSERT_FALSE(dg.g.errors().empty());
  const std::string& e = dg.g.errors().back();
  EXPECT_NE(e.find("node " + std::to_string(dg.densify_node) + " (DENSIFY)"),
            std::string::npos) << e;
  EXPECT_NE(e.find("tensor " + std::to_string(dg.sparse)), std::string::npos)
      << e;
  EXPECT_NE(e.find("traversal_order is not a permutation"), std::string::npos)
      << e;
  EXPECT_NE(e.find("corrupt_sparsity=decline"), std::string::npos) << e;
}

TEST(DelegateTest, BrokenSegmentsAndByteSizesFailTheLoad) {
  const auto expect_error = [](const std::function<void(DensifyGraph*)>& spoil,
                               const std::string& what) {
    DensifyGraph dg(0);
    spoil(&dg);
    Delegate d(Opts{});
    EXPECT_NE(dg.g.ApplyDelegate(d.get()), kTfLiteOk) << what;
    ASSERT_FALSE(dg.g.errors().empty()) << what;
    EXPECT_NE(dg.g.errors().back().find(what), std::string::npos)
        << dg.g.errors().back();
  };
  expect_error([](DensifyGraph* dg) { dg->g.tensor(dg->sparse).bytes -= 4; },
               "bytes");
  expect_error(
      [](DensifyGraph* dg) {
        TfLiteDimensionMetadata& md = dg->enc.sparsity().dim_metadata[1];
        md.array_segments->data[1] = -5;
      },
      "segments decrease");
  expect_error(
      [](DensifyGraph* dg) {
        TfLiteDimensionMetadata& md = dg->enc.sparsity().dim_metadata[1];
        md.array_indices->data[0] = 1 << 30;
      },
      "out of range");
  expect_error(
      [](DensifyGraph* dg) {
        dg->enc.sparsity().dim_metadata[0].dense_size = 7;
      },
      "DENSE of size 7");
  // A sparse tensor read by an op that does not decode the encoding.
  expect_error(
      [](DensifyGraph* dg) {
        const int y = dg->g.AddTensor({DensifyGraph::kOut * DensifyGraph::kIn},
                                      false);
        dg->g.AddOtherNode(22 /* RESHAPE */, {dg->sparse}, {y});
      },
      "reads it as a dense tensor");
}

}  // namespace
}  // namespace testing
}  // namespace tf_sparse
