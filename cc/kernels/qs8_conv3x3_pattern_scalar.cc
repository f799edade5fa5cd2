// Scalar pattern conv kernel: the specification the vector kernels are
// tested against (bit-exact).
#include "cc/kernels/qs8_conv3x3_pattern_ukernel.h"
#include "cc/kernels/requantize.h"

namespace tf_sparse {
namespace {

void GatherSlots(const Qs8PatConvArgs& a) {
  for (size_t s = 0; s < a.num_slots; ++s) {
    const int8_t* xc =
        a.x + static_cast<size_t>(a.slot_channel[s]) * a.channel_stride;
    int8_t* dst = a.xbuf + s * 64;
    for (int k = 0; k < 4; ++k) {
      const int8_t* row = xc + a.tap_offset[a.slot_taps[4 * s + k]];
      for (int j = 0; j < kQs8PatTilePixels; ++j) dst[4 * j + k] = row[j];
    }
  }
}

void Kernel(const Qs8PatConvArgs& a) {
  GatherSlots(a);
  int32_t acc[kQs8PatTilePixels][kQs8PatBlockFilters];
  for (size_t b = 0; b < a.num_blocks; ++b) {
    const size_t o0 = b * kQs8PatBlockFilters;
    for (size_t j = 0; j < a.num_pixels; ++j) {
      for (int f = 0; f < kQs8PatBlockFilters; ++f) acc[j][f] = a.bias[o0 + f];
    }
    for (int32_t e = a.entry_ptr[b]; e < a.entry_ptr[b + 1]; ++e) {
      const int8_t* xs = a.xbuf + static_cast<size_t>(a.entry_slot[e]) * 64;
      const int8_t* w = a.weights + static_cast<size_t>(e) * 64;
      for (size_t j = 0; j < a.num_pixels; ++j) {
        for (int f = 0; f < kQs8PatBlockFilters; ++f) {
          int32_t s = 0;
          for (int k = 0; k < 4; ++k) s += xs[4 * j + k] * w[4 * f + k];
          acc[j][f] += s;
        }
      }
    }
    const size_t n = a.out_c - o0 < 16 ? a.out_c - o0 : 16;
    for (size_t j = 0; j < a.num_pixels; ++j) {
      int8_t* y = a.y + j * a.y_stride + o0;
      for (size_t f = 0; f < n; ++f) {
        y[f] = RequantizeToInt8(acc[j][f], a.multiplier[o0 + f],
                                a.shift[o0 + f], a.output_zero_point,
                                a.output_min, a.output_max);
      }
    }
  }
}

const Qs8PatConvUkernel kKernel = {
    &Kernel, "qs8_conv3x3_pattern_minmax_16x16__scalar", Isa::kScalar, 0, false,
    16};

}  // namespace

const Qs8PatConvUkernel& Qs8PatConvUkernelScalar() { return kKernel; }

}  // namespace tf_sparse
