// Plain direct depthwise 2-D convolution (depth multiplier 1) on NHWC
// float32: the specification and test oracle of the sparse depthwise
// kernels.
//
//   y[n][oy][ox][c] = clamp(bias[c] + sum_{ky, kx}
//                           w[ky][kx][c] * x[n][iy][ix][c], min, max)
//   iy = oy * stride_h + ky - pad_top, ix = ox * stride_w + kx - pad_left;
//   taps with (iy, ix) outside the input read 0.
#ifndef TF_SPARSE_CC_KERNELS_F32_DWCONV_REFERENCE_H_
#define TF_SPARSE_CC_KERNELS_F32_DWCONV_REFERENCE_H_

#include "cc/kernels/f32_conv_reference.h"

namespace tf_sparse {

// s.in_c == s.out_c channels; w: [kernel_h][kernel_w][C] (TFLite's
// [1][kh][kw][C]); bias: C values or null. NaN propagates through the
// clamp. stored_only: zero weights are skipped, as a sparse kernel that
// never stores them does (0 * NaN contributes nothing).
void F32DepthwiseConvReference(const ConvShape& s, const float* x,
                               const float* w, const float* bias,
                               float output_min, float output_max, float* y,
                               bool stored_only = false);

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_DWCONV_REFERENCE_H_
