#include "delegate/dwconv_analysis.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "cc/kernels/dispatch.h"
#include "delegate/calibration.h"
#include "delegate/node_util.h"

namespace tf_sparse {
namespace {

using namespace tflite_abi;  // NOLINT: the ABI names are prefixed already.

// Cost model (see EstimateDwTapsCostRatio), measured with
// benchmarks/dwconv_speed.py against XNNPACK's dense depthwise kernel on an
// AVX-512 x86-64 core (AMD EPYC, Zen 5, 2 vCPUs), batch 1, one thread, on
// the MobileNet shapes 112x112x32, 56x56x128, 28x28x256 and 14x14x512 at
// strides 1 and 2. Per output pixel and vector of channels the tap-sparse
// kernel costs about (kept taps + kGroupTaps) tap-units: the loads of the
// kept taps plus a fixed part (bias, clamp, store, the tile's set-up, and
// the memory traffic of input and output, which the taps do not change).
constexpr double kGroupTaps = 4.0;
// With all 9 taps, our kernel against XNNPACK's by channel count: XNNPACK
// is slower on few channels (its per-pixel indirection set-up weighs more)
// and faster on many (its loads stream each pixel's channels
// contiguously). Interpolated in log2(C); the ends are held.
constexpr Log2Point kDenseVsXnnpack[] = {
    {8, 1.2}, {32, 0.9}, {128, 1.05}, {256, 1.4}, {512, 1.6}};
// At stride 2 XNNPACK gains more on few channels: with all 9 taps, 1.06 at
// 32 channels (0.82 at stride 1), 1.07 at 128, 1.28 at 256, 1.59 at 512
// (benchmarks/dwconv_speed.py, per-channel rows divided by their tap
// share). With the stride-1 table the 112x112x32 stride-2 layer was claimed
// at an estimate of 0.90 and ran 0.95x as fast as XNNPACK.
constexpr Log2Point kDenseVsXnnpackStrided[] = {
    {8, 1.3}, {32, 1.1}, {128, 1.1}, {256, 1.3}, {512, 1.6}};
// The last, partial vector of channels runs one pixel at a time with
// masked loads: it counts this many times a full one.
constexpr double kPartialGroupFactor = 2.0;
// The scalar kernel against XNNPACK's vector one (scalar builds only).
constexpr double kScalarFactor = 8.0;
// Claim only when the estimate is below this fraction of dense: the model
// leaves out the partition boundary (the tensor crosses from XNNPACK's
// partition to ours and back) and is calibrated on one machine.
constexpr double kDenseMargin = 0.9;

double DenseVsXnnpack(int channels, bool strided) {
  return strided ? InterpolateLog2(kDenseVsXnnpackStrided, channels)
                 : InterpolateLog2(kDenseVsXnnpack, channels);
}

const F32DwConv3x3Ukernel& ActiveDwUkernel() {
  return F32DwConv3x3UkernelFor(ActiveIsa());
}

std::string ShapeText(const DwConvNodeInfo& i) {
  return "[1x" + std::to_string(i.kernel_h) + "x" + std::to_string(i.kernel_w) +
         "x" + std::to_string(i.channels) + "]";
}

}  // namespace

std::string ReadDwConvNode(const TfLiteContext* context, const TfLiteNode* node,
                           DwConvNodeInfo* info, const DensifySource* densify) {
  const std::string problem = ReadWeightedNode(context, node, densify, info);
  if (!problem.empty()) return problem;
  const TfLiteTensor& input = context->tensors[info->input];
  const TfLiteTensor& weights = context->tensors[info->weights];
  if (info->densify_node < 0) {
    if (weights.sparsity != nullptr) {
      return "weights use TFLite's sparse encoding";
    }
    if (!IsConstFloat(weights)) return "weights are not constant float32";
  }
  if (weights.dims == nullptr || weights.dims->size != 4) {
    return "weights are not 4-D";
  }
  if (weights.dims->data[0] != 1) {
    return "weights have leading dimension " +
           std::to_string(weights.dims->data[0]) + " (depthwise needs 1)";
  }
  info->kernel_h = weights.dims->data[1];
  info->kernel_w = weights.dims->data[2];
  info->channels = weights.dims->data[3];
  if (info->channels < 1) return "weights have no channels";
  if (info->kernel_h != 3 || info->kernel_w != 3) {
    return "kernel " + std::to_string(info->kernel_h) + "x" +
           std::to_string(info->kernel_w) + " is not 3x3";
  }
  if (info->bias != kTfLiteOptionalTensor) {
    const TfLiteTensor& bias = context->tensors[info->bias];
    if (!IsConstFloat(bias) || bias.dims == nullptr || bias.dims->size != 1 ||
        bias.dims->data[0] != info->channels) {
      return "bias is not a constant float32 vector of " +
             std::to_string(info->channels);
    }
  }
  if (input.dims == nullptr || input.dims->size != 4) {
    return "input is not 4-D NHWC";
  }
  const int in_c = input.dims->data[3];
  if (in_c != info->channels) {
    if (in_c > 0 && info->channels % in_c == 0) {
      return "depth multiplier " + std::to_string(info->channels / in_c) +
             " is not supported (only 1)";
    }
    return "input has " + std::to_string(in_c) + " channels, the weights " +
           std::to_string(info->channels);
  }
  info->in_h = std::max(input.dims->data[1], 0);
  info->in_w = std::max(input.dims->data[2], 0);
  const auto* params =
      static_cast<const TfLiteDepthwiseConvParams*>(node->builtin_data);
  if (params == nullptr) return "no depthwise convolution parameters";
  if (params->dilation_width_factor != 1 ||
      params->dilation_height_factor != 1) {
    return "dilation " + std::to_string(params->dilation_height_factor) + "x" +
           std::to_string(params->dilation_width_factor) +
           " is not supported (only 1x1)";
  }
  return ReadConvGeometry(params->stride_height, params->stride_width,
                          params->padding, params->activation, &info->stride_h,
                          &info->stride_w, &info->padding, &info->output_min,
                          &info->output_max);
}

double EstimateDwTapsCostRatio(const DwConvNodeInfo& info,
                               const DwTapStats& stats, bool vector_isa) {
  int out = 0, pad = 0;
  // Both sides scale with the output pixels; a shape that gives none is
  // not run at all.
  const int in_h = info.in_h > 0 ? info.in_h : 56;
  const int in_w = info.in_w > 0 ? info.in_w : 56;
  if (stats.groups < 1 ||
      !ConvOutputSize(info.padding, in_h, 3, info.stride_h, &out, &pad) ||
      !ConvOutputSize(info.padding, in_w, 3, info.stride_w, &out, &pad)) {
    return std::numeric_limits<double>::infinity();
  }
  const bool partial = stats.channels % stats.lanes != 0;
  const double groups =
      stats.groups + (partial ? kPartialGroupFactor - 1.0 : 0.0);
  // Per pixel: sum over groups of (kept taps + fixed part), the partial
  // group's share counted kPartialGroupFactor times (its taps approximated
  // by the average group's).
  const double avg_taps = static_cast<double>(stats.group_taps) / stats.groups;
  const double sparse = groups * (avg_taps + kGroupTaps);
  const double dense = stats.groups * (9.0 + kGroupTaps);
  const bool strided = info.stride_h > 1 || info.stride_w > 1;
  return sparse / dense * DenseVsXnnpack(stats.channels, strided) *
         (vector_isa ? 1.0 : kScalarFactor);
}

DwConvDecision AnalyzeDwConvNode(const TfLiteContext* context, int node_index,
                                 const TfLiteNode* node,
                                 const DelegateOptions& options,
                                 const DensifySource* densify) {
  DwConvDecision d;
  d.node_index = node_index;
  d.reason = ReadDwConvNode(context, node, &d.info, densify);
  if (!d.reason.empty()) return d;
  d.has_shape = true;
  if (!options.auto_format()) {
    d.reason = "format " + options.FormatName() +
               " is a FULLY_CONNECTED format";
    return d;
  }
  std::vector<float> decoded;
  const float* w = DenseWeights(context, d.info.weights, d.info.densify_input,
                                &decoded, &d.reason);
  if (w == nullptr) return d;
  const F32DwConv3x3Ukernel& uk = ActiveDwUkernel();
  d.stats = MeasureDwTaps(w, d.info.channels, uk.lanes);
  d.has_stats = true;
  if (d.stats.sparsity() < options.min_sparsity) {
    d.reason = Fmt("sparsity %.3f is below min_sparsity %.3f",
                   d.stats.sparsity(), options.min_sparsity);
    return d;
  }
  d.cost_ratio =
      EstimateDwTapsCostRatio(d.info, d.stats, uk.isa != Isa::kScalar) *
      GetCalibration(options).Factor(CostFamily::kDwTaps);
  if (options.force_dwtaps) {
    d.claimed = true;
    d.reason = Fmt("format dwtaps forced (estimated cost %.3f of dense, "
                   "executed taps %.3f of 9)",
                   d.cost_ratio, d.stats.executed_tap_fraction());
    return d;
  }
  if (!(d.cost_ratio <= kDenseMargin)) {
    // Why: the vectors of channels keep too many of the 9 taps (their
    // channels' patterns differ) for the skipped loads to pay.
    d.reason = Fmt("estimated cost %.3f of dense is above %.2f", d.cost_ratio,
                   kDenseMargin) +
               Fmt(" (vectors of %.0f channels keep %.2f of 9 taps on average)",
                   uk.lanes, 9.0 * d.stats.executed_tap_fraction());
    return d;
  }
  d.claimed = true;
  d.reason = Fmt("estimated cost %.3f of dense (executed taps %.3f of 9)",
                 d.cost_ratio, d.stats.executed_tap_fraction());
  return d;
}

std::string DwConvDecisionJson(const DwConvDecision& d) {
  std::string out = "{\"node\": " + std::to_string(d.node_index);
  out += ", \"op\": \"DEPTHWISE_CONV_2D\"";
  out += std::string(", \"claimed\": ") + (d.claimed ? "true" : "false");
  out += ", \"reason\": " + JsonString(d.reason);
  out += ", \"format\": ";
  out += d.claimed ? "\"dwtaps\"" : "null";
  out += ", \"shape\": ";
  out += d.has_shape ? "[1, " + std::to_string(d.info.kernel_h) + ", " +
                           std::to_string(d.info.kernel_w) + ", " +
                           std::to_string(d.info.channels) + "]"
                     : "null";
  out += ", \"stride\": ";
  out += d.has_shape ? "[" + std::to_string(d.info.stride_h) + ", " +
                           std::to_string(d.info.stride_w) + "]"
                     : "null";
  out += ", \"sparsity\": ";
  out += d.has_stats ? JsonNumber(d.stats.sparsity()) : "null";
  out += ", \"zero_channels\": ";
  out += d.has_stats ? std::to_string(d.stats.zero_channels) : "null";
  out += ", \"max_channel_taps\": ";
  out += d.has_stats ? std::to_string(d.stats.max_channel_taps) : "null";
  out += ", \"lanes\": ";
  out += d.has_stats ? std::to_string(d.stats.lanes) : "null";
  out += ", \"executed_tap_fraction\": ";
  out += d.has_stats ? JsonNumber(d.stats.executed_tap_fraction()) : "null";
  out += ", \"cost_vs_dense\": ";
  out += d.cost_ratio >= 0 ? JsonNumber(d.cost_ratio) : "null";
  out += ", \"kernel\": ";
  out += d.claimed ? JsonString(ActiveDwUkernel().name) : "null";
  out += ", \"densify_node\": ";
  out += d.info.densify_node >= 0 ? std::to_string(d.info.densify_node)
                                  : "null";
  out += std::string(", \"densify_claimed\": ") +
         (d.info.densify_claimed ? "true" : "false");
  return out + "}";
}

void LogDwConvDecision(const DwConvDecision& d, int verbose) {
  if (verbose < 1) return;
  const std::string shape = d.has_shape ? ShapeText(d.info) : "[?]";
  std::fprintf(stderr, "tf_sparse: node %d DEPTHWISE_CONV_2D %s: %s (%s)\n",
               d.node_index, shape.c_str(),
               d.claimed ? "claimed as dwtaps" : "declined", d.reason.c_str());
  if (verbose >= 2 && d.has_stats) {
    std::fprintf(stderr,
                 "tf_sparse:   sparsity %.3f, %d pruned channels, at most %d "
                 "taps a channel, vectors of %d channels execute %.3f of 9 "
                 "taps%s%s\n",
                 d.stats.sparsity(), d.stats.zero_channels,
                 d.stats.max_channel_taps, d.stats.lanes,
                 d.stats.executed_tap_fraction(), d.claimed ? ", kernel " : "",
                 d.claimed ? ActiveDwUkernel().name : "");
  }
}

}  // namespace tf_sparse
