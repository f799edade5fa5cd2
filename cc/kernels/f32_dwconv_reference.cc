#include "cc/kernels/f32_dwconv_reference.h"

#include <algorithm>
#include <cstddef>

namespace tf_sparse {

void F32DepthwiseConvReference(const ConvShape& s, const float* x,
                               const float* w, const float* bias,
                               float output_min, float output_max, float* y,
                               bool stored_only) {
  const int C = s.in_c;
  for (int n = 0; n < s.batch; ++n) {
    for (int oy = 0; oy < s.out_h; ++oy) {
      for (int ox = 0; ox < s.out_w; ++ox) {
        float* out = y + ((static_cast<size_t>(n) * s.out_h + oy) * s.out_w +
                          ox) * C;
        for (int c = 0; c < C; ++c) {
          double acc = bias != nullptr ? bias[c] : 0.0;
          for (int ky = 0; ky < s.kernel_h; ++ky) {
            const int iy = oy * s.stride_h + ky - s.pad_top;
            for (int kx = 0; kx < s.kernel_w; ++kx) {
              const int ix = ox * s.stride_w + kx - s.pad_left;
              const float wv =
                  w[(static_cast<size_t>(ky) * s.kernel_w + kx) * C + c];
              if (stored_only && wv == 0.0f) continue;
              if (iy < 0 || iy >= s.in_h || ix < 0 || ix >= s.in_w) {
                // Padding reads 0; a NaN or Inf weight times it is NaN.
                if (!stored_only) acc += wv * 0.0;
                continue;
              }
              acc += static_cast<double>(wv) *
                     x[((static_cast<size_t>(n) * s.in_h + iy) * s.in_w + ix) *
                           C +
                       c];
            }
          }
          out[c] = std::min(std::max(static_cast<float>(acc), output_min),
                            output_max);
        }
      }
    }
  }
}

}  // namespace tf_sparse
