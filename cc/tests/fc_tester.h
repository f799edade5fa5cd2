// Builder for checking a BSR fully connected configuration against both the
// scalar reference kernel and a plain dense matrix-vector product:
//   FcTester().out(17).in(13).block(1, 4).sparsity(0.9).batch(3).Test(isa);
#ifndef TF_SPARSE_CC_TESTS_FC_TESTER_H_
#define TF_SPARSE_CC_TESTS_FC_TESTER_H_

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cc/formats/bsr.h"
#include "cc/kernels/dispatch.h"
#include "cc/kernels/f32_bsr_fully_connected.h"
#include "cc/kernels/f32_dense_reference.h"
#include "cc/tests/special_values.h"
#include "cc/util/thread_pool.h"
#include "gtest/gtest.h"

namespace tf_sparse {

class FcTester {
 public:
  FcTester& out(int v) { out_ = v; return *this; }
  FcTester& in(int v) { in_ = v; return *this; }
  FcTester& block(int r, int c) { r_ = r; c_ = c; return *this; }
  FcTester& sparsity(double v) { sparsity_ = v; return *this; }
  FcTester& batch(int v) { batch_ = v; return *this; }
  FcTester& bias(bool v) { bias_ = v; return *this; }
  FcTester& clamp(float lo, float hi) { min_ = lo; max_ = hi; return *this; }
  FcTester& threads(int v) { threads_ = v; return *this; }
  FcTester& index_width(BsrIndexWidth v) { width_ = v; return *this; }
  FcTester& seed(uint32_t v) { seed_ = v; return *this; }
  FcTester& special(Special v) { special_ = v; return *this; }

  void Test(Isa isa) const {
    std::mt19937 rng(seed_);
    std::uniform_real_distribution<float> value(-1.0f, 1.0f);
    std::uniform_real_distribution<double> coin(0.0, 1.0);
    std::vector<float> w(static_cast<size_t>(out_) * in_);
    for (float& v : w) v = value(rng);
    for (int bi = 0; bi * r_ < out_; ++bi) {
      for (int bj = 0; bj * c_ < in_; ++bj) {
        if (coin(rng) >= sparsity_) continue;
        for (int i = bi * r_; i < out_ && i < (bi + 1) * r_; ++i) {
          for (int j = bj * c_; j < in_ && j < (bj + 1) * c_; ++j) {
            w[static_cast<size_t>(i) * in_ + j] = 0.0f;
          }
        }
      }
    }
    std::vector<float> bias(out_);
    for (float& v : bias) v = value(rng);
    std::vector<float> x(static_cast<size_t>(batch_) * in_);
    for (float& v : x) v = value(rng);
    ApplySpecial(special_, &w, &bias, &x);
    const float* bias_ptr = bias_ ? bias.data() : nullptr;

    // `stored`: over the nonzero weights only; `dense`: over all weights
    // (they differ only where a NaN or Inf meets a zero weight).
    std::vector<float> stored(static_cast<size_t>(batch_) * out_);
    std::vector<float> dense(stored.size());
    F32DenseFullyConnectedReference(batch_, out_, in_, w.data(), bias_ptr,
                                    x.data(), stored.data(), min_, max_,
                                    /*stored_only=*/true);
    F32DenseFullyConnectedReference(batch_, out_, in_, w.data(), bias_ptr,
                                    x.data(), dense.data(), min_, max_);
    // Magnitude of the terms of each dot product, for the tolerance.
    std::vector<double> scale(stored.size());
    for (int b = 0; b < batch_; ++b) {
      for (int o = 0; o < out_; ++o) {
        double s = 0.0;
        if (bias_) AddScale(&s, bias[o]);
        for (int k = 0; k < in_; ++k) {
          AddScale(&s, static_cast<double>(w[static_cast<size_t>(o) * in_ + k]) *
                           x[static_cast<size_t>(b) * in_ + k]);
        }
        scale[static_cast<size_t>(b) * out_ + o] = s;
      }
    }

    std::vector<float> reference = RunOp(Isa::kScalar, w, bias_ptr, x, 1);
    std::vector<float> actual = RunOp(isa, w, bias_ptr, x, threads_);
    ASSERT_EQ(actual.size(), stored.size());
    ASSERT_EQ(reference.size(), stored.size());
    for (size_t i = 0; i < stored.size(); ++i) {
      const double tol = 1e-5 * scale[i] + 1e-6;
      ASSERT_TRUE(MatchesSpecial(reference[i], stored[i], dense[i], tol))
          << "scalar reference vs dense at " << i << Describe(isa);
      ASSERT_TRUE(MatchesSpecial(actual[i], stored[i], dense[i], tol))
          << "kernel vs dense at " << i << Describe(isa);
    }
  }

 private:
  std::vector<float> RunOp(Isa isa, const std::vector<float>& w,
                           const float* bias, const std::vector<float>& x,
                           int threads) const {
    F32BsrFullyConnected::Options options;
    options.block_height = r_;
    options.block_width = c_;
    options.index_width = width_;
    options.isa = static_cast<int>(isa);
    std::string error;
    std::unique_ptr<F32BsrFullyConnected> op = F32BsrFullyConnected::Create(
        w.data(), out_, in_, bias, min_, max_, options, &error);
    EXPECT_NE(op, nullptr) << error;
    if (op == nullptr) return {};
    // Poison the output: every entry must be written.
    std::vector<float> y(static_cast<size_t>(batch_) * out_,
                         std::numeric_limits<float>::quiet_NaN());
    ThreadPool pool(threads);
    op->Run(batch_, x.data(), y.data(), &pool);
    // Again, to catch state carried between runs.
    op->Run(batch_, x.data(), y.data(), &pool);
    return y;
  }

  std::string Describe(Isa isa) const {
    return std::string(" [") + IsaName(isa) + " out=" + std::to_string(out_) +
           " in=" + std::to_string(in_) + " block=" + std::to_string(r_) +
           "x" + std::to_string(c_) + " sparsity=" +
           std::to_string(sparsity_) + " batch=" + std::to_string(batch_) +
           " bias=" + std::to_string(bias_) + " clamp=[" +
           std::to_string(min_) + "," + std::to_string(max_) +
           "] threads=" + std::to_string(threads_) +
           " special=" + SpecialName(special_) + "]";
  }

  int out_ = 16;
  int in_ = 16;
  int r_ = 1;
  int c_ = 4;
  double sparsity_ = 0.5;
  int batch_ = 1;
  bool bias_ = true;
  float min_ = -std::numeric_limits<float>::infinity();
  float max_ = std::numeric_limits<float>::infinity();
  int threads_ = 1;
  BsrIndexWidth width_ = BsrIndexWidth::kAuto;
  uint32_t seed_ = 42;
  Special special_ = Special::kNone;
};

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_TESTS_FC_TESTER_H_
