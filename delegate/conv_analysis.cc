#include "delegate/conv_analysis.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "cc/kernels/dispatch.h"
#include "cc/kernels/f32_conv_patdnn.h"
#include "cc/kernels/f32_conv_patdnn_ukernel.h"
#include "delegate/node_util.h"

namespace tf_sparse {
namespace {

using namespace tflite_abi;  // NOLINT: the ABI names are prefixed already.

// Cost model (see EstimatePatdnnCostRatio), in dense-XNNPACK multiply-adds
// (XNNPACK's dense 3x3 convolution runs near FMA peak), measured with
// benchmarks/conv_speed.py on an AVX-512 x86-64 core. Per multiply-add of
// the padded grid the pattern kernels spend about 1.8 at stride 1 (one
// aligned L1 load per FMA; 56x56x64->64 and 28x28x128->128 measured at
// 0.55 and 0.48 of dense, estimated 0.54 and 0.50) and about 2.4 at larger
// strides (misaligned loads, scalar transpose). The scalar kernels take
// about three times the vector ones. Per value, the input transpose (three
// shifted copies at stride 1) and the output transpose with bias and clamp
// cost about 30 and 20.
constexpr double kVectorMacCostStride1 = 1.8;
constexpr double kVectorMacCost = 2.4;
constexpr double kScalarMacCost = 8.0;
constexpr double kPerInputValue = 30.0;
constexpr double kPerOutputValue = 20.0;
// Claim only when the sparse estimate is below this fraction of dense (the
// estimate is within about 15% on the layers measured).
constexpr double kDenseMargin = 0.9;

const F32PatdnnUkernel& ActiveConvUkernel() { return F32PatdnnUkernelFor(ActiveIsa()); }

std::string ShapeText(const ConvNodeInfo& i) {
  return "[" + std::to_string(i.out) + "x" + std::to_string(i.kernel_h) + "x" +
         std::to_string(i.kernel_w) + "x" + std::to_string(i.in) + "]";
}

}  // namespace

std::string ReadConvNode(const TfLiteContext* context, const TfLiteNode* node,
                         ConvNodeInfo* info, const DensifySource* densify) {
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
  info->out = weights.dims->data[0];
  info->kernel_h = weights.dims->data[1];
  info->kernel_w = weights.dims->data[2];
  info->in = weights.dims->data[3];
  if (info->out < 1 || info->in < 1) return "weights have an empty dimension";
  if (info->kernel_h != 3 || info->kernel_w != 3) {
    return "kernel " + std::to_string(info->kernel_h) + "x" +
           std::to_string(info->kernel_w) + " is not 3x3";
  }
  if (info->bias != kTfLiteOptionalTensor) {
    const TfLiteTensor& bias = context->tensors[info->bias];
    if (!IsConstFloat(bias) || bias.dims == nullptr || bias.dims->size != 1 ||
        bias.dims->data[0] != info->out) {
      return "bias is not a constant float32 vector of " +
             std::to_string(info->out);
    }
  }
  if (input.dims == nullptr || input.dims->size != 4) {
    return "input is not 4-D NHWC";
  }
  if (input.dims->data[3] != info->in) {
    return "input has " + std::to_string(input.dims->data[3]) +
           " channels, the weights " + std::to_string(info->in) +
           " (grouped convolution)";
  }
  info->in_h = std::max(input.dims->data[1], 0);
  info->in_w = std::max(input.dims->data[2], 0);
  const auto* params =
      static_cast<const TfLiteConvParams*>(node->builtin_data);
  if (params == nullptr) return "no convolution parameters";
  if (params->dilation_width_factor != 1 ||
      params->dilation_height_factor != 1) {
    return "dilation " + std::to_string(params->dilation_height_factor) + "x" +
           std::to_string(params->dilation_width_factor) +
           " is not supported (only 1x1)";
  }
  if (params->stride_width < 1 || params->stride_height < 1) {
    return "stride below 1";
  }
  info->stride_h = params->stride_height;
  info->stride_w = params->stride_width;
  switch (params->padding) {
    case kTfLitePaddingSame:
      info->padding = ConvPadding::kSame;
      break;
    case kTfLitePaddingValid:
      info->padding = ConvPadding::kValid;
      break;
    default:
      return "unknown padding " + std::to_string(params->padding);
  }
  return ActivationClamp(params->activation, &info->output_min,
                         &info->output_max);
}

double EstimatePatdnnCostRatio(const ConvNodeInfo& info, long long kernels,
                               int tile_rows, int tile_cols, bool vector_isa) {
  int out_h = 1, out_w = 1, pad = 0;
  const int in_h = info.in_h > 0 ? info.in_h : 56;
  const int in_w = info.in_w > 0 ? info.in_w : 56;
  if (!ConvOutputSize(info.padding, in_h, 3, info.stride_h, &out_h, &pad) ||
      !ConvOutputSize(info.padding, in_w, 3, info.stride_w, &out_w, &pad)) {
    return std::numeric_limits<double>::infinity();
  }
  const double padded_h = std::ceil(double(out_h) / tile_rows) * tile_rows;
  const double padded_w = std::ceil(double(out_w) / tile_cols) * tile_cols;
  const double sparse =
      (!vector_isa                                ? kScalarMacCost
       : info.stride_h == 1 && info.stride_w == 1 ? kVectorMacCostStride1
                                                  : kVectorMacCost) *
          4.0 * kernels *
          padded_h * padded_w +
      kPerInputValue * double(in_h) * in_w * info.in +
      kPerOutputValue * double(out_h) * out_w * info.out;
  const double dense = 9.0 * info.out * info.in * double(out_h) * out_w;
  return sparse / dense;
}

ConvDecision AnalyzeConvNode(const TfLiteContext* context, int node_index,
                             const TfLiteNode* node,
                             const DelegateOptions& options,
                             const DensifySource* densify) {
  ConvDecision d;
  d.node_index = node_index;
  d.reason = ReadConvNode(context, node, &d.info, densify);
  if (!d.reason.empty()) return d;
  d.has_shape = true;
  if (!options.force_patdnn && !options.auto_format()) {
    d.reason = "format " + options.FormatName() +
               " is a FULLY_CONNECTED format";
    return d;
  }
  std::vector<float> decoded;
  const float* w = DenseWeights(context, d.info.weights, d.info.densify_input,
                                &decoded, &d.reason);
  if (w == nullptr) return d;
  d.stats = MeasurePatterns(w, d.info.out, d.info.in);
  d.has_stats = true;
  if (!d.stats.pattern_structured()) {
    d.reason = "not pattern-structured: a 3x3 kernel has " +
               std::to_string(d.stats.max_kernel_nonzeros) +
               " nonzero taps (at most 4)";
    return d;
  }
  if (d.stats.sparsity() < options.min_sparsity) {
    d.reason = Fmt("sparsity %.3f is below min_sparsity %.3f",
                   d.stats.sparsity(), options.min_sparsity);
    return d;
  }
  const F32PatdnnUkernel& uk = ActiveConvUkernel();
  d.cost_ratio =
      EstimatePatdnnCostRatio(d.info, d.stats.nonzero_kernels, uk.tile_rows,
                              uk.tile_cols, uk.isa != Isa::kScalar);
  if (options.force_patdnn) {
    d.claimed = true;
    d.reason = Fmt("format patdnn forced (estimated cost %.3f of dense, "
                   "kernel density %.3f)",
                   d.cost_ratio, d.stats.kernel_density());
    return d;
  }
  if (!(d.cost_ratio <= kDenseMargin)) {
    d.reason = Fmt("estimated cost %.3f of dense is above %.2f", d.cost_ratio,
                   kDenseMargin);
    return d;
  }
  d.claimed = true;
  d.reason = Fmt("estimated cost %.3f of dense (kernel density %.3f)",
                 d.cost_ratio, d.stats.kernel_density());
  return d;
}

std::string ConvDecisionJson(const ConvDecision& d) {
  std::string out = "{\"node\": " + std::to_string(d.node_index);
  out += ", \"op\": \"CONV_2D\"";
  out += std::string(", \"claimed\": ") + (d.claimed ? "true" : "false");
  out += ", \"reason\": " + JsonString(d.reason);
  out += ", \"format\": ";
  out += d.claimed ? "\"patdnn\"" : "null";
  out += ", \"shape\": ";
  out += d.has_shape ? "[" + std::to_string(d.info.out) + ", " +
                           std::to_string(d.info.kernel_h) + ", " +
                           std::to_string(d.info.kernel_w) + ", " +
                           std::to_string(d.info.in) + "]"
                     : "null";
  out += ", \"stride\": ";
  out += d.has_shape ? "[" + std::to_string(d.info.stride_h) + ", " +
                           std::to_string(d.info.stride_w) + "]"
                     : "null";
  out += ", \"sparsity\": ";
  out += d.has_stats ? JsonNumber(d.stats.sparsity()) : "null";
  out += ", \"kernel_density\": ";
  out += d.has_stats ? JsonNumber(d.stats.kernel_density()) : "null";
  out += ", \"max_kernel_nonzeros\": ";
  out += d.has_stats ? std::to_string(d.stats.max_kernel_nonzeros) : "null";
  out += ", \"cost_vs_dense\": ";
  out += d.cost_ratio >= 0 ? JsonNumber(d.cost_ratio) : "null";
  out += ", \"kernel\": ";
  out += d.claimed ? JsonString(ActiveConvUkernel().name) : "null";
  out += ", \"densify_node\": ";
  out += d.info.densify_node >= 0 ? std::to_string(d.info.densify_node)
                                  : "null";
  return out + "}";
}

void LogConvDecision(const ConvDecision& d, int verbose) {
  if (verbose < 1) return;
  const std::string shape = d.has_shape ? ShapeText(d.info) : "[?]";
  std::fprintf(stderr, "tf_sparse: node %d CONV_2D %s: %s (%s)\n",
               d.node_index, shape.c_str(),
               d.claimed ? "claimed as patdnn" : "declined", d.reason.c_str());
  if (verbose >= 2 && d.has_stats) {
    std::fprintf(stderr,
                 "tf_sparse:   sparsity %.3f, kernel density %.3f, at most %d "
                 "taps a kernel%s%s\n",
                 d.stats.sparsity(), d.stats.kernel_density(),
                 d.stats.max_kernel_nonzeros, d.claimed ? ", kernel " : "",
                 d.claimed ? ActiveConvUkernel().name : "");
  }
}

}  // namespace tf_sparse
