// The pixel-vectorised (PV) sparse convolution against the dense direct
// reference, for every ISA this machine (or qemu) runs: kernel sizes 1x1,
// 3x3, 1x3, 5x5, strides 1..3, dilation 2, SAME and VALID, channel counts
// around the group widths (1, 3, 15, 16, 17, 64), spatial sizes from 1x1 to
// 56x56, unstructured / 1x4-block / per-kernel-pattern / all-zero / dense
// weights, batches, clamps, NaN and Inf, FULLY_CONNECTED as a 1x1
// convolution over 1 x rows, and 1 vs 2 threads.
#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cc/kernels/dispatch.h"
#include "cc/kernels/f32_conv_pixvec.h"
#include "cc/kernels/f32_conv_reference.h"
#include "cc/tests/special_values.h"
#include "cc/util/thread_pool.h"
#include "gtest/gtest.h"

namespace tf_sparse {
namespace {

enum class Sparsity {
  kUnstructured,  // 90% of the weights zero, independently.
  kBlocks1x4,     // Blocks of 4 input channels at one (filter, tap), 90% zero.
  kPattern,       // Per kernel 4 of its taps (its own draw), half the
                  // kernels zero.
  kZero,          // All weights zero.
  kDense,         // No zeros.
};

const char* SparsityName(Sparsity s) {
  switch (s) {
    case Sparsity::kUnstructured: return "unstructured";
    case Sparsity::kBlocks1x4: return "blocks1x4";
    case Sparsity::kPattern: return "pattern";
    case Sparsity::kZero: return "zero";
    case Sparsity::kDense: return "dense";
  }
  return "?";
}

std::vector<float> MakeWeights(Sparsity mode, int oc, int kh, int kw, int ic,
                               uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  const int taps = kh * kw;
  std::vector<float> w(static_cast<size_t>(oc) * taps * ic, 0.0f);
  auto at = [&](int o, int t, int c) -> float& {
    return w[(static_cast<size_t>(o) * taps + t) * ic + c];
  };
  auto nonzero = [&]() {
    const float v = value(rng);
    return v == 0.0f ? 0.5f : v;
  };
  for (int o = 0; o < oc; ++o) {
    for (int c = 0; c < ic; ++c) {
      switch (mode) {
        case Sparsity::kUnstructured:
          for (int t = 0; t < taps; ++t) {
            if (coin(rng) < 0.1) at(o, t, c) = nonzero();
          }
          break;
        case Sparsity::kBlocks1x4:
          if (c % 4 != 0) break;
          for (int t = 0; t < taps; ++t) {
            if (coin(rng) >= 0.1) continue;
            for (int k = c; k < std::min(ic, c + 4); ++k) {
              at(o, t, k) = nonzero();
            }
          }
          break;
        case Sparsity::kPattern: {
          if (coin(rng) < 0.5) break;
          std::vector<int> t(taps);
          for (int i = 0; i < taps; ++i) t[i] = i;
          std::shuffle(t.begin(), t.end(), rng);
          for (int i = 0; i < std::min(4, taps); ++i) at(o, t[i], c) = nonzero();
          break;
        }
        case Sparsity::kZero:
          break;
        case Sparsity::kDense:
          for (int t = 0; t < taps; ++t) at(o, t, c) = nonzero();
          break;
      }
    }
  }
  return w;
}

class PixvecTester {
 public:
  PixvecTester& in(int h, int w, int c) { h_ = h; w_ = w; c_ = c; return *this; }
  PixvecTester& out_c(int v) { oc_ = v; return *this; }
  PixvecTester& kernel(int h, int w) { kh_ = h; kw_ = w; return *this; }
  PixvecTester& stride(int h, int w) { sh_ = h; sw_ = w; return *this; }
  PixvecTester& stride(int v) { return stride(v, v); }
  PixvecTester& dilation(int h, int w) { dh_ = h; dw_ = w; return *this; }
  PixvecTester& valid() { padding_ = ConvPadding::kValid; return *this; }
  PixvecTester& sparsity(Sparsity v) { mode_ = v; return *this; }
  PixvecTester& batch(int v) { batch_ = v; return *this; }
  PixvecTester& clamp(float lo, float hi) { lo_ = lo; hi_ = hi; return *this; }
  PixvecTester& threads(int v) { threads_ = v; return *this; }
  PixvecTester& special(Special v) { special_ = v; return *this; }
  PixvecTester& bias(bool v) { bias_ = v; return *this; }
  PixvecTester& seed(uint32_t v) { seed_ = v; return *this; }

