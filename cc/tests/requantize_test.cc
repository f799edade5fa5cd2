// TFLite's int8 requantization (cc/kernels/requantize.h): hand-computed
// cases, an independent 64-bit formulation (exact), and the real-valued
// product in double (within one unit).
#include "cc/kernels/requantize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace tf_sparse {
namespace {

constexpr int32_t kMin = std::numeric_limits<int32_t>::min();
constexpr int32_t kMax = std::numeric_limits<int32_t>::max();

// The same maths without TFLite's structure: step 1 is a floor of
// (a * b + 2^30) / 2^31 (ties up), step 2 a floor of (x + 2^(e-1)) / 2^e
// (ties up); all in int64.
int32_t IndependentRequantize(int32_t acc, int32_t multiplier, int32_t shift) {
  const int left = shift > 0 ? shift : 0;
  const int right = shift > 0 ? 0 : -shift;
  const int32_t x =
      static_cast<int32_t>(static_cast<uint32_t>(acc) << left);
  int64_t high;
  if (x == kMin && multiplier == kMin) {
    high = kMax;
  } else {
    const int64_t p = static_cast<int64_t>(x) * multiplier;
    high = (p + (int64_t{1} << 30)) >> 31;  // Arithmetic: floor.
  }
  if (right == 0) return static_cast<int32_t>(high);
  const int64_t half = int64_t{1} << (right - 1);
  return static_cast<int32_t>((high + half) >> right);  // Arithmetic: floor.
}

TEST(QuantizeMultiplierTest, HandComputed) {
  struct Case {
    double m;
    int32_t multiplier;
    int32_t shift;
  };
  const Case cases[] = {
      {0.5, 1 << 30, 0},
      {1.0, 1 << 30, 1},
      {0.25, 1 << 30, -1},
      {0.75, 1610612736, 0},  // 0.75 * 2^31.
      {3.0, 1610612736, 2},
      {0.0, 0, 0},
      {-1.0, 0, 0},          // Negative: not a scale.
      {std::ldexp(1.0, -40), 0, 0},  // Below 2^-32: flushed to zero.
      {std::ldexp(1.0, -31), 1 << 30, -30},
      // Significand rounding up to 1.0 moves to the next exponent.
      {1.0 - std::ldexp(1.0, -40), 1 << 30, 1},
  };
  for (const Case& c : cases) {
    const QuantizedMultiplier q = QuantizeMultiplier(c.m);
    EXPECT_EQ(q.multiplier, c.multiplier) << c.m;
    EXPECT_EQ(q.shift, c.shift) << c.m;
  }
}

TEST(QuantizeMultiplierTest, ReconstructsTheRealValue) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> log2m(-30.0, 10.0);
  for (int i = 0; i < 10000; ++i) {
    const double m = std::exp2(log2m(rng));
    const QuantizedMultiplier q = QuantizeMultiplier(m);
    ASSERT_GE(q.multiplier, 1 << 30);
    const double back = std::ldexp(static_cast<double>(q.multiplier),
                                   q.shift - 31);
    EXPECT_LE(std::fabs(back - m) / m, std::ldexp(1.0, -31)) << m;
  }
}

