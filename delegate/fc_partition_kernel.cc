#include "delegate/fc_partition_kernel.h"

#include <limits>

#include "delegate/node_util.h"
#include "delegate/sparse_delegate.h"
#include "delegate/tflite_sparsity.h"

namespace tf_sparse {
namespace {

using namespace tflite_abi;  // NOLINT: the ABI names are prefixed already.

// Output shape and batch of a FULLY_CONNECTED node for an input shape, as
// TFLite's own kernel computes them: with keep_num_dims the last dimension
// must be the weights' input size; otherwise the input is read as
// floor(elements / in) rows of `in` values, whatever its shape. Stock TFLite
// does not require the division to be exact (an input [1, 300] against
// [out, 256] weights gives one row, its first 256 values, and [1, 100] gives
// zero rows), so neither does the delegate: it runs its packed kernel on the
// same rows and its outputs equal the stock interpreter's.
bool FcOutputShape(const FcNodeInfo& info, const std::vector<int>& in_dims,
                   std::vector<int>* out_dims, size_t* batch,
                   std::string* error) {
  if (in_dims.empty()) {
    *error = "input has rank 0";
    return false;
  }
  if (info.in < 1) {
    *error = "weights have no input columns";
    return false;
  }
  long long elements = 1;
  for (int d : in_dims) {
    if (d < 0) {
      *error = "input has a negative dimension";
      return false;
    }
    elements *= d;
  }
  const long long rows = elements / info.in;
  if (rows > std::numeric_limits<int>::max()) {
    *error = "input has more than 2^31 - 1 rows";
    return false;
  }
  if (info.keep_num_dims) {
    if (in_dims.back() != info.in) {
      *error = "input's last dimension " + std::to_string(in_dims.back()) +
               " differs from the weights' " + std::to_string(info.in);
      return false;
    }
    *out_dims = in_dims;
    out_dims->back() = info.out;
  } else {
    *out_dims = {static_cast<int>(rows), info.out};
  }
  *batch = static_cast<size_t>(rows);
  return true;
}

}  // namespace

std::string FcPartitionKernel::AddNode(TfLiteContext* context, int node_index,
                                       const TfLiteNode* node, NodeIo* io) {
  const std::string where = "node " + std::to_string(node_index);
  FcDecision decision;
  if (!delegate()->FindDecision(context, node_index, &decision) ||
      !decision.claimed) {
    return where + " was not claimed";
  }
  Op op;
  const DensifySource densify{decision.info.densify_node,
                              decision.info.densify_input};
  std::string error = ReadFcNode(context, node, &op.info, &densify);
  if (!error.empty()) return where + ": " + error;
  F32BsrFullyConnected::Options fc_options;
  fc_options.block_height = decision.block_height;
  fc_options.block_width = decision.block_width;
  const float* bias =
      op.info.bias >= 0
          ? static_cast<const float*>(context->tensors[op.info.bias].data)
          : nullptr;
  // Dense values (decoded when a DENSIFY node feeds the weights); unused
  // for weights in TFLite's sparse encoding, which are read directly.
  std::vector<float> decoded;
  const float* w = nullptr;
  if (!op.info.tflite_sparse) {
    w = DenseWeights(context, op.info.weights, op.info.densify_input,
                     &decoded, &error);
    if (w == nullptr) return where + ": " + error;
  }
  if (op.info.tflite_sparse) {
    // TFLite's own sparse encoding: delegate/tflite_sparsity.h.
    op.fc = CreateFcFromTfLiteSparsity(context->tensors[op.info.weights],
                                       bias, op.info.output_min,
                                       op.info.output_max, fc_options, &error);
  } else if (decision.format == FcFormat::kCsr) {
    op.csr = F32CsrFullyConnected::Create(
        w, op.info.out, op.info.in, bias,
        op.info.output_min, op.info.output_max, {}, &error);
  } else if (decision.format == FcFormat::kNm) {
    F32NmFullyConnected::Options nm_options;
    nm_options.n = decision.nm_n;
    nm_options.m = decision.nm_m;
    op.nm = F32NmFullyConnected::Create(
        w, op.info.out, op.info.in, bias,
        op.info.output_min, op.info.output_max, nm_options, &error);
  } else if (decision.format == FcFormat::kVtaps) {
    F32Conv3x3Vtaps::Params vt_params;
    vt_params.kernel_h = vt_params.kernel_w = 1;
    vt_params.output_min = op.info.output_min;
    vt_params.output_max = op.info.output_max;
    op.vt = F32Conv3x3Vtaps::Create(w, op.info.out, op.info.in, bias,
                                    vt_params, &error);
  } else if (decision.format == FcFormat::kGs) {
    F32GsFullyConnected::Options gs_options;
    gs_options.banks = decision.gs_banks;
    gs_options.elements_per_row = decision.gs_elements_per_row;
    op.gs = F32GsFullyConnected::Create(
        w, op.info.out, op.info.in, bias,
        op.info.output_min, op.info.output_max, gs_options, &error);
  } else {
    op.fc = F32BsrFullyConnected::Create(
        w, op.info.out, op.info.in, bias,
        op.info.output_min, op.info.output_max, fc_options, &error);
  }
  if (op.fc == nullptr && op.csr == nullptr && op.nm == nullptr &&
      op.gs == nullptr && op.vt == nullptr) {
    return where + ": " + error;
  }
  io->input = op.info.input;
  io->output = op.info.output;
  io->densify_node = op.info.densify_node;
  ops_.push_back(std::move(op));
  return "";
}

std::string FcPartitionKernel::OutputDims(size_t index,
                                          const std::vector<int>& in_dims,
                                          std::vector<int>* out_dims) {
  Op& op = ops_[index];
  std::string error;
  if (!FcOutputShape(op.info, in_dims, out_dims, &op.batch, &error)) {
    return error;
  }
  if (op.vt != nullptr && op.batch > 0) {
    // The rows are the pixels of a 1 x batch image.
    if (op.batch > static_cast<size_t>(std::numeric_limits<int>::max())) {
      return "too many rows";
    }
    int out_h = 0, out_w = 0;
    if (!op.vt->Reshape(1, 1, static_cast<int>(op.batch), &out_h, &out_w,
                        &error)) {
      return error;
    }
  }
  return "";
}

void FcPartitionKernel::RunNode(size_t index, const float* x, float* y,
                                ThreadPool* pool) {
  Op& op = ops_[index];
  if (op.fc != nullptr) {
    op.fc->Run(op.batch, x, y, pool);
  } else if (op.csr != nullptr) {
    op.csr->Run(op.batch, x, y, pool);
  } else if (op.nm != nullptr) {
    op.nm->Run(op.batch, x, y, pool);
  } else if (op.vt != nullptr) {
    if (op.batch > 0) op.vt->Run(x, y, pool);
  } else {
    op.gs->Run(op.batch, x, y, pool);
  }
}

}  // namespace tf_sparse