  void Test(Isa isa) const {
    std::vector<float> w = MakeWeights(mode_, oc_, kh_, kw_, c_, seed_);
    std::mt19937 rng(seed_ + 1);
    std::uniform_real_distribution<float> value(-1.0f, 1.0f);
    std::vector<float> bias(oc_);
    for (float& b : bias) b = value(rng);
    std::vector<float> x(static_cast<size_t>(batch_) * h_ * w_ * c_);
    for (float& v : x) v = value(rng);
    ApplySpecial(special_, &w, &bias, &x);
    F32ConvPixvec::Params p;
    p.kernel_h = kh_;
    p.kernel_w = kw_;
    p.stride_h = sh_;
    p.stride_w = sw_;
    p.dilation_h = dh_;
    p.dilation_w = dw_;
    p.padding = padding_;
    p.output_min = lo_;
    p.output_max = hi_;
    std::string error;
    auto op = F32ConvPixvec::Create(w.data(), oc_, c_,
                                    bias_ ? bias.data() : nullptr, p, isa,
                                    &error);
    ASSERT_NE(op, nullptr) << error;
    int oh = 0, ow = 0;
    ASSERT_TRUE(op->Reshape(batch_, h_, w_, &oh, &ow, &error)) << error;
    const ConvShape s = op->shape();
    std::vector<float> expect(static_cast<size_t>(batch_) * oh * ow * oc_);
    std::vector<float> dense(expect.size());
    F32ConvReference(s, x.data(), w.data(), bias_ ? bias.data() : nullptr, lo_,
                     hi_, expect.data(), /*stored_only=*/true);
    F32ConvReference(s, x.data(), w.data(), bias_ ? bias.data() : nullptr, lo_,
                     hi_, dense.data());
    std::unique_ptr<ThreadPool> pool;
    if (threads_ > 1) pool.reset(new ThreadPool(threads_));
    // Twice: the second run checks that the scratch borders stay zero.
    for (int rep = 0; rep < 2; ++rep) {
      std::vector<float> got(expect.size(),
                             std::numeric_limits<float>::quiet_NaN());
      op->Run(x.data(), got.data(), pool.get());
      for (size_t k = 0; k < got.size(); ++k) {
        ASSERT_TRUE(MatchesSpecial(got[k], expect[k], dense[k],
                                   1e-5f * (kh_ * kw_ * c_ + 1)))
            << "entry " << k << " (" << op->kernel_name() << ", "
            << SparsityName(mode_) << ", " << SpecialName(special_)
            << ", clamp [" << lo_ << ", " << hi_ << "], " << batch_ << "x"
            << h_ << "x" << w_ << "x" << c_ << " -> " << oh << "x" << ow
            << "x" << oc_ << ", kernel " << kh_ << "x" << kw_ << ", stride "
            << sh_ << "x" << sw_ << ", dilation " << dh_ << "x" << dw_
            << (padding_ == ConvPadding::kValid ? ", valid" : ", same")
            << ", threads " << threads_ << ")";
      }
    }
  }

