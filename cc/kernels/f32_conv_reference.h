// Plain direct 2-D convolution on NHWC float32: the specification and test
// oracle of the sparse convolution kernels.
//
//   y[n][oy][ox][o] = clamp(bias[o] + sum_{ky, kx, i}
//                           w[o][ky][kx][i] * x[n][iy][ix][i], min, max)
//   iy = oy * stride_h + ky * dilation_h - pad_top,
//   ix = ox * stride_w + kx * dilation_w - pad_left;
//   taps with (iy, ix) outside the input read 0.
#ifndef TF_SPARSE_CC_KERNELS_F32_CONV_REFERENCE_H_
#define TF_SPARSE_CC_KERNELS_F32_CONV_REFERENCE_H_

namespace tf_sparse {

enum class ConvPadding { kSame, kValid };

// Output size and leading padding of one spatial dimension, as TFLite
// computes them (SAME: ceil(in / stride) outputs, the smaller half of the
// total padding before). Returns false when no output fits.
bool ConvOutputSize(ConvPadding padding, int in, int kernel, int stride,
                    int* out, int* pad_before);

struct ConvShape {
  int batch = 1;
  int in_h = 1, in_w = 1, in_c = 1;
  int out_h = 1, out_w = 1, out_c = 1;
  int kernel_h = 3, kernel_w = 3;
  int stride_h = 1, stride_w = 1;
  int dilation_h = 1, dilation_w = 1;
  int pad_top = 0, pad_left = 0;
};

// w: OHWI [out_c][kernel_h][kernel_w][in_c]; bias: out_c values or null.
// NaN propagates through the clamp. stored_only: zero weights are skipped,
// as a sparse kernel that never stores them does (0 * NaN contributes
// nothing, and neither do the taps over the padding). Otherwise padding
// reads 0 and is multiplied like XNNPACK's zero buffer (NaN weight * 0 =
// NaN).
void F32ConvReference(const ConvShape& s, const float* x, const float* w,
                      const float* bias, float output_min, float output_max,
                      float* y, bool stored_only = false);

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_CONV_REFERENCE_H_
