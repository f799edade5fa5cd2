// The delegate on UNIDIRECTIONAL_SEQUENCE_LSTM nodes of a fake graph: the
// node's 24 inputs and parameters read as TFLite lays them out, claimed
// with a forced format and by the cost model, outputs and state tensors
// equal to the plain reference over several invokes (batch-major and
// time-major), and the unsupported variants declined with their reason.
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cc/kernels/f32_lstm_reference.h"
#include "delegate/tests/fake_graph.h"
#include "delegate/tests/plugin_delegate.h"
#include "gtest/gtest.h"

namespace tf_sparse {
namespace testing {
namespace {

std::vector<float> Sparse(size_t n, double density, std::mt19937& rng) {
  std::uniform_real_distribution<float> v(-0.5f, 0.5f);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  std::vector<float> w(n, 0.0f);
  for (float& x : w) {
    if (coin(rng) < density) x = v(rng);
  }
  return w;
}

std::vector<float> Random(size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::uniform_real_distribution<float> v(-scale, scale);
  std::vector<float> out(n);
  for (float& x : out) x = v(rng);
  return out;
}

struct LstmGraph {
  FakeGraph g;
  TfLiteUnidirectionalSequenceLSTMParams params{};
  int batch, steps, n_input, n_cell;
  bool time_major;
  std::vector<float> wx[4], wh[4], bias[4];
  int x = -1, y = -1, h = -1, c = -1, node = -1;

  LstmGraph(int batch_, int steps_, int n_input_, int n_cell_, bool tm,
            double density, uint32_t seed)
      : batch(batch_), steps(steps_), n_input(n_input_), n_cell(n_cell_),
        time_major(tm) {
    std::mt19937 rng(seed);
    params.activation = kTfLiteActTanh;
    params.time_major = tm;
    std::vector<int> inputs(24, -1);
    x = g.AddTensor(tm ? std::vector<int>{steps, batch, n_input}
                       : std::vector<int>{batch, steps, n_input},
                    false);
    inputs[0] = x;
    for (int k = 0; k < 4; ++k) {
      wx[k] = Sparse(static_cast<size_t>(n_cell) * n_input, density, rng);
      wh[k] = Sparse(static_cast<size_t>(n_cell) * n_cell, density, rng);
      bias[k] = Random(n_cell, rng);
      inputs[1 + k] = g.AddTensor({n_cell, n_input}, true, wx[k]);
      inputs[5 + k] = g.AddTensor({n_cell, n_cell}, true, wh[k]);
      inputs[12 + k] = g.AddTensor({n_cell}, true, bias[k]);
    }
    h = g.AddTensor({batch, n_cell}, false);
    c = g.AddTensor({batch, n_cell}, false);
    g.tensor(h).is_variable = true;
    g.tensor(c).is_variable = true;
    inputs[18] = h;
    inputs[19] = c;
    y = g.AddTensor(tm ? std::vector<int>{steps, batch, n_cell}
                       : std::vector<int>{batch, steps, n_cell},
                    false);
    node = g.AddOtherNode(kTfLiteBuiltinUnidirectionalSequenceLstm, inputs,
                          {y});
    g.SetBuiltinData(node, &params);
    g.SetGraphOutputs({y});
  }

