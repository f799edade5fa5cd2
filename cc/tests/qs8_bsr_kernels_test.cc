// The int8 BSR fully connected operator on every kernel variant (scalar,
// AVX2, AVX-512 VNNI, NEON, NEON dot product) against the dense TFLite-style
// reference (Qs8FullyConnectedReference) bit for bit, and the reference
// against an independent formula (int64 sums, int64 fixed point: exact;
// the real product in double: within one unit).
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "cc/formats/qs8_bsr.h"
#include "cc/kernels/dispatch.h"
#include "cc/kernels/qs8_bsr_fully_connected.h"
#include "cc/kernels/qs8_dense_reference.h"
#include "cc/kernels/requantize.h"
#include "cc/util/cpu_features.h"
#include "cc/util/thread_pool.h"
#include "cc/tests/qs8_variants.h"
#include "gtest/gtest.h"

namespace tf_sparse {
namespace {

// A kernel variant: an ISA and whether dot product instructions are used,
// with the kernel name it must select (so no test passes on a fallback).
struct Variant {
  Isa isa;
  bool dot;
  const char* kernel;  // Expected for 1 x 4 blocks.
};

const Variant kVariants[] = {
    {Isa::kScalar, true, "qs8_bsr_minmax_rxc__scalar"},
    {Isa::kAvx2, true, "qs8_bsr_minmax_1x4__avx2"},
    {Isa::kAvx512, false, "qs8_bsr_minmax_1x4__avx2"},
    {Isa::kAvx512, true, "qs8_bsr_minmax_1x4__avx512vnni"},
    {Isa::kNeon, false, "qs8_bsr_minmax_1x4__neon"},
    {Isa::kNeon, true, "qs8_bsr_minmax_1x4__neondot"},
    // SVE CPUs run the NEON kernels.
    {Isa::kSve, true, "qs8_bsr_minmax_1x4__neondot"},
};

bool VariantRuns(const Variant& v, std::string* why) {
  return Qs8VariantRuns(v.isa, v.dot, why);
}

// y by the real-valued formula: round(acc * M) + zero point, clamped, with
// acc summed in int64 and M = input_scale * filter_scale / output_scale.
int32_t DoubleFormula(int64_t acc, double m, int32_t zp, int32_t lo,
                      int32_t hi) {
  const double v = std::round(static_cast<double>(acc) * m) + zp;
  return static_cast<int32_t>(std::min<double>(hi, std::max<double>(lo, v)));
}

// The independent fixed-point formula (see requantize_test.cc).
int32_t Int64Requantize(int64_t acc, const QuantizedMultiplier& q, int32_t zp,
                        int32_t lo, int32_t hi) {
  const int left = q.shift > 0 ? q.shift : 0;
  const int right = q.shift > 0 ? 0 : -q.shift;
  const int64_t p = (acc * (int64_t{1} << left)) * q.multiplier;
  const int64_t high = (p + (int64_t{1} << 30)) >> 31;
  int64_t v = high;
  if (right > 0) {
    // Ties towards +infinity, as TFLite's built-in kernels (requantize.h).
    v = (high + (int64_t{1} << (right - 1))) >> right;
  }
  v += zp;
  return static_cast<int32_t>(v < lo ? lo : (v > hi ? hi : v));
}

class Qs8FcTester {
 public:
  Qs8FcTester& out(int v) { out_ = v; return *this; }
  Qs8FcTester& in(int v) { in_ = v; return *this; }
  Qs8FcTester& batch(int v) { batch_ = v; return *this; }
  Qs8FcTester& block(int r, int c) { r_ = r; c_ = c; return *this; }
  Qs8FcTester& sparsity(double v) { sparsity_ = v; return *this; }
  Qs8FcTester& empty_rows(bool v) { empty_rows_ = v; return *this; }
  Qs8FcTester& input_zero_point(int32_t v) { zx_ = v; return *this; }
  Qs8FcTester& output_zero_point(int32_t v) { zy_ = v; return *this; }
  Qs8FcTester& per_channel(bool v) { per_channel_ = v; return *this; }
  // Scales: the real multiplier is about input * filter / output.
  Qs8FcTester& scales(float input, float filter, float output) {
    sx_ = input; sw_ = filter; sy_ = output; return *this;
  }
  Qs8FcTester& activation(FusedActivation v) { act_ = v; return *this; }
  Qs8FcTester& bias(bool v) { bias_ = v; return *this; }
  Qs8FcTester& index_width(BsrIndexWidth v) { width_ = v; return *this; }
  Qs8FcTester& threads(int v) { threads_ = v; return *this; }
  // Every x equal to `x`, every stored weight equal to `w` (extremes).
  Qs8FcTester& constant(int x, int w) {
    const_x_ = x; const_w_ = w; constant_ = true; return *this;
  }

