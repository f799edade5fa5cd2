// F32SparseLstm against the plain reference (f32_lstm_reference.h) on edge
// shapes: one step and many, batch 1 and 3, batch-major and time-major,
// sizes off the vector widths, all-zero weight rows and gate matrices, cell
// clipping, several threads, and the state carried across calls; the gate
// operators in BSR (several block shapes) and CSR.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cc/kernels/f32_bsr_fully_connected.h"
#include "cc/kernels/f32_csr_fully_connected.h"
#include "cc/kernels/f32_lstm_reference.h"
#include "cc/kernels/f32_sparse_lstm.h"
#include "cc/kernels/sparse_operator.h"
#include "cc/util/thread_pool.h"
#include "gtest/gtest.h"

namespace tf_sparse {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// How the stacked gate matrices are packed: BSR r x c, or CSR when r == 0.
struct Packing {
  int r, c;
  std::string Name() const {
    return r == 0 ? "csr" : "bsr" + std::to_string(r) + "x" + std::to_string(c);
  }
};

std::unique_ptr<SparseOperator> Pack(const Packing& p,
                                     const std::vector<float>& w, int out,
                                     int in, const float* bias) {
  std::string error;
  std::unique_ptr<SparseOperator> op;
  if (p.r == 0) {
    op = MakeFcOperator(
        F32CsrFullyConnected::Create(w.data(), out, in, bias, -kInf, kInf, {},
                                     &error));
  } else {
    F32BsrFullyConnected::Options o;
    o.block_height = p.r;
    o.block_width = p.c;
    op = MakeFcOperator(F32BsrFullyConnected::Create(w.data(), out, in, bias,
                                                     -kInf, kInf, o, &error));
  }
  EXPECT_NE(op, nullptr) << error;
  return op;
}

// A [rows][cols] gate matrix: blocks of r x c (1 x 1 when r == 0) kept with
// probability `density`, values small enough that the gates do not all
// saturate; every `zero_row_every`-th row all zero.
std::vector<float> GateMatrix(int rows, int cols, double density, int r, int c,
                              int zero_row_every, std::mt19937& rng) {
  if (r == 0) r = c = 1;
  std::uniform_real_distribution<float> value(-0.6f, 0.6f);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  std::vector<float> w(static_cast<size_t>(rows) * cols, 0.0f);
  for (int i0 = 0; i0 < rows; i0 += r) {
    for (int j0 = 0; j0 < cols; j0 += c) {
      if (coin(rng) >= density) continue;
      for (int i = i0; i < std::min(rows, i0 + r); ++i) {
        for (int j = j0; j < std::min(cols, j0 + c); ++j) {
          w[static_cast<size_t>(i) * cols + j] = value(rng);
        }
      }
    }
  }
  if (zero_row_every > 0) {
    for (int i = 0; i < rows; i += zero_row_every) {
      std::fill(w.begin() + static_cast<size_t>(i) * cols,
                w.begin() + static_cast<size_t>(i + 1) * cols, 0.0f);
    }
  }
  return w;
}

struct Case {
  int batch, steps, n_input, n_cell;
  bool time_major;
  float cell_clip = 0.0f;
  bool zero_recurrent = false;  // The whole recurrent forget gate zero.
  int threads = 1;
};

void RunCase(const Case& k, const Packing& p, uint32_t seed) {
  SCOPED_TRACE(p.Name() + " batch " + std::to_string(k.batch) + " steps " +
               std::to_string(k.steps) + " in " + std::to_string(k.n_input) +
               " cell " + std::to_string(k.n_cell) +
               (k.time_major ? " time-major" : ""));
  std::mt19937 rng(seed);
  const int n = k.n_cell;
  std::vector<float> wx[4], wh[4], bias[4];
  F32LstmDenseWeights dense;
  for (int g = 0; g < 4; ++g) {
    wx[g] = GateMatrix(n, k.n_input, 0.3, p.r, p.c, 5, rng);
    wh[g] = GateMatrix(n, n, 0.3, p.r, p.c, 7, rng);
    if (k.zero_recurrent && g == 1) std::fill(wh[g].begin(), wh[g].end(), 0.f);
    bias[g].resize(n);
    std::uniform_real_distribution<float> bias_value(-1.0f, 1.0f);
    for (float& b : bias[g]) b = bias_value(rng);
    dense.input[g] = wx[g].data();
    dense.recurrent[g] = wh[g].data();
    dense.bias[g] = g == 2 ? nullptr : bias[g].data();  // One gate without.
  }
  const std::vector<float> stacked_x =
      StackLstmGates(dense.input, n, k.n_input);
  const std::vector<float> stacked_h = StackLstmGates(dense.recurrent, n, n);
  const std::vector<float> stacked_b = StackLstmBiases(dense.bias, n);
  std::string error;
  std::unique_ptr<F32SparseLstm> lstm = F32SparseLstm::Create(
      Pack(p, stacked_x, 4 * n, k.n_input, stacked_b.data()),
      Pack(p, stacked_h, 4 * n, n, nullptr), k.n_input, n, k.cell_clip,
      &error);
  ASSERT_NE(lstm, nullptr) << error;
  ASSERT_EQ(lstm->Reshape(k.batch, k.steps, k.time_major), "");

  const size_t rows = static_cast<size_t>(k.batch) * k.steps;
  std::vector<float> h(static_cast<size_t>(k.batch) * n);
  std::vector<float> c(h.size());
  for (float& v : h) v = std::uniform_real_distribution<float>(-0.5, 0.5)(rng);
  for (float& v : c) v = std::uniform_real_distribution<float>(-2, 2)(rng);
  std::vector<float> h_ref = h, c_ref = c;
  std::unique_ptr<ThreadPool> pool;
  if (k.threads > 1) pool.reset(new ThreadPool(k.threads));
  // Three calls: the state carries over from one to the next.
  for (int call = 0; call < 3; ++call) {
    std::vector<float> x(rows * k.n_input);
    for (float& v : x) v = std::uniform_real_distribution<float>(-2, 2)(rng);
    std::vector<float> y(rows * n, -99.0f), y_ref(rows * n, 99.0f);
    lstm->Run(x.data(), y.data(), h.data(), c.data(), pool.get());
    F32LstmReference(k.batch, k.steps, k.time_major, k.n_input, n, dense,
                     k.cell_clip, x.data(), y_ref.data(), h_ref.data(),
                     c_ref.data());
    for (size_t i = 0; i < y.size(); ++i) {
      ASSERT_NEAR(y[i], y_ref[i], 2e-5) << "call " << call << " output " << i;
    }
    for (size_t i = 0; i < h.size(); ++i) {
      ASSERT_NEAR(h[i], h_ref[i], 2e-5) << "call " << call << " h " << i;
      ASSERT_NEAR(c[i], c_ref[i], 5e-5) << "call " << call << " c " << i;
      if (k.cell_clip > 0.0f) {
        ASSERT_LE(std::fabs(c[i]), k.cell_clip);
      }
    }
  }
}

class F32SparseLstmTest : public ::testing::TestWithParam<Packing> {};

TEST_P(F32SparseLstmTest, OneStep) {
  RunCase({1, 1, 5, 3, false}, GetParam(), 1);
  RunCase({3, 1, 7, 17, false}, GetParam(), 2);
  RunCase({3, 1, 7, 17, true}, GetParam(), 3);
}

TEST_P(F32SparseLstmTest, ManySteps) {
  RunCase({1, 37, 16, 17, false}, GetParam(), 4);
  RunCase({3, 20, 40, 29, false}, GetParam(), 5);
  RunCase({3, 20, 40, 29, true}, GetParam(), 6);
  RunCase({2, 9, 1, 65, true}, GetParam(), 7);
}

TEST_P(F32SparseLstmTest, ZeroGateAndClip) {
  Case k{3, 12, 19, 33, false, 0.75f, true};
  RunCase(k, GetParam(), 8);
  k.time_major = true;
  RunCase(k, GetParam(), 9);
}

TEST_P(F32SparseLstmTest, Threads) {
  Case k{3, 15, 64, 48, false};
  k.threads = 3;
  RunCase(k, GetParam(), 10);
}

TEST_P(F32SparseLstmTest, EmptySequence) {
  std::mt19937 rng(11);
  const Packing p = GetParam();
  const int n = 8, in = 4;
  const std::vector<float> wx = GateMatrix(4 * n, in, 0.5, p.r, p.c, 0, rng);
  const std::vector<float> wh = GateMatrix(4 * n, n, 0.5, p.r, p.c, 0, rng);
  std::string error;
  auto lstm = F32SparseLstm::Create(Pack(p, wx, 4 * n, in, nullptr),
                                    Pack(p, wh, 4 * n, n, nullptr), in, n,
                                    0.0f, &error);
  ASSERT_NE(lstm, nullptr) << error;
  ASSERT_EQ(lstm->Reshape(2, 0, false), "");
  std::vector<float> h(2 * n, 0.25f), c(2 * n, -0.5f);
  lstm->Run(nullptr, nullptr, h.data(), c.data(), nullptr);
  for (float v : h) EXPECT_EQ(v, 0.25f);
  for (float v : c) EXPECT_EQ(v, -0.5f);
}

INSTANTIATE_TEST_SUITE_P(Formats, F32SparseLstmTest,
                         ::testing::Values(Packing{1, 4}, Packing{16, 1},
                                           Packing{4, 4}, Packing{1, 1},
                                           Packing{0, 0}),
                         [](const ::testing::TestParamInfo<Packing>& info) {
                           return info.param.Name();
                         });

// The polynomial sigmoid and tanh over their whole useful range (and far
// beyond, where they saturate) against double precision.
TEST(LstmCellUpdateTest, NonlinearitiesMatchDouble) {
  const int n = 4001;
  std::vector<float> pre(4 * n), rec(4 * n, 0.0f);
  std::vector<float> c(n), h(n), y(n);
  for (int j = 0; j < n; ++j) {
    const float v = -100.0f + 0.05f * j;  // -100 .. 100.
    pre[j] = v;                 // i
    pre[n + j] = -v;            // f
    pre[2 * n + j] = v * 0.1f;  // g
    pre[3 * n + j] = v * 0.5f;  // o
    c[j] = 0.3f;
  }
  LstmCellUpdate(pre.data(), rec.data(), n, 0.0f, c.data(), h.data(), y.data());
  for (int j = 0; j < n; ++j) {
    const double v = -100.0 + 0.05 * j;
    auto sig = [](double x) { return 1.0 / (1.0 + std::exp(-x)); };
    const double cell = sig(-v) * 0.3 + sig(v) * std::tanh(v * 0.1);
    const double out = sig(v * 0.5) * std::tanh(cell);
    ASSERT_NEAR(c[j], cell, 1e-6) << v;
    ASSERT_NEAR(h[j], out, 1e-6) << v;
    ASSERT_EQ(h[j], y[j]);
  }
}

TEST(F32SparseLstmCreateTest, RejectsBadArguments) {
  std::string error;
  EXPECT_EQ(F32SparseLstm::Create(nullptr, nullptr, 4, 4, 0.0f, &error),
            nullptr);
  EXPECT_NE(error.find("operators"), std::string::npos) << error;
}

}  // namespace
}  // namespace tf_sparse
