#include "cc/kernels/qs8_conv3x3_reference.h"

#include <cstddef>
#include <vector>

namespace tf_sparse {

std::string Qs8ConvReferenceNhwc(const ConvShape& s, const int8_t* x,
                                 const int8_t* w, const int32_t* bias,
                                 const Qs8FcQuantization& q, int8_t* y) {
  std::vector<QuantizedMultiplier> m;
  std::string problem = ComputeFcMultipliers(q, s.out_c, &m);
  if (!problem.empty()) return problem;
  for (int n = 0; n < s.batch; ++n) {
    for (int oy = 0; oy < s.out_h; ++oy) {
      for (int ox = 0; ox < s.out_w; ++ox) {
        int8_t* out = y + ((static_cast<size_t>(n) * s.out_h + oy) * s.out_w +
                           ox) * s.out_c;
        for (int o = 0; o < s.out_c; ++o) {
          int64_t acc = bias != nullptr ? bias[o] : 0;
          for (int ky = 0; ky < s.kernel_h; ++ky) {
            const int iy = oy * s.stride_h + ky * s.dilation_h - s.pad_top;
            if (iy < 0 || iy >= s.in_h) continue;
            for (int kx = 0; kx < s.kernel_w; ++kx) {
              const int ix = ox * s.stride_w + kx * s.dilation_w - s.pad_left;
              if (ix < 0 || ix >= s.in_w) continue;
              const int8_t* xp =
                  x + ((static_cast<size_t>(n) * s.in_h + iy) * s.in_w + ix) *
                          s.in_c;
              const int8_t* wp =
                  w + ((static_cast<size_t>(o) * s.kernel_h + ky) *
                           s.kernel_w + kx) * s.in_c;
              for (int i = 0; i < s.in_c; ++i) {
                acc += (static_cast<int32_t>(xp[i]) - q.input_zero_point) *
                       wp[i];
              }
            }
          }
          out[o] = RequantizeToInt8(static_cast<int32_t>(acc), m[o].multiplier,
                                    m[o].shift, q.output_zero_point,
                                    q.output_min, q.output_max);
        }
      }
    }
  }
  return "";
}

}  // namespace tf_sparse