 private:
  int h_ = 7, w_ = 7, c_ = 5, oc_ = 6, batch_ = 1;
  int kh_ = 3, kw_ = 3, sh_ = 1, sw_ = 1, dh_ = 1, dw_ = 1;
  ConvPadding padding_ = ConvPadding::kSame;
  Sparsity mode_ = Sparsity::kUnstructured;
  float lo_ = -std::numeric_limits<float>::infinity();
  float hi_ = std::numeric_limits<float>::infinity();
  int threads_ = 1;
  Special special_ = Special::kNone;
  bool bias_ = true;
  uint32_t seed_ = 11;
};

TEST(PixvecFormat, StatsCountNonzeros) {
  // 3 filters, 1x2 kernel, 2 channels: filter 0 two nonzeros, filter 1
  // none (-0.0f counts as zero), filter 2 one.
  std::vector<float> w(3 * 2 * 2, 0.0f);
  w[0] = 1.0f;
  w[3] = 2.0f;
  w[4] = -0.0f;
  w[9] = 3.0f;
  const PixvecStats s = MeasurePixvec(w.data(), 3, 2, 1, 2);
  EXPECT_EQ(s.weights, 12);
  EXPECT_EQ(s.nonzeros, 3);
  EXPECT_EQ(s.empty_filters, 1);
  EXPECT_EQ(s.max_filter_nonzeros, 2);
  EXPECT_DOUBLE_EQ(s.sparsity(), 0.75);
}

#if defined(__x86_64__)
TEST(PixvecCostModel, LocalViewsTerms) {
  // AVX-512 at stride 1 without shifted copies (28x28x128: X with copies
  // would pass 1 MiB) reads local views: floats copied, no split loads;
  // stride 2 keeps the planes and their split loads.
  std::vector<float> w = MakeWeights(Sparsity::kPattern, 128, 3, 3, 128, 2);
  const PixvecStats stats = MeasurePixvec(w.data(), 128, 128, 3, 3);
  ConvShape s;
  s.batch = 1;
  s.in_h = s.in_w = s.out_h = s.out_w = 28;
  s.in_c = s.out_c = 128;
  s.kernel_h = s.kernel_w = 3;
  s.pad_top = s.pad_left = 1;
  PixvecCostTerms t = PixvecTerms(stats, s, Isa::kAvx512);
  // 14 tiles of 64 positions (rows of 32), 3 views of 64 + 2 * 32 floats.
  EXPECT_EQ(t.gathered, 14.0 * 128 * 3 * 128);
  EXPECT_EQ(t.split_loads, 0.0);
  EXPECT_GT(t.vector_fmas, 0.0);
  EXPECT_EQ(PixvecTerms(stats, s, Isa::kAvx2).gathered, 0.0);
  // 256 channels: X with its copies would pass 1 MiB.
  w = MakeWeights(Sparsity::kPattern, 64, 3, 3, 256, 2);
  const PixvecStats stats2 = MeasurePixvec(w.data(), 64, 256, 3, 3);
  s.in_c = 256;
  s.out_c = 64;
  s.stride_h = s.stride_w = 2;
  s.out_h = s.out_w = 14;
  s.pad_top = s.pad_left = 0;
  t = PixvecTerms(stats2, s, Isa::kAvx512);
  EXPECT_EQ(t.gathered, 0.0);
  EXPECT_GT(t.split_loads, 0.0);
  EXPECT_GT(EstimatePixvecCycles(stats2, s, Isa::kAvx512), 0.0);
}
#endif

TEST(PixvecConv, BadArguments) {
  std::string error;
  const std::vector<float> w(9, 1.0f);
  F32ConvPixvec::Params p;
  EXPECT_EQ(F32ConvPixvec::Create(w.data(), 0, 1, nullptr, p, &error),
            nullptr);
  EXPECT_NE(error.find("out >= 1"), std::string::npos);
  EXPECT_EQ(F32ConvPixvec::Create(w.data(), 1, -3, nullptr, p, &error),
            nullptr);
  EXPECT_NE(error.find("in >= 1"), std::string::npos);
  EXPECT_EQ(F32ConvPixvec::Create(nullptr, 1, 1, nullptr, p, &error),
            nullptr);
  p.kernel_h = 0;
  EXPECT_EQ(F32ConvPixvec::Create(w.data(), 1, 1, nullptr, p, &error),
            nullptr);
  EXPECT_NE(error.find("kernel"), std::string::npos);
  p.kernel_h = 64;
  p.kernel_w = 64;
  EXPECT_EQ(F32ConvPixvec::Create(w.data(), 1, 1, nullptr, p, &error),
            nullptr);
  EXPECT_NE(error.find("taps"), std::string::npos);
  p.kernel_h = p.kernel_w = 3;
  p.stride_w = -1;
  EXPECT_EQ(F32ConvPixvec::Create(w.data(), 1, 1, nullptr, p, &error),
            nullptr);
  EXPECT_NE(error.find("strides"), std::string::npos);
  p.stride_w = 1;
  p.dilation_h = 0;
  EXPECT_EQ(F32ConvPixvec::Create(w.data(), 1, 1, nullptr, p, &error),
            nullptr);
  EXPECT_NE(error.find("dilations"), std::string::npos);
  p.dilation_h = 1;
  p.output_min = 1.0f;
  p.output_max = 0.0f;
  EXPECT_EQ(F32ConvPixvec::Create(w.data(), 1, 1, nullptr, p, &error),
            nullptr);
  EXPECT_NE(error.find("output_min"), std::string::npos);
  p.output_min = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(F32ConvPixvec::Create(w.data(), 1, 1, nullptr, p, &error),
            nullptr);
  p.output_min = 0.0f;
  p.output_max = 6.0f;
  auto op = F32ConvPixvec::Create(w.data(), 1, 1, nullptr, p, &error);
  ASSERT_NE(op, nullptr) << error;
  int oh = 0, ow = 0;
  EXPECT_FALSE(op->Reshape(-1, 4, 4, &oh, &ow, &error));
  EXPECT_NE(error.find("batch"), std::string::npos);
  EXPECT_FALSE(op->Reshape(1, -4, 4, &oh, &ow, &error));
  EXPECT_FALSE(op->Reshape(1, 4, 0, &oh, &ow, &error));
  p.padding = ConvPadding::kValid;
  auto valid = F32ConvPixvec::Create(w.data(), 1, 1, nullptr, p, &error);
  ASSERT_NE(valid, nullptr) << error;
  EXPECT_FALSE(valid->Reshape(1, 2, 2, &oh, &ow, &error));
  EXPECT_NE(error.find("no output"), std::string::npos);
  // Run without a successful Reshape writes nothing and does not crash.
  float y = 42.0f;
  valid->Run(w.data(), &y, nullptr);
  EXPECT_EQ(y, 42.0f);
}

class PixvecConvIsa : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!IsaSupported(GetParam())) GTEST_SKIP() << "ISA not supported here";
  }
};

