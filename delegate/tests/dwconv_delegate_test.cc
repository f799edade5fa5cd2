// DEPTHWISE_CONV_2D in the delegate against a fake runtime (fake_graph.h):
// what is claimed or declined and why, and claimed nodes against the dense
// reference through resizes.
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cc/kernels/f32_dwconv_reference.h"
#include "delegate/tests/fake_graph.h"
#include "delegate/tests/plugin_delegate.h"
#include "gtest/gtest.h"

namespace tf_sparse {
namespace testing {
namespace {

std::mt19937 g_rng(17);

std::vector<float> Random(size_t n) {
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = value(g_rng);
  return v;
}

// [3][3][C] weights: taps 1, 3, 4, 7 of every channel, all 9 of the first
// `dense` channels, none of every third channel.
std::vector<float> PatternWeights(int c, int dense = 0) {
  std::vector<float> w = Random(9 * static_cast<size_t>(c));
  for (int ch = 0; ch < c; ++ch) {
    for (int t = 0; t < 9; ++t) {
      const bool keep = ch < dense || (ch % 3 != 2 && (t == 1 || t == 3 ||
                                                       t == 4 || t == 7));
      if (!keep) w[static_cast<size_t>(t) * c + ch] = 0.0f;
    }
  }
  return w;
}

struct DwGraph {
  FakeGraph g;
  TfLiteDepthwiseConvParams params;
  int x = -1, y = -1, node = -1;
  std::vector<float> w, b;