TEST(RequantizeTest, FixedPointStepsHandComputed) {
  EXPECT_EQ(SaturatingRoundingDoublingHighMul(kMin, kMin), kMax);
  EXPECT_EQ(SaturatingRoundingDoublingHighMul(1 << 30, 1 << 30), 1 << 29);
  // 2 * 1 * 2^30 / 2^32 = 0.5 rounds up to 1; -0.5 rounds up to 0.
  EXPECT_EQ(SaturatingRoundingDoublingHighMul(1, 1 << 30), 1);
  EXPECT_EQ(SaturatingRoundingDoublingHighMul(-1, 1 << 30), 0);
  EXPECT_EQ(SaturatingRoundingDoublingHighMul(-3, 1 << 30), -1);  // -1.5.
  EXPECT_EQ(RoundingDivideByPot(5, 1), 3);    // 2.5 -> 3.
  EXPECT_EQ(RoundingDivideByPot(-5, 1), -2);  // -2.5 -> -2.
  EXPECT_EQ(RoundingDivideByPot(-4, 1), -2);
  EXPECT_EQ(RoundingDivideByPot(7, 2), 2);    // 1.75.
  EXPECT_EQ(RoundingDivideByPot(-7, 2), -2);
  EXPECT_EQ(RoundingDivideByPot(-6, 2), -1);  // -1.5 -> -1.
  EXPECT_EQ(RoundingDivideByPot(-7, 1), -3);  // -3.5 -> -3.
  EXPECT_EQ(RoundingDivideByPot(123, 0), 123);
  EXPECT_EQ(RoundingDivideByPot(kMax, 31), 1);
  EXPECT_EQ(RoundingDivideByPot(kMin, 31), -1);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(1000, 1610612736, 0), 750);
  // Two roundings: 1001 * 0.75 = 750.75 -> 751, / 2 = 375.5 -> 376, one
  // above round(1001 * 0.375) = 375. TFLite gives 376.
  EXPECT_EQ(MultiplyByQuantizedMultiplier(1001, 1610612736, -1), 376);
  // With no right shift the tie of step 1 goes up: -1.5 -> -1, 1.5 -> 2.
  EXPECT_EQ(MultiplyByQuantizedMultiplier(-3, 1 << 30, 0), -1);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(3, 1 << 30, 0), 2);
  // With a right shift the tie of step 2 goes up too (TFLite's reference
  // kernels would give -2).
  EXPECT_EQ(MultiplyByQuantizedMultiplier(-6, 1 << 30, -1), -1);  // -1.5.
  // A multiplier of exactly 1 is 2^30 with a left shift of 1: accumulators
  // beyond 2^30 wrap, as in TFLite.
  EXPECT_EQ(MultiplyByQuantizedMultiplier(12345, 1 << 30, 1), 12345);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(7, 1610612736, 2), 21);  // * 3.
}

TEST(RequantizeTest, SaturatesAtBothEnds) {
  const QuantizedMultiplier half = QuantizeMultiplier(0.5);
  const int32_t m = half.multiplier;
  const int32_t s = half.shift;
  EXPECT_EQ(RequantizeToInt8(kMax, m, s, 0, -128, 127), 127);
  EXPECT_EQ(RequantizeToInt8(kMin, m, s, 0, -128, 127), -128);
  EXPECT_EQ(RequantizeToInt8(400, m, s, -100, -128, 127), 100);
  EXPECT_EQ(RequantizeToInt8(-200, m, s, -100, -128, 127), -128);
  EXPECT_EQ(RequantizeToInt8(255, m, s, 0, -128, 127), 127);   // 127.5.
  EXPECT_EQ(RequantizeToInt8(-257, m, s, 0, -128, 127), -128);  // -128.5.
  EXPECT_EQ(RequantizeToInt8(10, m, s, 0, 10, 20), 10);
  EXPECT_EQ(RequantizeToInt8(100, m, s, 0, 10, 20), 20);
  // A huge accumulator plus a zero point must clamp, not wrap.
  const QuantizedMultiplier near_one = QuantizeMultiplier(0.999999);
  EXPECT_EQ(RequantizeToInt8(kMax, near_one.multiplier, near_one.shift, 127,
                             -128, 127),
            127);
  EXPECT_EQ(RequantizeToInt8(kMin, near_one.multiplier, near_one.shift, -128,
                             -128, 127),
            -128);
}

TEST(RequantizeTest, MatchesIndependentFormulaAndDouble) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> log2m(-31.0, 8.0);
  std::uniform_int_distribution<int32_t> small(-(1 << 20), 1 << 20);
  std::uniform_int_distribution<int32_t> any(kMin, kMax);
  std::vector<double> ms = {1.0, 0.5, 0.999999, 1.000001, 1e-6, 2.5e-9,
                            std::ldexp(1.0, -31), 7.25};
  for (int i = 0; i < 200; ++i) ms.push_back(std::exp2(log2m(rng)));
  for (double m : ms) {
    const QuantizedMultiplier q = QuantizeMultiplier(m);
    for (int i = 0; i < 2000; ++i) {
      const int32_t acc = (i % 4 == 0) ? any(rng) : small(rng);
      const int32_t got = MultiplyByQuantizedMultiplier(acc, q.multiplier,
                                                        q.shift);
      ASSERT_EQ(got, IndependentRequantize(acc, q.multiplier, q.shift))
          << acc << " " << m;
      const double exact = static_cast<double>(acc) * m;
      // Left shifts of large accumulators wrap (as in TFLite): compare only
      // where the real product is representable.
      if (std::fabs(exact) < 1e9 &&
          std::fabs(static_cast<double>(acc)) * std::exp2(q.shift > 0
                                                               ? q.shift
                                                               : 0) <
              2147483647.0) {
        ASSERT_LE(std::fabs(got - exact), 1.0) << acc << " " << m;
      }
    }
  }
}

