#include "cc/kernels/f32_conv_reference.h"

#include <algorithm>
#include <cstddef>

namespace tf_sparse {

bool ConvOutputSize(ConvPadding padding, int in, int kernel, int stride,
                    int* out, int* pad_before) {
  if (in < 1 || kernel < 1 || stride < 1) return false;
  if (padding == ConvPadding::kSame) {
    *out = (in + stride - 1) / stride;
    const int total = std::max((*out - 1) * stride + kernel - in, 0);
    *pad_before = total / 2;
  } else {
    if (in < kernel) return false;
    *out = (in - kernel) / stride + 1;
    *pad_before = 0;
  }
  return *out >= 1;
}

void F32ConvReference(const ConvShape& s, const float* x, const float* w,
                      const float* bias, float output_min, float output_max,
                      float* y, bool stored_only) {
  for (int n = 0; n < s.batch; ++n) {
    for (int oy = 0; oy < s.out_h; ++oy) {
      for (int ox = 0; ox < s.out_w; ++ox) {
        float* out = y + ((static_cast<size_t>(n) * s.out_h + oy) * s.out_w +
                          ox) * s.out_c;
        for (int o = 0; o < s.out_c; ++o) {
          double acc = bias != nullptr ? bias[o] : 0.0;
          for (int ky = 0; ky < s.kernel_h; ++ky) {
            const int iy = oy * s.stride_h + ky * s.dilation_h - s.pad_top;
            for (int kx = 0; kx < s.kernel_w; ++kx) {
              const int ix = ox * s.stride_w + kx * s.dilation_w - s.pad_left;
              const float* wk =
                  w + ((static_cast<size_t>(o) * s.kernel_h + ky) * s.kernel_w +
                       kx) * s.in_c;
              if (iy < 0 || iy >= s.in_h || ix < 0 || ix >= s.in_w) {
                // Padding reads 0; a NaN or Inf weight times it is NaN.
                if (stored_only) continue;
                for (int i = 0; i < s.in_c; ++i) acc += wk[i] * 0.0;
                continue;
              }
              const float* xi =
                  x + ((static_cast<size_t>(n) * s.in_h + iy) * s.in_w + ix) *
                          s.in_c;
              for (int i = 0; i < s.in_c; ++i) {
                if (stored_only && wk[i] == 0.0f) continue;
                acc += static_cast<double>(wk[i]) * xi[i];
              }
            }
          }
          out[o] = std::min(std::max(static_cast<float>(acc), output_min),
                            output_max);
        }
      }
    }
  }
}

}  // namespace tf_sparse