  // in_c input channels, weights [1, kh, kw, out_c].
  DwGraph(int in_c, int out_c, int kh, const std::vector<float>& weights,
          bool with_bias, bool const_weights = true) {
    std::memset(&params, 0, sizeof(params));
    params.padding = kTfLitePaddingSame;
    params.stride_width = params.stride_height = 1;
    params.depth_multiplier = out_c / in_c;
    params.activation = kTfLiteActNone;
    params.dilation_width_factor = params.dilation_height_factor = 1;
    w = weights;
    b = Random(out_c);
    x = g.AddTensor({1, 9, 11, in_c}, false);
    const int wt = g.AddTensor({1, kh, kh, out_c}, const_weights,
                               const_weights ? w : std::vector<float>{});
    const int bt = with_bias ? g.AddTensor({out_c}, true, b) : -1;
    y = g.AddTensor({1, 9, 11, out_c}, false);
    node = g.AddOtherNode(kTfLiteBuiltinDepthwiseConv2d, {x, wt, bt}, {y});
    g.SetBuiltinData(node, &params);
    g.SetGraphOutputs({y});
  }
};

TEST(DwConvDelegate, ClaimsAndMatchesTheReferenceThroughResizes) {
  const int c = 37;
  for (const char* format : {"dwtaps", "auto"}) {
    DwGraph dg(c, c, 3, PatternWeights(c), true);
    // Forced: a 1x2 stride; auto: stride 1, where 37 channels on 4 taps are
    // estimated well below dense (at stride 2 XNNPACK's kernel is relatively
    // faster on few channels and the estimate sits at the margin).
    const int sw = std::string(format) == "auto" ? 1 : 2;
    dg.params.stride_width = sw;
    dg.params.padding = kTfLitePaddingValid;
    dg.params.activation = kTfLiteActRelu6;
    Delegate d(Opts{{"format", format}, {"num_threads", "2"}});
    ASSERT_NE(d.get(), nullptr) << LastPluginError();
    ASSERT_EQ(dg.g.ApplyDelegate(d.get()), kTfLiteOk);
    const std::string report = d.report();
    EXPECT_EQ(dg.g.replaced_nodes(), std::vector<int>{dg.node}) << report;
    EXPECT_NE(report.find("\"op\": \"DEPTHWISE_CONV_2D\""), std::string::npos);
    EXPECT_NE(report.find("\"format\": \"dwtaps\""), std::string::npos);
    EXPECT_NE(report.find("\"shape\": [1, 3, 3, 37]"), std::string::npos);
    for (auto hw : std::vector<std::pair<int, int>>{{9, 11}, {3, 3}, {16, 5}}) {
      for (int batch : {1, 2}) {
        dg.g.ResizeInput(dg.x, {batch, hw.first, hw.second, c});
        ASSERT_EQ(dg.g.AllocateTensors(), kTfLiteOk) << dg.g.errors().back();
        ConvShape s;
        s.batch = batch;
        s.in_h = hw.first;
        s.in_w = hw.second;
        s.in_c = s.out_c = c;
        s.stride_h = 1;
        s.stride_w = sw;
        ASSERT_TRUE(ConvOutputSize(ConvPadding::kValid, s.in_h, 3, 1,
                                   &s.out_h, &s.pad_top));
        ASSERT_TRUE(ConvOutputSize(ConvPadding::kValid, s.in_w, 3, sw,
                                   &s.out_w, &s.pad_left));
        EXPECT_EQ(dg.g.dims(dg.y),
                  (std::vector<int>{batch, s.out_h, s.out_w, c}));
        const std::vector<float> xv =
            Random(static_cast<size_t>(batch) * s.in_h * s.in_w * c);
        std::memcpy(dg.g.data(dg.x), xv.data(), xv.size() * sizeof(float));
        ASSERT_EQ(dg.g.Invoke(), kTfLiteOk);
        std::vector<float> expect(static_cast<size_t>(batch) * s.out_h *
                                  s.out_w * c);
        F32DepthwiseConvReference(s, xv.data(), dg.w.data(), dg.b.data(),
                                  0.0f, 6.0f, expect.data());
        for (size_t i = 0; i < expect.size(); ++i) {
          ASSERT_NEAR(dg.g.data(dg.y)[i], expect[i], 1e-5f) << i;
        }
      }
    }
    // VALID on 2x2 leaves no position: an empty output, as TFLite's own
    // kernel gives, and nothing to run. On 1x1 the size is negative: an
    // error at prepare (TFLite's kernel refuses it too), not a crash.
    dg.g.ResizeInput(dg.x, {1, 2, 2, c});
    ASSERT_EQ(dg.g.AllocateTensors(), kTfLiteOk) << dg.g.errors().back();
    EXPECT_EQ(dg.g.dims(dg.y), (std::vector<int>{1, 0, 0, c}));
    EXPECT_EQ(dg.g.Invoke(), kTfLiteOk);
    dg.g.ResizeInput(dg.x, {1, 1, 1, c});
    EXPECT_NE(dg.g.AllocateTensors(), kTfLiteOk);
  }
}

TEST(DwConvDelegate, DeclinesWithAReason) {
  const int c = 8;
  {
    // Depth multiplier 2: 4 input channels, 8 output channels.
    DwGraph dg(4, 8, 3, PatternWeights(8), true);
    Delegate d(Opts{{"format", "dwtaps"}});
    ASSERT_EQ(dg.g.ApplyDelegate(d.get()), kTfLiteOk);
    EXPECT_TRUE(dg.g.replaced_nodes().empty());
    EXPECT_NE(d.report().find("depth multiplier 2 is not supported"),
              std::string::npos)
        << d.report();
  }
  {
    DwGraph dg(c, c, 3, PatternWeights(c), false);
    dg.params.dilation_height_factor = 2;
    Delegate d(Opts{{"format", "dwtaps"}});
    ASSERT_EQ(dg.g.ApplyDelegate(d.get()), kTfLiteOk);
    EXPECT_TRUE(dg.g.replaced_nodes().empty());
    EXPECT_NE(d.report().find("dilation 2x1"), std::string::npos)
        << d.report();
  }
  {
    DwGraph dg(c, c, 5, Random(25 * c), true);
    Delegate d(Opts{{"format", "dwtaps"}});
    ASSERT_EQ(dg.g.ApplyDelegate(d.get()), kTfLiteOk);
    EXPECT_NE(d.report().find("kernel 5x5 is not 3x3"), std::string::npos)
        << d.report();
  }
  {
    DwGraph dg(c, c, 3, PatternWeights(c), true, /*const_weights=*/false);
    Delegate d(Opts{{"format", "dwtaps"}});
    ASSERT_EQ(dg.g.ApplyDelegate(d.get()), kTfLiteOk);
    EXPECT_NE(d.report().find("weights are not constant"), std::string::npos)
        << d.report();
  }
  {
    DwGraph dg(c, c, 3, PatternWeights(c), true);
    dg.params.activation = kTfLiteActTanh;
    Delegate d(Opts{{"format", "dwtaps"}});
    ASSERT_EQ(dg.g.ApplyDelegate(d.get()), kTfLiteOk);
    EXPECT_TRUE(dg.g.replaced_nodes().empty());
  }
  {
    DwGraph dg(c, c, 3, PatternWeights(c), true);
    dg.g.SetBuiltinData(dg.node, nullptr);
    Delegate d(Opts{{"format", "dwtaps"}});
    ASSERT_EQ(dg.g.ApplyDelegate(d.get()), kTfLiteOk);
    EXPECT_NE(d.report().find("no depthwise convolution parameters"),
              std::string::npos);
  }
  {
    // Dense kernels: below min_sparsity; with min_sparsity 0 the cost
    // model declines; forced, they are claimed (and run exactly, see the
    // kernel tests).
    const int wide = 64;
    DwGraph dense(wide, wide, 3, Random(9 * wide), true);
    Delegate a(Opts{});
    ASSERT_EQ(dense.g.ApplyDelegate(a.get()), kTfLiteOk);
    EXPECT_NE(a.report().find("below min_sparsity"), std::string::npos);
    DwGraph dense2(wide, wide, 3, Random(9 * wide), true);
    Delegate b(Opts{{"min_sparsity", "0"}});
    ASSERT_EQ(dense2.g.ApplyDelegate(b.get()), kTfLiteOk);
    EXPECT_NE(b.report().find("estimated cost"), std::string::npos)
        << b.report();
    EXPECT_TRUE(dense2.g.replaced_nodes().empty());
    DwGraph dense3(wide, wide, 3, Random(9 * wide), true);
    Delegate f(Opts{{"min_sparsity", "0"}, {"format", "dwtaps"}});
    ASSERT_EQ(dense3.g.ApplyDelegate(f.get()), kTfLiteOk);
    EXPECT_EQ(dense3.g.replaced_nodes(), std::vector<int>{dense3.node});
  }
  {
    // A forced FULLY_CONNECTED format declines depthwise nodes.
    DwGraph dg(c, c, 3, PatternWeights(c), true);
    Delegate d(Opts{{"format", "csr"}});
    ASSERT_EQ(dg.g.ApplyDelegate(d.get()), kTfLiteOk);
    EXPECT_NE(d.report().find("is a FULLY_CONNECTED format"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace testing
}  // namespace tf_sparse