constexpr Sparsity kModes[] = {Sparsity::kUnstructured, Sparsity::kBlocks1x4,
                               Sparsity::kPattern, Sparsity::kZero,
                               Sparsity::kDense};

TEST_P(PixvecConvIsa, KernelsChannelsAndSizes) {
  struct Size {
    int h, w;
  };
  for (Size sz : {Size{1, 1}, Size{2, 3}, Size{7, 7}, Size{13, 17}}) {
    for (int k : {1, 3}) {
      for (int ic : {1, 3, 16, 17}) {
        for (int oc : {1, 15, 16, 17}) {
          PixvecTester().in(sz.h, sz.w, ic).out_c(oc).kernel(k, k).Test(
              GetParam());
        }
      }
    }
  }
}

TEST_P(PixvecConvIsa, Sparsities) {
  for (Sparsity m : kModes) {
    PixvecTester().in(13, 17, 17).out_c(17).sparsity(m).Test(GetParam());
    PixvecTester().in(7, 7, 64).out_c(64).sparsity(m).kernel(1, 1).Test(
        GetParam());
    PixvecTester().in(9, 8, 15).out_c(33).sparsity(m).stride(2).Test(
        GetParam());
  }
}

TEST_P(PixvecConvIsa, KernelShapes) {
  for (ConvPadding pad : {ConvPadding::kSame, ConvPadding::kValid}) {
    for (int kh : {1, 3, 5}) {
      for (int kw : {1, 3, 5}) {
        PixvecTester t;
        t.in(13, 17, 5).out_c(17).kernel(kh, kw);
        if (pad == ConvPadding::kValid) t.valid();
        t.Test(GetParam());
      }
    }
  }
}