TEST(ActivationRangeTest, HandComputed) {
  int32_t lo = 0;
  int32_t hi = 0;
  ASSERT_EQ(Int8ActivationRange(FusedActivation::kNone, 0.1f, 3, &lo, &hi),
            "");
  EXPECT_EQ(lo, -128);
  EXPECT_EQ(hi, 127);
  ASSERT_EQ(Int8ActivationRange(FusedActivation::kRelu, 0.1f, 5, &lo, &hi), "");
  EXPECT_EQ(lo, 5);
  EXPECT_EQ(hi, 127);
  ASSERT_EQ(Int8ActivationRange(FusedActivation::kRelu, 0.1f, -128, &lo, &hi),
            "");
  EXPECT_EQ(lo, -128);
  ASSERT_EQ(Int8ActivationRange(FusedActivation::kRelu6, 0.05f, -10, &lo, &hi),
            "");
  EXPECT_EQ(lo, -10);
  EXPECT_EQ(hi, 110);  // -10 + 6 / 0.05.
  ASSERT_EQ(Int8ActivationRange(FusedActivation::kRelu6, 6.0f / 255.0f, -128,
                                &lo, &hi),
            "");
  EXPECT_EQ(lo, -128);
  EXPECT_EQ(hi, 127);
  ASSERT_EQ(Int8ActivationRange(FusedActivation::kRelu6, 0.01f, 127, &lo, &hi),
            "");
  EXPECT_EQ(lo, 127);
  EXPECT_EQ(hi, 127);
  ASSERT_EQ(
      Int8ActivationRange(FusedActivation::kReluN1To1, 0.01f, 0, &lo, &hi), "");
  EXPECT_EQ(lo, -100);
  EXPECT_EQ(hi, 100);
}

TEST(ActivationRangeTest, RejectsBadArguments) {
  int32_t lo = 0;
  int32_t hi = 0;
  EXPECT_NE(Int8ActivationRange(static_cast<FusedActivation>(7), 0.1f, 0, &lo,
                                &hi)
                .find("activation must be"),
            std::string::npos);
  EXPECT_NE(Int8ActivationRange(FusedActivation::kRelu, 0.0f, 0, &lo, &hi)
                .find("output_scale"),
            std::string::npos);
  EXPECT_NE(Int8ActivationRange(FusedActivation::kRelu, 0.1f, 128, &lo, &hi)
                .find("output_zero_point"),
            std::string::npos);
}

TEST(FcMultipliersTest, PerTensorAndPerChannel) {
  const float per_tensor[] = {0.02f};
  Qs8FcQuantization q;
  q.input_scale = 0.5f;
  q.output_scale = 0.25f;
  q.filter_scales = per_tensor;
  std::vector<QuantizedMultiplier> rows;
  ASSERT_EQ(ComputeFcMultipliers(q, 3, &rows), "");
  ASSERT_EQ(rows.size(), 3u);
  const QuantizedMultiplier expect =
      QuantizeMultiplier(0.5 * static_cast<double>(0.02f) / 0.25);
  for (const QuantizedMultiplier& r : rows) {
    EXPECT_EQ(r.multiplier, expect.multiplier);
    EXPECT_EQ(r.shift, expect.shift);
  }
  const float per_channel[] = {0.02f, 1e-7f, 0.5f};
  q.filter_scales = per_channel;
  q.num_filter_scales = 3;
  ASSERT_EQ(ComputeFcMultipliers(q, 3, &rows), "");
  for (int o = 0; o < 3; ++o) {
    const QuantizedMultiplier e = QuantizeMultiplier(
        0.5 * static_cast<double>(per_channel[o]) / 0.25);
    EXPECT_EQ(rows[o].multiplier, e.multiplier) << o;
    EXPECT_EQ(rows[o].shift, e.shift) << o;
  }
  EXPECT_EQ(rows[2].multiplier, 1 << 30);  // Exactly 1.
  EXPECT_EQ(rows[2].shift, 1);
}

