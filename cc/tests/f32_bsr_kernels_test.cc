// Every kernel of every ISA the CPU supports, against the scalar reference
// and a dense matrix-vector product, on edge shapes. Built by Bazel for the
// host and by cc/tests/arm/run.sh for aarch64 (run under qemu-aarch64).
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "cc/kernels/dispatch.h"
#include "cc/tests/fc_tester.h"
#include "cc/tests/special_values.h"
#include "gtest/gtest.h"

namespace tf_sparse {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

struct BlockShape {
  int r, c;
};

// Specialised shapes plus a few that take the generic path.
const BlockShape kShapes[] = {{1, 4}, {1, 8}, {4, 1}, {8, 1}, {16, 1},
                              {4, 4}, {1, 1}, {2, 3}, {3, 5}, {8, 4},
                              {1, 16}, {2, 2}};

std::string ShapeName(const BlockShape& s) {
  return std::to_string(s.r) + "x" + std::to_string(s.c);
}

class KernelTest
    : public ::testing::TestWithParam<std::tuple<Isa, BlockShape>> {
 protected:
  void SetUp() override {
    if (!IsaSupported(isa())) {
      GTEST_SKIP() << "this CPU lacks " << IsaName(isa());
    }
  }
  Isa isa() const { return std::get<0>(GetParam()); }
  BlockShape shape() const { return std::get<1>(GetParam()); }
  FcTester Tester() const {
    return FcTester().block(shape().r, shape().c);
  }
};

TEST_P(KernelTest, EdgeShapes) {
  const int r = shape().r;
  const int c = shape().c;
  const std::vector<std::pair<int, int>> dims = {
      {1, 1},          {1, c},          {r, 1},         {r, c},
      {r + 1, c + 1},  {2 * r - 1, 3 * c + 1},          {17, 13},
      {64, 64},        {33, 70},        {5, 129},       {130, 7},
      {4 * r + 3, 40 * c + 2}};
  for (const auto& d : dims) {
    for (double sparsity : {0.0, 0.5, 0.9}) {
      Tester().out(d.first).in(d.second).sparsity(sparsity).Test(isa());
    }
  }
}

TEST_P(KernelTest, AllZeroWeights) {
  Tester().out(37).in(29).sparsity(1.0).Test(isa());
  Tester().out(37).in(29).sparsity(1.0).bias(false).Test(isa());
}

TEST_P(KernelTest, FullyDenseWeights) {
  Tester().out(40).in(48).sparsity(0.0).Test(isa());
  Tester().out(41).in(47).sparsity(0.0).batch(3).Test(isa());
}

TEST_P(KernelTest, LongRowsExerciseUnrolledLoops) {
  Tester().out(24).in(1024).sparsity(0.3).Test(isa());
  Tester().out(64).in(517).sparsity(0.7).Test(isa());
}

TEST_P(KernelTest, Batches) {
  for (int batch : {1, 2, 3, 7}) {
    Tester().out(35).in(50).sparsity(0.6).batch(batch).Test(isa());
  }
}

TEST_P(KernelTest, BiasAndClamps) {
  const std::vector<std::pair<float, float>> clamps = {
      {-kInf, kInf}, {0.0f, kInf}, {0.0f, 6.0f}, {-1.0f, 1.0f}, {0.1f, 0.2f}};
  for (bool bias : {true, false}) {
    for (const auto& cl : clamps) {
      Tester()
          .out(45)
          .in(38)
          .sparsity(0.5)
          .batch(2)
          .bias(bias)
          .clamp(cl.first, cl.second)
          .Test(isa());
    }
  }
}

TEST_P(KernelTest, Threads) {
  for (int threads : {1, 2, 3}) {
    for (int batch : {1, 4}) {
      Tester()
          .out(301)
          .in(203)
          .sparsity(0.6)
          .batch(batch)
          .threads(threads)
          .Test(isa());
    }
  }
  // Too little work to split: must still be right.
  Tester().out(3).in(5).threads(2).Test(isa());
}

TEST_P(KernelTest, IndexWidths) {
  Tester().out(33).in(77).index_width(BsrIndexWidth::k16).Test(isa());
  Tester().out(33).in(77).index_width(BsrIndexWidth::k32).Test(isa());
  Tester().out(5).in(70001).sparsity(0.95).Test(isa());  // Needs 32 bits.
}

// NaN, +-Inf and denormal inputs, a NaN bias or weight, all-zero weights,
// under no activation, ReLU and ReLU6: a NaN reaches every output that a
// stored weight or the bias carries it to (contract: special_values.h).
TEST_P(KernelTest, SpecialValues) {
  const int r = shape().r;
  const int c = shape().c;
  for (Special s : kAllSpecials) {
    for (const Activation& act : kActivations) {
      for (int batch : {1, 3}) {
        Tester()
            .out(2 * r + 3)
            .in(3 * c + 5)
            .sparsity(0.5)
            .batch(batch)
            .clamp(act.lo, act.hi)
            .special(s)
            .Test(isa());
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllKernels, KernelTest,
    ::testing::Combine(::testing::Values(Isa::kScalar, Isa::kAvx2,
                                         Isa::kAvx512, Isa::kNeon,
                                         Isa::kSve),
                       ::testing::ValuesIn(kShapes)),
    [](const ::testing::TestParamInfo<KernelTest::ParamType>& info) {
      return std::string(IsaName(std::get<0>(info.param))) + "_" +
             ShapeName(std::get<1>(info.param));
    });

TEST(DispatchTest, SpecialisedShapesHaveKernels) {
#if defined(__x86_64__)
  const Isa kVectorIsas[] = {Isa::kAvx2, Isa::kAvx512};
#elif defined(__aarch64__)
  const Isa kVectorIsas[] = {Isa::kNeon, Isa::kSve};
#else
  GTEST_SKIP() << "no vector kernels on this architecture";
  const Isa kVectorIsas[] = {Isa::kScalar};
#endif
  for (Isa isa : kVectorIsas) {
    for (const BlockShape& s :
         {BlockShape{1, 4}, BlockShape{1, 8}, BlockShape{4, 1},
          BlockShape{8, 1}, BlockShape{16, 1}, BlockShape{4, 4}}) {
      EXPECT_TRUE(HasSpecializedF32BsrUkernel(s.r, s.c, isa))
          << IsaName(isa) << " " << ShapeName(s);
    }
    EXPECT_TRUE(HasSpecializedF32BsrUkernel(1, 1, isa));
    EXPECT_FALSE(HasSpecializedF32BsrUkernel(3, 5, isa));
  }
#if defined(__x86_64__)
  EXPECT_EQ(std::string(SelectF32BsrUkernel(1, 4, Isa::kAvx512).name),
            "f32_bsr_minmax_1x4__avx512");
  EXPECT_EQ(std::string(SelectF32BsrUkernel(3, 5, Isa::kAvx2).name),
            "f32_bsr_minmax_rxc__avx2");
  EXPECT_FALSE(IsaSupported(Isa::kNeon));
#elif defined(__aarch64__)
  EXPECT_EQ(std::string(SelectF32BsrUkernel(1, 4, Isa::kNeon).name),
            "f32_bsr_minmax_1x4__neonfma");
  EXPECT_EQ(std::string(SelectF32BsrUkernel(3, 5, Isa::kNeon).name),
            "f32_bsr_minmax_rxc__neon");
  EXPECT_TRUE(IsaSupported(Isa::kNeon));
  EXPECT_EQ(BestSupportedIsa(),
            IsaSupported(Isa::kSve) ? Isa::kSve : Isa::kNeon);
  // SVE only where gathers help, NEON for the rest.
  EXPECT_EQ(std::string(SelectF32BsrUkernel(1, 1, Isa::kSve).name),
            "f32_bsr_minmax_1x1__sve");
  EXPECT_EQ(std::string(SelectF32BsrUkernel(1, 4, Isa::kSve).name),
            "f32_bsr_minmax_1x4__neonfma");
  EXPECT_FALSE(IsaSupported(Isa::kAvx2));
#endif
}

TEST(DispatchTest, OverrideCapsTheActiveIsa) {
  const Isa best = ActiveIsa();
  SetIsaOverride(Isa::kScalar);
  EXPECT_EQ(ActiveIsa(), Isa::kScalar);
  EXPECT_EQ(SelectF32BsrUkernel(1, 4).isa, Isa::kScalar);
  SetIsaOverride(Isa::kAvx512);
  EXPECT_EQ(ActiveIsa(), best);
  // Another architecture's ISA is no cap; this one's baseline is.
#if defined(__aarch64__)
  const Isa foreign = Isa::kAvx2, baseline = Isa::kNeon;
#else
  const Isa foreign = Isa::kNeon, baseline = Isa::kAvx2;
#endif
  SetIsaOverride(foreign);
  EXPECT_EQ(ActiveIsa(), best);
  SetIsaOverride(baseline);
  EXPECT_EQ(ActiveIsa(), best == Isa::kScalar ? Isa::kScalar : baseline);
  ClearIsaOverride();
  EXPECT_EQ(ActiveIsa(), best);
  EXPECT_TRUE(IsaSupported(ActiveIsa()));
}

TEST(DispatchTest, ParseIsa) {
  Isa isa;
  EXPECT_TRUE(ParseIsa("avx2", &isa));
  EXPECT_EQ(isa, Isa::kAvx2);
  EXPECT_TRUE(ParseIsa("neon", &isa));
  EXPECT_EQ(isa, Isa::kNeon);
  EXPECT_TRUE(ParseIsa("sve", &isa));
  EXPECT_EQ(isa, Isa::kSve);
  EXPECT_FALSE(ParseIsa("sse", &isa));
}

}  // namespace
}  // namespace tf_sparse
