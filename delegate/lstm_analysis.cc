#include "delegate/lstm_analysis.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <vector>

#include "cc/kernels/dispatch.h"
#include "cc/kernels/f32_sparse_lstm.h"
#include "delegate/calibration.h"
#include "delegate/fc_formats.h"

namespace tf_sparse {
namespace {

using namespace tflite_abi;  // NOLINT: the ABI names are prefixed already.

// The node's inputs (TFLite's lstm_shared.h numbering).
constexpr int kInput = 0;
constexpr int kInputWeights = 1;      // 1..4: input-to-{i, f, c, o}.
constexpr int kRecurrentWeights = 5;  // 5..8: recurrent-to-{i, f, c, o}.
constexpr int kPeepholeFirst = 9;     // 9..11: cell-to-{i, f, o}.
constexpr int kBiases = 12;           // 12..15: {i, f, c, o} gate biases.
constexpr int kProjectionWeights = 16;
constexpr int kProjectionBias = 17;
constexpr int kOutputState = 18;
constexpr int kCellState = 19;
constexpr int kLayerNormFirst = 20;   // 20..23, only in 24-input nodes.

// Cost model (EstimateStockLstmCost and the gate-update share below),
// measured with benchmarks/lstm_speed.py (1024 units) and the same timing
// loop on layers of 32 to 512 units (50 to 90% sparse, 1 to 30 steps) on
// an AVX-512 x86-64 core (AMD EPYC, Zen 5, 2 vCPUs), one thread, against
// TFLite's float LSTM kernel (LiteRT 2.3). That kernel runs its products
// as plain loops a step at a time: in cache its time a weight is about one
// weight of XNNPACK's dense matrix-vector product (the unit of the
// FULLY_CONNECTED estimates), but once its eight matrices outgrow the
// caches it streams them from memory at every step, while the sparse
// copies (a tenth of the bytes) stay cached and the input products of all
// steps read them once. Its time a weight, by the bytes of its dense
// weights (interpolated in log2; the ends are held), as the measured
// speed-ups imply: 0.9 at 32 KiB, 0.75 at 128 KiB, 0.9 at 512 KiB, 1.5 at
// 1.5 MiB, 2 at 2 MiB, 7 at 8 MiB and 5 at 32 MiB; the table stays below.
constexpr Log2Point kStockPerWeight[] = {{128 << 10, 0.75},
                                         {512 << 10, 0.85},
                                         {1 << 20, 1.0},
                                         {2 << 20, 1.5},
                                         {8 << 20, 3.0}};
// The element-wise work per cell and row (five exponentials, the state
// update), in the same units, for both sides.
constexpr double kCellUpdateUnits = 12.0;
// Claim only when the estimate is below this fraction of TFLite's kernel.
constexpr double kStockMargin = 0.8;

const char* const kGateNames[4] = {"input", "forget", "cell", "output"};

bool IsPresent(const TfLiteNode* node, int i) {
  return i < node->inputs->size && node->inputs->data[i] >= 0;
}

// Checks that input `i` is a constant float32 tensor of the given shape
// (cols 0: 1-D [rows]).
std::string CheckConstMatrix(const TfLiteContext* context,
                             const TfLiteNode* node, int i, int rows,
                             int cols, const std::string& what) {
  const TfLiteTensor& t = context->tensors[node->inputs->data[i]];
  if (t.sparsity != nullptr) return what + " use TFLite's sparse encoding";
  if (!IsConstFloat(t)) return what + " are not constant float32";
  const std::vector<int> dims = TensorDims(t);
  const std::vector<int> want =
      cols > 0 ? std::vector<int>{rows, cols} : std::vector<int>{rows};
  if (dims != want) {
    std::string shape;
    for (int d : dims) shape += (shape.empty() ? "" : "x") + std::to_string(d);
    return what + " have shape [" + shape + "], expected [" +
           std::to_string(rows) + (cols > 0 ? "x" + std::to_string(cols) : "") +
           "]";
  }
  return "";
}

std::string CheckState(const TfLiteContext* context, int tensor, int batch,
                       int n_cell, const char* what) {
  const TfLiteTensor& t = context->tensors[tensor];
  if (t.type != kTfLiteFloat32) return std::string(what) + " is not float32";
  if (!t.is_variable) return std::string(what) + " is not a variable tensor";
  if (TensorDims(t) != std::vector<int>{batch, n_cell}) {
    return std::string(what) + " is not [" + std::to_string(batch) + ", " +
           std::to_string(n_cell) + "]";
  }
  return "";
}

// The cheapest format (or the forced one) for the stacked gate matrix `w`
// ([out][in]) on calls of `rows` rows; sets *fc and returns its estimated
// cost per row (FULLY_CONNECTED units, calibrated), or a negative value
// with *problem set when no format fits.
double ChooseGateFormat(const float* w, int out, int in, long long rows,
                        const DelegateOptions& options, FcDecision* fc,
                        std::string* problem) {
  fc->info.out = out;
  fc->info.in = in;
  fc->info.output_min = -std::numeric_limits<float>::infinity();
  fc->info.output_max = std::numeric_limits<float>::infinity();
  fc->batch_rows = rows;
  const FcWeights weights{w, &fc->info, ActiveIsa(), rows, fc, nullptr};
  const Calibration& calibration = GetCalibration(options);
  const FcFormatDescriptor* best_format = nullptr;
  FcCandidate best;
  double best_cost = -1.0;
  for (const FcFormatDescriptor& f : FcFormats()) {
    if (!options.auto_format() && f.format != options.format) continue;
    std::vector<FcCandidate> found;
    if (options.auto_format()) {
      f.auto_candidates(weights, &found);
    } else {
      *problem = f.forced_candidates(weights, options, &found);
    }
    for (const FcCandidate& c : found) {
      const double cost = c.cost * calibration.Factor(f.family);
      if (best_format == nullptr || cost < best_cost) {
        best_format = &f;
        best = c;
        best_cost = cost;
      }
    }
  }
  if (best_format == nullptr) {
    if (problem->empty()) *problem = "no format fits";
    return -1.0;
  }
  fc->format = best_format->format;
  fc->format_name = best.name;
  best_format->choose(best, fc);
  return best_cost;
}

std::string GateFormatName(const FcDecision& fc) { return FcFormatName(fc); }

const char* GateKernelName(const FcDecision& fc) {
  const FcFormatDescriptor* f = FindFcFormat(fc.format);
  return f != nullptr ? f->kernel_name(fc, ActiveIsa()) : "?";
}

}  // namespace

std::string ReadLstmNode(const TfLiteContext* context, const TfLiteNode* node,
                         LstmNodeInfo* info) {
  if (node->inputs == nullptr ||
      (node->inputs->size != 20 && node->inputs->size != 24)) {
    return "expected 20 or 24 inputs";
  }
  if (node->outputs == nullptr || node->outputs->size != 1) {
    return "expected one output";
  }
  for (int i = 0; i < node->inputs->size; ++i) {
    const int t = node->inputs->data[i];
    if (t != kTfLiteOptionalTensor &&
        (t < 0 || static_cast<size_t>(t) >= context->tensors_size)) {
      return "input " + std::to_string(i) + " is out of range";
    }
  }
  info->input = node->inputs->data[kInput];
  info->output = node->outputs->data[0];
  if (info->input < 0 || info->output < 0 ||
      static_cast<size_t>(info->output) >= context->tensors_size) {
    return "input or output tensor missing";
  }
  const TfLiteTensor& input = context->tensors[info->input];
  const TfLiteTensor& output = context->tensors[info->output];
  if (input.type != kTfLiteFloat32 || output.type != kTfLiteFloat32) {
    return "input and output are not float32 (only float LSTMs are run)";
  }
  const auto* params =
      static_cast<const TfLiteUnidirectionalSequenceLSTMParams*>(
          node->builtin_data);
  if (params == nullptr) return "no LSTM parameters";
  info->time_major = params->time_major;
  info->cell_clip = params->cell_clip;
  if (params->activation != kTfLiteActTanh) {
    return "activation " + std::to_string(params->activation) +
           " is not supported (only TANH)";
  }
  if (params->diagonal_recurrent_tensors) {
    return "diagonal recurrent weights are not supported";
  }
  if (!(params->cell_clip >= 0.0f)) return "cell_clip is negative";
  if (!IsPresent(node, kInputWeights) || !IsPresent(node, kRecurrentWeights)) {
    return "CIFG (no input gate) is not supported";
  }
  for (int i = kPeepholeFirst; i < kPeepholeFirst + 3; ++i) {
    if (IsPresent(node, i)) return "peephole connections are not supported";
  }
  if (IsPresent(node, kProjectionWeights) || IsPresent(node, kProjectionBias)) {
    return "a projection is not supported";
  }
  for (int i = kLayerNormFirst; i < node->inputs->size; ++i) {
    if (IsPresent(node, i)) return "layer normalisation is not supported";
  }
  for (int g = 0; g < 4; ++g) {
    if (!IsPresent(node, kInputWeights + g) ||
        !IsPresent(node, kRecurrentWeights + g)) {
      return std::string(kGateNames[g]) + " gate weights missing";
    }
  }
  const TfLiteTensor& wf =
      context->tensors[node->inputs->data[kInputWeights + 1]];
  const std::vector<int> wdims = TensorDims(wf);
  if (wdims.size() != 2 || wdims[0] < 1 || wdims[1] < 1) {
    return "input-to-forget weights are not a 2-D matrix";
  }
  info->n_cell = wdims[0];
  info->n_input = wdims[1];
  info->weights = node->inputs->data[kInputWeights + 1];
  for (int g = 0; g < 4; ++g) {
    const std::string gate = kGateNames[g];
    std::string problem =
        CheckConstMatrix(context, node, kInputWeights + g, info->n_cell,
                         info->n_input, "input-to-" + gate + " weights");
    if (!problem.empty()) return problem;
    problem = CheckConstMatrix(context, node, kRecurrentWeights + g,
                               info->n_cell, info->n_cell,
                               "recurrent-to-" + gate + " weights");
    if (!problem.empty()) return problem;
    info->input_weights[g] = node->inputs->data[kInputWeights + g];
    info->recurrent_weights[g] = node->inputs->data[kRecurrentWeights + g];
    if (IsPresent(node, kBiases + g)) {
      problem = CheckConstMatrix(context, node, kBiases + g, info->n_cell, 0,
                                 gate + " gate biases");
      if (!problem.empty()) return problem;
      info->biases[g] = node->inputs->data[kBiases + g];
    }
  }
  const std::vector<int> in_dims = TensorDims(input);
  if (in_dims.size() != 3 || in_dims[2] != info->n_input) {
    return "input is not [batch, time, " + std::to_string(info->n_input) + "]";
  }
  if (!IsPresent(node, kOutputState) || !IsPresent(node, kCellState)) {
    return "state tensors missing";
  }
  info->output_state = node->inputs->data[kOutputState];
  info->cell_state = node->inputs->data[kCellState];
  const std::vector<int> state_dims =
      TensorDims(context->tensors[info->cell_state]);
  if (state_dims.size() != 2) return "cell state is not 2-D";
  info->batch = state_dims[0];
  std::string problem = CheckState(context, info->output_state, info->batch,
                                   info->n_cell, "output state");
  if (problem.empty()) {
    problem = CheckState(context, info->cell_state, info->batch, info->n_cell,
                         "cell state");
  }
  if (!problem.empty()) return problem;
  const int in_batch = info->time_major ? in_dims[1] : in_dims[0];
  if (in_batch != info->batch) {
    return "input batch " + std::to_string(in_batch) +
           " is not the state tensors' " + std::to_string(info->batch);
  }
  info->steps = std::max(info->time_major ? in_dims[0] : in_dims[1], 0);
  info->output_min = -std::numeric_limits<float>::infinity();
  info->output_max = std::numeric_limits<float>::infinity();
  return "";
}

double EstimateStockLstmCost(int n_input, int n_cell) {
  const double weights = 4.0 * n_cell * (static_cast<double>(n_input) + n_cell);
  return weights * InterpolateLog2(kStockPerWeight, 4.0 * weights) +
         kCellUpdateUnits * n_cell;
}

LstmDecision AnalyzeLstmNode(const TfLiteContext* context, int node_index,
                             const TfLiteNode* node,
                             const DelegateOptions& options,
                             const DensifySource* /*densify*/) {
  LstmDecision d;
  d.node_index = node_index;
  d.reason = ReadLstmNode(context, node, &d.info);
  if (!d.reason.empty()) return d;
  d.has_shape = true;
  const LstmNodeInfo& info = d.info;
  const int n = info.n_cell;
  const float* wx[4];
  const float* wh[4];
  for (int g = 0; g < 4; ++g) {
    wx[g] = static_cast<const float*>(
        context->tensors[info.input_weights[g]].data);
    wh[g] = static_cast<const float*>(
        context->tensors[info.recurrent_weights[g]].data);
  }
  const std::vector<float> stacked_x = StackLstmGates(wx, n, info.n_input);
  const std::vector<float> stacked_h = StackLstmGates(wh, n, n);
  long long nonzeros = 0;
  for (float v : stacked_x) nonzeros += v != 0.0f;
  for (float v : stacked_h) nonzeros += v != 0.0f;
  const double total =
      static_cast<double>(stacked_x.size()) + stacked_h.size();
  d.sparsity = 1.0 - nonzeros / total;
  if (d.sparsity < options.min_sparsity) {
    d.reason = Fmt("sparsity %.3f is below min_sparsity %.3f", d.sparsity,
                   options.min_sparsity);
    return d;
  }
  const long long batch = std::max(info.batch, 1);
  d.rows = batch * std::max(info.steps, 1);
  std::string problem;
  const double x_cost =
      ChooseGateFormat(stacked_x.data(), 4 * n, info.n_input, d.rows, options,
                       &d.input_format, &problem);
  const double h_cost =
      x_cost < 0 ? -1.0
                 : ChooseGateFormat(stacked_h.data(), 4 * n, n, batch, options,
                                    &d.recurrent_format, &problem);
  if (x_cost < 0 || h_cost < 0) {
    d.reason = "cannot pack the gate weights as " + options.FormatName() +
               ": " + problem;
    return d;
  }
  d.has_formats = true;
  const double sparse = x_cost + h_cost + kCellUpdateUnits * n;
  d.cost_ratio = sparse / EstimateStockLstmCost(info.n_input, n);
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "sparsity %.3f; input gates %s, recurrent gates %s: estimated "
                "cost %.2f of TFLite's LSTM",
                d.sparsity, GateFormatName(d.input_format).c_str(),
                GateFormatName(d.recurrent_format).c_str(), d.cost_ratio);
  if (options.auto_format() && d.cost_ratio > kStockMargin) {
    d.reason = std::string(buf) + Fmt(" (needs <= %.2f)", kStockMargin, 0);
    return d;
  }
  d.claimed = true;
  d.reason = std::string(buf) + (options.auto_format() ? "" : " (forced)");
  return d;
}

