#include "cc/kernels/qs8_dense_reference.h"

namespace tf_sparse {

void Qs8FullyConnectedReference(size_t batch, int out, int in,
                                const int8_t* x, int32_t input_zero_point,
                                const int8_t* w, const int32_t* bias,
                                const QuantizedMultiplier* rows,
                                int32_t output_zero_point, int32_t output_min,
                                int32_t output_max, int8_t* y) {
  for (size_t b = 0; b < batch; ++b) {
    const int8_t* xb = x + b * static_cast<size_t>(in);
    for (int o = 0; o < out; ++o) {
      const int8_t* wo = w + static_cast<size_t>(o) * in;
      int32_t acc = bias != nullptr ? bias[o] : 0;
      for (int k = 0; k < in; ++k) {
        acc += (static_cast<int32_t>(xb[k]) - input_zero_point) * wo[k];
      }
      y[b * static_cast<size_t>(out) + o] =
          RequantizeToInt8(acc, rows[o].multiplier, rows[o].shift,
                           output_zero_point, output_min, output_max);
    }
  }
}

}  // namespace tf_sparse
