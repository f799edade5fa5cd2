// The int8 row-group fully connected operator (unstructured and N:M
// weights) on every kernel variant (scalar, AVX2, AVX-512 VBMI + VNNI,
// NEON, NEON dot product) against the dense TFLite-style reference
// (Qs8FullyConnectedReference) bit for bit, and the packed format against
// the dense matrix it encodes.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "cc/formats/qs8_row_group.h"
#include "cc/kernels/dispatch.h"
#include "cc/kernels/qs8_dense_reference.h"
#include "cc/kernels/qs8_row_group_fully_connected.h"
#include "cc/kernels/requantize.h"
#include "cc/util/cpu_features.h"
#include "cc/util/thread_pool.h"
#include "cc/tests/qs8_variants.h"
#include "gtest/gtest.h"

namespace tf_sparse {
namespace {

// A kernel variant and the kernel it must select (so no test passes on a
// fallback).
struct Variant {
  Isa isa;
  bool dot;
  const char* kernel;      // Windows layout.
  const char* nm4_kernel;  // N:4 layout; null: none on this ISA.
};

const Variant kVariants[] = {
    {Isa::kScalar, true, "qs8_rowgroup_minmax_16x64__scalar",
     "qs8_nm4rowgroup_minmax_16x64__scalar"},
    {Isa::kAvx2, true, "qs8_rowgroup_minmax_16x64__avx2", nullptr},
    {Isa::kAvx512, false, "qs8_rowgroup_minmax_16x64__avx2", nullptr},
    {Isa::kAvx512, true, "qs8_rowgroup_minmax_16x64__avx512vbmi",
     "qs8_nm4rowgroup_minmax_16x64__avx512vbmi"},
    {Isa::kNeon, false, "qs8_rowgroup_minmax_16x64__neon", nullptr},
    {Isa::kNeon, true, "qs8_rowgroup_minmax_16x64__neondot", nullptr},
    // SVE CPUs run the NEON kernels.
    {Isa::kSve, true, "qs8_rowgroup_minmax_16x64__neondot", nullptr},
};

using Layout = Qs8RowGroupFullyConnected::Layout;

bool VariantRuns(const Variant& v, std::string* why) {
  return Qs8VariantRuns(v.isa, v.dot, why, /*avx512_needs_vbmi=*/true);
}

// How the weights are made sparse.
enum class Pattern { kRandom, kNm, kAllZero, kDense };

class Tester {
 public:
  Tester& out(int v) { out_ = v; return *this; }
  Tester& in(int v) { in_ = v; return *this; }
  Tester& batch(int v) { batch_ = v; return *this; }
  // Each entry zero with probability s.
  Tester& random(double s) { pattern_ = Pattern::kRandom; sparsity_ = s; return *this; }
  // n nonzeros in every m consecutive columns (a ragged last group keeps
  // min(n, its width)).
  Tester& nm(int n, int m) { pattern_ = Pattern::kNm; n_ = n; m_ = m; return *this; }
  Tester& all_zero() { pattern_ = Pattern::kAllZero; return *this; }
  Tester& dense() { pattern_ = Pattern::kDense; return *this; }
  Tester& empty_rows(bool v) { empty_rows_ = v; return *this; }
  Tester& input_zero_point(int32_t v) { zx_ = v; return *this; }
  Tester& output_zero_point(int32_t v) { zy_ = v; return *this; }
  Tester& per_channel(bool v) { per_channel_ = v; return *this; }
  Tester& scales(float input, float filter, float output) {
    sx_ = input; sw_ = filter; sy_ = output; return *this;
  }
  Tester& activation(FusedActivation v) { act_ = v; return *this; }
  Tester& bias(bool v) { bias_ = v; return *this; }
  Tester& threads(int v) { threads_ = v; return *this; }
  Tester& layout(Layout v) { layout_ = v; return *this; }
  // Every x equal to `x`, every kept weight equal to `w` (extremes).
  Tester& constant(int x, int w) {
    const_x_ = x; const_w_ = w; constant_ = true; return *this;
  }

