// Dense int8 1x1 convolution (a GEMM over pixels) with vpdpbusd, standing
// in for XNNPACK's QS8 GEMM in the benchmark of the int8 pixel-vector
// convolution: same arithmetic up to the requantization, which is
// XNNPACK's "fp32" one (the int32 accumulator times a float scale, rounded
// to nearest even, plus the zero point), cheaper than TFLite's two-rounding
// scheme that the sparse operators reproduce. So the baseline is, if
// anything, faster than a bit-exact dense kernel.
//
// Layout: weights packed [out / 16][in / 4][16][4] (one 64-byte vector per
// 16 outputs and 4 input channels); x NHWC as x + 128 (uint8: vpdpbusd
// multiplies unsigned by signed bytes), the bias folded for it
// (bias - (input_zero_point + 128) * row_sums). in % 4 == 0, out % 64 == 0.
#ifndef TF_SPARSE_CC_BENCH_QS8_DENSE_CONV1X1_H_
#define TF_SPARSE_CC_BENCH_QS8_DENSE_CONV1X1_H_

#include <cstddef>
#include <cstdint>

namespace tf_sparse {

// w [out][in] -> packed (out * in bytes).
void qs8_dense_conv1x1_pack(const int8_t* w, int out, int in, int8_t* packed);

// y [pixels][out] = clamp(round(acc * scale[o]) + zero_point), acc =
// bias[o] + sum_k x[p][k] * w[o][k].
void qs8_dense_conv1x1__avx512vnni(size_t pixels, int out, int in,
                                   const uint8_t* x, const int8_t* packed,
                                   const int32_t* bias, const float* scale,
                                   int32_t zero_point, int32_t output_min,
                                   int32_t output_max, int8_t* y);

// Runs `iterations` x 24 independent 512-bit vpdpbusd; returns a value
// derived from the results (so that they are not optimised away).
int32_t qs8_peak_vpdpbusd__avx512vnni(long long iterations);

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_BENCH_QS8_DENSE_CONV1X1_H_
