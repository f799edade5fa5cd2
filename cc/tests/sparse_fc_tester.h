// Checks the CSR, N:M and GS fully connected operators against a plain
// dense product and against their scalar reference kernels:
//   SparseFcTester().out(17).in(32).batch(3).Test<F32CsrFullyConnected>(
//       weights, options, isa);
// The weights are built by the caller (each format has its own pattern).
#ifndef TF_SPARSE_CC_TESTS_SPARSE_FC_TESTER_H_
#define TF_SPARSE_CC_TESTS_SPARSE_FC_TESTER_H_

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cc/kernels/dispatch.h"
#include "cc/kernels/f32_dense_reference.h"
#include "cc/tests/special_values.h"
#include "cc/util/thread_pool.h"
#include "gtest/gtest.h"

namespace tf_sparse {

class SparseFcTester {
 public:
  SparseFcTester& out(int v) {
    out_ = v;
    return *this;
  }
  SparseFcTester& in(int v) {
    in_ = v;
    return *this;
  }
  SparseFcTester& batch(int v) {
    batch_ = v;
    return *this;
  }
  SparseFcTester& bias(bool v) {
    bias_ = v;
    return *this;
  }
  SparseFcTester& clamp(float lo, float hi) {
    min_ = lo;
    max_ = hi;
    return *this;
  }
  SparseFcTester& threads(int v) {
    threads_ = v;
    return *this;
  }
  SparseFcTester& special(Special v) {
    special_ = v;
    return *this;
  }

  int out() const { return out_; }
  int in() const { return in_; }

  template <typename Op>
  void Test(const std::vector<float>& weights,
            const typename Op::Options& options, Isa isa) const {
    ASSERT_EQ(weights.size(), static_cast<size_t>(out_) * in_);
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> value(-1.0f, 1.0f);
    std::vector<float> bias(out_);
    for (float& v : bias) v = value(rng);
    std::vector<float> x(static_cast<size_t>(batch_) * in_);
    for (float& v : x) v = value(rng);
    std::vector<float> w = weights;
    ApplySpecial(special_, &w, &bias, &x);
    const float* bias_ptr = bias_ ? bias.data() : nullptr;
    // `stored`: over the nonzero weights only; `dense`: over all weights.
    std::vector<float> stored(static_cast<size_t>(batch_) * out_);
    std::vector<float> dense(stored.size());
    F32DenseFullyConnectedReference(batch_, out_, in_, w.data(), bias_ptr,
                                    x.data(), stored.data(), min_, max_,
                                    /*stored_only=*/true);
    F32DenseFullyConnectedReference(batch_, out_, in_, w.data(), bias_ptr,
                                    x.data(), dense.data(), min_, max_);
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
    typename Op::Options ref_options = options;
    ref_options.isa = static_cast<int>(Isa::kScalar);
    typename Op::Options isa_options = options;
    isa_options.isa = static_cast<int>(isa);
    const std::vector<float> reference =
        RunOp<Op>(w, bias_ptr, x, ref_options, 1);
    const std::vector<float> actual =
        RunOp<Op>(w, bias_ptr, x, isa_options, threads_);
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
  template <typename Op>
  std::vector<float> RunOp(const std::vector<float>& w, const float* bias,
                           const std::vector<float>& x,
                           const typename Op::Options& options,
                           int threads) const {
    std::string error;
    std::unique_ptr<Op> op =
        Op::Create(w.data(), out_, in_, bias, min_, max_, options, &error);
    EXPECT_NE(op, nullptr) << error;
    if (op == nullptr) return {};
    std::vector<float> y(static_cast<size_t>(batch_) * out_,
                         std::numeric_limits<float>::quiet_NaN());
    ThreadPool pool(threads);
    op->Run(batch_, x.data(), y.data(), &pool);
    op->Run(batch_, x.data(), y.data(), &pool);
    return y;
  }

  std::string Describe(Isa isa) const {
    return std::string(" [") + IsaName(isa) + " out=" + std::to_string(out_) +
           " in=" + std::to_string(in_) + " batch=" + std::to_string(batch_) +
           " bias=" + std::to_string(bias_) +
           " threads=" + std::to_string(threads_) + " clamp=[" +
           std::to_string(min_) + "," + std::to_string(max_) +
           "] special=" + SpecialName(special_) + "]";
  }

  int out_ = 16;
  int in_ = 16;
  int batch_ = 1;
  bool bias_ = true;
  float min_ = -std::numeric_limits<float>::infinity();
  float max_ = std::numeric_limits<float>::infinity();
  int threads_ = 1;
  Special special_ = Special::kNone;
};

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_TESTS_SPARSE_FC_TESTER_H_
