#include "delegate/bmm_analysis.h"

#include <algorithm>
#include <limits>

namespace tf_sparse {

using namespace tflite_abi;  // NOLINT: the ABI names are prefixed already.

std::string ReadBmmNode(const TfLiteContext* context, const TfLiteNode* node,
                        BmmNodeInfo* info, const DensifySource* densify) {
  FcNodeInfo& fc = info->fc;
  if (node->inputs == nullptr || node->outputs == nullptr) {
    return "node has no input or output list";
  }
  if (node->inputs->size != 2) {
    return "expected 2 inputs, got " + std::to_string(node->inputs->size);
  }
  if (node->outputs->size != 1) {
    return "expected 1 output, got " + std::to_string(node->outputs->size);
  }
  const int num_tensors = static_cast<int>(context->tensors_size);
  fc.input = node->inputs->data[0];
  fc.weights = node->inputs->data[1];
  fc.output = node->outputs->data[0];
  fc.bias = kTfLiteOptionalTensor;
  for (int t : {fc.input, fc.weights, fc.output}) {
    if (t < 0 || t >= num_tensors) return "tensor index out of range";
  }
  const TfLiteTensor& x = context->tensors[fc.input];
  const TfLiteTensor& w = context->tensors[fc.weights];
  const TfLiteTensor& y = context->tensors[fc.output];
  if (x.type != kTfLiteFloat32 || w.type != kTfLiteFloat32 ||
      y.type != kTfLiteFloat32) {
    return "not float32 (only float32 BATCH_MATMUL is run)";
  }
  if (densify != nullptr && densify->node >= 0) {
    return "weights come from a DENSIFY node (not run for BATCH_MATMUL)";
  }
  if (w.allocation_type != kTfLiteMmapRo || w.data == nullptr) {
    return x.allocation_type == kTfLiteMmapRo
               ? "the constant operand is the left-hand side (weights times "
                 "activations; only a constant right-hand side is run)"
               : "no constant operand (a product of two activations)";
  }
  if (w.sparsity != nullptr) {
    return "weights are in TFLite's sparse encoding (not run for "
           "BATCH_MATMUL)";
  }
  const auto* params =
      static_cast<const TfLiteBatchMatMulParams*>(node->builtin_data);
  if (params == nullptr) return "node has no parameters";
  if (params->adj_x) {
    return "adj_x is set (a transposed left-hand side is not a "
           "FULLY_CONNECTED over its rows)";
  }
  info->adj_y = params->adj_y;
  if (w.dims == nullptr || w.dims->size < 2) return "weights have rank below 2";
  const int rank = w.dims->size;
  for (int i = 0; i < rank - 2; ++i) {
    if (w.dims->data[i] != 1) {
      return "weights have a batch dimension other than 1 (a weight matrix "
             "per batch)";
    }
  }
  info->weights_rank = rank;
  const int rows = w.dims->data[rank - 2];
  const int cols = w.dims->data[rank - 1];
  fc.out = info->adj_y ? rows : cols;
  fc.in = info->adj_y ? cols : rows;
  if (fc.out < 1 || fc.in < 1) return "weights have an empty dimension";
  if (w.bytes != static_cast<size_t>(fc.out) * fc.in * sizeof(float)) {
    return "weights byte size does not match their shape";
  }
  fc.keep_num_dims = true;
  std::string problem =
      ActivationClamp(kTfLiteActNone, &fc.output_min, &fc.output_max);
  if (!problem.empty()) return problem;
  if (x.dims == nullptr || x.dims->size < 2) {
    return "left-hand side has rank below 2";
  }
  // A dynamic input's dims are placeholders until the first allocation; the
  // kernel's prepare checks the real shape on every resize.
  bool dynamic = false;
  if (x.dims_signature != nullptr) {
    for (int i = 0; i < x.dims_signature->size; ++i) {
      dynamic = dynamic || x.dims_signature->data[i] < 0;
    }
  }
  if (!dynamic && x.dims->data[x.dims->size - 1] != fc.in) {
    return "left-hand side's last dimension is not the weights' K";
  }
  return "";
}

const float* BmmFcWeights(const TfLiteContext* context,
                          const BmmNodeInfo& info,
                          std::vector<float>* storage) {
  const float* w =
      static_cast<const float*>(context->tensors[info.fc.weights].data);
  if (info.adj_y) return w;
  // [K][N] -> [N][K].
  const size_t out = static_cast<size_t>(info.fc.out);
  const size_t in = static_cast<size_t>(info.fc.in);
  storage->resize(out * in);
  for (size_t k = 0; k < in; ++k) {
    for (size_t n = 0; n < out; ++n) (*storage)[n * in + k] = w[k * out + n];
  }
  return storage->data();
}

std::string BmmOutputDims(const BmmNodeInfo& info,
                          const std::vector<int>& x_dims,
                          std::vector<int>* out_dims, size_t* rows) {
  if (x_dims.size() < 2) {
    return "left-hand side has rank " + std::to_string(x_dims.size()) +
           ", expected at least 2";
  }
  long long elements = 1;
  for (int d : x_dims) {
    if (d < 0) return "left-hand side has a negative dimension";
    elements *= d;
  }
  if (x_dims.back() != info.fc.in) {
    return "left-hand side's last dimension " + std::to_string(x_dims.back()) +
           " differs from the weights' K " + std::to_string(info.fc.in);
  }
  const long long n = elements / info.fc.in;
  if (n > std::numeric_limits<int>::max()) {
    return "left-hand side has more than 2^31 - 1 rows";
  }
  const size_t rank =
      std::max(x_dims.size(), static_cast<size_t>(info.weights_rank));
  out_dims->assign(rank - x_dims.size(), 1);
  out_dims->insert(out_dims->end(), x_dims.begin(), x_dims.end() - 1);
  out_dims->push_back(info.fc.out);
  *rows = static_cast<size_t>(n);
  return "";
}

BmmDecision AnalyzeBmmNode(const TfLiteContext* context, int node_index,
                           const TfLiteNode* node,
                           const DelegateOptions& options,
                           const DensifySource* densify) {
  BmmDecision d;
  d.node_index = node_index;
  d.reason = ReadBmmNode(context, node, &d.info, densify);
  d.fc.node_index = node_index;
  d.fc.info = d.info.fc;
  d.fc.has_shape = d.info.fc.out > 0 && d.info.fc.in > 0;
  if (!d.reason.empty()) {
    d.fc.reason = d.reason;
    return d;
  }
  d.fc.batch_rows = FcBatchRows(context, d.info.fc);
  // XNNPACK's FULLY_CONNECTED GEMM is the dense cost: the safe side, as
  // TFLite's own BATCH_MATMUL kernel (when XNNPACK leaves the node) is no
  // faster.
  d.fc.dense_row_factor = XnnpackRowFactor(d.fc.batch_rows);
  std::vector<float> storage;
  const float* w = BmmFcWeights(context, d.info, &storage);
  ChooseFcFormat(w, nullptr, options, &d.fc);
  d.claimed = d.fc.claimed;
  d.reason = d.fc.reason;
  return d;
}

std::string BmmDecisionJson(const BmmDecision& d) {
  return FcDecisionJsonAs(
      d.fc, "BATCH_MATMUL",
      std::string(", \"adj_y\": ") + (d.info.adj_y ? "true" : "false"));
}

void LogBmmDecision(const BmmDecision& d, int verbose) {
  LogFcDecisionAs(d.fc, "BATCH_MATMUL", verbose);
}

}  // namespace tf_sparse
