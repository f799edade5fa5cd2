// The int8 pixel-vector 1x1 convolution on every kernel variant (scalar,
// AVX2, AVX-512 VNNI, NEON, NEON dot product) against the plain int8
// convolution reference (Qs8ConvReference) and against the scalar operator,
// bit for bit; the reference itself against the int8 fully connected
// reference (a 1x1 stride-1 convolution is one).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cc/kernels/dispatch.h"
#include "cc/kernels/f32_conv_reference.h"
#include "cc/kernels/qs8_conv_pixvec.h"
#include "cc/kernels/qs8_conv_reference.h"
#include "cc/kernels/qs8_dense_reference.h"
#include "cc/kernels/requantize.h"
#include "cc/util/cpu_features.h"
#include "cc/util/thread_pool.h"
#include "cc/tests/qs8_variants.h"
#include "gtest/gtest.h"

namespace tf_sparse {
namespace {

// A kernel variant and the kernel name it must select (so no test passes on
// a fallback).
struct Variant {
  Isa isa;
  bool dot;
  const char* kernel;
};

const Variant kVariants[] = {
    {Isa::kScalar, true, "qs8_conv1x1_pixvec_minmax__scalar"},
    {Isa::kAvx2, true, "qs8_conv1x1_pixvec_minmax__avx2"},
    {Isa::kAvx512, false, "qs8_conv1x1_pixvec_minmax__avx2"},
    {Isa::kAvx512, true, "qs8_conv1x1_pixvec_minmax__avx512vnni"},
    {Isa::kNeon, false, "qs8_conv1x1_pixvec_minmax__neon"},
    {Isa::kNeon, true, "qs8_conv1x1_pixvec_minmax__neondot"},
    // SVE CPUs run the NEON kernels.
    {Isa::kSve, true, "qs8_conv1x1_pixvec_minmax__neondot"},
};

bool VariantRuns(const Variant& v, std::string* why) {
  return Qs8VariantRuns(v.isa, v.dot, why);
}

enum class Pattern {
  kGroups,        // Groups of 4 input channels dropped with `sparsity`.
  kFilterBlocks,  // Groups dropped for 16 filters at once.
  kScattered,     // Single weights dropped (partial groups).
  kDense,
  kZero,
};

class Qs8ConvTester {
 public:
  Qs8ConvTester& out(int v) { out_ = v; return *this; }
  Qs8ConvTester& in(int v) { in_ = v; return *this; }
  Qs8ConvTester& size(int h, int w) { h_ = h; w_ = w; return *this; }
  Qs8ConvTester& batch(int v) { batch_ = v; return *this; }
  Qs8ConvTester& stride(int sh, int sw) {
    stride_h_ = sh; stride_w_ = sw; return *this;
  }
  Qs8ConvTester& pattern(Pattern p) { pattern_ = p; return *this; }
  Qs8ConvTester& sparsity(double v) { sparsity_ = v; return *this; }
  Qs8ConvTester& input_zero_point(int32_t v) { zx_ = v; return *this; }
  Qs8ConvTester& output_zero_point(int32_t v) { zy_ = v; return *this; }
  Qs8ConvTester& per_channel(bool v) { per_channel_ = v; return *this; }
  Qs8ConvTester& scales(float input, float filter, float output) {
    sx_ = input; sf_ = filter; sy_ = output; return *this;
  }
  Qs8ConvTester& activation(FusedActivation v) { act_ = v; return *this; }
  Qs8ConvTester& bias(bool v) { bias_ = v; return *this; }
  Qs8ConvTester& threads(int v) { threads_ = v; return *this; }
  // Every x equal to `x`, every kept weight equal to `w`.
  Qs8ConvTester& constant(int x, int w) {
    const_x_ = x; const_w_ = w; constant_ = true; return *this;
  }
  // Runs as a fully connected layer of h * w rows (ReshapeRows).
  Qs8ConvTester& rows(bool v) { rows_ = v; return *this; }

