// Pattern-sparse 3x3 convolution: format round trips and every ISA's
// kernels against the dense direct reference on edge shapes.
#include <vector>

#include "cc/formats/patdnn.h"
#include "cc/kernels/dispatch.h"
#include "cc/tests/conv_tester.h"
#include "cc/tests/special_values.h"
#include "gtest/gtest.h"

namespace tf_sparse {
namespace {

TEST(PatdnnFormat, RoundTripAndFields) {
  const std::vector<float> w = ConvTester().in(1, 1, 13).out_c(9).Weights();
  PatdnnWeights p;
  PatternStats s;
  std::string error;
  ASSERT_TRUE(PackPatdnn(w.data(), 9, 13, &p, &s, &error)) << error;
  EXPECT_LE(p.num_patterns(), 8);
  EXPECT_EQ(p.offset.back(), p.num_kernels());
  EXPECT_EQ(p.num_kernels(), s.nonzero_kernels);
  EXPECT_EQ(p.weight.size(), 4u * p.num_kernels());
  for (int f = 0; f + 1 < 9; ++f) {
    EXPECT_GE(p.offset[f + 1] - p.offset[f], p.offset[f + 2] - p.offset[f + 1]);
  }
  for (uint16_t m : p.patterns) EXPECT_EQ(__builtin_popcount(m), 4);
  std::vector<float> back(w.size(), 1.0f);
  UnpackPatdnn(p, back.data());
  EXPECT_EQ(back, w);
}

TEST(PatdnnFormat, UnderfullKernelsAndEmptyFilters) {
  // Filter 0: one kernel with 2 taps; filter 1: empty; filter 2: 1 tap.
  std::vector<float> w(3 * 9 * 2, 0.0f);
  w[(0 * 9 + 0) * 2 + 1] = 1.0f;
  w[(0 * 9 + 8) * 2 + 1] = 2.0f;
  w[(2 * 9 + 4) * 2 + 0] = 3.0f;
  PatdnnWeights p;
  std::string error;
  ASSERT_TRUE(PackPatdnn(w.data(), 3, 2, &p, nullptr, &error)) << error;
  EXPECT_EQ(p.num_kernels(), 2);
  EXPECT_EQ(p.reorder.back(), 1);  // The empty filter sorts last.
  std::vector<float> back(w.size());
  UnpackPatdnn(p, back.data());
  EXPECT_EQ(back, w);
}

TEST(PatdnnFormat, DenseKernelsAreRejected) {
  const std::vector<float> w =
      ConvTester().in(1, 1, 3).out_c(2).taps(5).Weights();
  PatdnnWeights p;
  PatternStats s;
  std::string error;
  EXPECT_FALSE(PackPatdnn(w.data(), 2, 3, &p, &s, &error));
  EXPECT_EQ(s.max_kernel_nonzeros, 5);
  EXPECT_NE(error.find("5 nonzero taps"), std::string::npos);
}

TEST(PatdnnConv, DenseWeightsDeclinedByCreate) {
  const std::vector<float> w =
      ConvTester().in(1, 1, 3).out_c(2).taps(9).kernel_zero(0).Weights();
  std::string error;
  EXPECT_EQ(F32PatdnnConv2D::Create(w.data(), 2, 3, nullptr, {}, &error),
            nullptr);
  EXPECT_FALSE(error.empty());
}

TEST(ConvOutputSize, MatchesTflite) {
  int out = 0, pad = 0;
  ASSERT_TRUE(ConvOutputSize(ConvPadding::kSame, 56, 3, 1, &out, &pad));
  EXPECT_EQ(out, 56);
  EXPECT_EQ(pad, 1);
  ASSERT_TRUE(ConvOutputSize(ConvPadding::kSame, 56, 3, 2, &out, &pad));
  EXPECT_EQ(out, 28);
  EXPECT_EQ(pad, 0);  // Total 1: the extra row goes after.
  ASSERT_TRUE(ConvOutputSize(ConvPadding::kValid, 7, 3, 2, &out, &pad));
  EXPECT_EQ(out, 3);
  EXPECT_FALSE(ConvOutputSize(ConvPadding::kValid, 2, 3, 1, &out, &pad));
}

class PatdnnConvIsa : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!IsaSupported(GetParam())) GTEST_SKIP() << "ISA not supported here";
  }
};

TEST_P(PatdnnConvIsa, Stride1Same) {
  for (int h : {1, 2, 3, 5, 8, 13}) {
    for (int w : {1, 4, 7, 16, 33, 40}) {
      ConvTester().in(h, w, 3).out_c(5).Test(GetParam());
    }
  }
}