  std::vector<int8_t> Weights(std::mt19937& rng) const {
    std::uniform_int_distribution<int> byte(-128, 127);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    auto value = [&]() {
      if (constant_) return static_cast<int8_t>(const_w_);
      int v = 0;
      while (v == 0) v = byte(rng);
      return static_cast<int8_t>(v);
    };
    std::vector<int8_t> w(static_cast<size_t>(out_) * in_, 0);
    for (int o = 0; o < out_; ++o) {
      int8_t* row = w.data() + static_cast<size_t>(o) * in_;
      switch (pattern_) {
        case Pattern::kAllZero:
          break;
        case Pattern::kDense:
          for (int k = 0; k < in_; ++k) row[k] = value();
          break;
        case Pattern::kRandom:
          for (int k = 0; k < in_; ++k) {
            if (unit(rng) >= sparsity_) row[k] = value();
          }
          break;
        case Pattern::kNm:
          for (int k0 = 0; k0 < in_; k0 += m_) {
            std::vector<int> cols;
            for (int k = k0; k < std::min(in_, k0 + m_); ++k) cols.push_back(k);
            std::shuffle(cols.begin(), cols.end(), rng);
            const size_t keep = std::min<size_t>(n_, cols.size());
            for (size_t j = 0; j < keep; ++j) row[cols[j]] = value();
          }
          break;
      }
      if (empty_rows_ && o % 3 == 0) std::fill(row, row + in_, int8_t{0});
    }
    return w;
  }