  void Test(const Variant& v) const {
    std::mt19937 rng(static_cast<unsigned>(out_ * 131 + in_ * 7 + h_ * 3 +
                                           w_ + batch_));
    std::uniform_int_distribution<int> byte(-128, 127);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::vector<int8_t> w(static_cast<size_t>(out_) * in_, 0);
    std::vector<bool> block_keep;
    for (int o = 0; o < out_; ++o) {
      for (int g = 0; g * 4 < in_; ++g) {
        bool keep = true;
        if (pattern_ == Pattern::kGroups) keep = unit(rng) >= sparsity_;
        if (pattern_ == Pattern::kZero) keep = false;
        if (pattern_ == Pattern::kFilterBlocks) {
          const size_t b = static_cast<size_t>(o / 16) * ((in_ + 3) / 4) + g;
          if (block_keep.size() <= b) block_keep.resize(b + 1, false);
          if (o % 16 == 0) block_keep[b] = unit(rng) >= sparsity_;
          keep = block_keep[b];
        }
        for (int k = 4 * g; k < std::min(in_, 4 * g + 4); ++k) {
          bool k_keep = keep;
          if (pattern_ == Pattern::kScattered) k_keep = unit(rng) >= sparsity_;
          if (!k_keep) continue;
          int value = constant_ ? const_w_ : byte(rng);
          w[static_cast<size_t>(o) * in_ + k] = static_cast<int8_t>(value);
        }
      }
    }
    const size_t in_size = static_cast<size_t>(batch_) * h_ * w_ * in_;
    std::vector<int8_t> x(in_size);
    for (int8_t& e : x) {
      e = static_cast<int8_t>(constant_ ? const_x_ : byte(rng));
    }
    std::vector<int32_t> bias(out_);
    std::uniform_int_distribution<int32_t> bias_value(-50000, 50000);
    for (int32_t& b : bias) b = bias_value(rng);
    std::vector<float> filter_scales(per_channel_ ? out_ : 1);
    for (float& s : filter_scales) {
      s = per_channel_
              ? sf_ * static_cast<float>(std::exp2(unit(rng) * 6 - 3))
              : sf_;
    }
    Qs8FcQuantization q;
    q.input_scale = sx_;
    q.input_zero_point = zx_;
    q.filter_scales = filter_scales.data();
    q.num_filter_scales = static_cast<int>(filter_scales.size());
    q.output_scale = sy_;
    q.output_zero_point = zy_;
    ASSERT_EQ(Int8ActivationRange(act_, sy_, zy_, &q.output_min,
                                  &q.output_max),
              "");
    std::vector<QuantizedMultiplier> rows;
    ASSERT_EQ(ComputeFcMultipliers(q, out_, &rows), "");
    const int32_t* bias_ptr = bias_ ? bias.data() : nullptr;

    // The reference, with TFLite's output size for SAME and VALID padding.
    ConvShape s;
    s.batch = batch_;
    s.in_h = h_;
    s.in_w = w_;
    s.in_c = in_;
    s.out_c = out_;
    s.kernel_h = s.kernel_w = 1;
    s.stride_h = stride_h_;
    s.stride_w = stride_w_;
    int valid_h = 0, valid_w = 0, pad = 0;
    ASSERT_TRUE(ConvOutputSize(ConvPadding::kSame, h_, 1, stride_h_, &s.out_h,
                               &s.pad_top));
    ASSERT_TRUE(ConvOutputSize(ConvPadding::kSame, w_, 1, stride_w_, &s.out_w,
                               &s.pad_left));
    ASSERT_TRUE(ConvOutputSize(ConvPadding::kValid, h_, 1, stride_h_, &valid_h,
                               &pad));
    ASSERT_TRUE(ConvOutputSize(ConvPadding::kValid, w_, 1, stride_w_, &valid_w,
                               &pad));
    ASSERT_EQ(s.out_h, valid_h);
    ASSERT_EQ(s.out_w, valid_w);
    ASSERT_EQ(s.pad_top, 0);
    ASSERT_EQ(s.pad_left, 0);
    const size_t out_size =
        static_cast<size_t>(batch_) * s.out_h * s.out_w * out_;
    std::vector<int8_t> ref(out_size);
    Qs8ConvReference(s, x.data(), zx_, w.data(), bias_ptr, rows.data(), zy_,
                     q.output_min, q.output_max, ref.data());
    if (stride_h_ == 1 && stride_w_ == 1) {
      // A 1x1 stride-1 convolution is a fully connected layer per pixel.
      std::vector<int8_t> fc(out_size);
      Qs8FullyConnectedReference(static_cast<size_t>(batch_) * h_ * w_, out_,
                                 in_, x.data(), zx_, w.data(), bias_ptr,
                                 rows.data(), zy_, q.output_min, q.output_max,
                                 fc.data());
      ASSERT_EQ(fc, ref);
    }

    std::unique_ptr<ThreadPool> pool;
    if (threads_ > 1) pool.reset(new ThreadPool(threads_));
    auto run = [&](const Variant& variant, std::vector<int8_t>* y,
                   std::string* name) {
      Qs8ConvPixvec::Options options;
      options.stride_h = stride_h_;
      options.stride_w = stride_w_;
      options.isa = static_cast<int>(variant.isa);
      options.use_dot_product = variant.dot;
      std::string error;
      std::unique_ptr<Qs8ConvPixvec> op = Qs8ConvPixvec::Create(
          w.data(), out_, in_, bias_ptr, q, options, &error);
      ASSERT_NE(op, nullptr) << error;
      *name = op->kernel_name();
      EXPECT_EQ(op->kept_groups(),
                CountQs8PixvecGroups(w.data(), out_, in_));
      if (rows_) {
        ASSERT_TRUE(op->ReshapeRows(batch_ * h_ * w_, &error)) << error;
      } else {
        int oh = 0, ow = 0;
        ASSERT_TRUE(op->Reshape(batch_, h_, w_, &oh, &ow, &error)) << error;
        ASSERT_EQ(oh, s.out_h);
        ASSERT_EQ(ow, s.out_w);
      }
      // Twice: scratch reuse must not leak state between runs.
      for (int r = 0; r < 2; ++r) {
        y->assign(out_size, int8_t{0x55});
        op->Run(x.data(), y->data(), pool.get());
        if (r == 0) continue;
      }
    };
    std::vector<int8_t> y, y_scalar;
    std::string name, scalar_name;
    run(v, &y, &name);
    if (::testing::Test::HasFatalFailure()) return;
    ASSERT_EQ(name, v.kernel);
    run({Isa::kScalar, true, ""}, &y_scalar, &scalar_name);
    if (::testing::Test::HasFatalFailure()) return;
    for (size_t i = 0; i < out_size; ++i) {
      ASSERT_EQ(int{y[i]}, int{ref[i]})
          << name << " pixel " << i / out_ << " channel " << i % out_
          << " (out " << out_ << " in " << in_ << " " << batch_ << "x" << h_
          << "x" << w_ << " stride " << stride_h_ << "x" << stride_w_ << ")";
      ASSERT_EQ(int{y[i]}, int{y_scalar[i]}) << name << " vs " << scalar_name;
    }
  }