TEST_P(PixvecConvIsa, StridesAndDilations) {
  for (int s : {1, 2, 3}) {
    for (int k : {1, 3, 5}) {
      for (int d : {1, 2}) {
        PixvecTester().in(13, 17, 6).out_c(17).kernel(k, k).stride(s)
            .dilation(d, d).Test(GetParam());
        PixvecTester().in(14, 11, 3).out_c(5).kernel(k, k).stride(s)
            .dilation(d, d).valid().Test(GetParam());
      }
    }
  }
  PixvecTester().in(12, 15, 4).out_c(9).kernel(3, 3).stride(2, 3).Test(
      GetParam());
  PixvecTester().in(12, 15, 4).out_c(9).kernel(1, 3).stride(1, 2)
      .dilation(1, 2).Test(GetParam());
  PixvecTester().in(12, 15, 4).out_c(9).kernel(5, 1).stride(3, 1)
      .dilation(2, 1).valid().Test(GetParam());
}

TEST_P(PixvecConvIsa, LargeLayers) {
  PixvecTester().in(56, 56, 16).out_c(32).kernel(1, 1).Test(GetParam());
  PixvecTester().in(56, 56, 8).out_c(17).kernel(3, 3).sparsity(
      Sparsity::kPattern).Test(GetParam());
  PixvecTester().in(28, 28, 64).out_c(16).kernel(3, 3).stride(2).sparsity(
      Sparsity::kPattern).Test(GetParam());
}

TEST_P(PixvecConvIsa, OutputLargerThanL2) {
  // Pointwise outputs above F32ConvPixvec::kPrefetchOutputBytes (2.4 MB):
  // the micro-kernel prefetches each tile's output lines for writing;
  // channels not a multiple of 16 (partial groups), 2 threads.
  PixvecTester().in(56, 56, 16).out_c(192).kernel(1, 1).Test(GetParam());
  PixvecTester().in(56, 57, 7).out_c(190).kernel(1, 1).threads(2).clamp(
      0.0f, 6.0f).Test(GetParam());
}

TEST_P(PixvecConvIsa, ManyChannelBlocks) {
  // Input channels beyond one L1 block: partial sums carried between
  // blocks (1x1: about 96 channels a block, 3x3 fewer), last block partial.
  PixvecTester().in(9, 10, 300).out_c(33).kernel(1, 1).Test(GetParam());
  PixvecTester().in(13, 17, 200).out_c(17).kernel(3, 3).sparsity(
      Sparsity::kPattern).Test(GetParam());
  PixvecTester().in(13, 17, 200).out_c(17).kernel(3, 3).stride(2).sparsity(
      Sparsity::kBlocks1x4).Test(GetParam());
  PixvecTester().in(7, 7, 150).out_c(40).kernel(3, 3).special(
      Special::kNanInput).clamp(0.0f, 6.0f).Test(GetParam());
  PixvecTester().in(7, 7, 150).out_c(40).kernel(3, 3).threads(2).batch(2)
      .Test(GetParam());
}

