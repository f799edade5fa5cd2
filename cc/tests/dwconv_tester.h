// Builder for checking the tap-sparse 3x3 depthwise convolution against the
// dense direct reference:
//   DwConvTester().in(9, 7, 19).stride(2).valid().Test(Isa::kAvx512);
// Weights: every channel's 3x3 kernel keeps `taps` taps of one of
// `library` random tap sets, or is all zero with probability
// `channel_zero`; taps(9) gives dense kernels.
#ifndef TF_SPARSE_CC_TESTS_DWCONV_TESTER_H_
#define TF_SPARSE_CC_TESTS_DWCONV_TESTER_H_

#include <algorithm>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cc/kernels/f32_dwconv3x3_sparse.h"
#include "cc/kernels/f32_dwconv_reference.h"
#include "cc/tests/special_values.h"
#include "cc/util/thread_pool.h"
#include "gtest/gtest.h"

namespace tf_sparse {

class DwConvTester {
 public:
  DwConvTester& in(int h, int w, int c) {
    h_ = h;
    w_ = w;
    c_ = c;
    return *this;
  }
  DwConvTester& batch(int v) { batch_ = v; return *this; }
  DwConvTester& stride(int v) { sh_ = sw_ = v; return *this; }
  DwConvTester& stride(int h, int w) { sh_ = h; sw_ = w; return *this; }
  DwConvTester& valid() { padding_ = ConvPadding::kValid; return *this; }
  DwConvTester& same() { padding_ = ConvPadding::kSame; return *this; }
  DwConvTester& taps(int v) { taps_ = v; return *this; }
  DwConvTester& channel_zero(double v) { channel_zero_ = v; return *this; }
  DwConvTester& library(int v) { library_ = v; return *this; }
  DwConvTester& bias(bool v) { bias_ = v; return *this; }
  DwConvTester& clamp(float lo, float hi) { lo_ = lo; hi_ = hi; return *this; }
  DwConvTester& threads(int v) { threads_ = v; return *this; }
  DwConvTester& seed(uint32_t v) { seed_ = v; return *this; }
  DwConvTester& special(Special v) { special_ = v; return *this; }

  // [3][3][C], channel fastest.
  std::vector<float> Weights() const {
    std::mt19937 rng(seed_);
    std::uniform_real_distribution<float> value(-1.0f, 1.0f);
    std::uniform_real_distribution<double> coin(0.0, 1.0);
    std::vector<std::vector<int>> lib;
    for (int p = 0; p < library_; ++p) {
      std::vector<int> t = {0, 1, 2, 3, 4, 5, 6, 7, 8};
      std::shuffle(t.begin(), t.end(), rng);
      t.resize(taps_);
      lib.push_back(t);
    }
    std::vector<float> w(9 * static_cast<size_t>(c_), 0.0f);
    for (int c = 0; c < c_; ++c) {
      if (coin(rng) < channel_zero_) continue;
      for (int tap : lib[rng() % lib.size()]) {
        float v = value(rng);
        if (v == 0.0f) v = 0.5f;
        w[static_cast<size_t>(tap) * c_ + c] = v;
      }
    }
    return w;
  }

  void Test(Isa isa) const {
    std::mt19937 rng(seed_ + 1);
    std::uniform_real_distribution<float> value(-1.0f, 1.0f);
    std::vector<float> w = Weights();
    std::vector<float> bias(c_);
    for (float& b : bias) b = value(rng);
    std::vector<float> x(static_cast<size_t>(batch_) * h_ * w_ * c_);
    for (float& v : x) v = value(rng);
    ApplySpecial(special_, &w, &bias, &x);
    F32SparseDepthwiseConv3x3::Params params;
    params.stride_h = sh_;
    params.stride_w = sw_;
    params.padding = padding_;
    params.output_min = lo_;
    params.output_max = hi_;
    std::string error;
    auto op = F32SparseDepthwiseConv3x3::Create(
        w.data(), c_, bias_ ? bias.data() : nullptr, params, isa, &error);
    ASSERT_NE(op, nullptr) << error;
    int oh = 0, ow = 0;
    ASSERT_TRUE(op->Reshape(batch_, h_, w_, &oh, &ow, &error)) << error;
    const ConvShape s = op->shape();
    ASSERT_EQ(s.out_h, oh);
    ASSERT_EQ(s.out_w, ow);
    // `expect`: over the nonzero weights only; `dense`: over all weights.
    std::vector<float> expect(static_cast<size_t>(batch_) * oh * ow * c_);
    std::vector<float> dense(expect.size());
    F32DepthwiseConvReference(s, x.data(), w.data(),
                              bias_ ? bias.data() : nullptr, lo_, hi_,
                              expect.data(), /*stored_only=*/true);
    F32DepthwiseConvReference(s, x.data(), w.data(),
                              bias_ ? bias.data() : nullptr, lo_, hi_,
                              dense.data());
    std::unique_ptr<ThreadPool> pool;
    if (threads_ > 1) pool.reset(new ThreadPool(threads_));
    // Output guarded by NaN canaries on both sides: nothing outside
    // [batch, oh, ow, C] may be written.
    constexpr size_t kGuard = 64;
    for (int rep = 0; rep < 2; ++rep) {
      std::vector<float> got(expect.size() + 2 * kGuard,
                             std::numeric_limits<float>::quiet_NaN());
      op->Run(x.data(), got.data() + kGuard, pool.get());
      for (size_t k = 0; k < kGuard; ++k) {
        ASSERT_TRUE(std::isnan(got[k])) << "written before the output";
        ASSERT_TRUE(std::isnan(got[kGuard + expect.size() + k]))
            << "written past the output";
      }
      for (size_t k = 0; k < expect.size(); ++k) {
        ASSERT_TRUE(
            MatchesSpecial(got[kGuard + k], expect[k], dense[k], 1e-5f * 10))
            << "entry " << k << " (pixel " << k / c_ << ", channel "
            << k % c_ << "; " << op->kernel_name() << ", "
            << SpecialName(special_) << ", clamp [" << lo_ << ", " << hi_
            << "], batch " << batch_
            << ", " << h_ << "x" << w_ << "x" << c_ << " -> " << oh << "x"
            << ow << ", stride " << sh_ << "x" << sw_ << ", "
            << (padding_ == ConvPadding::kSame ? "SAME" : "VALID") << ")";
      }
    }
  }

 private:
  int h_ = 8, w_ = 8, c_ = 16, batch_ = 1;
  int sh_ = 1, sw_ = 1;
  ConvPadding padding_ = ConvPadding::kSame;
  int taps_ = 4;
  double channel_zero_ = 0.25;
  int library_ = 8;
  bool bias_ = true;
  float lo_ = -std::numeric_limits<float>::infinity();
  float hi_ = std::numeric_limits<float>::infinity();
  int threads_ = 1;
  uint32_t seed_ = 11;
  Special special_ = Special::kNone;
};

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_TESTS_DWCONV_TESTER_H_
