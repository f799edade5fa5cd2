#include "cc/kernels/qs8_conv_reference.h"

#include <cstddef>
#include <string>
#include <vector>

namespace tf_sparse {

void Qs8ConvReference(const ConvShape& s, const int8_t* x,
                      int32_t input_zero_point, const int8_t* w,
                      const int32_t* bias, const QuantizedMultiplier* rows,
                      int32_t output_zero_point, int32_t output_min,
                      int32_t output_max, int8_t* y) {
  for (int n = 0; n < s.batch; ++n) {
    for (int oy = 0; oy < s.out_h; ++oy) {
      for (int ox = 0; ox < s.out_w; ++ox) {
        for (int o = 0; o < s.out_c; ++o) {
          int32_t acc = bias != nullptr ? bias[o] : 0;
          for (int ky = 0; ky < s.kernel_h; ++ky) {
            const int iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
            if (iy < 0 || iy >= s.in_h) continue;
            for (int kx = 0; kx < s.kernel_w; ++kx) {
              const int ix = ox * s.stride_w - s.pad_left + kx * s.dilation_w;
              if (ix < 0 || ix >= s.in_w) continue;
              const int8_t* xp =
                  x + ((static_cast<size_t>(n) * s.in_h + iy) * s.in_w + ix) *
                          s.in_c;
              const int8_t* wp =
                  w + ((static_cast<size_t>(o) * s.kernel_h + ky) * s.kernel_w +
                       kx) *
                          s.in_c;
              for (int k = 0; k < s.in_c; ++k) {
                acc += (int32_t{xp[k]} - input_zero_point) * wp[k];
              }
            }
          }
          y[((static_cast<size_t>(n) * s.out_h + oy) * s.out_w + ox) *
                s.out_c +
            o] = RequantizeToInt8(acc, rows[o].multiplier, rows[o].shift,
                                  output_zero_point, output_min, output_max);
        }
      }
    }
  }
}

std::string Qs8ConvReference(const ConvShape& s, const int8_t* x,
                             const int8_t* w, const int32_t* bias,
                             const Qs8FcQuantization& q, int8_t* y) {
  std::vector<QuantizedMultiplier> rows;
  const std::string problem = ComputeFcMultipliers(q, s.out_c, &rows);
  if (!problem.empty()) return problem;
  Qs8ConvReference(s, x, q.input_zero_point, w, bias, rows.data(),
                   q.output_zero_point, q.output_min, q.output_max, y);
  return "";
}

}  // namespace tf_sparse