TEST_P(PixvecConvIsa, ShiftedCopies) {
  // Rows of 16 or 32 floats and taps 1-2 columns right: the AVX2 kernel
  // (and AVX-512 at stride 2; at stride 1 it reads tile-local views) reads
  // shifted copies of the planes (VALID: the first input row is data,
  // so copy k's first k values land in copy k - 1's tail).
  for (int ic : {3, 16, 20}) {
    PixvecTester().in(14, 14, ic).out_c(17).sparsity(Sparsity::kPattern)
        .Test(GetParam());
    PixvecTester().in(16, 16, ic).out_c(9).valid().Test(GetParam());
    PixvecTester().in(14, 30, ic).out_c(16).kernel(1, 3).batch(2).Test(
        GetParam());
    PixvecTester().in(28, 28, ic).out_c(5).stride(2).Test(GetParam());
    PixvecTester().in(14, 14, ic).out_c(16).kernel(2, 2).valid().Test(
        GetParam());
  }
  PixvecTester().in(14, 14, 16).out_c(16).special(Special::kNanInput)
      .clamp(0.0f, 6.0f).Test(GetParam());
  PixvecTester().in(14, 14, 48).out_c(33).threads(2).Test(GetParam());
}

TEST_P(PixvecConvIsa, LocalViews) {
  // No shifted copies of the planes: the AVX-512 kernel copies each tile's
  // views (phase, rows, columns) per channel block to an aligned buffer.
  // Rows of 16 floats with taps 4 columns right (views by columns only,
  // each spanning the rows), rows that are not a multiple of 16 (one view
  // per tap), dilation, several channel blocks, 2 threads, NaN/Inf.
  PixvecTester().in(12, 12, 5).out_c(17).kernel(3, 5).Test(GetParam());
  PixvecTester().in(12, 12, 5).out_c(17).kernel(5, 5).dilation(1, 1)
      .sparsity(Sparsity::kPattern).Test(GetParam());
  PixvecTester().in(14, 12, 3).out_c(16).kernel(3, 3).dilation(2, 2)
      .Test(GetParam());
  PixvecTester().in(9, 11, 40).out_c(33).kernel(3, 3).Test(GetParam());
  PixvecTester().in(28, 28, 150).out_c(20).kernel(3, 3).sparsity(
      Sparsity::kPattern).Test(GetParam());
  PixvecTester().in(12, 12, 70).out_c(33).kernel(3, 5).threads(2).batch(2)
      .Test(GetParam());
  for (Special sp : kAllSpecials) {
    PixvecTester().in(12, 12, 17).out_c(17).kernel(3, 5).special(sp)
        .clamp(0.0f, 6.0f).Test(GetParam());
  }
}

TEST_P(PixvecConvIsa, BatchClampsAndNoBias) {
  for (const Activation& act : kActivations) {
    PixvecTester().in(7, 9, 17).out_c(19).batch(2).clamp(act.lo, act.hi)
        .Test(GetParam());
    PixvecTester().in(7, 9, 16).out_c(16).batch(2).kernel(1, 1).stride(2)
        .clamp(act.lo, act.hi).Test(GetParam());
  }
  PixvecTester().in(5, 6, 3).out_c(4).clamp(-0.25f, 0.25f).Test(GetParam());
  PixvecTester().in(5, 6, 3).out_c(4).clamp(0.5f, 0.5f).Test(GetParam());
  PixvecTester().in(5, 6, 3).out_c(4).bias(false).Test(GetParam());
  PixvecTester().in(5, 6, 3).out_c(4).batch(0).Test(GetParam());
}

TEST_P(PixvecConvIsa, SpecialValues) {
  for (Special sp : kAllSpecials) {
    for (const Activation& act : kActivations) {
      PixvecTester().in(7, 7, 17).out_c(17).special(sp).clamp(act.lo, act.hi)
          .Test(GetParam());
      PixvecTester().in(6, 5, 16).out_c(16).kernel(1, 1).special(sp)
          .clamp(act.lo, act.hi).Test(GetParam());
    }
  }
}

