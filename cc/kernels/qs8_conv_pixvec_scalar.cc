// Scalar int8 pixel-vector 1x1 kernel: the reference the vector kernels are
// tested against (same X layout, int8 values, input_offset 0).
#include <cstring>

#include "cc/kernels/qs8_conv_pixvec_ukernel.h"
#include "cc/kernels/requantize.h"

namespace tf_sparse {
namespace {

void Pack(const int8_t* x, const int32_t* pixel_offset, int pixels, int in,
          size_t tile, int8_t* X) {
  const int groups = (in + 3) / 4;
  for (int p = 0; p < pixels; ++p) {
    const int8_t* src = x + pixel_offset[p];
    for (int g = 0; g < groups; ++g) {
      int8_t* dst = X + (static_cast<size_t>(g) * tile + p) * 4;
      for (int j = 0; j < 4; ++j) {
        dst[j] = 4 * g + j < in ? src[4 * g + j] : int8_t{0};
      }
    }
  }
}

void Tile(const Qs8PixvecTileArgs& a) {
  for (int o = 0; o < a.channels; ++o) {
    for (int p = 0; p < a.pixels; ++p) {
      int32_t acc = a.bias[o];
      for (int32_t k = a.group_ptr[o]; k < a.group_ptr[o + 1]; ++k) {
        const int8_t* xv = a.x + a.offset[k] + static_cast<size_t>(p) * 4;
        int8_t w[4];
        std::memcpy(w, &a.weights[k], 4);
        for (int j = 0; j < 4; ++j) acc += int32_t{xv[j]} * w[j];
      }
      a.y[static_cast<size_t>(p) * a.y_stride + o] =
          RequantizeToInt8(acc, a.multiplier[o], a.shift[o],
                           a.output_zero_point, a.output_min, a.output_max);
    }
  }
}

const Qs8PixvecUkernel kKernel = {
    "qs8_conv1x1_pixvec_minmax__scalar", Isa::kScalar, 16, 1, 1, 0, &Tile,
    &Pack};

}  // namespace

const Qs8PixvecUkernel& Qs8PixvecUkernelScalar() { return kKernel; }

}  // namespace tf_sparse
