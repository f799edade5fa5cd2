// The filter-vector-taps (VT) 3x3 convolution against the dense direct
// reference, for every ISA this machine (or qemu) runs, on edge shapes:
// tails of the pixel tile and of the 16-filter block, one channel, strides,
// paddings, clamps, batches, threads, and weights with and without the
// block structure (VT runs any weights; the structure only makes it fast).
#include <string>
#include <vector>

#include "cc/kernels/dispatch.h"
#include "cc/kernels/f32_conv3x3_vtaps.h"
#include "cc/tests/conv_tester.h"
#include "cc/tests/special_values.h"
#include "gtest/gtest.h"

namespace tf_sparse {
namespace {

TEST(VtapsFormat, StatsCountBlockUnions) {
  // 20 filters (blocks of 16 and 4), 3 channels. Block 0: channel 0 taps
  // {0, 4} (two filters with different taps), channel 1 nothing, channel 2
  // tap 8; block 1: channel 1 tap 4.
  const int out = 20, in = 3;
  std::vector<float> w(static_cast<size_t>(out) * 9 * in, 0.0f);
  auto at = [&](int o, int t, int c) -> float& {
    return w[(static_cast<size_t>(o) * 9 + t) * in + c];
  };
  at(0, 0, 0) = 1.0f;
  at(5, 4, 0) = 2.0f;
  at(15, 8, 2) = 3.0f;
  at(17, 4, 1) = 4.0f;
  const VtapsStats s = MeasureVtaps(w.data(), out, in);
  EXPECT_EQ(s.blocks, 2);
  EXPECT_EQ(s.pairs, 4);
  EXPECT_EQ(s.zero_blocks, 3);  // (0, 1), (1, 0), (1, 2).
  EXPECT_EQ(s.max_block_taps, 2);
  EXPECT_EQ(s.zero_weights, static_cast<long long>(w.size()) - 4);
  EXPECT_DOUBLE_EQ(s.executed_fraction(), 4.0 / (9 * 2 * 3));
}

TEST(VtapsConv, BadArguments) {
  std::string error;
  const std::vector<float> w(9, 1.0f);
  F32Conv3x3Vtaps::Params p;
  EXPECT_EQ(F32Conv3x3Vtaps::Create(w.data(), 0, 1, nullptr, p, &error),
            nullptr);
  EXPECT_NE(error.find("out >= 1"), std::string::npos);
  p.stride_h = 0;
  EXPECT_EQ(F32Conv3x3Vtaps::Create(w.data(), 1, 1, nullptr, p, &error),
            nullptr);
  EXPECT_NE(error.find("strides"), std::string::npos);
  p.stride_h = 1;
  p.output_min = 1.0f;
  p.output_max = 0.0f;
  EXPECT_EQ(F32Conv3x3Vtaps::Create(w.data(), 1, 1, nullptr, p, &error),
            nullptr);
  p.output_min = 0.0f;
  auto op = F32Conv3x3Vtaps::Create(w.data(), 1, 1, nullptr, p, &error);
  ASSERT_NE(op, nullptr) << error;
  int oh = 0, ow = 0;
  p.padding = ConvPadding::kValid;
  auto valid = F32Conv3x3Vtaps::Create(w.data(), 1, 1, nullptr, p, &error);
  EXPECT_FALSE(valid->Reshape(1, 2, 2, &oh, &ow, &error));
  EXPECT_NE(error.find("no output"), std::string::npos);
}

class VtapsConvIsa : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!IsaSupported(GetParam())) GTEST_SKIP() << "ISA not supported here";
  }
};

TEST_P(VtapsConvIsa, BlockStructuredStride1) {
  for (int w : {1, 5, 13, 14, 15, 29}) {
    ConvTester().in(7, w, 5).out_c(32).filter_block(16).Test<F32Conv3x3Vtaps>(
        GetParam());
    ConvTester().in(6, w + 2, 3).out_c(16).filter_block(16).valid().Test<
        F32Conv3x3Vtaps>(GetParam());
  }
}

