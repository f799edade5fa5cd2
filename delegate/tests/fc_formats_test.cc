// Claiming FULLY_CONNECTED nodes in CSR, N:M and GS through the C API on a
// fake runtime: which format each node gets, forced formats, and outputs
// against a dense product.
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "cc/kernels/f32_dense_reference.h"
#include "delegate/tests/fake_graph.h"
#include "delegate/tests/plugin_delegate.h"
#include "gtest/gtest.h"

namespace tf_sparse {
namespace testing {
namespace {

std::mt19937 g_rng(11);

float Value() {
  std::uniform_real_distribution<float> v(0.1f, 1.0f);
  return (g_rng() & 1) ? v(g_rng) : -v(g_rng);
}

std::vector<float> Unstructured(int out, int in, double sparsity) {
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  std::vector<float> w(static_cast<size_t>(out) * in, 0.0f);
  for (float& v : w) {
    if (coin(g_rng) >= sparsity) v = Value();
  }
  return w;
}

std::vector<float> TwoOfFour(int out, int in) {
  std::vector<float> w(static_cast<size_t>(out) * in, 0.0f);
  for (int o = 0; o < out; ++o) {
    for (int j = 0; j < in; j += 4) {
      int perm[4] = {0, 1, 2, 3};
      std::shuffle(perm, perm + 4, g_rng);
      w[static_cast<size_t>(o) * in + j + perm[0]] = Value();
      w[static_cast<size_t>(o) * in + j + perm[1]] = Value();
    }
  }
  return w;
}

// Valid GS, 16 banks, e = 1, `packs` packs per group of 16 rows.
std::vector<float> Gs(int out, int in, int packs) {
  std::vector<float> w(static_cast<size_t>(out) * in, 0.0f);
  std::vector<int> bank(16);
  for (int g = 0; g < out / 16; ++g) {
    for (int p = 0; p < packs; ++p) {
      std::iota(bank.begin(), bank.end(), 0);
      std::shuffle(bank.begin(), bank.end(), g_rng);
      for (int l = 0; l < 16; ++l) {
        w[static_cast<size_t>(g * 16 + l) * in + p * 16 + bank[l]] = Value();
      }
    }
  }
  return w;
}

// The "format" of each report entry, in order ("null" when declined).
std::vector<std::string> Formats(const std::string& report) {
  std::vector<std::string> out;
  size_t at = 0;
  while ((at = report.find("\"format\": ", at)) != std::string::npos) {
    at += 10;
    const size_t end = report.find_first_of(",}", at);
    std::string f = report.substr(at, end - at);
    if (f.size() >= 2 && f.front() == '"') f = f.substr(1, f.size() - 2);
    out.push_back(f);
  }
  return out;
}

struct Layer {
  int out, in;
  std::vector<float> w, b;
};

// Builds x -> FC -> ... -> y, applies the delegate, runs batch 3 and checks
// against dense products. Returns the report's formats.
std::vector<std::string> RunChain(const std::vector<Layer>& layers,
                                  const char* format) {
  FakeGraph g;
  int x = g.AddTensor({1, layers[0].in}, false);
  const int input = x;
  for (const Layer& l : layers) {
    const int w = g.AddTensor({l.out, l.in}, true, l.w);
    const int b = g.AddTensor({l.out}, true, l.b);
    const int y = g.AddTensor({1, l.out}, false);
    g.AddFullyConnected(x, w, b, y, kTfLiteActRelu);
    x = y;
  }
  g.SetGraphOutputs({x});
  Delegate d(Opts{{"format", format == nullptr ? "auto" : format}});
  EXPECT_EQ(g.ApplyDelegate(d.get()), kTfLiteOk);
  const int batch = 3;
  g.ResizeInput(input, {batch, layers[0].in});
  EXPECT_EQ(g.AllocateTensors(), kTfLiteOk);
  std::vector<float> xv(static_cast<size_t>(batch) * layers[0].in);
  for (float& v : xv) v = Value();
  std::memcpy(g.data(input), xv.data(), xv.size() * sizeof(float));
  if (!g.replaced_nodes().empty()) {
    EXPECT_EQ(g.Invoke(), kTfLiteOk);
    // Only a fully claimed chain runs in the fake (it executes delegate
    // kernels only).
    if (g.replaced_nodes().size() == layers.size()) {
      std::vector<float> h = xv;
      for (const Layer& l : layers) {
        std::vector<float> next(static_cast<size_t>(batch) * l.out);
        F32DenseFullyConnectedReference(batch, l.out, l.in, l.w.data(),
                                        l.b.data(), h.data(), next.data(), 0.0f,
                                        std::numeric_limits<float>::infinity());
        h.swap(next);
      }
      for (size_t i = 0; i < h.size(); ++i) {
        EXPECT_NEAR(g.data(x)[i], h[i], 1e-4f * (1.0f + std::fabs(h[i])));
      }
    }
  }
  return Formats(d.report());
}

Layer MakeLayer(int out, int in, std::vector<float> w) {
  Layer l{out, in, std::move(w), std::vector<float>(out)};
  for (float& v : l.b) v = Value();
  return l;
}

TEST(FcFormats, AutoPicksEachFormat) {
  const std::vector<Layer> layers = {
      MakeLayer(96, 200, Unstructured(96, 200, 0.9)),
      MakeLayer(64, 96, TwoOfFour(64, 96)),
      MakeLayer(32, 64, Unstructured(32, 64, 0.0)),
  };
  EXPECT_EQ(RunChain(layers, nullptr),
            (std::vector<std::string>{"csr", "nm:2:4", "null"}));
}

TEST(FcFormats, ForcedFormatsRunAndMatch) {
  const std::vector<Layer> layers = {
      MakeLayer(64, 160, Gs(64, 160, 3)),
      MakeLayer(32, 64, TwoOfFour(32, 64)),
  };
  EXPECT_EQ(RunChain(layers, "gs"),
            (std::vector<std::string>{"gs:16:1", "gs:16:1"}));
  EXPECT_EQ(RunChain(layers, "csr"), (std::vector<std::string>{"csr", "csr"}));
  EXPECT_EQ(RunChain(layers, "gs:8:2"),
            (std::vector<std::string>{"gs:8:2", "gs:8:2"}));
  // The GS layer is sparse enough for any of these N:M patterns too.
  EXPECT_EQ(RunChain(layers, "nm:4:8"),
            (std::vector<std::string>{"nm:4:8", "nm:4:8"}));
  const std::vector<std::string> nm = RunChain(layers, "nm");
  ASSERT_EQ(nm.size(), 2u);
  EXPECT_EQ(nm[0].substr(0, 3), "nm:");
  EXPECT_EQ(nm[1], "nm:2:4");
  // Unstructured weights fit no N:M pattern: declined, not mispacked.
  EXPECT_EQ(RunChain({MakeLayer(32, 64, Unstructured(32, 64, 0.5))}, "nm:2:4"),
            (std::vector<std::string>{"null"}));
}

}  // namespace
}  // namespace testing
}  // namespace tf_sparse
