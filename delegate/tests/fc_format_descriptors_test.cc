// The FULLY_CONNECTED format descriptors (delegate/fc_formats.h) on their
// own: every descriptor's operator, held as a SparseOperator, matches the
// dense product on row counts 0, 1, odd and tiled; its kernel name is the
// one the report gives (but for N:M's row groups); format "auto" evaluates
// the formats in table order.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "cc/kernels/dispatch.h"
#include "cc/kernels/f32_dense_reference.h"
#include "cc/kernels/f32_nm_fully_connected.h"
#include "delegate/fc_formats.h"
#include "gtest/gtest.h"

namespace tf_sparse {
namespace {

constexpr int kOut = 32;
constexpr int kIn = 128;

// 2 nonzeros in every group of 4 inputs: fits every format.
std::vector<float> TwoOfFour() {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> v(-1.0f, 1.0f);
  std::vector<float> w(static_cast<size_t>(kOut) * kIn, 0.0f);
  for (int o = 0; o < kOut; ++o) {
    for (int j = 0; j < kIn; j += 4) {
      const int a = static_cast<int>(rng() % 4);
      const int b = (a + 1 + static_cast<int>(rng() % 3)) % 4;
      w[static_cast<size_t>(o) * kIn + j + a] = v(rng);
      w[static_cast<size_t>(o) * kIn + j + b] = v(rng);
    }
  }
  return w;
}

FcDecision DecisionFor(FcFormat format) {
  FcDecision d;
  d.format = format;
  d.block_height = 1;
  d.block_width = 4;
  d.nm_n = 2;
  d.nm_m = 4;
  d.gs_banks = 16;
  d.gs_elements_per_row = 1;
  return d;
}

TEST(FcFormatDescriptors, EveryFormatMatchesTheDenseProduct) {
  const std::vector<float> w = TwoOfFour();
  std::vector<float> bias(kOut);
  for (int o = 0; o < kOut; ++o) bias[o] = 0.01f * o - 0.1f;
  FcNodeInfo info;
  info.out = kOut;
  info.in = kIn;
  info.output_min = -2.0f;
  info.output_max = 2.0f;
  ASSERT_EQ(FcFormats().size(), 6u);
  for (const FcFormatDescriptor& f : FcFormats()) {
    const FcDecision d = DecisionFor(f.format);
    SCOPED_TRACE(static_cast<int>(f.format));
    std::string error;
    std::unique_ptr<SparseOperator> op =
        f.create(w.data(), info, bias.data(), d, &error);
    ASSERT_NE(op, nullptr) << error;
    // Half the weights are kept: every format stores them, with indices.
    EXPECT_GE(op->PackedBytes(), 4 * kOut * kIn / 2);
    if (f.format == FcFormat::kNm) {
      // The report names N:M's one-row kernel, also when the operator runs
      // its row-group kernel: kept as it is, since the report's JSON is
      // relied on as it stands.
      EXPECT_STREQ(f.kernel_name(d, ActiveIsa()),
                   SelectF32NmUkernel(ActiveIsa()).name);
      const bool row_groups =
          static_cast<FcOperator<F32NmFullyConnected>*>(op.get())
              ->op()
              .row_groups();
      EXPECT_STREQ(op->kernel_name(),
                   row_groups ? SelectF32NmUkernel(ActiveIsa()).row_group_name
                              : SelectF32NmUkernel(ActiveIsa()).name);
    } else {
      EXPECT_STREQ(op->kernel_name(), f.kernel_name(d, ActiveIsa()));
    }
    for (size_t rows : {0, 1, 3, 17, 40}) {
      SCOPED_TRACE(rows);
      std::mt19937 rng(static_cast<unsigned>(rows));
      std::uniform_real_distribution<float> v(-1.0f, 1.0f);
      std::vector<float> x(rows * kIn + 1), y(rows * kOut + 1, -7.0f),
          ref(rows * kOut + 1, -7.0f);
      for (float& e : x) e = v(rng);
      ASSERT_EQ(op->Reshape(rows), "");
      op->Run(x.data(), y.data(), nullptr);
      F32DenseFullyConnectedReference(rows, kOut, kIn, w.data(), bias.data(),
                                      x.data(), ref.data(), info.output_min,
                                      info.output_max);
      for (size_t i = 0; i < rows * kOut; ++i) {
        ASSERT_NEAR(y[i], ref[i], 1e-4f) << "at " << i;
      }
      EXPECT_EQ(y[rows * kOut], -7.0f) << "wrote past the output";
    }
  }
}

TEST(FcFormatDescriptors, AutoEvaluatesInTableOrder) {
  const std::vector<float> w = TwoOfFour();
  FcNodeInfo info;
  info.out = kOut;
  info.in = kIn;
  FcDecision d;
  const FcWeights weights{w.data(), &info, ActiveIsa(), 8, &d};
  std::string names;
  for (const FcFormatDescriptor& f : FcFormats()) {
    std::vector<FcCandidate> found;
    f.auto_candidates(weights, &found);
    for (const FcCandidate& c : found) {
      EXPECT_GT(c.cost, 0.0) << c.name;
      names += (names.empty() ? "" : " ") + c.name;
    }
  }
  EXPECT_EQ(names,
            "bsr:1x4 bsr:1x8 bsr:4x1 bsr:8x1 bsr:16x1 bsr:4x4 bsr:1x1 csr "
            "nm:2:4 nm:4:8 nm:8:16 gs:16:1 gs:8:1 gs:32:1 vtaps pixvec");
  // One row a call: no filter-vector taps candidate; fewer rows than a
  // vector tile: no pixel-vector one.
  const FcWeights one_row{w.data(), &info, ActiveIsa(), 1, &d};
  std::vector<FcCandidate> found;
  FindFcFormat(FcFormat::kVtaps)->auto_candidates(one_row, &found);
  EXPECT_TRUE(found.empty());
  const FcWeights seven_rows{w.data(), &info, ActiveIsa(), 7, &d};
  FindFcFormat(FcFormat::kPixvec)->auto_candidates(seven_rows, &found);
  EXPECT_TRUE(found.empty());
}

TEST(FcFormatDescriptors, ForcedFormatsSayWhyTheyDoNotFit) {
  const std::vector<float> w = TwoOfFour();
  FcNodeInfo info;
  info.out = kOut;
  info.in = kIn;
  FcDecision d;
  const FcWeights weights{w.data(), &info, ActiveIsa(), 1, &d};
  DelegateOptions options;
  std::vector<FcCandidate> found;
  EXPECT_EQ(FindFcFormat(FcFormat::kVtaps)
                ->forced_candidates(weights, options, &found),
            "vtaps is chosen by format=auto only");
  EXPECT_TRUE(found.empty());
  EXPECT_EQ(FindFcFormat(FcFormat::kPixvec)
                ->forced_candidates(weights, options, &found),
            "pixvec is chosen by format=auto only");
  EXPECT_TRUE(found.empty());
  options.nm_n = 1;
  options.nm_m = 4;
  EXPECT_EQ(
      FindFcFormat(FcFormat::kNm)->forced_candidates(weights, options, &found),
      "some group of 4 inputs holds more than 1 nonzeros");
  EXPECT_TRUE(found.empty());
  options.nm_n = 2;
  EXPECT_EQ(
      FindFcFormat(FcFormat::kNm)->forced_candidates(weights, options, &found),
      "");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].name, "nm:2:4");
  EXPECT_EQ(FindFcFormat(FcFormat::kAuto), nullptr);
}

}  // namespace
}  // namespace tf_sparse