TEST_P(VtapsConvIsa, FilterTailsAndOneChannel) {
  for (int oc : {1, 7, 17, 40}) {
    ConvTester().in(5, 9, 1).out_c(oc).filter_block(16).Test<F32Conv3x3Vtaps>(
        GetParam());
    ConvTester().in(4, 6, 18).out_c(oc).filter_block(8).Test<F32Conv3x3Vtaps>(
        GetParam());
  }
}

TEST_P(VtapsConvIsa, Strides) {
  for (int s : {2, 3}) {
    ConvTester().in(11, 17, 6).out_c(20).stride(s).filter_block(16).Test<
        F32Conv3x3Vtaps>(GetParam());
    ConvTester().in(10, 30, 4).out_c(16).stride(s).valid().filter_block(16)
        .Test<F32Conv3x3Vtaps>(GetParam());
  }
  ConvTester().in(9, 12, 3).out_c(16).stride(1, 2).filter_block(16).Test<
      F32Conv3x3Vtaps>(GetParam());
  ConvTester().in(9, 12, 3).out_c(16).stride(2, 1).valid().filter_block(16)
      .Test<F32Conv3x3Vtaps>(GetParam());
}

TEST_P(VtapsConvIsa, AnyWeights) {
  // Per-kernel patterns, dense kernels and all-zero weights: slow or
  // trivial, never wrong.
  ConvTester().in(8, 10, 6).out_c(24).Test<F32Conv3x3Vtaps>(GetParam());
  ConvTester().in(8, 10, 6).out_c(24).taps(9).kernel_zero(0.0).Test<
      F32Conv3x3Vtaps>(GetParam());
  ConvTester().in(5, 5, 4).out_c(16).kernel_zero(1.0).Test<F32Conv3x3Vtaps>(
      GetParam());
}

TEST_P(VtapsConvIsa, ClampBatchThreadsAndWideChannels) {
  ConvTester()
      .in(9, 14, 40)
      .out_c(48)
      .filter_block(16)
      .clamp(-0.5f, 0.75f)
      .batch(3)
      .threads(3)
      .Test<F32Conv3x3Vtaps>(GetParam());
  ConvTester().in(14, 28, 32).out_c(32).filter_block(16).bias(false).threads(2)
      .Test<F32Conv3x3Vtaps>(GetParam());
}

TEST_P(VtapsConvIsa, Pointwise) {
  // 1x1 on the NHWC input: strides, ragged tiles (the last row's partial
  // tile must not read past the input), filter tails, block structure or
  // not, threads.
  for (int s : {1, 2, 3}) {
    for (int w : {1, 6, 14, 15, 33}) {
      ConvTester().kernel(1).in(5, w, 24).out_c(40).stride(s).filter_block(16)
          .Test<F32Conv3x3Vtaps>(GetParam());
    }
    ConvTester().kernel(1).in(7, 9, 3).out_c(5).stride(s).valid().Test<
        F32Conv3x3Vtaps>(GetParam());
  }
  ConvTester().kernel(1).in(14, 14, 64).out_c(32).kernel_zero(0.75)
      .filter_block(16).clamp(-0.5f, 0.5f).batch(2).threads(3)
      .Test<F32Conv3x3Vtaps>(GetParam());
  ConvTester().kernel(1).in(4, 4, 8).out_c(16).kernel_zero(1.0).Test<
      F32Conv3x3Vtaps>(GetParam());
}

TEST(VtapsConv, PointwiseStats) {
  // 1x1, 2 blocks of 16, 3 channels: block 0 keeps channels 0 and 2.
  std::vector<float> w(32 * 3, 0.0f);
  w[0 * 3 + 0] = 1.0f;
  w[7 * 3 + 2] = 1.0f;
  const VtapsStats s = MeasureVtaps(w.data(), 32, 3, 1, 1);
  EXPECT_EQ(s.pairs, 2);
  EXPECT_EQ(s.zero_blocks, 4);
  EXPECT_EQ(s.weights, 96);
  EXPECT_DOUBLE_EQ(s.executed_fraction(), 2.0 / (2 * 3));
  std::string error;
  F32Conv3x3Vtaps::Params p;
  p.kernel_h = p.kernel_w = 9;  // 81 taps.
  EXPECT_EQ(F32Conv3x3Vtaps::Create(w.data(), 32, 3, nullptr, p, &error),
            nullptr);
  EXPECT_NE(error.find("at most 64 taps"), std::string::npos);
}