  void Test(const Variant& v) const {
    std::mt19937 rng(static_cast<unsigned>(out_ * 131 + in_ * 7 + batch_));
    std::uniform_int_distribution<int> byte(-128, 127);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    // Weights: whole r x c blocks dropped with probability `sparsity`.
    std::vector<int8_t> w(static_cast<size_t>(out_) * in_);
    for (int o0 = 0; o0 < out_; o0 += r_) {
      for (int k0 = 0; k0 < in_; k0 += c_) {
        const bool keep = unit(rng) >= sparsity_;
        for (int o = o0; o < std::min(out_, o0 + r_); ++o) {
          for (int k = k0; k < std::min(in_, k0 + c_); ++k) {
            w[static_cast<size_t>(o) * in_ + k] = static_cast<int8_t>(
                keep ? (constant_ ? const_w_ : byte(rng)) : 0);
          }
        }
      }
    }
    if (empty_rows_) {
      for (int o = 0; o < out_; o += 3) {
        std::fill(w.begin() + static_cast<size_t>(o) * in_,
                  w.begin() + static_cast<size_t>(o + 1) * in_, int8_t{0});
      }
    }
    std::vector<int8_t> x(static_cast<size_t>(batch_) * in_);
    for (int8_t& e : x) {
      e = static_cast<int8_t>(constant_ ? const_x_ : byte(rng));
    }
    std::vector<int32_t> bias(out_);
    std::uniform_int_distribution<int32_t> bias_value(-50000, 50000);
    for (int32_t& b : bias) b = bias_value(rng);
    std::vector<float> filter_scales(per_channel_ ? out_ : 1);
    for (size_t i = 0; i < filter_scales.size(); ++i) {
      // Spread per-channel scales over two decades around sw_.
      filter_scales[i] = per_channel_
                             ? sw_ * static_cast<float>(
                                         std::exp2(unit(rng) * 6.0 - 3.0))
                             : sw_;
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

    // The reference against the independent formulas.
    std::vector<int8_t> ref(static_cast<size_t>(batch_) * out_);
    Qs8FullyConnectedReference(batch_, out_, in_, x.data(), zx_, w.data(),
                               bias_ptr, rows.data(), zy_, q.output_min,
                               q.output_max, ref.data());
    for (int b = 0; b < batch_; ++b) {
      for (int o = 0; o < out_; ++o) {
        int64_t acc = bias_ ? bias[o] : 0;
        for (int k = 0; k < in_; ++k) {
          acc += (int64_t{x[static_cast<size_t>(b) * in_ + k]} - zx_) *
                 w[static_cast<size_t>(o) * in_ + k];
        }
        const int32_t got = ref[static_cast<size_t>(b) * out_ + o];
        ASSERT_EQ(got, Int64Requantize(acc, rows[o], zy_, q.output_min,
                                       q.output_max))
            << "b " << b << " o " << o;
        const double m = static_cast<double>(sx_) *
                         filter_scales[per_channel_ ? o : 0] / sy_;
        ASSERT_LE(std::abs(got - DoubleFormula(acc, m, zy_, q.output_min,
                                               q.output_max)),
                  1)
            << "b " << b << " o " << o;
      }
    }

    Qs8BsrFullyConnected::Options options;
    options.block_height = r_;
    options.block_width = c_;
    options.index_width = width_;
    options.isa = static_cast<int>(v.isa);
    options.use_dot_product = v.dot;
    std::string error;
    std::unique_ptr<Qs8BsrFullyConnected> op = Qs8BsrFullyConnected::Create(
        w.data(), out_, in_, bias_ptr, q, options, &error);
    ASSERT_NE(op, nullptr) << error;
    if (r_ == 1 && c_ == 4) {
      ASSERT_EQ(std::string(op->kernel_name()), v.kernel);
    }
    std::unique_ptr<ThreadPool> pool;
    if (threads_ > 1) pool.reset(new ThreadPool(threads_));
    // Twice: scratch reuse must not leak state between runs.
    for (int run = 0; run < 2; ++run) {
      std::vector<int8_t> y(ref.size(), int8_t{0x55});
      op->Run(batch_, x.data(), y.data(), pool.get());
      for (size_t i = 0; i < y.size(); ++i) {
        ASSERT_EQ(int{y[i]}, int{ref[i]})
            << op->kernel_name() << " b " << i / out_ << " o " << i % out_
            << " (out " << out_ << " in " << in_ << " batch " << batch_
            << ")";
      }
    }
  }

 private:
  int out_ = 8;
  int in_ = 16;
  int batch_ = 1;
  int r_ = 1;
  int c_ = 4;
  double sparsity_ = 0.5;
  bool empty_rows_ = false;
  int32_t zx_ = 3;
  int32_t zy_ = -5;
  bool per_channel_ = false;
  float sx_ = 0.05f;
  float sw_ = 0.01f;
  float sy_ = 0.1f;
  FusedActivation act_ = FusedActivation::kNone;
  bool bias_ = true;
  BsrIndexWidth width_ = BsrIndexWidth::kAuto;
  int threads_ = 1;
  bool constant_ = false;
  int const_x_ = 0;
  int const_w_ = 0;
};

class Qs8KernelTest : public ::testing::TestWithParam<Variant> {
 protected:
  void SetUp() override {
    std::string why;
    if (!VariantRuns(GetParam(), &why)) GTEST_SKIP() << why;
  }
  const Variant& variant() const { return GetParam(); }
};

TEST_P(Qs8KernelTest, EdgeShapes) {
  for (int out : {1, 2, 5, 17}) {
    for (int in : {1, 3, 4, 5, 7, 13, 33, 64, 67}) {
      Qs8FcTester().out(out).in(in).Test(variant());
    }
  }
}

TEST_P(Qs8KernelTest, EmptyBlockRowsAndDensities) {
  for (double s : {0.0, 0.5, 0.9, 1.0}) {
    Qs8FcTester().out(19).in(70).sparsity(s).Test(variant());
    Qs8FcTester().out(19).in(70).sparsity(s).empty_rows(true).Test(variant());
  }
}

TEST_P(Qs8KernelTest, LongRowsExerciseUnrolledLoops) {
  // 16-, 8- and 4-block steps plus every tail length.
  for (int blocks : {15, 16, 17, 31, 33, 40, 47, 64, 100}) {
    Qs8FcTester().out(9).in(blocks * 4).sparsity(0.0).Test(variant());
    Qs8FcTester().out(9).in(blocks * 4 - 1).sparsity(0.0).Test(variant());
  }
  Qs8FcTester().out(33).in(1000).sparsity(0.7).Test(variant());
}

TEST_P(Qs8KernelTest, ZeroPointsAtTheEnds) {
  for (int zx : {-128, -1, 0, 127}) {
    for (int zy : {-128, 0, 127}) {
      Qs8FcTester().out(13).in(37).input_zero_point(zx).output_zero_point(zy)
          .Test(variant());
    }
  }
}

TEST_P(Qs8KernelTest, PerTensorAndPerChannelScales) {
  for (bool pc : {false, true}) {
    // Multiplier ~ 5e-3 (typical), ~1e-6 (tiny), ~1 and ~3.2 (large).
    Qs8FcTester().out(21).in(45).per_channel(pc).Test(variant());
    Qs8FcTester().out(21).in(45).per_channel(pc).scales(1e-3f, 1e-4f, 0.1f)
        .Test(variant());
    Qs8FcTester().out(21).in(45).per_channel(pc).scales(0.5f, 0.2f, 0.1f)
        .Test(variant());
    Qs8FcTester().out(21).in(45).per_channel(pc).scales(0.8f, 0.4f, 0.1f)
        .Test(variant());
    Qs8FcTester().out(21).in(45).per_channel(pc).scales(1e-2f, 1e-3f, 1e-3f)
        .Test(variant());
    // Below 2^-32 the multiplier is flushed to 0: every output is the zero
    // point.
    Qs8FcTester().out(21).in(45).per_channel(pc).scales(1e-6f, 1e-6f, 1.0f)
        .Test(variant());
  }
}

TEST_P(Qs8KernelTest, SaturationAndExtremeProducts) {
  // All-extreme inputs and weights: the largest accumulators and the
  // products that would saturate vpmaddubsw (255 * -128 pairs with x + 128).
  for (int xv : {-128, 127}) {
    for (int wv : {-128, 127}) {
      for (int zx : {-128, 127}) {
        Qs8FcTester().out(7).in(259).sparsity(0.0).constant(xv, wv)
            .input_zero_point(zx).scales(0.02f, 0.01f, 0.05f).Test(variant());
        Qs8FcTester().out(7).in(259).sparsity(0.3).constant(xv, wv)
            .input_zero_point(zx).scales(1e-4f, 1e-3f, 1.0f).Test(variant());
      }
    }
  }
  // Large multipliers push most outputs to -128 and 127.
  Qs8FcTester().out(30).in(64).scales(0.5f, 0.5f, 0.01f).Test(variant());
}

TEST_P(Qs8KernelTest, FusedActivations) {
  for (FusedActivation a : {FusedActivation::kRelu, FusedActivation::kRelu6,
                            FusedActivation::kReluN1To1}) {
    Qs8FcTester().out(23).in(41).activation(a).scales(0.05f, 0.01f, 0.02f)
        .Test(variant());
    Qs8FcTester().out(23).in(41).activation(a).output_zero_point(-128)
        .per_channel(true).Test(variant());
  }
}

TEST_P(Qs8KernelTest, BatchesThreadsIndexWidthsNoBias) {
  for (int batch : {2, 3, 5}) {
    Qs8FcTester().out(17).in(35).batch(batch).Test(variant());
  }
  Qs8FcTester().out(200).in(300).batch(2).threads(2).sparsity(0.8)
      .Test(variant());
  Qs8FcTester().out(11).in(50).index_width(BsrIndexWidth::k16).Test(variant());
  Qs8FcTester().out(11).in(50).index_width(BsrIndexWidth::k32).Test(variant());
  Qs8FcTester().out(11).in(50).bias(false).Test(variant());
}

TEST_P(Qs8KernelTest, OtherBlockShapesUseTheGenericKernel) {
  for (auto [r, c] : {std::pair<int, int>{1, 16}, {16, 1}, {2, 4}, {3, 5}}) {
    Qs8FcTester().out(35).in(43).block(r, c).Test(variant());
    Qs8FcTester().out(35).in(43).block(r, c).batch(3).empty_rows(true)
        .Test(variant());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Variants, Qs8KernelTest, ::testing::ValuesIn(kVariants),
    [](const ::testing::TestParamInfo<Variant>& info) {
      return std::string(IsaName(info.param.isa)) +
             (info.param.dot ? "_dot" : "_nodot");
    });

TEST(Qs8BsrFormatTest, PackRoundTripsAndSumsRows) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> byte(-128, 127);
  for (auto [rows, cols, r, c] :
       {std::tuple<int, int, int, int>{1, 1, 1, 4}, {5, 7, 1, 4},
        {9, 33, 2, 4}, {17, 16, 16, 1}, {3, 70, 1, 16}}) {
    std::vector<int8_t> w(static_cast<size_t>(rows) * cols);
    for (int8_t& e : w) e = static_cast<int8_t>(byte(rng) % 3 == 0 ? byte(rng) : 0);
    const Qs8BsrMatrix m = PackQs8Bsr(w.data(), rows, cols, r, c);
    EXPECT_TRUE(m.layout.values.empty());
    std::vector<int8_t> back(w.size(), 1);
    UnpackQs8Bsr(m, back.data());
    EXPECT_EQ(back, w);
    for (int o = 0; o < rows; ++o) {
      int32_t sum = 0;
      int32_t abs_sum = 0;
      for (int k = 0; k < cols; ++k) {
        sum += w[static_cast<size_t>(o) * cols + k];
        abs_sum += std::abs(int{w[static_cast<size_t>(o) * cols + k]});
      }
      EXPECT_EQ(m.row_sums[o], sum);
      EXPECT_EQ(m.row_abs_sums[o], abs_sum);
    }
  }
}

TEST(Qs8BsrFullyConnectedTest, RejectsBadArguments) {
  const std::vector<int8_t> w(4 * 8, 1);
  const float scale[] = {0.01f};
  Qs8FcQuantization q;
  q.filter_scales = scale;
  Qs8BsrFullyConnected::Options options;
  std::string error;
  EXPECT_EQ(Qs8BsrFullyConnected::Create(nullptr, 4, 8, nullptr, q, options,
                                         &error),
            nullptr);
  EXPECT_NE(error.find("weights"), std::string::npos);
  EXPECT_EQ(Qs8BsrFullyConnected::Create(w.data(), 0, 8, nullptr, q, options,
                                         &error),
            nullptr);
  EXPECT_FALSE(error.empty());
  q.num_filter_scales = 3;
  EXPECT_EQ(Qs8BsrFullyConnected::Create(w.data(), 4, 8, nullptr, q, options,
                                         &error),
            nullptr);
  EXPECT_NE(error.find("filter_scales"), std::string::npos);
  q.num_filter_scales = 1;
  q.output_zero_point = 200;
  EXPECT_EQ(Qs8BsrFullyConnected::Create(w.data(), 4, 8, nullptr, q, options,
                                         &error),
            nullptr);
  EXPECT_NE(error.find("output_zero_point"), std::string::npos);
  q.output_zero_point = 0;
  const int32_t big_bias[] = {0, std::numeric_limits<int32_t>::max() - 100, 0,
                              0};
  EXPECT_EQ(Qs8BsrFullyConnected::Create(w.data(), 4, 8, big_bias, q, options,
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
  EXPECT_EQ(Qs8BsrFullyConnected::Create(w.data(), 4, 8, nullptr, q, options,
                                         &error),
            nullptr);
  EXPECT_NE(error.find("not supported"), std::string::npos);
}

TEST(Qs8DispatchTest, SelectsByFeatures) {
  const CpuFeatures& f = GetCpuFeatures();
  EXPECT_STREQ(SelectQs8BsrUkernel(3, 5, Isa::kScalar).name,
               "qs8_bsr_minmax_rxc__scalar");
#if defined(__x86_64__)
  EXPECT_STREQ(SelectQs8BsrUkernel(1, 4, Isa::kAvx512, true).name,
               f.avx512vnni ? "qs8_bsr_minmax_1x4__avx512vnni"
                            : "qs8_bsr_minmax_1x4__avx2");
  EXPECT_STREQ(SelectQs8BsrUkernel(1, 4, Isa::kAvx512, false).name,
               "qs8_bsr_minmax_1x4__avx2");
  EXPECT_EQ(SelectQs8BsrUkernel(1, 4, Isa::kAvx512, true).input_offset,
            f.avx512vnni ? 128 : 0);
  EXPECT_STREQ(SelectQs8BsrUkernel(2, 4, Isa::kAvx2).name,
               "qs8_bsr_minmax_rxc__scalar");
  EXPECT_STREQ(SelectQs8BsrUkernel(1, 4, Isa::kNeon).name,
               "qs8_bsr_minmax_rxc__scalar");
#elif defined(__aarch64__)
  EXPECT_STREQ(SelectQs8BsrUkernel(1, 4, Isa::kNeon, true).name,
               f.neon_dot ? "qs8_bsr_minmax_1x4__neondot"
                          : "qs8_bsr_minmax_1x4__neon");
  EXPECT_STREQ(SelectQs8BsrUkernel(1, 4, Isa::kSve, false).name,
               "qs8_bsr_minmax_1x4__neon");
  EXPECT_STREQ(SelectQs8BsrUkernel(1, 4, Isa::kAvx512).name,
               "qs8_bsr_minmax_rxc__scalar");
#else
  (void)f;
#endif
}

}  // namespace
}  // namespace tf_sparse