TEST_P(PixvecConvIsa, FullyConnectedRows) {
  // FC [rows, K] x W[N, K]^T as a 1x1 convolution over a 1 x rows image.
  for (int rows = 1; rows <= 300; rows += (rows < 20 ? 1 : 37)) {
    PixvecTester().in(1, rows, 37).out_c(21).kernel(1, 1).Test(GetParam());
  }
  PixvecTester().in(1, 300, 64).out_c(16).kernel(1, 1).sparsity(
      Sparsity::kBlocks1x4).Test(GetParam());
}

TEST_P(PixvecConvIsa, Threads) {
  PixvecTester().in(13, 17, 17).out_c(33).threads(2).Test(GetParam());
  PixvecTester().in(28, 28, 16).out_c(16).kernel(1, 1).stride(2).threads(2)
      .Test(GetParam());
  // Pointwise (1x1, stride 1: tiles transposed by each work item), with
  // several tiles, and with one tile split by channel groups.
  PixvecTester().in(13, 17, 33).out_c(20).kernel(1, 1).threads(2).batch(2)
      .Test(GetParam());
  PixvecTester().in(7, 7, 40).out_c(70).kernel(1, 1).threads(2).batch(2)
      .Test(GetParam());
  PixvecTester().in(7, 7, 300).out_c(70).kernel(1, 1).threads(2).Test(
      GetParam());
  // 1 and 2 threads give bit-identical outputs.
  const int h = 14, w = 14, ic = 32, oc = 40;
  std::vector<float> wt =
      MakeWeights(Sparsity::kUnstructured, oc, 3, 3, ic, 5);
  std::vector<float> x(static_cast<size_t>(2) * h * w * ic);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  for (float& v : x) v = value(rng);
  F32ConvPixvec::Params p;
  p.kernel_h = p.kernel_w = 3;
  std::string error;
  auto op = F32ConvPixvec::Create(wt.data(), oc, ic, nullptr, p, GetParam(),
                                  &error);
  ASSERT_NE(op, nullptr) << error;
  int oh = 0, ow = 0;
  ASSERT_TRUE(op->Reshape(2, h, w, &oh, &ow, &error)) << error;
  std::vector<float> y1(static_cast<size_t>(2) * oh * ow * oc);
  std::vector<float> y2(y1.size());
  op->Run(x.data(), y1.data(), nullptr);
  ThreadPool pool(2);
  op->Run(x.data(), y2.data(), &pool);
  EXPECT_EQ(std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)), 0);
}

TEST_P(PixvecConvIsa, ReshapeAgain) {
  // Bigger, smaller, same: the scratch follows each shape.
  std::vector<float> wt = MakeWeights(Sparsity::kDense, 5, 3, 3, 4, 9);
  F32ConvPixvec::Params p;
  p.kernel_h = p.kernel_w = 3;
  std::string error;
  auto op = F32ConvPixvec::Create(wt.data(), 5, 4, nullptr, p, GetParam(),
                                  &error);
  ASSERT_NE(op, nullptr) << error;
  for (int size : {9, 4, 4, 11}) {
    int oh = 0, ow = 0;
    ASSERT_TRUE(op->Reshape(1, size, size, &oh, &ow, &error)) << error;
    std::vector<float> x(static_cast<size_t>(size) * size * 4, 1.0f);
    std::vector<float> y(static_cast<size_t>(oh) * ow * 5), want(y.size());
    op->Run(x.data(), y.data(), nullptr);
    F32ConvReference(op->shape(), x.data(), wt.data(), nullptr,
                     -std::numeric_limits<float>::infinity(),
                     std::numeric_limits<float>::infinity(), want.data());
    for (size_t k = 0; k < y.size(); ++k) {
      ASSERT_NEAR(y[k], want[k], 1e-4f) << "size " << size << " entry " << k;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, PixvecConvIsa,
                         ::testing::Values(Isa::kScalar, Isa::kAvx2,
                                           Isa::kAvx512, Isa::kNeon,
                                           Isa::kSve),
                         [](const ::testing::TestParamInfo<Isa>& info) {
                           return std::string(IsaName(info.param));
                         });

}  // namespace
}  // namespace tf_sparse
