// Tap-sparse 3x3 depthwise convolution: packing round trips and every
// ISA's kernel against the dense direct reference on edge shapes.
#include <cmath>
#include <vector>

#include "cc/kernels/dispatch.h"
#include "cc/kernels/f32_dwconv3x3_sparse.h"
#include "cc/tests/dwconv_tester.h"
#include "cc/tests/special_values.h"
#include "gtest/gtest.h"

namespace tf_sparse {
namespace {

TEST(DwTapsFormat, RoundTripAndUnionTaps) {
  const std::vector<float> w = DwConvTester().in(1, 1, 21).Weights();
  for (int lanes : {1, 4, 8, 16}) {
    DwTapsWeights p;
    std::vector<float> bias(21);
    for (int c = 0; c < 21; ++c) bias[c] = 0.5f * c;
    PackDwTaps(w.data(), bias.data(), 21, lanes, &p);
    ASSERT_EQ(p.groups.size(), static_cast<size_t>((21 + lanes - 1) / lanes));
    EXPECT_EQ(p.groups.back().channels, 21 - (21 - 1) / lanes * lanes);
    EXPECT_EQ(p.weight.size(), p.tap.size() * lanes);
    EXPECT_EQ(p.bias.size(), p.groups.size() * lanes);
    const DwTapStats s = MeasureDwTaps(w.data(), 21, lanes);
    EXPECT_EQ(static_cast<size_t>(s.group_taps), p.tap.size());
    for (const F32DwGroup& g : p.groups) {
      for (int k = 1; k < g.num_taps; ++k) {
        EXPECT_LT(p.tap[g.tap_begin + k - 1], p.tap[g.tap_begin + k]);
      }
    }
    std::vector<float> back(w.size(), 1.0f);
    UnpackDwTaps(p, back.data());
    EXPECT_EQ(back, w) << lanes << " lanes";
  }
}

TEST(DwTapsFormat, StatsCountZerosAndPrunedChannels) {
  // Channel 0: taps 0 and 8; channel 1: pruned; channel 2: dense.
  std::vector<float> w(9 * 3, 0.0f);
  w[0 * 3 + 0] = 1.0f;
  w[8 * 3 + 0] = -2.0f;
  for (int t = 0; t < 9; ++t) w[t * 3 + 2] = 1.0f + t;
  const DwTapStats one = MeasureDwTaps(w.data(), 3, 1);
  EXPECT_EQ(one.zero_weights, 7 + 9);
  EXPECT_EQ(one.zero_channels, 1);
  EXPECT_EQ(one.max_channel_taps, 9);
  EXPECT_EQ(one.group_taps, 2 + 0 + 9);
  const DwTapStats four = MeasureDwTaps(w.data(), 3, 4);
  EXPECT_EQ(four.groups, 1);
  EXPECT_EQ(four.group_taps, 9);
  EXPECT_DOUBLE_EQ(four.executed_tap_fraction(), 1.0);
}

TEST(DwConvCreate, RejectsBadArgumentsByName) {
  std::vector<float> w(9 * 4, 1.0f);
  std::string error;
  EXPECT_EQ(F32SparseDepthwiseConv3x3::Create(nullptr, 4, nullptr, {}, &error),
            nullptr);
  EXPECT_NE(error.find("w "), std::string::npos) << error;
  EXPECT_EQ(F32SparseDepthwiseConv3x3::Create(w.data(), 0, nullptr, {}, &error),
            nullptr);
  EXPECT_NE(error.find("channels"), std::string::npos) << error;
  F32SparseDepthwiseConv3x3::Params p;
  p.stride_w = 0;
  EXPECT_EQ(F32SparseDepthwiseConv3x3::Create(w.data(), 4, nullptr, p, &error),
            nullptr);
  EXPECT_NE(error.find("strides"), std::string::npos) << error;
  p = {};
  p.output_min = 1.0f;
  p.output_max = 0.0f;
  EXPECT_EQ(F32SparseDepthwiseConv3x3::Create(w.data(), 4, nullptr, p, &error),
            nullptr);
  EXPECT_NE(error.find("output_min"), std::string::npos) << error;
  p = {};
  p.padding = ConvPadding::kValid;
  auto op = F32SparseDepthwiseConv3x3::Create(w.data(), 4, nullptr, p, &error);
  ASSERT_NE(op, nullptr) << error;
  int oh = 0, ow = 0;
  EXPECT_FALSE(op->Reshape(1, 2, 5, &oh, &ow, &error));
  EXPECT_NE(error.find("2x5"), std::string::npos) << error;
}

class DwConvIsa : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!IsaSupported(GetParam())) GTEST_SKIP() << "ISA not supported here";
  }
};