TEST(FcMultipliersTest, RejectsBadArguments) {
  const float scales[] = {0.1f, -0.1f};
  Qs8FcQuantization q;
  q.filter_scales = scales;
  std::vector<QuantizedMultiplier> rows;
  q.num_filter_scales = 2;
  EXPECT_NE(ComputeFcMultipliers(q, 3, &rows).find("filter_scales must hold"),
            std::string::npos);
  EXPECT_NE(ComputeFcMultipliers(q, 2, &rows).find("filter_scales[1]"),
            std::string::npos);
  q.num_filter_scales = 1;
  q.input_zero_point = -129;
  EXPECT_NE(ComputeFcMultipliers(q, 2, &rows).find("input_zero_point"),
            std::string::npos);
  q.input_zero_point = 0;
  q.output_min = 10;
  q.output_max = 5;
  EXPECT_NE(ComputeFcMultipliers(q, 2, &rows).find("output_min"),
            std::string::npos);
  q.output_min = -128;
  q.output_max = 127;
  q.input_scale = std::numeric_limits<float>::infinity();
  EXPECT_NE(ComputeFcMultipliers(q, 2, &rows).find("input_scale"),
            std::string::npos);
  q.input_scale = 1e20f;
  q.output_scale = 1e-20f;
  EXPECT_NE(ComputeFcMultipliers(q, 2, &rows).find("2^30"), std::string::npos);
  q.filter_scales = nullptr;
  q.input_scale = 1.0f;
  q.output_scale = 1.0f;
  EXPECT_NE(ComputeFcMultipliers(q, 2, &rows).find("filter_scales"),
            std::string::npos);
}

}  // namespace
}  // namespace tf_sparse

namespace tf_sparse {
namespace {

// The float shortcut of vector kernels (MakeFloatRequantization): wherever
// its tie test passes, round(clamp(fma(acc, scale, zero point))) is
// RequantizeToInt8; accumulators are drawn uniformly and right next to the
// ties of step 2 (where the test must fail over to the integer path).
TEST(FloatRequantizationTest, ExactWhereTaken) {
  std::mt19937 rng(21);
  std::uniform_real_distribution<double> log_m(-24.0, 1.5);
  std::uniform_int_distribution<int32_t> any(-2000000000, 2000000000);
  std::uniform_int_distribution<int> zp_dist(-128, 127);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  long long taken = 0, total = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const QuantizedMultiplier q = QuantizeMultiplier(std::exp2(log_m(rng)));
    const FloatRequantization f = MakeFloatRequantization(q);
    const double m =
        std::ldexp(static_cast<double>(q.multiplier), q.shift - 31);
    const int32_t zp = zp_dist(rng);
    const int32_t lo = std::min(zp_dist(rng), zp_dist(rng));
    const int32_t hi = std::max(lo, static_cast<int32_t>(zp_dist(rng)));
    for (int i = 0; i < 400; ++i) {
      int64_t acc64;
      if (i % 4 == 0) {
        acc64 = any(rng);
      } else if (m > 0) {
        // Near acc * m = k + 1/2 (k within the clamp range or just out).
        const double k = std::floor(unit(rng) * 600 - 300) + 0.5;
        const double jitter = (unit(rng) - 0.5) * std::ldexp(1.0, q.shift);
        acc64 = static_cast<int64_t>(std::llround((k + jitter) / m));
      } else {
        acc64 = any(rng) / 1000;
      }
      if (acc64 > INT32_MAX || acc64 < INT32_MIN) continue;
      const int32_t acc = static_cast<int32_t>(acc64);
      float z = std::fma(static_cast<float>(acc), f.scale,
                         static_cast<float>(zp));
      z = std::min(std::max(z, static_cast<float>(lo)),
                   static_cast<float>(hi));
      const float r = std::nearbyint(z);
      ++total;
      if (!(std::fabs(z - r) < f.tie_limit)) continue;
      ++taken;
      ASSERT_EQ(static_cast<int32_t>(r),
                RequantizeToInt8(acc, q.multiplier, q.shift, zp, lo, hi))
          << "acc " << acc << " multiplier " << q.multiplier << " shift "
          << q.shift << " zp " << zp << " [" << lo << ", " << hi << "]";
    }
  }
  // Most lanes take the shortcut (else it would be pointless).
  EXPECT_GT(taken, total / 2);
}

}  // namespace
}  // namespace tf_sparse
