// Plain int8 2-D convolution on NHWC, bit-exact with TFLite's int8 CONV_2D:
// the test oracle of the int8 3x3 convolutions.
//
//   acc = bias[o] + sum over taps with (iy, ix) inside the input and
//         channels i of (x[n][iy][ix][i] - input_zero_point)
//         * w[o][ky][kx][i]
//   y[n][oy][ox][o] = RequantizeToInt8(acc, M[o]) (requantize.h)
// iy, ix as in f32_conv_reference.h (taps over the padding contribute
// nothing: TFLite pads with the input zero point).
#ifndef TF_SPARSE_CC_KERNELS_QS8_CONV3X3_REFERENCE_H_
#define TF_SPARSE_CC_KERNELS_QS8_CONV3X3_REFERENCE_H_

#include <cstdint>
#include <string>

#include "cc/kernels/f32_conv_reference.h"
#include "cc/kernels/requantize.h"

namespace tf_sparse {

// w: OHWI int8 [out_c][kernel_h][kernel_w][in_c], zero point 0; bias: out_c
// int32 or null. Returns an empty string, or what is wrong with q.
std::string Qs8ConvReferenceNhwc(const ConvShape& s, const int8_t* x,
                                 const int8_t* w, const int32_t* bias,
                                 const Qs8FcQuantization& q, int8_t* y);

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_QS8_CONV3X3_REFERENCE_H_
