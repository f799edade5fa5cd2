// A dense int8 3x3 convolution with vpdpbusd (AVX-512 VNNI), as fast as a
// direct NHWC kernel gets without assembly: the stand-in for XNNPACK's QS8
// convolution in qs8_conv3x3_pattern_bench. Bit-exact with
// Qs8ConvReference (same requantization; the input is copied once per
// call into a zero-point-padded, +128-offset buffer, as our operator does).
//
// Direct convolution, no im2col: NHWC keeps 4 consecutive input channels
// of a pixel in one 32-bit word, which is broadcast and multiplied by 64
// filters x 4 channels (4 vectors); a tile is 6 output pixels x 64 filters
// (24 accumulators), each (tap, channel quad) costs 4 weight loads, 6
// broadcasts and 24 vpdpbusd.
#ifndef TF_SPARSE_CC_BENCH_QS8_CONV3X3_DENSE_H_
#define TF_SPARSE_CC_BENCH_QS8_CONV3X3_DENSE_H_

#include <cstdint>
#include <vector>

#include "cc/kernels/requantize.h"

namespace tf_sparse {

class Qs8DenseConv3x3Vnni {
 public:
  // OHWI weights; out_c a multiple of 64, in_c of 4; stride 1, SAME.
  Qs8DenseConv3x3Vnni(const int8_t* w, int out_c, int in_c,
                      const int32_t* bias, const Qs8FcQuantization& q);
  void Run(const int8_t* x, int in_h, int in_w, int8_t* y);

 private:
  int out_c_, in_c_;
  int32_t zp_byte_;
  int32_t out_zp_, out_min_, out_max_;
  std::vector<int8_t, std::allocator<int8_t>> packed_;  // [ob][9][c/4][256]
  std::vector<int32_t> bias_, multiplier_, shift_;
  std::vector<int8_t> padded_;
};

// Runs iterations x 24 independent vpdpbusd (nothing else); returns
// iterations.
int32_t Qs8PeakVnni(long long iterations);

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_BENCH_QS8_CONV3X3_DENSE_H_