  void Test(const Variant& v) const {
    std::mt19937 rng(static_cast<unsigned>(out_ * 131 + in_ * 7 + batch_));
    std::uniform_int_distribution<int> byte(-128, 127);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const std::vector<int8_t> w = Weights(rng);
    std::vector<int8_t> x(static_cast<size_t>(batch_) * in_);
    for (int8_t& e : x) {
      e = static_cast<int8_t>(constant_ ? const_x_ : byte(rng));
    }
    std::vector<int32_t> bias(out_);
    std::uniform_int_distribution<int32_t> bias_value(-50000, 50000);
    for (int32_t& b : bias) b = bias_value(rng);
    std::vector<float> filter_scales(per_channel_ ? out_ : 1);
    for (float& s : filter_scales) {
      s = per_channel_ ? sw_ * static_cast<float>(std::exp2(unit(rng) * 6.0 - 3.0))
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
    std::vector<int8_t> ref(static_cast<size_t>(batch_) * out_);
    Qs8FullyConnectedReference(batch_, out_, in_, x.data(), zx_, w.data(),
                               bias_ptr, rows.data(), zy_, q.output_min,
                               q.output_max, ref.data());

    Qs8RowGroupFullyConnected::Options options;
    options.isa = static_cast<int>(v.isa);
    options.use_dot_product = v.dot;
    options.layout = layout_;
    const int degree = Qs8NmDegreeOf4(w.data(), out_, in_);
    const bool fits = degree == 1 || degree == 2;
    std::string error;
    std::unique_ptr<Qs8RowGroupFullyConnected> op =
        Qs8RowGroupFullyConnected::Create(w.data(), out_, in_, bias_ptr, q,
                                          options, &error);
    if (layout_ == Layout::kNm4 && (!fits || v.nm4_kernel == nullptr)) {
      ASSERT_EQ(op, nullptr);
      ASSERT_NE(error.find("kNm4"), std::string::npos) << error;
      return;
    }
    ASSERT_NE(op, nullptr) << error;
    const bool nm4 = layout_ == Layout::kNm4 ||
                     (layout_ == Layout::kAuto && fits &&
                      v.nm4_kernel != nullptr && v.isa != Isa::kScalar);
    ASSERT_EQ(op->uses_nm4_layout(), nm4);
    ASSERT_EQ(std::string(op->kernel_name()), nm4 ? v.nm4_kernel : v.kernel);
    ASSERT_EQ(op->out(), out_);
    ASSERT_EQ(op->in(), in_);
    if (!nm4) {
      ASSERT_EQ(CountQs8RowGroupSlices(w.data(), out_, in_),
                op->matrix().num_slices());
    }
    const Qs8RowGroupFullyConnected::Plan plan =
        Qs8RowGroupFullyConnected::PlanLayout(w.data(), out_, in_, options);
    ASSERT_EQ(plan.nm4, nm4);
    ASSERT_EQ(plan.slices, nm4 ? op->nm4_matrix().num_slices()
                               : op->matrix().num_slices());
    ASSERT_LE(plan.bytes, op->PackedBytes());
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
  Pattern pattern_ = Pattern::kRandom;
  double sparsity_ = 0.5;
  int n_ = 2;
  int m_ = 4;
  bool empty_rows_ = false;
  int32_t zx_ = 3;
  int32_t zy_ = -5;
  bool per_channel_ = false;
  float sx_ = 0.05f;
  float sw_ = 0.01f;
  float sy_ = 0.1f;
  FusedActivation act_ = FusedActivation::kNone;
  bool bias_ = true;
  int threads_ = 1;
  Layout layout_ = Layout::kWindows;
  bool constant_ = false;
  int const_x_ = 0;
  int const_w_ = 0;
};

class Qs8RowGroupKernelTest : public ::testing::TestWithParam<Variant> {
 protected:
  void SetUp() override {
    std::string why;
    if (!VariantRuns(GetParam(), &why)) GTEST_SKIP() << why;
  }
  const Variant& variant() const { return GetParam(); }
};

TEST_P(Qs8RowGroupKernelTest, EdgeShapes) {
  for (int out : {1, 15, 16, 17, 33}) {
    for (int in : {1, 3, 63, 64, 65, 200}) {
      Tester().out(out).in(in).random(0.5).Test(variant());
      Tester().out(out).in(in).random(0.9).batch(3).Test(variant());
    }
  }
  // Wider than 4096 columns, and every group ragged or whole.
  Tester().out(17).in(4100).random(0.9).Test(variant());
  Tester().out(32).in(4100).nm(2, 4).batch(3).Test(variant());
}

TEST_P(Qs8RowGroupKernelTest, PatternsAndDensities) {
  for (double s : {0.5, 0.9, 0.99}) {
    Tester().out(40).in(300).random(s).Test(variant());
    Tester().out(40).in(300).random(s).empty_rows(true).Test(variant());
  }
  for (auto [n, m] : {std::pair<int, int>{2, 4}, {1, 4}, {4, 8}, {1, 2}}) {
    Tester().out(33).in(257).nm(n, m).Test(variant());
    Tester().out(16).in(128).nm(n, m).batch(3).Test(variant());
  }
  for (int out : {1, 17}) {
    for (int in : {3, 64, 130}) {
      Tester().out(out).in(in).all_zero().Test(variant());
      Tester().out(out).in(in).dense().Test(variant());
    }
  }
  Tester().out(33).in(200).all_zero().bias(false).Test(variant());
}

TEST_P(Qs8RowGroupKernelTest, ZeroPointsAtTheEnds) {
  for (int zx : {-128, -1, 0, 127}) {
    for (int zy : {-128, 0, 127}) {
      Tester().out(17).in(70).input_zero_point(zx).output_zero_point(zy)
          .Test(variant());
    }
  }
}

TEST_P(Qs8RowGroupKernelTest, PerTensorAndPerChannelScales) {
  for (bool pc : {false, true}) {
    Tester().out(21).in(95).per_channel(pc).Test(variant());
    Tester().out(21).in(95).per_channel(pc).scales(1e-3f, 1e-4f, 0.1f)
        .Test(variant());
    Tester().out(21).in(95).per_channel(pc).scales(0.8f, 0.4f, 0.1f)
        .Test(variant());
    // Below 2^-32 the multiplier is flushed to 0.
    Tester().out(21).in(95).per_channel(pc).scales(1e-6f, 1e-6f, 1.0f)
        .Test(variant());
  }
}

TEST_P(Qs8RowGroupKernelTest, SaturationAndExtremeProducts) {
  for (int xv : {-128, 127}) {
    for (int wv : {-128, 127}) {
      for (int zx : {-128, 127}) {
        Tester().out(17).in(259).dense().constant(xv, wv)
            .input_zero_point(zx).scales(0.02f, 0.01f, 0.05f).Test(variant());
        Tester().out(17).in(259).random(0.3).constant(xv, wv)
            .input_zero_point(zx).scales(1e-4f, 1e-3f, 1.0f).Test(variant());
      }
    }
  }
  Tester().out(30).in(64).scales(0.5f, 0.5f, 0.01f).Test(variant());
}

TEST_P(Qs8RowGroupKernelTest, FusedActivations) {
  for (FusedActivation a : {FusedActivation::kRelu, FusedActivation::kRelu6,
                            FusedActivation::kReluN1To1}) {
    Tester().out(23).in(81).activation(a).scales(0.05f, 0.01f, 0.02f)
        .Test(variant());
    Tester().out(23).in(81).activation(a).output_zero_point(-128)
        .per_channel(true).Test(variant());
  }
}

TEST_P(Qs8RowGroupKernelTest, BatchesThreadsNoBias) {
  for (int batch : {1, 3}) {
    for (int threads : {1, 2}) {
      Tester().out(200).in(300).batch(batch).threads(threads).random(0.8)
          .Test(variant());
      Tester().out(100).in(512).batch(batch).threads(threads).nm(2, 4)
          .Test(variant());
    }
  }
  Tester().out(11).in(50).bias(false).Test(variant());
}

TEST_P(Qs8RowGroupKernelTest, Nm4LayoutAndAutomaticChoice) {
  for (Layout layout : {Layout::kNm4, Layout::kAuto}) {
    for (auto [n, m] : {std::pair<int, int>{2, 4}, {1, 4}}) {
      for (int out : {1, 15, 16, 17, 33}) {
        for (int in : {1, 3, 63, 64, 65, 200}) {
          Tester().out(out).in(in).nm(n, m).layout(layout).Test(variant());
        }
      }
      Tester().out(17).in(4100).nm(n, m).layout(layout).batch(3)
          .Test(variant());
      Tester().out(40).in(300).nm(n, m).empty_rows(true).layout(layout)
          .Test(variant());
      for (int zx : {-128, 127}) {
        for (int zy : {-128, 127}) {
          Tester().out(19).in(130).nm(n, m).layout(layout)
              .input_zero_point(zx).output_zero_point(zy).per_channel(true)
              .Test(variant());
        }
      }
      for (int xv : {-128, 127}) {
        for (int wv : {-128, 127}) {
          Tester().out(17).in(259).nm(n, m).layout(layout).constant(xv, wv)
              .input_zero_point(xv).scales(0.02f, 0.01f, 0.05f)
              .Test(variant());
        }
      }
      for (FusedActivation a :
           {FusedActivation::kRelu, FusedActivation::kRelu6}) {
        Tester().out(23).in(81).nm(n, m).layout(layout).activation(a)
            .scales(0.05f, 0.01f, 0.02f).Test(variant());
      }
      for (int threads : {1, 2}) {
        Tester().out(100).in(512).nm(n, m).layout(layout).batch(3)
            .threads(threads).Test(variant());
      }
    }
    // Not N:4 (3 of 4, random): kNm4 is refused, kAuto uses windows.
    Tester().out(17).in(64).nm(3, 4).layout(layout).Test(variant());
    Tester().out(17).in(64).random(0.5).layout(layout).Test(variant());
    Tester().out(17).in(64).all_zero().layout(layout).Test(variant());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Variants, Qs8RowGroupKernelTest, ::testing::ValuesIn(kVariants),
    [](const ::testing::TestParamInfo<Variant>& info) {
      return std::string(IsaName(info.param.isa)) +
             (info.param.dot ? "_dot" : "_nodot");
    });

TEST(Qs8RowGroupFormatTest, RoundTripsCountsAndKeepsWindowsInside) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> byte(-128, 127);
  for (auto [rows, cols] : {std::pair<int, int>{1, 1}, {5, 7}, {16, 64},
                            {17, 65}, {33, 200}, {40, 4100}}) {
    for (double keep : {0.0, 0.1, 0.5, 1.0}) {
      std::uniform_real_distribution<double> unit(0.0, 1.0);
      std::vector<int8_t> w(static_cast<size_t>(rows) * cols, 0);
      for (int8_t& e : w) {
        if (unit(rng) < keep) e = static_cast<int8_t>(byte(rng) | 1);
      }
      const Qs8RowGroupMatrix m = PackQs8RowGroups(w.data(), rows, cols);
      std::vector<int8_t> back(w.size(), 1);
      UnpackQs8RowGroups(m, back.data());
      EXPECT_EQ(back, w) << rows << " x " << cols;
      EXPECT_EQ(CountQs8RowGroupSlices(w.data(), rows, cols), m.num_slices());
      int64_t nnz = 0;
      for (int8_t e : w) nnz += e != 0;
      EXPECT_GE(m.num_slices() * 64, nnz);
      for (int64_t win = 0; win < m.num_windows(); ++win) {
        EXPECT_GE(m.base[win], 0);
        EXPECT_LE(m.base[win], std::max(0, cols - 64));
        EXPECT_GT(m.slice_ptr[win + 1], m.slice_ptr[win]);
      }
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
}

TEST(Qs8RowGroupFormatTest, TwoFourFillsEverySlice) {
  // 2:4 with the nonzeros at fixed positions: 8 full slices per 64 columns.
  const int rows = 32;
  const int cols = 256;
  std::vector<int8_t> w(static_cast<size_t>(rows) * cols, 0);
  for (int o = 0; o < rows; ++o) {
    for (int k = 0; k < cols; k += 4) {
      w[static_cast<size_t>(o) * cols + k + (o % 3)] = 1;
      w[static_cast<size_t>(o) * cols + k + 3] = -1;
    }
  }
  const Qs8RowGroupMatrix m = PackQs8RowGroups(w.data(), rows, cols);
  EXPECT_EQ(m.num_slices(), int64_t{rows} * cols / 2 / 64);
  EXPECT_EQ(m.num_windows(), int64_t{rows / 16} * (cols / 64));
  EXPECT_EQ(CountQs8RowGroupSlices(nullptr, rows, cols), -1);
  EXPECT_EQ(CountQs8RowGroupSlices(w.data(), 0, cols), -1);
}

TEST(Qs8RowGroupFormatTest, Nm4RoundTripsAndSums) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> byte(-128, 127);
  for (auto [rows, cols] : {std::pair<int, int>{1, 1}, {5, 7}, {16, 64},
                            {17, 65}, {33, 200}, {20, 4100}}) {
    for (int n : {1, 2}) {
      if (n > cols) continue;
      std::vector<int8_t> w(static_cast<size_t>(rows) * cols, 0);
      for (int o = 0; o < rows; ++o) {
        for (int k0 = 0; k0 < cols; k0 += 4) {
          std::vector<int> c;
          for (int k = k0; k < std::min(cols, k0 + 4); ++k) c.push_back(k);
          std::shuffle(c.begin(), c.end(), rng);
          // Some groups keep fewer than n (fillers).
          const size_t keep = std::min<size_t>(c.size(), rng() % (n + 1));
          for (size_t j = 0; j < keep; ++j) {
            w[static_cast<size_t>(o) * cols + c[j]] =
                static_cast<int8_t>(byte(rng) | 1);
          }
        }
      }
      // Degree exactly n: the first group of row 0 holds n nonzeros.
      std::fill(w.begin(), w.begin() + std::min(cols, 4), int8_t{0});
      w[0] = 1;
      if (n == 2) w[1] = 1;
      ASSERT_EQ(Qs8NmDegreeOf4(w.data(), rows, cols), n);
      const Qs8Nm4RowGroupMatrix m = PackQs8Nm4RowGroups(w.data(), rows, cols);
      EXPECT_EQ(m.n, n);
      EXPECT_EQ(m.num_slices(),
                int64_t{(rows + 15) / 16} * ((cols + 63) / 64) * 4 * n);
      std::vector<int8_t> back(w.size(), 1);
      UnpackQs8Nm4RowGroups(m, back.data());
      EXPECT_EQ(back, w) << rows << " x " << cols << " n " << n;
      for (int o = 0; o < rows; ++o) {
        int32_t sum = 0;
        for (int k = 0; k < cols; ++k) sum += w[static_cast<size_t>(o) * cols + k];
        EXPECT_EQ(m.row_sums[o], sum);
      }
    }
  }
  // Every entry's 2 bits have their own place.
  std::vector<bool> used(128, false);
  for (int e = 0; e < 64; ++e) {
    const int bit = Qs8Nm4PositionBit(e);
    ASSERT_TRUE(bit % 2 == 0 && bit < 128 && !used[bit]);
    used[bit] = true;
  }
  const std::vector<int8_t> dense(4 * 8, 1);
  EXPECT_EQ(Qs8NmDegreeOf4(dense.data(), 4, 8), 4);
  EXPECT_THROW(PackQs8Nm4RowGroups(dense.data(), 4, 8), std::invalid_argument);
}

TEST(Qs8RowGroupFullyConnectedTest, RejectsBadArguments) {
  const std::vector<int8_t> w(4 * 8, 1);
  const float scale[] = {0.01f};
  Qs8FcQuantization q;
  q.filter_scales = scale;
  Qs8RowGroupFullyConnected::Options options;
  std::string error;
  EXPECT_EQ(Qs8RowGroupFullyConnected::Create(nullptr, 4, 8, nullptr, q,
                                              options, &error),
            nullptr);
  EXPECT_NE(error.find("weights"), std::string::npos);
  EXPECT_EQ(Qs8RowGroupFullyConnected::Create(w.data(), 0, 8, nullptr, q,
                                              options, &error),
            nullptr);
  EXPECT_NE(error.find(">= 1"), std::string::npos) << error;
  q.num_filter_scales = 3;
  EXPECT_EQ(Qs8RowGroupFullyConnected::Create(w.data(), 4, 8, nullptr, q,
                                              options, &error),
            nullptr);
  EXPECT_NE(error.find("filter_scales"), std::string::npos);
  q.num_filter_scales = 1;
  q.output_zero_point = 200;
  EXPECT_EQ(Qs8RowGroupFullyConnected::Create(w.data(), 4, 8, nullptr, q,
                                              options, &error),
            nullptr);
  EXPECT_NE(error.find("output_zero_point"), std::string::npos);
  q.output_zero_point = 0;
  const int32_t big_bias[] = {0, std::numeric_limits<int32_t>::max() - 100, 0,
                              0};
  EXPECT_EQ(Qs8RowGroupFullyConnected::Create(w.data(), 4, 8, big_bias, q,
                                              options, &error),
            nullptr);
  EXPECT_NE(error.find("row 1"), std::string::npos) << error;
  options.isa = static_cast<int>(
#if defined(__x86_64__)
      Isa::kNeon
#else
      Isa::kAvx2
#endif
  );
  EXPECT_EQ(Qs8RowGroupFullyConnected::Create(w.data(), 4, 8, nullptr, q,
                                              options, &error),
            nullptr);
  EXPECT_NE(error.find("not supported"), std::string::npos) << error;
}

}  // namespace
}  // namespace tf_sparse
