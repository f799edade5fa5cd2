// The int8 FULLY_CONNECTED of TFLite's reference integer kernel, written
// plainly: the specification and test oracle of the int8 sparse operators.
//
//   acc = bias[o] + sum_k (x[b][k] - input_zero_point) * w[o][k]
//   y[b][o] = RequantizeToInt8(acc, rows[o], output_zero_point,
//                              output_min, output_max)
// with int8 weights of zero point 0 and one multiplier per output row
// (ComputeFcMultipliers). The sum is exact in int32 for every layer whose
// accumulator fits (the operators check that at creation).
#ifndef TF_SPARSE_CC_KERNELS_QS8_DENSE_REFERENCE_H_
#define TF_SPARSE_CC_KERNELS_QS8_DENSE_REFERENCE_H_

#include <cstddef>
#include <cstdint>

#include "cc/kernels/requantize.h"

namespace tf_sparse {

// x: [batch][in]; w: [out][in] row-major; bias: `out` entries or null;
// rows: `out` multipliers; y: [batch][out].
void Qs8FullyConnectedReference(size_t batch, int out, int in,
                                const int8_t* x, int32_t input_zero_point,
                                const int8_t* w, const int32_t* bias,
                                const QuantizedMultiplier* rows,
                                int32_t output_zero_point, int32_t output_min,
                                int32_t output_max, int8_t* y);

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_QS8_DENSE_REFERENCE_H_