  // Invokes `invokes` times from a random state and checks the output and
  // both state tensors against the reference after each.
  void CheckAgainstReference(int invokes, uint32_t seed) {
    std::mt19937 rng(seed);
    const size_t state = static_cast<size_t>(batch) * n_cell;
    std::vector<float> h_ref = Random(state, rng, 0.5f);
    std::vector<float> c_ref = Random(state, rng, 2.0f);
    std::memcpy(g.data(h), h_ref.data(), state * sizeof(float));
    std::memcpy(g.data(c), c_ref.data(), state * sizeof(float));
    F32LstmDenseWeights w;
    for (int k = 0; k < 4; ++k) {
      w.input[k] = wx[k].data();
      w.recurrent[k] = wh[k].data();
      w.bias[k] = bias[k].data();
    }
    const size_t rows = static_cast<size_t>(batch) * steps;
    for (int call = 0; call < invokes; ++call) {
      const std::vector<float> xv = Random(rows * n_input, rng, 2.0f);
      std::memcpy(g.data(x), xv.data(), xv.size() * sizeof(float));
      ASSERT_EQ(g.Invoke(), kTfLiteOk);
      std::vector<float> expect(rows * n_cell);
      F32LstmReference(batch, steps, time_major, n_input, n_cell, w,
                       params.cell_clip, xv.data(), expect.data(),
                       h_ref.data(), c_ref.data());
      for (size_t i = 0; i < expect.size(); ++i) {
        ASSERT_NEAR(g.data(y)[i], expect[i], 2e-5f) << "call " << call;
      }
      for (size_t i = 0; i < state; ++i) {
        ASSERT_NEAR(g.data(h)[i], h_ref[i], 2e-5f) << "call " << call;
        ASSERT_NEAR(g.data(c)[i], c_ref[i], 5e-5f) << "call " << call;
      }
    }
  }
};

TEST(LstmDelegate, ForcedFormatMatchesTheReferenceAcrossInvokes) {
  for (bool time_major : {false, true}) {
    for (const char* format : {"csr", "bsr:16x1", "bsr:1x4"}) {
      SCOPED_TRACE(std::string(format) + (time_major ? " time-major" : ""));
      LstmGraph lg(3, 6, 13, 19, time_major, 0.2, 1);
      lg.params.cell_clip = 1.5f;
      Delegate d(Opts{{"format", format}});
      ASSERT_NE(d.get(), nullptr) << LastPluginError();
      ASSERT_EQ(lg.g.ApplyDelegate(d.get()), kTfLiteOk);
      const std::string report = d.report();
      EXPECT_EQ(lg.g.replaced_nodes(), std::vector<int>{lg.node}) << report;
      EXPECT_NE(report.find("\"op\": \"UNIDIRECTIONAL_SEQUENCE_LSTM\""),
                std::string::npos);
      EXPECT_NE(report.find(std::string("\"input_format\": \"") + format),
                std::string::npos)
          << report;
      ASSERT_EQ(lg.g.AllocateTensors(), kTfLiteOk) << lg.g.errors().back();
      std::vector<int> out_dims = lg.g.dims(lg.x);
      out_dims[2] = 19;
      EXPECT_EQ(lg.g.dims(lg.y), out_dims);
      lg.CheckAgainstReference(3, 2);
    }
  }
}

TEST(LstmDelegate, CostModelClaimsALargeSparseLayer) {
  LstmGraph lg(1, 20, 64, 256, false, 0.08, 3);
  Delegate d(Opts{});
  ASSERT_NE(d.get(), nullptr) << LastPluginError();
  ASSERT_EQ(lg.g.ApplyDelegate(d.get()), kTfLiteOk);
  EXPECT_EQ(lg.g.replaced_nodes(), std::vector<int>{lg.node}) << d.report();
  ASSERT_EQ(lg.g.AllocateTensors(), kTfLiteOk) << lg.g.errors().back();
  lg.CheckAgainstReference(2, 4);
}

TEST(LstmDelegate, DeclinesUnsupportedVariantsWithAReason) {
  struct Variant {
    const char* reason;
    void (*edit)(LstmGraph*, std::vector<int>*);
  };
  const Variant variants[] = {
      {"only TANH",
       [](LstmGraph* lg, std::vector<int>*) {
         lg->params.activation = kTfLiteActRelu;
       }},
      {"min_sparsity", [](LstmGraph*, std::vector<int>*) {}},
      {"not a variable tensor",
       [](LstmGraph* lg, std::vector<int>*) {
         lg->g.tensor(lg->c).is_variable = false;
       }},
      {"diagonal recurrent",
       [](LstmGraph* lg, std::vector<int>*) {
         lg->params.diagonal_recurrent_tensors = true;
       }},
  };
  for (const Variant& v : variants) {
    SCOPED_TRACE(v.reason);
    // Dense weights only for the min_sparsity case.
    const bool dense = std::string(v.reason) == "min_sparsity";
    LstmGraph lg(1, 4, 8, 8, false, dense ? 1.0 : 0.2, 5);
    v.edit(&lg, nullptr);
    Delegate d(Opts{{"format", "csr"}});
    ASSERT_NE(d.get(), nullptr) << LastPluginError();
    ASSERT_EQ(lg.g.ApplyDelegate(d.get()), kTfLiteOk);
    const std::string report = d.report();
    EXPECT_TRUE(lg.g.replaced_nodes().empty()) << report;
    EXPECT_NE(report.find("\"claimed\": false"), std::string::npos) << report;
    EXPECT_NE(report.find(v.reason), std::string::npos) << report;
  }
}

}  // namespace
}  // namespace testing
}  // namespace tf_sparse