 private:
  int out_ = 7;
  int in_ = 17;
  int h_ = 7;
  int w_ = 7;
  int batch_ = 1;
  int stride_h_ = 1;
  int stride_w_ = 1;
  Pattern pattern_ = Pattern::kGroups;
  double sparsity_ = 0.5;
  int32_t zx_ = 3;
  int32_t zy_ = -5;
  bool per_channel_ = false;
  float sx_ = 0.05f;
  float sf_ = 0.01f;
  float sy_ = 0.1f;
  FusedActivation act_ = FusedActivation::kNone;
  bool bias_ = true;
  int threads_ = 1;
  bool constant_ = false;
  int const_x_ = 0;
  int const_w_ = 0;
  bool rows_ = false;
};

class Qs8ConvPixvecTest : public ::testing::TestWithParam<Variant> {
 protected:
  void SetUp() override {
    std::string why;
    if (!VariantRuns(GetParam(), &why)) GTEST_SKIP() << why;
  }
  const Variant& variant() const { return GetParam(); }
};

TEST_P(Qs8ConvPixvecTest, OddChannelsAndSizes) {
  for (int out : {1, 7, 17, 33}) {
    for (int in : {1, 3, 4, 5, 17, 64, 67}) {
      for (auto [h, w] : {std::pair<int, int>{1, 1}, {7, 7}, {13, 5}}) {
        Qs8ConvTester().out(out).in(in).size(h, w).Test(variant());
      }
    }
  }
}

TEST_P(Qs8ConvPixvecTest, StridesAndBatches) {
  for (int stride : {1, 2}) {
    for (auto [h, w] : {std::pair<int, int>{1, 1}, {7, 7}, {13, 5}, {2, 9}}) {
      Qs8ConvTester().out(17).in(5).size(h, w).stride(stride, stride)
          .batch(2).Test(variant());
      Qs8ConvTester().out(33).in(67).size(h, w).stride(stride, stride)
          .Test(variant());
    }
  }
  Qs8ConvTester().out(9).in(12).size(8, 11).stride(1, 2).batch(2)
      .Test(variant());
  Qs8ConvTester().out(9).in(12).size(11, 8).stride(2, 1).Test(variant());
  Qs8ConvTester().out(9).in(12).size(10, 10).stride(3, 3).Test(variant());
}

TEST_P(Qs8ConvPixvecTest, TilesOfEverySize) {
  // Pixel counts around each tile and vector size, and channel counts that
  // exceed the L1 tile budget (smaller tiles).
  for (int pixels : {15, 16, 17, 31, 32, 33, 63, 64, 65, 129}) {
    Qs8ConvTester().out(19).in(9).size(1, pixels).Test(variant());
  }
  Qs8ConvTester().out(21).in(1024).size(5, 9).sparsity(0.8).Test(variant());
  Qs8ConvTester().out(5).in(4100).size(3, 7).sparsity(0.9).Test(variant());
}

TEST_P(Qs8ConvPixvecTest, WeightPatterns) {
  for (Pattern p : {Pattern::kGroups, Pattern::kFilterBlocks,
                    Pattern::kScattered, Pattern::kDense, Pattern::kZero}) {
    for (double s : {0.0, 0.75, 0.9, 1.0}) {
      Qs8ConvTester().out(40).in(70).size(6, 7).pattern(p).sparsity(s)
          .Test(variant());
    }
  }
}

TEST_P(Qs8ConvPixvecTest, ZeroPointsAtTheEnds) {
  for (int zx : {-128, 0, 127}) {
    for (int zy : {-128, 0, 127}) {
      Qs8ConvTester().out(13).in(37).size(5, 5).input_zero_point(zx)
          .output_zero_point(zy).Test(variant());
    }
  }
}

TEST_P(Qs8ConvPixvecTest, PerTensorAndPerChannelScales) {
  for (bool pc : {false, true}) {
    Qs8ConvTester().out(21).in(45).per_channel(pc).Test(variant());
    Qs8ConvTester().out(21).in(45).per_channel(pc).scales(1e-3f, 1e-4f, 0.1f)
        .Test(variant());
    Qs8ConvTester().out(21).in(45).per_channel(pc).scales(0.8f, 0.4f, 0.1f)
        .Test(variant());
    // Below 2^-32 the multiplier is flushed to 0: every output is the zero
    // point.
    Qs8ConvTester().out(21).in(45).per_channel(pc).scales(1e-6f, 1e-6f, 1.0f)
        .Test(variant());
  }
  // A multiplier of exactly 1/16: accumulators land on the ties of the
  // rounding (every 16th value) and right next to them, where the float
  // shortcut must hand over to the integer steps.
  for (Pattern p : {Pattern::kZero, Pattern::kGroups}) {
    Qs8ConvTester().out(40).in(20).size(5, 9).pattern(p)
        .scales(0.25f, 0.25f, 1.0f).Test(variant());
  }
}

TEST_P(Qs8ConvPixvecTest, SaturationAndExtremeProducts) {
  for (int xv : {-128, 127}) {
    for (int wv : {-128, 127}) {
      for (int zx : {-128, 127}) {
        Qs8ConvTester().out(7).in(259).size(3, 6).pattern(Pattern::kDense)
            .constant(xv, wv).input_zero_point(zx)
            .scales(0.02f, 0.01f, 0.05f).Test(variant());
      }
    }
  }
  Qs8ConvTester().out(30).in(64).scales(0.5f, 0.5f, 0.01f).Test(variant());
}

TEST_P(Qs8ConvPixvecTest, FusedActivationsAndNoBias) {
  for (FusedActivation a : {FusedActivation::kRelu, FusedActivation::kRelu6,
                            FusedActivation::kReluN1To1}) {
    Qs8ConvTester().out(23).in(41).activation(a).scales(0.05f, 0.01f, 0.02f)
        .Test(variant());
    Qs8ConvTester().out(23).in(41).activation(a).output_zero_point(-128)
        .per_channel(true).Test(variant());
  }
  Qs8ConvTester().out(11).in(50).bias(false).Test(variant());
}

TEST_P(Qs8ConvPixvecTest, Threads) {
  for (int threads : {1, 2}) {
    // Many tiles; one tile (the channels split); a single pixel.
    Qs8ConvTester().out(70).in(33).size(14, 14).batch(2).threads(threads)
        .Test(variant());
    Qs8ConvTester().out(70).in(33).size(3, 3).threads(threads)
        .Test(variant());
    Qs8ConvTester().out(5).in(8).size(1, 1).threads(threads).Test(variant());
    Qs8ConvTester().out(40).in(16).size(7, 7).stride(2, 2).batch(2)
        .threads(threads).Test(variant());
  }
}

TEST_P(Qs8ConvPixvecTest, BatchedFullyConnected) {
  for (int rows : {1, 3, 16, 50}) {
    Qs8ConvTester().out(25).in(39).size(1, rows).rows(true).Test(variant());
    Qs8ConvTester().out(25).in(39).size(1, rows).rows(true).threads(2)
        .Test(variant());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Variants, Qs8ConvPixvecTest, ::testing::ValuesIn(kVariants),
    [](const ::testing::TestParamInfo<Variant>& info) {
      return std::string(IsaName(info.param.isa)) +
             (info.param.dot ? "_dot" : "_nodot");
    });

TEST(Qs8ConvPixvecOperatorTest, RejectsBadArguments) {
  const std::vector<int8_t> w(4 * 8, 1);
  const float scale[] = {0.01f};
  Qs8FcQuantization q;
  q.filter_scales = scale;
  Qs8ConvPixvec::Options options;
  std::string error;
  EXPECT_EQ(Qs8ConvPixvec::Create(nullptr, 4, 8, nullptr, q, options, &error),
            nullptr);
  EXPECT_NE(error.find("weights"), std::string::npos);
  EXPECT_EQ(Qs8ConvPixvec::Create(w.data(), 0, 8, nullptr, q, options, &error),
            nullptr);
  EXPECT_NE(error.find("out"), std::string::npos);
  options.stride_w = 0;
  EXPECT_EQ(Qs8ConvPixvec::Create(w.data(), 4, 8, nullptr, q, options, &error),
            nullptr);
  EXPECT_NE(error.find("stride"), std::string::npos);
  options.stride_w = 1;
  q.num_filter_scales = 3;
  EXPECT_EQ(Qs8ConvPixvec::Create(w.data(), 4, 8, nullptr, q, options, &error),
            nullptr);
  EXPECT_NE(error.find("filter_scales"), std::string::npos);
  q.num_filter_scales = 1;
  const int32_t big_bias[] = {0, std::numeric_limits<int32_t>::max() - 100, 0,
                              0};
  EXPECT_EQ(Qs8ConvPixvec::Create(w.data(), 4, 8, big_bias, q, options,
                                  &error),
            nullptr);
  EXPECT_NE(error.find("row 1"), std::string::npos) << error;
  options.isa = static_cast<int>(
#if defined(__x86_64__)
      Isa::kNeon
#else
      Isa::kAvx2
#endif
  );
  EXPECT_EQ(Qs8ConvPixvec::Create(w.data(), 4, 8, nullptr, q, options, &error),
            nullptr);
  EXPECT_NE(error.find("not supported"), std::string::npos);
  options.isa = -1;

  std::unique_ptr<Qs8ConvPixvec> op =
      Qs8ConvPixvec::Create(w.data(), 4, 8, nullptr, q, options, &error);
  ASSERT_NE(op, nullptr) << error;
  int oh = 0, ow = 0;
  EXPECT_FALSE(op->Reshape(1, 0, 5, &oh, &ow, &error));
  EXPECT_NE(error.find("input"), std::string::npos);
  EXPECT_FALSE(op->Reshape(-1, 5, 5, &oh, &ow, &error));
  EXPECT_FALSE(op->Reshape(1 << 20, 1 << 10, 1 << 10, &oh, &ow, &error));
  EXPECT_NE(error.find("2^31"), std::string::npos);
  // An empty batch runs nothing.
  ASSERT_TRUE(op->Reshape(0, 3, 3, &oh, &ow, &error)) << error;
  op->Run(nullptr, nullptr, nullptr);
  options.stride_h = 2;
  op = Qs8ConvPixvec::Create(w.data(), 4, 8, nullptr, q, options, &error);
  ASSERT_NE(op, nullptr);
  EXPECT_FALSE(op->ReshapeRows(4, &error));
  EXPECT_NE(error.find("strides"), std::string::npos);
}

TEST(Qs8ConvPixvecOperatorTest, CountsKeptGroups) {
  // in 6: groups {0..3}, {4, 5}.
  const int8_t w[3 * 6] = {0, 0, 0, 1, 0, 0,   // group 0
                           0, 0, 0, 0, 0, 0,   // none
                           5, 0, 0, 0, 0, -2};  // both
  EXPECT_EQ(CountQs8PixvecGroups(w, 3, 6), 3);
  EXPECT_EQ(CountQs8PixvecGroups(nullptr, 3, 6), 0);
}

}  // namespace
}  // namespace tf_sparse
