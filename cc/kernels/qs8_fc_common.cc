#include "cc/kernels/qs8_fc_common.h"

#include <cstdlib>
#include <cstring>
#include <limits>

namespace tf_sparse {

std::string FoldQs8FcRows(int out, const int32_t* bias,
                          const int32_t* row_sums,
                          const int32_t* row_abs_sums,
                          int64_t input_zero_point, int32_t input_offset,
                          const QuantizedMultiplier* rows,
                          int32_t* folded_bias, int32_t* multiplier,
                          int32_t* shift) {
  const std::string problem =
      FoldQs8Bias(bias, out, row_sums, row_abs_sums,
                  static_cast<int32_t>(input_zero_point), input_offset,
                  folded_bias);
  if (!problem.empty()) return problem;
  for (int o = 0; o < out; ++o) {
    multiplier[o] = rows[o].multiplier;
    shift[o] = rows[o].shift;
  }
  return "";
}

void PrepareQs8Input(size_t batch, size_t in, const int8_t* x,
                     int32_t input_offset, size_t dst_stride, int8_t* dst) {
  for (size_t b = 0; b < batch; ++b) {
    int8_t* d = dst + b * dst_stride;
    const int8_t* s = x + b * in;
    if (input_offset == 0) {
      std::memcpy(d, s, in);
    } else {
      // x + 128 as uint8 is the int8 byte with its top bit flipped.
      for (size_t k = 0; k < in; ++k) {
        d[k] = static_cast<int8_t>(static_cast<uint8_t>(s[k]) ^ 0x80u);
      }
    }
  }
}

}  // namespace tf_sparse
