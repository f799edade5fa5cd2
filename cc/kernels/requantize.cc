#include "cc/kernels/requantize.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

namespace tf_sparse {

QuantizedMultiplier QuantizeMultiplier(double m) {
  QuantizedMultiplier q;
  if (!(m > 0.0) || !std::isfinite(m)) return q;
  int exponent = 0;
  const double significand = std::frexp(m, &exponent);  // In [0.5, 1).
  int64_t fixed = static_cast<int64_t>(std::round(significand * 2147483648.0));
  if (fixed == (int64_t{1} << 31)) {  // Rounded up to 1.0.
    fixed /= 2;
    ++exponent;
  }
  if (exponent < -31) return q;  // Every bit would be shifted out.
  q.multiplier = static_cast<int32_t>(fixed);
  q.shift = exponent;
  return q;
}

FloatRequantization MakeFloatRequantization(const QuantizedMultiplier& q) {
  FloatRequantization f;
  f.scale = static_cast<float>(std::ldexp(static_cast<double>(q.multiplier),
                                          q.shift - 31));
  if (q.shift <= -1) {
    f.tie_limit = static_cast<float>(0.5 - std::ldexp(1.0, q.shift - 1) -
                                     std::ldexp(1.0, -12));
  }
  return f;
}

namespace {

int32_t RoundToInt(float v) { return static_cast<int32_t>(std::round(v)); }

}  // namespace

std::string Int8ActivationRange(FusedActivation activation,
                                float output_scale, int32_t output_zero_point,
                                int32_t* output_min, int32_t* output_max) {
  if (!(output_scale > 0.0f) || !std::isfinite(output_scale)) {
    return "output_scale must be finite and > 0";
  }
  if (output_zero_point < -128 || output_zero_point > 127) {
    return "output_zero_point must be in [-128, 127], not " +
           std::to_string(output_zero_point);
  }
  auto quantize = [&](float f) {
    return output_zero_point + RoundToInt(f / output_scale);
  };
  int32_t lo = -128;
  int32_t hi = 127;
  switch (activation) {
    case FusedActivation::kNone:
      break;
    case FusedActivation::kRelu:
      lo = std::max(lo, quantize(0.0f));
      break;
    case FusedActivation::kReluN1To1:
      lo = std::max(lo, quantize(-1.0f));
      hi = std::min(hi, quantize(1.0f));
      break;
    case FusedActivation::kRelu6:
      lo = std::max(lo, quantize(0.0f));
      hi = std::min(hi, quantize(6.0f));
      break;
    default:
      return "activation must be none (0), relu (1), relu_n1_to_1 (2) or "
             "relu6 (3), not " +
             std::to_string(static_cast<int>(activation));
  }
  *output_min = lo;
  *output_max = hi;
  return "";
}

std::string ComputeFcMultipliers(const Qs8FcQuantization& q, int out,
                                 std::vector<QuantizedMultiplier>* rows) {
  if (out <= 0) return "out must be > 0";
  if (!(q.input_scale > 0.0f) || !std::isfinite(q.input_scale)) {
    return "input_scale must be finite and > 0";
  }
  if (!(q.output_scale > 0.0f) || !std::isfinite(q.output_scale)) {
    return "output_scale must be finite and > 0";
  }
  if (q.input_zero_point < -128 || q.input_zero_point > 127) {
    return "input_zero_point must be in [-128, 127], not " +
           std::to_string(q.input_zero_point);
  }
  if (q.output_zero_point < -128 || q.output_zero_point > 127) {
    return "output_zero_point must be in [-128, 127], not " +
           std::to_string(q.output_zero_point);
  }
  if (q.output_min < -128 || q.output_max > 127 ||
      q.output_min > q.output_max) {
    return "output_min/output_max must satisfy -128 <= min <= max <= 127";
  }
  if (q.filter_scales == nullptr ||
      (q.num_filter_scales != 1 && q.num_filter_scales != out)) {
    return "filter_scales must hold 1 or out (" + std::to_string(out) +
           ") entries, not " + std::to_string(q.num_filter_scales);
  }
  rows->assign(static_cast<size_t>(out), QuantizedMultiplier());
  for (int o = 0; o < out; ++o) {
    const float fs = q.filter_scales[q.num_filter_scales == 1 ? 0 : o];
    if (!(fs > 0.0f) || !std::isfinite(fs)) {
      return "filter_scales[" + std::to_string(o) +
             "] must be finite and > 0";
    }
    const double m = static_cast<double>(q.input_scale) *
                     static_cast<double>(fs) /
                     static_cast<double>(q.output_scale);
    // TFLite's fixed-point path handles left shifts up to 30 bits; a layer
    // that multiplies by 2^30 or more is not a real model.
    if (m >= 1073741824.0) {
      return "input_scale * filter_scale / output_scale must be < 2^30 "
             "(row " +
             std::to_string(o) + ")";
    }
    (*rows)[o] = QuantizeMultiplier(m);
  }
  return "";
}

std::string FoldQs8Bias(const int32_t* bias, int out, const int32_t* row_sums,
                        const int32_t* row_abs_sums, int32_t input_zero_point,
                        int32_t input_offset, int32_t* folded) {
  constexpr int64_t kAccumulatorBound = 510;
  const int64_t zero = static_cast<int64_t>(input_zero_point) + input_offset;
  for (int o = 0; o < out; ++o) {
    const int64_t b = bias != nullptr ? bias[o] : 0;
    const int64_t bound = std::llabs(b) + kAccumulatorBound * row_abs_sums[o];
    if (bound > std::numeric_limits<int32_t>::max()) {
      return "bias and weights of output row " + std::to_string(o) +
             " can overflow the int32 accumulator (|bias| + 510 * "
             "sum |W| must stay below 2^31)";
    }
    folded[o] = static_cast<int32_t>(b - zero * row_sums[o]);
  }
  return "";
}

}  // namespace tf_sparse