TEST_P(VtapsConvIsa, OtherKernelSizes) {
  // Conv1D-style 1 x K (Jasper's 1x11 .. 1x29), K x 1, 5x5, 7x7 stride 2
  // (ResNet's stem), 8x8 (64 taps), 2x2; SAME and VALID.
  struct K {
    int h, w, stride;
  };
  for (const K& k : {K{1, 5, 1}, K{1, 11, 1}, K{1, 29, 2}, K{5, 1, 1},
                     K{5, 5, 1}, K{7, 7, 2}, K{8, 8, 1}, K{2, 2, 1},
                     K{1, 3, 2}}) {
    ConvTester().kernel(k.h, k.w).taps(k.h * k.w / 2 + 1).in(9, 23, 6)
        .out_c(20).stride(k.stride).filter_block(16).Test<F32Conv3x3Vtaps>(
            GetParam());
    ConvTester().kernel(k.h, k.w).taps(k.h * k.w).in(10, 40, 3).out_c(16)
        .stride(k.stride).valid().filter_block(16).threads(2)
        .Test<F32Conv3x3Vtaps>(GetParam());
  }
}

TEST_P(VtapsConvIsa, Dilation) {
  // 3x3 dilated 2 and 3x1, a Conv1D 1x29 dilated 2 (Jasper's epilogue), a
  // 2x3 kernel dilated (3, 2); SAME and VALID, strides 1 and 2.
  struct D {
    int kh, kw, dh, dw, stride;
  };
  for (const D& d : {D{3, 3, 2, 2, 1}, D{3, 3, 3, 1, 2}, D{1, 29, 1, 2, 1},
                     D{2, 3, 3, 2, 1}}) {
    ConvTester().kernel(d.kh, d.kw).dilation(d.dh, d.dw).taps(d.kh * d.kw)
        .in(11, 70, 5).out_c(24).stride(d.stride).filter_block(16)
        .Test<F32Conv3x3Vtaps>(GetParam());
    ConvTester().kernel(d.kh, d.kw).dilation(d.dh, d.dw).taps(d.kh * d.kw)
        .in(12, 80, 4).out_c(16).stride(d.stride).valid().filter_block(16)
        .threads(2).Test<F32Conv3x3Vtaps>(GetParam());
  }
  std::string error;
  const std::vector<float> w(9, 1.0f);
  F32Conv3x3Vtaps::Params p;
  p.dilation_w = 0;
  EXPECT_EQ(F32Conv3x3Vtaps::Create(w.data(), 1, 1, nullptr, p, &error),
            nullptr);
  EXPECT_NE(error.find("dilations"), std::string::npos);
}

// NaN, +-Inf and denormal inputs, a NaN bias or weight, all-zero weights,
// under no activation, ReLU and ReLU6 (contract: special_values.h), 3x3
// and pointwise.
TEST_P(VtapsConvIsa, SpecialValues) {
  for (Special s : kAllSpecials) {
    for (const Activation& act : kActivations) {
      ConvTester().in(5, 13, 5).out_c(20).filter_block(16).batch(2)
          .clamp(act.lo, act.hi).special(s).Test<F32Conv3x3Vtaps>(GetParam());
      ConvTester().kernel(1).in(4, 7, 6).out_c(17).filter_block(16)
          .clamp(act.lo, act.hi).special(s).Test<F32Conv3x3Vtaps>(GetParam());
      ConvTester().kernel(1).in(7, 9, 32).out_c(24).filter_block(16)
          .kernel_zero(0.75).clamp(act.lo, act.hi).special(s)
          .Test<F32Conv3x3Vtaps>(GetParam());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, VtapsConvIsa,
                         ::testing::Values(Isa::kScalar, Isa::kAvx2,
                                           Isa::kAvx512, Isa::kNeon,
                                           Isa::kSve),
                         [](const ::testing::TestParamInfo<Isa>& info) {
                           return std::string(IsaName(info.param));
                         });

}  // namespace
}  // namespace tf_sparse
