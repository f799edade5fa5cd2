// Int8 requantization as TFLite's integer kernels do it, so that results
// match TFLite bit for bit.
//
// A quantized tensor holds q with real value scale * (q - zero_point). An
// int8 fully connected layer accumulates in int32
//   acc[o] = bias[o] + sum_k (x[k] - input_zero_point) * w[o][k]
// (weights symmetric: their zero point is 0), whose real value is
// acc * input_scale * filter_scale[o]; the output is
//   y[o] = clamp(output_zero_point + acc * M[o], output_min, output_max)
// with the real multiplier M[o] = input_scale * filter_scale[o] /
// output_scale (filter_scale per tensor or per output channel), evaluated in
// double from the float scales, as TFLite does.
//
// M is stored as a Q0.31 significand in [2^30, 2^31) and a power of two
// (QuantizeMultiplier), and applied in two roundings, as the stock
// interpreter's built-in int8 kernels do (TFLite's optimized kernels, whose
// fixed-point multiply goes through ruy, on one row and on many):
//  1. the high 32 bits of 2 * x * significand, rounded to nearest with ties
//     towards +infinity (saturating at the one overflowing case,
//     INT32_MIN * INT32_MIN);
//  2. a division by 2^-shift, rounded to nearest with ties towards
//     +infinity.
// A positive shift is a left shift of x before step 1 (multipliers >= 1).
// Measured against ai_edge_litert's and tf.lite's built-in FULLY_CONNECTED:
// equal on every output (tests/test_delegate_int8.py). Two other schemes
// differ from it by one unit, and only on some outputs:
//  - TFLite's reference kernels (gemmlowp's RoundingDivideByPOT) round the
//    ties of step 2 away from zero: they differ at negative exact ties;
//  - XNNPACK's QS8 kernels (the stock interpreter's default delegate) round
//    once: "rndnu" (half up after a 64-bit product and a single shift) or
//    "fp32" (the accumulator times a float scale, to nearest even).
#ifndef TF_SPARSE_CC_KERNELS_REQUANTIZE_H_
#define TF_SPARSE_CC_KERNELS_REQUANTIZE_H_

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace tf_sparse {

struct QuantizedMultiplier {
  int32_t multiplier = 0;  // Q0.31 significand in [2^30, 2^31), or 0.
  int32_t shift = 0;       // Exponent: > 0 shifts left, < 0 right.
};

// Decomposes m >= 0 (finite) into significand and exponent. m below about
// 2^-32 becomes {0, 0} (every output is the zero point), as in TFLite.
QuantizedMultiplier QuantizeMultiplier(double m);

// round(2 * a * b / 2^32), ties towards +infinity (the nudge is +2^30 or
// 1 - 2^30 before a division truncating towards zero), saturating the single
// overflowing case a == b == INT32_MIN.
inline int32_t SaturatingRoundingDoublingHighMul(int32_t a, int32_t b) {
  if (a == std::numeric_limits<int32_t>::min() && a == b) {
    return std::numeric_limits<int32_t>::max();
  }
  const int64_t ab = static_cast<int64_t>(a) * static_cast<int64_t>(b);
  const int64_t nudge = ab >= 0 ? (int64_t{1} << 30) : 1 - (int64_t{1} << 30);
  return static_cast<int32_t>((ab + nudge) / (int64_t{1} << 31));
}

// x / 2^exponent rounded to nearest, ties towards +infinity (floor of
// x / 2^exponent + 1/2, without the overflow of adding first);
// 0 <= exponent <= 31.
inline int32_t RoundingDivideByPot(int32_t x, int exponent) {
  const int32_t mask = static_cast<int32_t>((int64_t{1} << exponent) - 1);
  const int32_t remainder = x & mask;
  return (x >> exponent) + (remainder > (mask >> 1) ? 1 : 0);
}

// acc * multiplier * 2^shift with TFLite's two roundings.
inline int32_t MultiplyByQuantizedMultiplier(int32_t acc, int32_t multiplier,
                                             int32_t shift) {
  const int left = shift > 0 ? shift : 0;
  const int right = shift > 0 ? 0 : -shift;
  // The left shift wraps like TFLite's int32 multiply does in practice, but
  // without undefined behaviour.
  const int32_t shifted = static_cast<int32_t>(static_cast<uint32_t>(acc)
                                               << left);
  return RoundingDivideByPot(
      SaturatingRoundingDoublingHighMul(shifted, multiplier), right);
}

// The int8 output for an int32 accumulator.
inline int8_t RequantizeToInt8(int32_t acc, int32_t multiplier, int32_t shift,
                               int32_t output_zero_point, int32_t output_min,
                               int32_t output_max) {
  int32_t v = MultiplyByQuantizedMultiplier(acc, multiplier, shift);
  // Saturating add: a huge accumulator must clamp, not wrap.
  const int64_t w = static_cast<int64_t>(v) + output_zero_point;
  v = w < output_min ? output_min : (w > output_max ? output_max
                                                    : static_cast<int32_t>(w));
  return static_cast<int8_t>(v);
}

// A float shortcut to RequantizeToInt8 for vector kernels, exact where it is
// taken. With m = multiplier * 2^(shift - 31) (the multiplier TFLite's
// fixed point represents), step 1 rounds acc * m * 2^right to an integer
// and step 2 divides by 2^right (right = -shift > 0), so the result differs
// from acc * m by at most 2^-(right + 1) before step 2 rounds it: whenever
// acc * m lies farther than that from every half-integer, both roundings
// give round(acc * m). In float, z = fma(float(acc), scale, zero point),
// scale = float(m), is within 2^-12 of acc * m + zero point wherever the
// result is not clamped (|z| < 2^10: three roundings of relative error
// 2^-24 each), and clamping to [min, max] before rounding commutes with
// rounding (integer bounds). Hence
//   d = |clamp(z) - round(clamp(z))| < tie_limit
//   =>  RequantizeToInt8(acc, ...) == round(clamp(z)),
// tie_limit = 0.5 - 2^-(right + 1) - 2^-12 for right >= 1; -1 (never) for
// shift >= 0, where step 1 alone ties at every half. Lanes with d >=
// tie_limit (about 2^-right of them) take the integer path.
struct FloatRequantization {
  float scale = 0.0f;
  float tie_limit = -1.0f;
};
FloatRequantization MakeFloatRequantization(const QuantizedMultiplier& q);

// TFLite's fused activations of FULLY_CONNECTED (TfLiteFusedActivation
// values: none 0, relu 1, relu_n1_to_1 2, relu6 3).
enum class FusedActivation : int {
  kNone = 0,
  kRelu = 1,
  kReluN1To1 = 2,
  kRelu6 = 3,
};

// The int8 clamp range of `activation` for an output with this scale and
// zero point (TFLite's CalculateActivationRangeQuantized: the activation
// bounds quantized with float division and round half away from zero, then
// intersected with [-128, 127]). Returns an empty string, or what is wrong.
std::string Int8ActivationRange(FusedActivation activation,
                                float output_scale, int32_t output_zero_point,
                                int32_t* output_min, int32_t* output_max);

// The per-output-row requantization of an int8 fully connected layer.
struct Qs8FcQuantization {
  float input_scale = 1.0f;
  int32_t input_zero_point = 0;  // [-128, 127].
  // Filter scales: 1 (per tensor) or `out` (per output channel) entries,
  // each > 0. The filter zero points must be 0 (checked by the caller).
  const float* filter_scales = nullptr;
  int num_filter_scales = 1;
  float output_scale = 1.0f;
  int32_t output_zero_point = 0;  // [-128, 127].
  int32_t output_min = -128;      // Int8ActivationRange.
  int32_t output_max = 127;
};

// Checks `q` for a layer with `out` rows and fills one multiplier per row
// (the per-tensor one repeated). Returns an empty string, or what is wrong.
std::string ComputeFcMultipliers(const Qs8FcQuantization& q, int out,
                                 std::vector<QuantizedMultiplier>* rows);

// Folds the input zero point into the bias of an int8 layer whose kernel
// reads x + input_offset (qs8_bsr_ukernel.h):
//   folded[o] = bias[o] - (input_zero_point + input_offset) * row_sums[o]
// (bias may be null: zeros), and checks that no accumulator of any kernel
// can overflow int32: |x - zero point| and |x + offset - folded zero point|
// reach at most 255, the folded bias adds at most another 255 per unit of
// |W|, so |bias| + 510 * row_abs_sums[o] must stay below 2^31 (whichever
// ISA runs: whether a layer is accepted does not depend on the CPU).
// Returns an empty string, or what is wrong (naming the row).
std::string FoldQs8Bias(const int32_t* bias, int out, const int32_t* row_sums,
                        const int32_t* row_abs_sums, int32_t input_zero_point,
                        int32_t input_offset, int32_t* folded);

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_REQUANTIZE_H_
