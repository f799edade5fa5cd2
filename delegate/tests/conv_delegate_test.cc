// CONV_2D in the delegate against a fake runtime (fake_graph.h): which of
// the two sparse formats (PatDNN FKW, filter-vector taps VT) a node is
// claimed with, or why it is declined, and claimed nodes against the dense
// reference through resizes.
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cc/kernels/f32_conv_reference.h"
#include "delegate/tests/fake_graph.h"
#include "delegate/tests/plugin_delegate.h"
#include "gtest/gtest.h"

namespace tf_sparse {
namespace testing {
namespace {

std::mt19937 g_rng(23);

std::vector<float> Random(size_t n) {
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = value(g_rng);
  return v;
}

// OHWI [out][3][3][in] weights whose zeros are shared by each block of 16
// filters: at input channel c, block b keeps taps {0, 1, 3, 4, 7} when
// b + c is odd and nothing otherwise. Five taps: not pattern-structured,
// so only VT can run them; VT executes 5/9 * 1/2 of the dense vectors.
std::vector<float> BlockSharedWeights(int out, int in) {
  std::vector<float> w = Random(static_cast<size_t>(out) * 9 * in);
  for (int o = 0; o < out; ++o) {
    for (int t = 0; t < 9; ++t) {
      for (int c = 0; c < in; ++c) {
        const bool keep = (o / 16 + c) % 2 == 1 &&
                          (t == 0 || t == 1 || t == 3 || t == 4 || t == 7);
        if (!keep) w[(static_cast<size_t>(o) * 9 + t) * in + c] = 0.0f;
      }
    }
  }
  return w;
}

struct ConvGraph {
  FakeGraph g;
  TfLiteConvParams params;
  int x = -1, y = -1, node = -1;
  int out = 0, in = 0;
  std::vector<float> w, b;

