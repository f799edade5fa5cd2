// Builder for checking a sparse 3x3 convolution operator (F32PatdnnConv2D
// by default, or F32Conv3x3Vtaps) against the dense direct reference:
//   ConvTester().in(9, 7, 5).out_c(6).stride(2).valid().Test(Isa::kAvx512);
//   ConvTester().filter_block(16).Test<F32Conv3x3Vtaps>(Isa::kAvx512);
// Weights: every kernel keeps `taps` random taps (one of `library` tap
// sets), or is zero with probability `kernel_zero`; with filter_block(g)
// the kernels of g consecutive filters at one input channel share the tap
// set and the zero draw (values stay random).
#ifndef TF_SPARSE_CC_TESTS_CONV_TESTER_H_
#define TF_SPARSE_CC_TESTS_CONV_TESTER_H_

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cc/kernels/f32_conv3x3_vtaps.h"
#include "cc/kernels/f32_conv_patdnn.h"
#include "cc/kernels/f32_conv_reference.h"
#include "cc/tests/special_values.h"
#include "cc/util/thread_pool.h"
#include "gtest/gtest.h"

namespace tf_sparse {

class ConvTester {
 public:
  ConvTester& in(int h, int w, int c) { h_ = h; w_ = w; c_ = c; return *this; }
  ConvTester& out_c(int v) { oc_ = v; return *this; }
  ConvTester& batch(int v) { batch_ = v; return *this; }
  ConvTester& stride(int v) { sh_ = sw_ = v; return *this; }
  ConvTester& stride(int h, int w) { sh_ = h; sw_ = w; return *this; }
  ConvTester& valid() { padding_ = ConvPadding::kValid; return *this; }
  ConvTester& same() { padding_ = ConvPadding::kSame; return *this; }
  ConvTester& taps(int v) { taps_ = v; return *this; }
  ConvTester& kernel_zero(double v) { kernel_zero_ = v; return *this; }
  ConvTester& library(int v) { library_ = v; return *this; }
  ConvTester& bias(bool v) { bias_ = v; return *this; }
  ConvTester& clamp(float lo, float hi) { lo_ = lo; hi_ = hi; return *this; }
  ConvTester& threads(int v) { threads_ = v; return *this; }
  ConvTester& seed(uint32_t v) { seed_ = v; return *this; }
  ConvTester& filter_block(int v) { filter_block_ = v; return *this; }
  // Kernel size (other than 3x3 only for F32Conv3x3Vtaps): taps are the
  // kh * kw positions, `taps` at most that many.
  ConvTester& kernel(int v) { kh_ = kw_ = v; return *this; }
  ConvTester& kernel(int h, int w) { kh_ = h; kw_ = w; return *this; }
  // Dilation (F32Conv3x3Vtaps only).
  ConvTester& dilation(int h, int w) { dh_ = h; dw_ = w; return *this; }
  ConvTester& special(Special v) { special_ = v; return *this; }

  std::vector<float> Weights() const {
    std::mt19937 rng(seed_);
    std::uniform_real_distribution<float> value(-1.0f, 1.0f);
    std::uniform_real_distribution<double> coin(0.0, 1.0);
    // A small library of random tap sets.
    std::vector<std::vector<int>> lib;
    const int kk = kh_ * kw_;
    for (int p = 0; p < library_; ++p) {
      std::vector<int> t(kk);
      for (int i = 0; i < kk; ++i) t[i] = i;
      std::shuffle(t.begin(), t.end(), rng);
      t.resize(std::min(taps_, kk));
      lib.push_back(t);
    }
    std::vector<float> w(static_cast<size_t>(oc_) * kk * c_, 0.0f);
    // One draw per unit (block of filters, input channel).
    const int blocks = (oc_ + filter_block_ - 1) / filter_block_;
    std::vector<int> unit_lib(static_cast<size_t>(blocks) * c_);
    for (int& u : unit_lib) {
      u = coin(rng) < kernel_zero_ ? -1 : static_cast<int>(rng() % lib.size());
    }
    for (int o = 0; o < oc_; ++o) {
      for (int i = 0; i < c_; ++i) {
        const int u = unit_lib[static_cast<size_t>(o / filter_block_) * c_ + i];
        if (u < 0) continue;
        const auto& t = lib[u];
        for (int tap : t) {
          float v = value(rng);
          if (v == 0.0f) v = 0.5f;
          w[(static_cast<size_t>(o) * kk + tap) * c_ + i] = v;
        }
      }
    }
    return w;
  }

  template <class Op = F32PatdnnConv2D>
  void Test(Isa isa) const {
    std::mt19937 rng(seed_ + 1);
    std::uniform_real_distribution<float> value(-1.0f, 1.0f);
    std::vector<float> w = Weights();
    std::vector<float> bias(oc_);
    for (float& b : bias) b = value(rng);
    std::vector<float> x(static_cast<size_t>(batch_) * h_ * w_ * c_);
    for (float& v : x) v = value(rng);
    ApplySpecial(special_, &w, &bias, &x);
    typename Op::Params params;
    SetKernel(&params);
    params.stride_h = sh_;
    params.stride_w = sw_;
    params.padding = padding_;
    params.output_min = lo_;
    params.output_max = hi_;
    std::string error;
    auto op = Op::Create(w.data(), oc_, c_, bias_ ? bias.data() : nullptr,
                         params, isa, &error);
    ASSERT_NE(op, nullptr) << error;
    int oh = 0, ow = 0;
    ASSERT_TRUE(op->Reshape(batch_, h_, w_, &oh, &ow, &error)) << error;
    ConvShape s = op->shape();
    // `expect`: over the nonzero weights only; `dense`: over all weights.
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
                                   1e-5f * (4 * 9 * c_)))
            << "entry " << k << " (" << op->kernel_name() << ", "
            << SpecialName(special_) << ", clamp [" << lo_ << ", " << hi_
            << "], " << h_ << "x"
            << w_ << "x" << c_ << " -> " << oh << "x" << ow << "x" << oc_
            << ", stride " << sh_ << "x" << sw_ << ")";
      }
    }
  }

 private:
  void SetKernel(F32Conv3x3Vtaps::Params* p) const {
    p->kernel_h = kh_;
    p->kernel_w = kw_;
    p->dilation_h = dh_;
    p->dilation_w = dw_;
  }
  void SetKernel(F32PatdnnConv2D::Params*) const {}

  int kh_ = 3, kw_ = 3;
  int dh_ = 1, dw_ = 1;
  int h_ = 8, w_ = 8, c_ = 4, oc_ = 4, batch_ = 1;
  int sh_ = 1, sw_ = 1;
  ConvPadding padding_ = ConvPadding::kSame;
  int taps_ = 4;
  double kernel_zero_ = 0.5;
  int library_ = 8;
  bool bias_ = true;
  float lo_ = -std::numeric_limits<float>::infinity();
  float hi_ = std::numeric_limits<float>::infinity();
  int threads_ = 1;
  uint32_t seed_ = 7;
  int filter_block_ = 1;
  Special special_ = Special::kNone;
};

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_TESTS_CONV_TESTER_H_