TEST_P(PatdnnConvIsa, Stride1Valid) {
  for (int h : {3, 4, 9}) {
    for (int w : {3, 17, 35}) {
      ConvTester().in(h, w, 4).out_c(3).valid().Test(GetParam());
    }
  }
}

TEST_P(PatdnnConvIsa, Stride2) {
  for (int h : {1, 4, 7, 12}) {
    for (int w : {2, 9, 34, 67}) {
      ConvTester().in(h, w, 5).out_c(4).stride(2).Test(GetParam());
      if (h >= 3 && w >= 3) {
        ConvTester().in(h, w, 5).out_c(4).stride(2).valid().Test(GetParam());
      }
    }
  }
}

TEST_P(PatdnnConvIsa, OtherStrides) {
  ConvTester().in(11, 19, 3).out_c(4).stride(3).Test(GetParam());
  ConvTester().in(11, 19, 3).out_c(4).stride(1, 2).Test(GetParam());
  ConvTester().in(10, 13, 3).out_c(4).stride(2, 3).valid().Test(GetParam());
}

TEST_P(PatdnnConvIsa, OneChannelAndOneFilter) {
  ConvTester().in(6, 9, 1).out_c(1).kernel_zero(0).Test(GetParam());
  ConvTester().in(6, 9, 1).out_c(7).kernel_zero(0).taps(2).Test(GetParam());
}

TEST_P(PatdnnConvIsa, AllZeroWeights) {
  ConvTester().in(5, 20, 4).out_c(3).kernel_zero(1.0).Test(GetParam());
  ConvTester().in(5, 20, 4).out_c(3).kernel_zero(1.0).bias(false).Test(
      GetParam());
}

TEST_P(PatdnnConvIsa, FewerTapsAndLargeLibrary) {
  for (int taps : {1, 2, 3}) {
    ConvTester().in(7, 21, 6).out_c(5).taps(taps).Test(GetParam());
  }
  ConvTester().in(9, 37, 16).out_c(8).library(40).kernel_zero(0.2).Test(
      GetParam());
}

TEST_P(PatdnnConvIsa, ClampBatchAndThreads) {
  ConvTester().in(9, 30, 8).out_c(6).clamp(0.0f, 6.0f).Test(GetParam());
  ConvTester().in(9, 30, 8).out_c(6).clamp(-1.0f, 1.0f).Test(GetParam());
  ConvTester().in(7, 11, 5).out_c(9).batch(3).Test(GetParam());
  ConvTester().in(7, 11, 5).out_c(9).batch(2).stride(2).threads(2).Test(
      GetParam());
  ConvTester().in(14, 40, 12).out_c(17).threads(3).Test(GetParam());
}

TEST_P(PatdnnConvIsa, SixteenChannelBlocksAndTails) {
  // Input and output transposes in 16 x 16 blocks plus ragged channels and
  // pixels.
  ConvTester().in(5, 35, 20).out_c(33).Test(GetParam());
  ConvTester().in(6, 16, 16).out_c(16).valid().Test(GetParam());
  ConvTester().in(7, 50, 37).out_c(18).clamp(0.0f, 6.0f).threads(2).Test(
      GetParam());
}

TEST_P(PatdnnConvIsa, RealShape) {
  ConvTester().in(28, 28, 32).out_c(32).Test(GetParam());
}

TEST_P(PatdnnConvIsa, ManyChannelBlocksAndRowTails) {
  // Input channels split into several L1 blocks; widths whose last 16
  // pixels overlap the chunk before (input transpose) and end inside a
  // vector (output).
  ConvTester().in(6, 56, 96).out_c(20).Test(GetParam());
  ConvTester().in(5, 27, 80).out_c(17).valid().threads(2).Test(GetParam());
  ConvTester().in(7, 45, 48).out_c(9).stride(2).Test(GetParam());
}

// NaN, +-Inf and denormal inputs, a NaN bias or weight, all-zero weights,
// under no activation, ReLU and ReLU6 (contract: special_values.h), through
// the 16 x 16 output transpose and its ragged tails.
TEST_P(PatdnnConvIsa, SpecialValues) {
  for (Special s : kAllSpecials) {
    for (const Activation& act : kActivations) {
      ConvTester().in(5, 19, 6).out_c(18).batch(2).clamp(act.lo, act.hi)
          .special(s).Test(GetParam());
      ConvTester().in(6, 9, 3).out_c(5).stride(2).clamp(act.lo, act.hi)
          .special(s).Test(GetParam());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, PatdnnConvIsa,
                         ::testing::Values(Isa::kScalar, Isa::kAvx2,
                                           Isa::kAvx512, Isa::kNeon,
                                           Isa::kSve),
                         [](const ::testing::TestParamInfo<Isa>& info) {
                           return std::string(IsaName(info.param));
                         });

}  // namespace
}  // namespace tf_sparse