TEST_P(DwConvIsa, Stride1SameAllWidths) {
  for (int h : {1, 2, 3, 6}) {
    for (int w : {1, 2, 3, 4, 5, 9, 17}) {
      DwConvTester().in(h, w, 16).Test(GetParam());
    }
  }
}

TEST_P(DwConvIsa, Stride1Valid) {
  for (int h : {3, 4, 9}) {
    for (int w : {3, 7, 18}) {
      DwConvTester().in(h, w, 24).valid().Test(GetParam());
    }
  }
}

TEST_P(DwConvIsa, Stride2SameAndValid) {
  for (int h : {1, 2, 4, 7}) {
    for (int w : {1, 2, 3, 8, 15}) {
      DwConvTester().in(h, w, 20).stride(2).Test(GetParam());
      if (h >= 3 && w >= 3) {
        DwConvTester().in(h, w, 20).stride(2).valid().Test(GetParam());
      }
    }
  }
}

TEST_P(DwConvIsa, OtherStrides) {
  DwConvTester().in(11, 19, 13).stride(3).Test(GetParam());
  DwConvTester().in(11, 19, 13).stride(1, 2).Test(GetParam());
  DwConvTester().in(10, 13, 13).stride(2, 3).valid().Test(GetParam());
}

TEST_P(DwConvIsa, ChannelTails) {
  // Channels below, at and past every vector width, so each ISA sees full
  // groups, a partial last group, and only a partial group.
  for (int c : {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 47}) {
    DwConvTester().in(5, 6, c).Test(GetParam());
    DwConvTester().in(5, 6, c).stride(2).valid().seed(c).Test(GetParam());
  }
}

TEST_P(DwConvIsa, OneByOneInput) {
  DwConvTester().in(1, 1, 1).Test(GetParam());
  DwConvTester().in(1, 1, 19).Test(GetParam());
  DwConvTester().in(1, 1, 32).stride(2).Test(GetParam());
}

TEST_P(DwConvIsa, AllZeroWeights) {
  DwConvTester().in(5, 9, 20).channel_zero(1.0).Test(GetParam());
  DwConvTester().in(5, 9, 20).channel_zero(1.0).bias(false).Test(GetParam());
  DwConvTester().in(4, 4, 3).channel_zero(1.0).clamp(0.0f, 0.25f).Test(
      GetParam());
}

TEST_P(DwConvIsa, DenseAndUnderfullKernels) {
  // Dense kernels: all 9 taps run, still exact.
  DwConvTester().in(7, 10, 21).taps(9).channel_zero(0).Test(GetParam());
  DwConvTester().in(7, 10, 21).taps(9).channel_zero(0).stride(2).Test(
      GetParam());
  for (int taps : {1, 2, 3, 5, 6, 7, 8}) {
    DwConvTester().in(6, 11, 18).taps(taps).seed(taps).Test(GetParam());
  }
  // One shared pattern: every group keeps exactly its 4 taps.
  DwConvTester().in(9, 9, 40).library(1).channel_zero(0.5).Test(GetParam());
}

TEST_P(DwConvIsa, ClampBatchAndThreads) {
  DwConvTester().in(9, 30, 24).clamp(0.0f, 6.0f).Test(GetParam());
  DwConvTester().in(9, 30, 24).clamp(-0.5f, 0.5f).Test(GetParam());
  DwConvTester().in(7, 11, 5).batch(3).Test(GetParam());
  DwConvTester().in(7, 11, 19).batch(2).stride(2).threads(2).Test(GetParam());
  DwConvTester().in(14, 40, 36).threads(3).valid().Test(GetParam());
  DwConvTester().in(5, 5, 16).batch(0).Test(GetParam());
}

TEST_P(DwConvIsa, MobileNetShapes) {
  DwConvTester().in(28, 28, 32).Test(GetParam());
  DwConvTester().in(14, 14, 128).stride(2).threads(2).Test(GetParam());
}

// NaN, +-Inf and denormal inputs, a NaN bias or weight, all-zero weights,
// under no activation, ReLU and ReLU6 (contract: special_values.h), with
// full and partial channel groups.
TEST_P(DwConvIsa, SpecialValues) {
  for (Special s : kAllSpecials) {
    for (const Activation& act : kActivations) {
      DwConvTester().in(5, 9, 21).batch(2).clamp(act.lo, act.hi).special(s)
          .Test(GetParam());
      DwConvTester().in(4, 7, 5).stride(2).clamp(act.lo, act.hi).special(s)
          .Test(GetParam());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, DwConvIsa,
                         ::testing::Values(Isa::kScalar, Isa::kAvx2,
                                           Isa::kAvx512, Isa::kNeon,
                                           Isa::kSve),
                         [](const ::testing::TestParamInfo<Isa>& info) {
                           return std::string(IsaName(info.param));
                         });

}  // namespace
}  // namespace tf_sparse
