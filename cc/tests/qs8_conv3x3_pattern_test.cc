// The int8 pattern-sparse 3x3 convolution on every kernel variant (scalar,
// AVX2, AVX-512 VNNI, NEON, NEON dot product) against the plain int8 conv
// reference (Qs8ConvReference, TFLite's int8 CONV_2D) bit for bit, and
// against the scalar variant; the reference against a hand-computed case.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cc/kernels/dispatch.h"
#include "cc/kernels/qs8_conv3x3_pattern.h"
#include "cc/kernels/qs8_conv_reference.h"
#include "cc/kernels/requantize.h"
#include "cc/util/cpu_features.h"
#include "cc/util/thread_pool.h"
#include "cc/tests/qs8_variants.h"
#include "gtest/gtest.h"

namespace tf_sparse {
namespace {

struct Variant {
  Isa isa;
  bool dot;
  const char* kernel;
};

const Variant kVariants[] = {
    {Isa::kScalar, true, "qs8_conv3x3_pattern_minmax_16x16__scalar"},
    {Isa::kAvx2, true, "qs8_conv3x3_pattern_minmax_16x16__avx2"},
    {Isa::kAvx512, false, "qs8_conv3x3_pattern_minmax_16x16__avx2"},
    {Isa::kAvx512, true, "qs8_conv3x3_pattern_minmax_64x16__avx512vnni"},
    {Isa::kNeon, false, "qs8_conv3x3_pattern_minmax_16x16__neon"},
    {Isa::kNeon, true, "qs8_conv3x3_pattern_minmax_16x16__neondot"},
    {Isa::kSve, true, "qs8_conv3x3_pattern_minmax_16x16__neondot"},
};

bool VariantRuns(const Variant& v, std::string* why) {
  return Qs8VariantRuns(v.isa, v.dot, why);
}

// OHWI weights whose kept kernels use one of `patterns` random 4-tap
// patterns (some with 1-3 of the 4 taps nonzero), `removed` of the kernels
// all zero, and the filters in `zero_filters` entirely zero.
std::vector<int8_t> PatternWeights(int out_c, int in_c, int patterns,
                                   double removed, std::mt19937* rng,
                                   const std::vector<int>& zero_filters = {}) {
  std::vector<unsigned> library;
  std::uniform_int_distribution<int> tap(0, 8);
  while (static_cast<int>(library.size()) < patterns) {
    unsigned m = 0;
    int n = 0;
    while (n < 4) {
      const unsigned bit = 1u << tap(*rng);
      if (!(m & bit)) {
        m |= bit;
        ++n;
      }
    }
    library.push_back(m);
  }
  std::uniform_int_distribution<int> pick(0, patterns - 1);
  std::uniform_int_distribution<int> byte(-128, 127);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<int8_t> w(static_cast<size_t>(out_c) * 9 * in_c, 0);
  for (int o = 0; o < out_c; ++o) {
    if (std::find(zero_filters.begin(), zero_filters.end(), o) !=
        zero_filters.end()) {
      continue;
    }
    for (int c = 0; c < in_c; ++c) {
      if (u(*rng) < removed) continue;
      const unsigned m = library[pick(*rng)];
      for (int t = 0; t < 9; ++t) {
        if (!(m & (1u << t))) continue;
        // Now and then a zero tap inside the pattern.
        const int v = u(*rng) < 0.1 ? 0 : byte(*rng);
        w[(static_cast<size_t>(o) * 9 + t) * in_c + c] = static_cast<int8_t>(v);
      }
    }
  }
  return w;
}

struct Case {
  int batch = 2, in_h = 7, in_w = 7, in_c = 3, out_c = 7;
  int stride_h = 1, stride_w = 1;
  ConvPadding padding = ConvPadding::kSame;
  int32_t input_zp = 0, output_zp = 0;
  bool per_channel = false;
  FusedActivation act = FusedActivation::kNone;
  int threads = 1;
  int patterns = 8;
  double removed = 0.3;
  float output_scale_factor = 1.0f;  // Below 1: multipliers >= 1.
  bool all_zero = false;
  unsigned seed = 1;
};

// Runs `c` on the variant, the scalar variant and the reference; expects
// all three equal. Returns false when no output fits (VALID, small input).
bool RunCase(const Case& c, const Variant& v) {
  std::mt19937 rng(c.seed);
  std::vector<int8_t> w =
      c.all_zero ? std::vector<int8_t>(static_cast<size_t>(c.out_c) * 9 * c.in_c)
                 : PatternWeights(c.out_c, c.in_c, c.patterns, c.removed, &rng,
                                  {c.out_c / 2});
  std::uniform_int_distribution<int> byte(-128, 127);
  std::uniform_int_distribution<int> bias_d(-20000, 20000);
  std::uniform_real_distribution<float> scale_d(0.5f, 2.0f);
  const size_t x_size =
      static_cast<size_t>(c.batch) * c.in_h * c.in_w * c.in_c;
  std::vector<int8_t> x(x_size);
  for (int8_t& e : x) e = static_cast<int8_t>(byte(rng));
  std::vector<int32_t> bias(c.out_c);
  for (int32_t& b : bias) b = bias_d(rng);
  std::vector<float> filter_scales(c.per_channel ? c.out_c : 1);
  for (float& s : filter_scales) s = scale_d(rng) * 0.01f;
  Qs8FcQuantization q;
  q.input_scale = 0.05f;
  q.input_zero_point = c.input_zp;
  q.filter_scales = filter_scales.data();
  q.num_filter_scales = static_cast<int>(filter_scales.size());
  // An accumulator's spread is about 17000 sqrt(in_c) (4 taps of |x - zp|
  // ~ 130 times |w| ~ 74 per kept kernel): a multiplier of 60 / that keeps
  // most outputs inside the int8 range.
  q.output_scale = 0.14f * std::sqrt(static_cast<float>(c.in_c)) *
                   c.output_scale_factor;
  q.output_zero_point = c.output_zp;
  EXPECT_EQ(Int8ActivationRange(c.act, q.output_scale, q.output_zero_point,
                                &q.output_min, &q.output_max),
            "");

  ConvShape s;
  s.batch = c.batch;
  s.in_h = c.in_h;
  s.in_w = c.in_w;
  s.in_c = c.in_c;
  s.out_c = c.out_c;
  s.stride_h = c.stride_h;
  s.stride_w = c.stride_w;
  if (!ConvOutputSize(c.padding, c.in_h, 3, c.stride_h, &s.out_h,
                      &s.pad_top) ||
      !ConvOutputSize(c.padding, c.in_w, 3, c.stride_w, &s.out_w,
                      &s.pad_left)) {
    return false;
  }
  const size_t y_size = static_cast<size_t>(c.batch) * s.out_h * s.out_w *
                        c.out_c;
  std::vector<int8_t> expected(y_size);
  EXPECT_EQ(Qs8ConvReference(s, x.data(), w.data(), bias.data(), q,
                                 expected.data()),
            "");
  // The scales keep outputs spread (a test of saturated outputs could not
  // see a wrong accumulator).
  if (!c.all_zero && y_size >= 256 && c.act == FusedActivation::kNone &&
      c.output_scale_factor == 1.0f) {
    std::vector<char> seen(256, 0);
    int distinct = 0;
    for (int8_t e : expected) distinct += seen[e + 128]++ == 0;
    EXPECT_GE(distinct, 24) << "outputs too concentrated";
  }

  ThreadPool pool(c.threads);
  for (const Variant& run : {v, kVariants[0]}) {
    Qs8PatternConv3x3::Params p;
    p.stride_h = c.stride_h;
    p.stride_w = c.stride_w;
    p.padding = c.padding;
    p.isa = static_cast<int>(run.isa);
    p.use_dot_product = run.dot;
    std::string error;
    auto op = Qs8PatternConv3x3::Create(w.data(), c.out_c, c.in_c, bias.data(),
                                        q, p, &error);
    EXPECT_NE(op, nullptr) << error;
    if (op == nullptr) return true;
    EXPECT_STREQ(op->kernel_name(), run.kernel);
    int oh = 0, ow = 0;
    EXPECT_TRUE(op->Reshape(c.batch, c.in_h, c.in_w, &oh, &ow, &error))
        << error;
    EXPECT_EQ(oh, s.out_h);
    EXPECT_EQ(ow, s.out_w);
    // Poisoned output: every element must be written.
    std::vector<int8_t> y(y_size, 0x55);
    // Twice: the second run reuses the planes of the first.
    for (int rep = 0; rep < 2; ++rep) {
      op->Run(x.data(), y.data(), c.threads > 1 ? &pool : nullptr);
      size_t bad = 0, first = 0;
      for (size_t i = 0; i < y_size; ++i) {
        if (y[i] != expected[i] && bad++ == 0) first = i;
      }
      EXPECT_EQ(bad, 0u) << run.kernel << " in " << c.in_h << "x" << c.in_w
                         << "x" << c.in_c << " out_c " << c.out_c
                         << " stride " << c.stride_h << "x" << c.stride_w
                         << (c.padding == ConvPadding::kSame ? " SAME"
                                                             : " VALID")
                         << " zp " << c.input_zp << "/" << c.output_zp
                         << ": first at " << first << " got "
                         << int{y[first]} << " want " << int{expected[first]};
    }
  }
  return true;
}

class Qs8PatternConvTest : public ::testing::TestWithParam<Variant> {
 protected:
  void SetUp() override {
    std::string why;
    if (!VariantRuns(GetParam(), &why)) GTEST_SKIP() << why;
  }
};

TEST_P(Qs8PatternConvTest, EdgeShapes) {
  unsigned seed = 0;
  int ran = 0;
  const int spatial[][2] = {{1, 1}, {2, 2}, {7, 7}, {13, 5}};
  for (int in_c : {1, 3, 17}) {
    for (int out_c : {1, 7, 16, 33}) {
      for (const auto& hw : spatial) {
        for (int stride : {1, 2}) {
          for (ConvPadding pad : {ConvPadding::kSame, ConvPadding::kValid}) {
            Case c;
            c.in_c = in_c;
            c.out_c = out_c;
            c.in_h = hw[0];
            c.in_w = hw[1];
            c.stride_h = stride;
            c.stride_w = stride;
            c.padding = pad;
            c.seed = ++seed;
            // Spread the other settings over the cases.
            c.input_zp = seed % 3 == 0 ? -128 : (seed % 3 == 1 ? 127 : 5);
            c.output_zp = seed % 4 == 0 ? 127 : (seed % 4 == 1 ? -128 : -3);
            c.per_channel = seed % 2 == 0;
            c.act = seed % 5 == 0   ? FusedActivation::kRelu
                    : seed % 5 == 1 ? FusedActivation::kRelu6
                                    : FusedActivation::kNone;
            if (c.act != FusedActivation::kNone) c.output_zp = -128;
            c.threads = 1 + static_cast<int>(seed % 2);
            if (RunCase(c, GetParam())) ++ran;
            if (::testing::Test::HasFailure()) return;
          }
        }
      }
    }
  }
  // 12 shapes per channel pair: VALID has no output on 1x1 and 2x2.
  EXPECT_EQ(ran, 3 * 4 * 12);
}

TEST_P(Qs8PatternConvTest, MixedStridesAndLongRows) {
  // Rows of 150 and 28 inputs: several tiles per row and ragged last
  // ones, for 16- and 64-pixel tiles (the 64-pixel kernel gathers 16, 32
  // or 64 at a time).
  for (int in_w : {150, 28}) {
    for (auto [sh, sw] : {std::pair<int, int>{1, 1}, {1, 2}, {2, 1}}) {
      for (ConvPadding pad : {ConvPadding::kSame, ConvPadding::kValid}) {
        Case c;
        c.in_h = 9;
        c.in_w = in_w;
        c.in_c = 37;  // Two blocks of 16 channels transposed, 5 more.
        c.out_c = 20;
        c.stride_h = sh;
        c.stride_w = sw;
        c.padding = pad;
        c.input_zp = -7;
        c.threads = 2;
        ASSERT_TRUE(RunCase(c, GetParam()));
      }
    }
  }
}

TEST_P(Qs8PatternConvTest, ZeroWeightsAndPatternCounts) {
  Case c;
  c.in_c = 17;
  c.out_c = 33;
  c.all_zero = true;
  c.input_zp = 127;
  RunCase(c, GetParam());
  for (int patterns : {1, 2, 8}) {
    for (double removed : {0.0, 0.5, 0.95}) {
      Case d;
      d.in_c = 17;
      d.out_c = 33;
      d.in_h = 13;
      d.in_w = 5;
      d.patterns = patterns;
      d.removed = removed;
      d.input_zp = -128;
      d.per_channel = true;
      RunCase(d, GetParam());
    }
  }
}

// Multipliers from about 2^-12 to 8 (left shifts), and in the flushed
// range (below 2^-32: every output is the zero point).
TEST_P(Qs8PatternConvTest, MultiplierRange) {
  for (float f : {0.05f, 0.002f, 1e-4f, 1e8f}) {
    Case c;
    c.in_c = 1;
    c.out_c = 17;
    c.in_h = 5;
    c.in_w = 21;
    c.per_channel = true;
    c.output_scale_factor = f;
    c.input_zp = 1;
    ASSERT_TRUE(RunCase(c, GetParam()));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Variants, Qs8PatternConvTest, ::testing::ValuesIn(kVariants),
    [](const ::testing::TestParamInfo<Variant>& info) {
      return std::string(IsaName(info.param.isa)) +
             (info.param.dot ? "_dot" : "_nodot");
    });

Qs8FcQuantization UnitQuantization(int32_t input_zp, float* filter_scale) {
  Qs8FcQuantization q;
  q.input_scale = 1.0f;
  q.input_zero_point = input_zp;
  *filter_scale = 1.0f;
  q.filter_scales = filter_scale;
  q.output_scale = 1.0f;
  return q;
}

// A 3x3 input, one channel, SAME: the corner output sees 4 in-bounds taps
// and the padding contributes nothing, whatever the zero point.
TEST(Qs8ConvReferenceTest, HandComputedPaddingAndZeroPoint) {
  const int8_t x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  int8_t w[9];
  for (int t = 0; t < 9; ++t) w[t] = static_cast<int8_t>(t + 1);
  float fs;
  Qs8FcQuantization q = UnitQuantization(2, &fs);
  ConvShape s;
  s.in_h = s.in_w = 3;
  s.out_h = s.out_w = 3;
  s.pad_top = s.pad_left = 1;
  const int32_t bias = 3;
  int8_t y[9];
  ASSERT_EQ(Qs8ConvReference(s, x, w, &bias, q, y), "");
  // Output (0, 0): taps (1,1),(1,2),(2,1),(2,2) read x 1, 2, 4, 5 with
  // weights 5, 6, 8, 9: 3 + (-1)*5 + 0*6 + 2*8 + 3*9 = 41.
  EXPECT_EQ(y[0], 41);
  // Center: 3 + sum (x - 2) * w = 3 + (285 - 2 * 45) = 198 -> clamped 127.
  EXPECT_EQ(y[4], 127);
}

TEST(Qs8PatternConvErrors, RefusesDenseKernelsAndBadArguments) {
  std::vector<int8_t> w(2 * 9 * 3, 0);
  for (int t = 0; t < 5; ++t) w[(9 + t) * 3 + 2] = 1;  // o 1, c 2: 5 taps.
  float fs;
  const Qs8FcQuantization q = UnitQuantization(0, &fs);
  Qs8PatternConv3x3::Params p;
  std::string error;
  EXPECT_EQ(Qs8PatternConv3x3::Create(w.data(), 2, 3, nullptr, q, p, &error),
            nullptr);
  EXPECT_NE(error.find("output channel 1, input channel 2 has 5 nonzero"),
            std::string::npos)
      << error;
  EXPECT_EQ(Qs8PatternConv3x3::Analyze(w.data(), 2, 3).max_taps, 5);
  w[(9 + 4) * 3 + 2] = 0;
  p.stride_h = 3;
  EXPECT_EQ(Qs8PatternConv3x3::Create(w.data(), 2, 3, nullptr, q, p, &error),
            nullptr);
  EXPECT_NE(error.find("stride_h"), std::string::npos) << error;
  p.stride_h = 1;
  EXPECT_EQ(Qs8PatternConv3x3::Create(nullptr, 2, 3, nullptr, q, p, &error),
            nullptr);
  EXPECT_NE(error.find("weights"), std::string::npos) << error;
  EXPECT_EQ(Qs8PatternConv3x3::Create(w.data(), 0, 3, nullptr, q, p, &error),
            nullptr);
  EXPECT_NE(error.find("out_c"), std::string::npos) << error;
  // Accumulator overflow.
  std::vector<int32_t> bias = {0, 2147483000};
  EXPECT_EQ(Qs8PatternConv3x3::Create(w.data(), 2, 3, bias.data(), q, p,
                                      &error),
            nullptr);
  EXPECT_NE(error.find("overflow"), std::string::npos) << error;
  p.padding = ConvPadding::kValid;
  auto op = Qs8PatternConv3x3::Create(w.data(), 2, 3, nullptr, q, p, &error);
  ASSERT_NE(op, nullptr) << error;
  int oh, ow;
  EXPECT_FALSE(op->Reshape(1, 2, 5, &oh, &ow, &error));
  EXPECT_NE(error.find("VALID"), std::string::npos) << error;
  EXPECT_FALSE(op->Reshape(0, 5, 5, &oh, &ow, &error));
  EXPECT_NE(error.find("batch"), std::string::npos) << error;
}

TEST(Qs8PatternConvStats, CountsEntriesAndSlots) {
  // 32 filters, 4 channels; block 0 uses pattern A on every channel,
  // block 1 pattern A on channel 0 and B on channel 1 for half its
  // filters, C for the other half; channels 2, 3 removed in block 1.
  const int out_c = 32, in_c = 4;
  std::vector<int8_t> w(static_cast<size_t>(out_c) * 9 * in_c, 0);
  auto set = [&](int o, int c, std::initializer_list<int> taps) {
    for (int t : taps) w[(static_cast<size_t>(o) * 9 + t) * in_c + c] = 1;
  };
  for (int o = 0; o < 16; ++o) {
    for (int c = 0; c < 4; ++c) set(o, c, {0, 1, 4, 7});
  }
  for (int o = 16; o < 32; ++o) {
    set(o, 0, {0, 1, 4, 7});
    set(o, 1, o < 24 ? std::initializer_list<int>{1, 3, 4, 5}
                     : std::initializer_list<int>{4, 5, 7, 8});
  }
  const Qs8PatternConv3x3Stats s = Qs8PatternConv3x3::Analyze(w.data(), out_c,
                                                              in_c);
  EXPECT_EQ(s.kept_kernels, 16 * 4 + 16 * 2);
  EXPECT_EQ(s.num_patterns, 3);
  EXPECT_EQ(s.entries, 4 + 1 + 2);
  EXPECT_EQ(s.slots, 1 + 3 + 1 + 1);
  float fs;
  const Qs8FcQuantization q = UnitQuantization(0, &fs);
  std::string error;
  auto op = Qs8PatternConv3x3::Create(w.data(), out_c, in_c, nullptr, q, {},
                                      &error);
  ASSERT_NE(op, nullptr) << error;
  EXPECT_EQ(op->stats().entries, s.entries);
  EXPECT_EQ(op->stats().slots, s.slots);
  EXPECT_EQ(op->stats().kept_kernels, s.kept_kernels);
  EXPECT_GT(op->PackedBytes(), 7 * 64);
}

}  // namespace
}  // namespace tf_sparse