std::string LstmDecisionJson(const LstmDecision& d) {
  const LstmNodeInfo& i = d.info;
  std::string out = "{\"node\": " + std::to_string(d.node_index);
  out += ", \"op\": \"UNIDIRECTIONAL_SEQUENCE_LSTM\"";
  out += std::string(", \"claimed\": ") + (d.claimed ? "true" : "false");
  out += ", \"reason\": " + JsonString(d.reason);
  out += ", \"format\": ";
  out += d.claimed ? JsonString(GateFormatName(d.input_format) + "+" +
                                GateFormatName(d.recurrent_format))
                   : "null";
  out += ", \"input_format\": ";
  out += d.has_formats ? JsonString(GateFormatName(d.input_format)) : "null";
  out += ", \"recurrent_format\": ";
  out += d.has_formats ? JsonString(GateFormatName(d.recurrent_format))
                       : "null";
  // The stacked gate matrices' shapes: [4 n_cell, n_input], [4 n_cell,
  // n_cell].
  out += ", \"shape\": ";
  out += d.has_shape ? "[" + std::to_string(4 * i.n_cell) + ", " +
                           std::to_string(i.n_input) + "]"
                     : "null";
  out += ", \"units\": ";
  out += d.has_shape ? std::to_string(i.n_cell) : "null";
  out += ", \"batch\": ";
  out += d.has_shape ? std::to_string(i.batch) : "null";
  out += ", \"steps\": ";
  out += d.has_shape ? std::to_string(i.steps) : "null";
  out += std::string(", \"time_major\": ") + (i.time_major ? "true" : "false");
  out += ", \"sparsity\": ";
  out += d.sparsity >= 0 ? JsonNumber(d.sparsity) : "null";
  out += ", \"cost_vs_dense\": ";
  out += d.cost_ratio >= 0 ? JsonNumber(d.cost_ratio) : "null";
  out += ", \"kernel\": ";
  out += d.claimed ? JsonString(std::string(GateKernelName(d.input_format)) +
                                "+" + GateKernelName(d.recurrent_format))
                   : "null";
  return out + "}";
}

void LogLstmDecision(const LstmDecision& d, int verbose) {
  if (verbose < 1) return;
  const std::string shape =
      d.has_shape ? "[" + std::to_string(d.info.n_cell) + " units, " +
                        std::to_string(d.info.n_input) + " inputs]"
                  : "[?]";
  std::fprintf(stderr,
               "tf_sparse: node %d UNIDIRECTIONAL_SEQUENCE_LSTM %s: %s (%s)\n",
               d.node_index, shape.c_str(), d.claimed ? "claimed" : "declined",
               d.reason.c_str());
  if (verbose >= 2 && d.claimed) {
    std::fprintf(stderr, "tf_sparse:   kernels %s (input), %s (recurrent)\n",
                 GateKernelName(d.input_format),
                 GateKernelName(d.recurrent_format));
  }
}

}  // namespace tf_sparse
