// The int8 CONV_2D of TFLite's reference integer kernel, written plainly:
// the specification and test oracle of the int8 sparse convolutions.
//
//   acc = bias[o] + sum_{ky, kx, k} (x[n][iy][ix][k] - input_zero_point)
//                                   * w[o][ky][kx][k]
//   (iy = oy * stride_h - pad_top + ky * dilation_h, likewise ix; taps
//   outside the input contribute nothing, as TFLite's zero-point padding)
//   y[n][oy][ox][o] = RequantizeToInt8(acc, rows[o], output_zero_point,
//                                      output_min, output_max)
// with int8 weights of zero point 0 and one multiplier per output channel
// (ComputeFcMultipliers). Exact in int32 for every layer whose accumulator
// fits (the operators check that at creation).
#ifndef TF_SPARSE_CC_KERNELS_QS8_CONV_REFERENCE_H_
#define TF_SPARSE_CC_KERNELS_QS8_CONV_REFERENCE_H_

#include <cstdint>
#include <string>

#include "cc/kernels/f32_conv_reference.h"
#include "cc/kernels/requantize.h"

namespace tf_sparse {

// s: every field set, out_h / out_w / pads as ConvOutputSize gives them;
// x: NHWC [batch][in_h][in_w][in_c]; w: OHWI [out_c][kernel_h][kernel_w]
// [in_c]; bias: out_c values or null; rows: out_c multipliers; y: NHWC
// [batch][out_h][out_w][out_c].
void Qs8ConvReference(const ConvShape& s, const int8_t* x,
                      int32_t input_zero_point, const int8_t* w,
                      const int32_t* bias, const QuantizedMultiplier* rows,
                      int32_t output_zero_point, int32_t output_min,
                      int32_t output_max, int8_t* y);

// The same with the multipliers, zero points and clamp of `q` (filter
// scales per tensor or per output channel). Returns an empty string, or
// what is wrong with q (ComputeFcMultipliers).
std::string Qs8ConvReference(const ConvShape& s, const int8_t* x,
                             const int8_t* w, const int32_t* bias,
                             const Qs8FcQuantization& q, int8_t* y);

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_QS8_CONV_REFERENCE_H_
