#include "cc/kernels/f32_dense_reference.h"

namespace tf_sparse {

void F32DenseFullyConnectedReference(size_t batch, size_t out, size_t in,
                                     const float* w, const float* bias,
                                     const float* x, float* y,
                                     float output_min, float output_max,
                                     bool stored_only) {
  for (size_t b = 0; b < batch; ++b) {
    for (size_t o = 0; o < out; ++o) {
      double s = bias != nullptr ? bias[o] : 0.0;
      for (size_t k = 0; k < in; ++k) {
        if (stored_only && w[o * in + k] == 0.0f) continue;
        s += static_cast<double>(w[o * in + k]) * x[b * in + k];
      }
      float v = static_cast<float>(s);
      v = v < output_min ? output_min : v;
      v = v > output_max ? output_max : v;
      y[b * out + o] = v;
    }
  }
}

}  // namespace tf_sparse
