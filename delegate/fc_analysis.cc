#include "delegate/fc_analysis.h"

#include <cstdio>
#include <limits>

#include "cc/formats/bsr.h"
#include "cc/kernels/dispatch.h"

namespace tf_sparse {
namespace {

using namespace tflite_abi;  // NOLINT: the ABI names are prefixed already.

// Candidate shapes for format "auto", in order of preference on ties.
constexpr int kCandidates[][2] = {{1, 4}, {1, 8}, {4, 1}, {8, 1},
                                  {16, 1}, {4, 4}, {1, 1}};

// Cost model, in units of one dense weight's multiply-add in a dense
// matrix-vector product (so a dense layer costs out * in). Calibrated with
// cc/bench on layers that stay in cache, where a kept block costs a fixed
// decoding share plus a share per entry: measured 6.4 (1x4), 7.1 (1x1),
// 7.0 (4x1), 7.5 (8x1), 9.6 (16x1), 9.8 (1x8), 11.5 (4x4).
constexpr double kBlockBase = 5.5;
constexpr double kBlockPerEntry = 0.35;
// Shapes without a specialised kernel run a plain loop nest.
constexpr double kGenericBlockBase = 12.0;
constexpr double kGenericBlockPerEntry = 3.0;
// Finishing one output row: reduction, bias, clamp, store.
constexpr double kRowOverhead = 2.0;
// Claim only when the sparse estimate is below this fraction of dense.
constexpr double kDenseMargin = 0.8;

bool IsConstFloat(const TfLiteTensor& t) {
  return t.type == kTfLiteFloat32 && t.allocation_type == kTfLiteMmapRo &&
         t.data != nullptr;
}

std::string Fmt(const char* format, double a, double b) {
  char buf[160];
  std::snprintf(buf, sizeof(buf), format, a, b);
  return buf;
}

}  // namespace

std::string ReadFcNode(const TfLiteContext* context, const TfLiteNode* node,
                       FcNodeInfo* info) {
  const int num_tensors = static_cast<int>(context->tensors_size);
  auto valid = [&](int t) { return t >= 0 && t < num_tensors; };
  if (node->inputs == nullptr || node->outputs == nullptr) {
    return "node has no input or output list";
  }
  if (node->inputs->size < 2 || node->inputs->size > 3) {
    return "expected 2 or 3 inputs, got " +
           std::to_string(node->inputs->size);
  }
  if (node->outputs->size != 1) {
    return "expected 1 output, got " + std::to_string(node->outputs->size);
  }
  info->input = node->inputs->data[0];
  info->weights = node->inputs->data[1];
  info->bias =
      node->inputs->size == 3 ? node->inputs->data[2] : kTfLiteOptionalTensor;
  info->output = node->outputs->data[0];
  if (!valid(info->input) || !valid(info->weights) || !valid(info->output) ||
      (info->bias != kTfLiteOptionalTensor && !valid(info->bias))) {
    return "tensor index out of range";
  }
  const TfLiteTensor& input = context->tensors[info->input];
  const TfLiteTensor& weights = context->tensors[info->weights];
  const TfLiteTensor& output = context->tensors[info->output];
  if (input.type != kTfLiteFloat32 || output.type != kTfLiteFloat32) {
    return "input/output are not float32";
  }
  if (weights.type != kTfLiteFloat32) return "weights are not float32";
  if (weights.sparsity != nullptr) {
    return "weights use TFLite's sparse encoding (not handled yet)";
  }
  if (weights.allocation_type != kTfLiteMmapRo || weights.data == nullptr) {
    return "weights are not constant";
  }
  if (weights.dims == nullptr || weights.dims->size != 2) {
    return "weights are not 2-D";
  }
  info->out = weights.dims->data[0];
  info->in = weights.dims->data[1];
  if (info->out < 1 || info->in < 1) return "weights have an empty dimension";
  if (weights.bytes != static_cast<size_t>(info->out) * info->in * 4) {
    return "weights byte size does not match their shape";
  }
  if (info->bias != kTfLiteOptionalTensor) {
    const TfLiteTensor& bias = context->tensors[info->bias];
    if (!IsConstFloat(bias)) return "bias is not a constant float32 tensor";
    if (bias.dims == nullptr || bias.dims->size != 1 ||
        bias.dims->data[0] != info->out) {
      return "bias shape is not [out]";
    }
  }
  const auto* params =
      static_cast<const TfLiteFullyConnectedParams*>(node->builtin_data);
  if (params == nullptr) return "node has no parameters";
  if (params->weights_format != kTfLiteFullyConnectedWeightsFormatDefault) {
    return "weights format is not the default";
  }
  const float inf = std::numeric_limits<float>::infinity();
  switch (params->activation) {
    case kTfLiteActNone:
      info->output_min = -inf;
      info->output_max = inf;
      break;
    case kTfLiteActRelu:
      info->output_min = 0.0f;
      info->output_max = inf;
      break;
    case kTfLiteActReluN1To1:
      info->output_min = -1.0f;
      info->output_max = 1.0f;
      break;
    case kTfLiteActRelu6:
      info->output_min = 0.0f;
      info->output_max = 6.0f;
      break;
    default:
      return "fused activation " + std::to_string(params->activation) +
             " is not supported (only NONE, RELU, RELU_N1_TO_1, RELU6)";
  }
  info->keep_num_dims = params->keep_num_dims;
  if (input.dims == nullptr || input.dims->size < 1) {
    return "input has no shape";
  }
  // A dynamic input's dims are placeholders until the first allocation; the
  // kernel's prepare checks the real shape on every resize.
  bool dynamic = false;
  if (input.dims_signature != nullptr) {
    for (int i = 0; i < input.dims_signature->size; ++i) {
      dynamic = dynamic || input.dims_signature->data[i] < 0;
    }
  }
  if (dynamic) {
    // Nothing to check yet.
  } else if (info->keep_num_dims) {
    if (input.dims->data[input.dims->size - 1] != info->in) {
      return "input's last dimension is not the weights' in";
    }
  } else {
    long long elements = 1;
    for (int i = 0; i < input.dims->size; ++i) {
      elements *= input.dims->data[i];
    }
    if (elements % info->in != 0) {
      return "input size is not a multiple of the weights' in";
    }
  }
  return "";
}

double EstimateBsrCost(int out, int in, int r, int c, long long kept_blocks,
                       bool specialized) {
  const double entries = static_cast<double>(r) * c;
  const double per_block =
      specialized ? kBlockBase + kBlockPerEntry * entries
                  : kGenericBlockBase + kGenericBlockPerEntry * entries;
  const double padded_rows = static_cast<double>((out + r - 1) / r) * r;
  const double compute = kept_blocks * per_block + padded_rows * kRowOverhead;
  // Layers that do not stay in cache are bound by the bytes streamed: a
  // dense weight is 4 bytes, a kept block its values plus its index.
  const double bytes =
      static_cast<double>(kept_blocks) *
      (4.0 * entries + BsrAutoIndexBytes(in, c));
  const double memory = bytes / 4.0;
  return compute > memory ? compute : memory;
}

FcDecision AnalyzeFcNode(const TfLiteContext* context, int node_index,
                         const TfLiteNode* node,
                         const DelegateOptions& options) {
  FcDecision d;
  d.node_index = node_index;
  d.reason = ReadFcNode(context, node, &d.info);
  if (d.info.out > 0 && d.info.in > 0) d.has_shape = true;
  if (!d.reason.empty()) return d;

  const FcNodeInfo& info = d.info;
  const float* w =
      static_cast<const float*>(context->tensors[info.weights].data);
  const double total = static_cast<double>(info.out) * info.in;
  const Isa isa = ActiveIsa();
  const double dense_cost = total;

  auto evaluate = [&](int r, int c) {
    BlockCandidate cand;
    cand.r = r;
    cand.c = c;
    const BlockDensity bd = MeasureBlockDensity(w, info.out, info.in, r, c);
    cand.density = bd.density();
    cand.cost = EstimateBsrCost(info.out, info.in, r, c, bd.nonzero_blocks,
                                HasSpecializedF32BsrUkernel(r, c, isa));
    if (d.sparsity < 0) d.sparsity = 1.0 - bd.nonzeros / total;
    d.candidates.push_back(cand);
  };

  if (options.auto_format()) {
    for (const auto& rc : kCandidates) {
      if (!CheckBsrShape(info.out, info.in, rc[0], rc[1]).empty()) continue;
      evaluate(rc[0], rc[1]);
    }
  } else {
    const std::string problem = CheckBsrShape(
        info.out, info.in, options.block_height, options.block_width);
    if (!problem.empty()) {
      d.reason = "cannot pack as " + options.FormatName() + ": " + problem;
      return d;
    }
    evaluate(options.block_height, options.block_width);
  }
  if (d.candidates.empty()) {
    d.reason = "no block shape fits";
    return d;
  }
  const BlockCandidate* best = &d.candidates[0];
  for (const BlockCandidate& cand : d.candidates) {
    if (cand.cost < best->cost) best = &cand;
  }
  d.block_height = best->r;
  d.block_width = best->c;
  d.block_density = best->density;
  d.cost_ratio = best->cost / dense_cost;

  if (d.sparsity < options.min_sparsity) {
    d.reason = Fmt("sparsity %.3f is below min_sparsity %.3f", d.sparsity,
                   options.min_sparsity);
    return d;
  }
  if (options.auto_format() && d.cost_ratio > kDenseMargin) {
    d.reason = Fmt(
        "estimated cost is %.2f of dense (needs <= %.2f): zeros are not "
        "blocked enough",
        d.cost_ratio, kDenseMargin);
    return d;
  }
  d.claimed = true;
  char buf[160];
  std::snprintf(buf, sizeof(buf),
                "sparsity %.3f, block density %.3f, estimated cost %.2f of "
                "dense",
                d.sparsity, d.block_density, d.cost_ratio);
  d.reason = buf;
  return d;
}

}  // namespace tf_sparse
