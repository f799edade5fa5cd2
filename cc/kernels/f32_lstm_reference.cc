#include "cc/kernels/f32_lstm_reference.h"

#include <cmath>
#include <cstddef>
#include <vector>

namespace tf_sparse {

void F32LstmReference(int batch, int steps, bool time_major, int n_input,
                      int n_cell, const F32LstmDenseWeights& w,
                      float cell_clip, const float* x, float* y, float* h,
                      float* c) {
  const size_t n = static_cast<size_t>(n_cell);
  std::vector<double> z(4 * n);
  std::vector<float> h_prev(n);
  for (int t = 0; t < steps; ++t) {
    for (int b = 0; b < batch; ++b) {
      const size_t row = time_major ? static_cast<size_t>(t) * batch + b
                                    : static_cast<size_t>(b) * steps + t;
      const float* xt = x + row * n_input;
      float* hb = h + b * n;
      float* cb = c + b * n;
      for (size_t k = 0; k < n; ++k) h_prev[k] = hb[k];
      for (int g = 0; g < 4; ++g) {
        for (size_t j = 0; j < n; ++j) {
          double s = w.bias[g] != nullptr ? w.bias[g][j] : 0.0;
          const float* wx = w.input[g] + j * n_input;
          for (int k = 0; k < n_input; ++k) {
            s += static_cast<double>(wx[k]) * xt[k];
          }
          const float* wh = w.recurrent[g] + j * n;
          for (size_t k = 0; k < n; ++k) {
            s += static_cast<double>(wh[k]) * h_prev[k];
          }
          z[g * n + j] = s;
        }
      }
      for (size_t j = 0; j < n; ++j) {
        const double i = 1.0 / (1.0 + std::exp(-z[j]));
        const double f = 1.0 / (1.0 + std::exp(-z[n + j]));
        const double g = std::tanh(z[2 * n + j]);
        const double o = 1.0 / (1.0 + std::exp(-z[3 * n + j]));
        double cell = f * cb[j] + i * g;
        if (cell_clip > 0.0f) {
          cell = std::fmin(std::fmax(cell, -cell_clip), cell_clip);
        }
        cb[j] = static_cast<float>(cell);
        hb[j] = static_cast<float>(o * std::tanh(cell));
        y[row * n + j] = hb[j];
      }
    }
  }
}

}  // namespace tf_sparse