  ConvGraph(int out_c, int in_c, const std::vector<float>& weights, int h,
            int wd)
      : out(out_c), in(in_c), w(weights), b(Random(out_c)) {
    std::memset(&params, 0, sizeof(params));
    params.padding = kTfLitePaddingSame;
    params.stride_width = params.stride_height = 1;
    params.activation = kTfLiteActNone;
    params.dilation_width_factor = params.dilation_height_factor = 1;
    x = g.AddTensor({1, h, wd, in}, false);
    const int wt = g.AddTensor({out, 3, 3, in}, true, w);
    const int bt = g.AddTensor({out}, true, b);
    y = g.AddTensor({1, h, wd, out}, false);
    node = g.AddOtherNode(kTfLiteBuiltinConv2d, {x, wt, bt}, {y});
    g.SetBuiltinData(node, &params);
    g.SetGraphOutputs({y});
  }
};

bool Has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(ConvDelegate, VtapsClaimsBlockSharedWeightsAndMatchesTheReference) {
  const int out = 40, in = 24;  // Out: two full 16-filter blocks + 8.
  struct Case {
    const char* format;
    int stride;
    TfLitePadding padding;
    TfLiteFusedActivation activation;
    float lo, hi;
  };
  const float inf = std::numeric_limits<float>::infinity();
  for (const Case& k :
       {Case{"vtaps", 1, kTfLitePaddingSame, kTfLiteActRelu, 0.0f, inf},
        Case{"vtaps", 2, kTfLitePaddingValid, kTfLiteActRelu6, 0.0f, 6.0f},
        Case{"vtaps", 2, kTfLitePaddingSame, kTfLiteActNone, -inf, inf}}) {
    SCOPED_TRACE(std::string(k.format) + " stride " +
                 std::to_string(k.stride));
    ConvGraph cg(out, in, BlockSharedWeights(out, in), 28, 28);
    cg.params.stride_width = cg.params.stride_height = k.stride;
    cg.params.padding = k.padding;
    cg.params.activation = k.activation;
    Delegate d(Opts{{"format", k.format}, {"num_threads", "2"}});
    ASSERT_NE(d.get(), nullptr) << LastPluginError();
    ASSERT_EQ(cg.g.ApplyDelegate(d.get()), kTfLiteOk);
    const std::string report = d.report();
    EXPECT_EQ(cg.g.replaced_nodes(), std::vector<int>{cg.node}) << report;
    EXPECT_TRUE(Has(report, "\"format\": \"vtaps\"")) << report;
    EXPECT_TRUE(Has(report, "\"kernel\": \"f32_conv3x3_vtaps")) << report;
    EXPECT_TRUE(Has(report, "\"patdnn_cost_vs_dense\": null")) << report;
    EXPECT_TRUE(Has(report, "not pattern-structured")) << report;
    const std::vector<std::pair<int, int>> sizes = {{28, 28}, {5, 17}, {3, 3}};
    for (auto hw : sizes) {
      for (int batch : {1, 2}) {
        cg.g.ResizeInput(cg.x, {batch, hw.first, hw.second, in});
        ASSERT_EQ(cg.g.AllocateTensors(), kTfLiteOk) << cg.g.errors().back();
        ConvShape s;
        s.batch = batch;
        s.in_h = hw.first;
        s.in_w = hw.second;
        s.in_c = in;
        s.out_c = out;
        s.stride_h = s.stride_w = k.stride;
        const ConvPadding padding = k.padding == kTfLitePaddingSame
                                        ? ConvPadding::kSame
                                        : ConvPadding::kValid;
        ASSERT_TRUE(ConvOutputSize(padding, s.in_h, 3, k.stride, &s.out_h,
                                   &s.pad_top));
        ASSERT_TRUE(ConvOutputSize(padding, s.in_w, 3, k.stride, &s.out_w,
                                   &s.pad_left));
        EXPECT_EQ(cg.g.dims(cg.y),
                  (std::vector<int>{batch, s.out_h, s.out_w, out}));
        const std::vector<float> xv =
            Random(static_cast<size_t>(batch) * s.in_h * s.in_w * in);
        std::memcpy(cg.g.data(cg.x), xv.data(), xv.size() * sizeof(float));
        ASSERT_EQ(cg.g.Invoke(), kTfLiteOk);
        std::vector<float> expect(static_cast<size_t>(batch) * s.out_h *
                                  s.out_w * out);
        F32ConvReference(s, xv.data(), cg.w.data(), cg.b.data(), k.lo, k.hi,
                         expect.data());
        for (size_t i = 0; i < expect.size(); ++i) {
          ASSERT_NEAR(cg.g.data(cg.y)[i], expect[i], 1e-4f) << i;
        }
      }
    }
  }
}

TEST(ConvDelegate, DeclinesWithBothEstimates) {
  const int out = 32, in = 32;
  {
    // Dense: below min_sparsity; without the floor, VT would execute every
    // vector and is declined on its estimate, FKW cannot run it at all.
    ConvGraph cg(out, in, Random(9 * out * in), 28, 28);
    Delegate a(Opts{});
    ASSERT_EQ(cg.g.ApplyDelegate(a.get()), kTfLiteOk);
    EXPECT_TRUE(cg.g.replaced_nodes().empty());
    EXPECT_TRUE(Has(a.report(), "below min_sparsity")) << a.report();
  }
  {
    ConvGraph cg(out, in, Random(9 * out * in), 28, 28);
    Delegate d(Opts{{"min_sparsity", "0"}});
    ASSERT_EQ(cg.g.ApplyDelegate(d.get()), kTfLiteOk);
    EXPECT_TRUE(cg.g.replaced_nodes().empty());
    const std::string r = d.report();
    EXPECT_TRUE(Has(r, "estimated cost above 0.90 of dense: patdnn n/a (not "
                       "pattern-structured")) << r;
    EXPECT_TRUE(Has(r, "vtaps 1.")) << r;
    EXPECT_TRUE(Has(r, "\"vtaps_executed_fraction\": 1")) << r;
  }
  {
    // Forced FKW on weights it cannot run: declined, not claimed.
    ConvGraph cg(out, in, BlockSharedWeights(out, in), 28, 28);
    Delegate d(Opts{{"format", "patdnn"}});
    ASSERT_EQ(cg.g.ApplyDelegate(d.get()), kTfLiteOk);
    EXPECT_TRUE(cg.g.replaced_nodes().empty());
    EXPECT_TRUE(Has(d.report(), "format patdnn forced, but not "
                                "pattern-structured")) << d.report();
  }
  {
    // Dilation: VT runs it (and matches the reference), FKW declines it.
    ConvGraph cg(out, in, BlockSharedWeights(out, in), 28, 28);
    cg.params.dilation_height_factor = 1;
    cg.params.dilation_width_factor = 2;
    Delegate d(Opts{{"format", "vtaps"}});
    ASSERT_EQ(cg.g.ApplyDelegate(d.get()), kTfLiteOk);
    EXPECT_EQ(cg.g.replaced_nodes(), std::vector<int>{cg.node}) << d.report();
    ASSERT_EQ(cg.g.AllocateTensors(), kTfLiteOk) << cg.g.errors().back();
    ConvShape s;
    s.in_h = s.in_w = 28;
    s.in_c = in;
    s.out_c = out;
    s.dilation_w = 2;
    ASSERT_TRUE(ConvOutputSize(ConvPadding::kSame, 28, 3, 1, &s.out_h,
                               &s.pad_top));
    ASSERT_TRUE(ConvOutputSize(ConvPadding::kSame, 28, 5, 1, &s.out_w,
                               &s.pad_left));
    const std::vector<float> xv = Random(static_cast<size_t>(28) * 28 * in);
    std::memcpy(cg.g.data(cg.x), xv.data(), xv.size() * sizeof(float));
    ASSERT_EQ(cg.g.Invoke(), kTfLiteOk);
    std::vector<float> expect(static_cast<size_t>(s.out_h) * s.out_w * out);
    F32ConvReference(s, xv.data(), cg.w.data(), cg.b.data(),
                     -std::numeric_limits<float>::infinity(),
                     std::numeric_limits<float>::infinity(), expect.data());
    for (size_t i = 0; i < expect.size(); ++i) {
      ASSERT_NEAR(cg.g.data(cg.y)[i], expect[i], 1e-4f) << i;
    }
    // Four taps a kernel ({0, 1, 3, 4}): pattern-structured, so the only
    // thing FKW cannot run is the dilation.
    std::vector<float> four = BlockSharedWeights(out, in);
    for (int o = 0; o < out; ++o) {
      for (int c = 0; c < in; ++c) four[(static_cast<size_t>(o) * 9 + 7) * in + c] = 0.0f;
    }
    ConvGraph cg2(out, in, four, 28, 28);
    cg2.params.dilation_width_factor = 2;
    Delegate d2(Opts{{"format", "patdnn"}});
    ASSERT_EQ(cg2.g.ApplyDelegate(d2.get()), kTfLiteOk);
    EXPECT_TRUE(cg2.g.replaced_nodes().empty());
    EXPECT_TRUE(Has(d2.report(), "dilation (FKW runs dilation 1)"))
        << d2.report();
  }
  {
    // A forced FULLY_CONNECTED format declines CONV_2D nodes.
    ConvGraph cg(out, in, BlockSharedWeights(out, in), 28, 28);
    Delegate d(Opts{{"format", "nm"}});
    ASSERT_EQ(cg.g.ApplyDelegate(d.get()), kTfLiteOk);
    EXPECT_TRUE(cg.g.replaced_nodes().empty());
    EXPECT_TRUE(Has(d.report(), "is a FULLY_CONNECTED format")) << d.report();
  }
}

}  // namespace
}  // namespace testing
}  // namespace tf_sparse
