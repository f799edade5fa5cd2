#include "cc/kernels/f32_sparse_lstm.h"

#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>

namespace tf_sparse {
namespace {

// e^x for x in [-87, 88] (clamped outside, where sigmoid and tanh have
// saturated long before): x = n ln2 + r with |r| <= ln2 / 2, e^r by its
// degree-6 Taylor polynomial (truncation below 7e-8 relative), 2^n by
// writing the exponent bits. Branch-free, so loops over it vectorise.
inline float ExpPoly(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  // Round x / ln2 to the nearest integer: adding 1.5 * 2^23 pushes the
  // fraction out of the mantissa (SSE2 has no vector round).
  constexpr float kRound = 12582912.0f;
  const float n = (x * 1.44269504088896341f + kRound) - kRound;
  // ln2 in two parts, the first exact in float, so r keeps its precision.
  float r = x - n * 0.693145751953125f;
  r = r - n * 1.42860682030941723e-6f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

inline float SigmoidPoly(float x) { return 1.0f / (1.0f + ExpPoly(-x)); }

// tanh(x) = 2 sigmoid(2x) - 1: absolute error ~1e-7 near 0, where the
// subtraction cancels (TFLite's own float kernels are no closer).
inline float TanhPoly(float x) {
  return 2.0f / (1.0f + ExpPoly(-2.0f * x)) - 1.0f;
}

}  // namespace

std::vector<float> StackLstmGates(const float* const gates[4], int rows,
                                  int cols) {
  const size_t size = static_cast<size_t>(rows) * cols;
  std::vector<float> out(4 * size);
  for (int g = 0; g < 4; ++g) {
    std::memcpy(out.data() + g * size, gates[g], size * sizeof(float));
  }
  return out;
}

std::vector<float> StackLstmBiases(const float* const biases[4], int n) {
  std::vector<float> out(4 * static_cast<size_t>(n), 0.0f);
  for (int g = 0; g < 4; ++g) {
    if (biases[g] == nullptr) continue;
    std::memcpy(out.data() + static_cast<size_t>(g) * n, biases[g],
                static_cast<size_t>(n) * sizeof(float));
  }
  return out;
}

void LstmCellUpdate(const float* pre, const float* rec, int n, float cell_clip,
                    float* c, float* h, float* y) {
  const float* pi = pre;
  const float* pf = pre + n;
  const float* pg = pre + 2 * n;
  const float* po = pre + 3 * n;
  const float* ri = rec;
  const float* rf = rec + n;
  const float* rg = rec + 2 * n;
  const float* ro = rec + 3 * n;
  for (int j = 0; j < n; ++j) {
    const float i = SigmoidPoly(pi[j] + ri[j]);
    const float f = SigmoidPoly(pf[j] + rf[j]);
    const float g = TanhPoly(pg[j] + rg[j]);
    c[j] = f * c[j] + i * g;
  }
  if (cell_clip > 0.0f) {
    for (int j = 0; j < n; ++j) {
      float v = c[j];
      v = v < -cell_clip ? -cell_clip : v;
      c[j] = v > cell_clip ? cell_clip : v;
    }
  }
  for (int j = 0; j < n; ++j) {
    const float o = SigmoidPoly(po[j] + ro[j]);
    const float v = o * TanhPoly(c[j]);
    h[j] = v;
    y[j] = v;
  }
}

std::unique_ptr<F32SparseLstm> F32SparseLstm::Create(
    std::unique_ptr<SparseOperator> input_op,
    std::unique_ptr<SparseOperator> recurrent_op, int n_input, int n_cell,
    float cell_clip, std::string* error) {
  if (input_op == nullptr || recurrent_op == nullptr) {
    *error = "F32SparseLstm: both gate operators are required";
    return nullptr;
  }
  if (n_input < 1 || n_cell < 1) {
    *error = "F32SparseLstm: n_input and n_cell must be >= 1 (got " +
             std::to_string(n_input) + ", " + std::to_string(n_cell) + ")";
    return nullptr;
  }
  if (!(cell_clip >= 0.0f)) {
    *error = "F32SparseLstm: cell_clip must be >= 0 (0: no clipping)";
    return nullptr;
  }
  std::unique_ptr<F32SparseLstm> lstm(new F32SparseLstm());
  lstm->input_op_ = std::move(input_op);
  lstm->recurrent_op_ = std::move(recurrent_op);
  lstm->n_input_ = n_input;
  lstm->n_cell_ = n_cell;
  lstm->cell_clip_ = cell_clip;
  return lstm;
}

std::string F32SparseLstm::Reshape(int batch, int steps, bool time_major) {
  if (batch < 0 || steps < 0) {
    return "batch and steps must be >= 0 (got " + std::to_string(batch) +
           ", " + std::to_string(steps) + ")";
  }
  const size_t rows = static_cast<size_t>(batch) * steps;
  const size_t gates = 4 * static_cast<size_t>(n_cell_);
  if (rows > std::numeric_limits<size_t>::max() / sizeof(float) / gates) {
    return "sequence of " + std::to_string(batch) + " x " +
           std::to_string(steps) + " is too large";
  }
  std::string error = input_op_->Reshape(rows);
  if (!error.empty()) return "input gates: " + error;
  error = recurrent_op_->Reshape(static_cast<size_t>(batch));
  if (!error.empty()) return "recurrent gates: " + error;
  if (pre_.size() < rows * gates) pre_.Resize(rows * gates);
  if (rec_.size() < batch * gates) rec_.Resize(batch * gates);
  batch_ = batch;
  steps_ = steps;
  time_major_ = time_major;
  return "";
}

void F32SparseLstm::Run(const float* x, float* y, float* h, float* c,
                        ThreadPool* pool) {
  if (batch_ == 0 || steps_ == 0) return;
  const size_t n = static_cast<size_t>(n_cell_);
  // Every step's input sums at once: rows in the input's own order.
  input_op_->Run(x, pre_.data(), pool);
  for (int t = 0; t < steps_; ++t) {
    // rec = Wh h for the whole batch, before h is overwritten.
    recurrent_op_->Run(h, rec_.data(), pool);
    for (int b = 0; b < batch_; ++b) {
      const size_t row = time_major_ ? static_cast<size_t>(t) * batch_ + b
                                     : static_cast<size_t>(b) * steps_ + t;
      LstmCellUpdate(pre_.data() + row * 4 * n, rec_.data() + b * 4 * n,
                     n_cell_, cell_clip_, c + b * n, h + b * n, y + row * n);
    }
  }
}

}  // namespace tf_sparse
