#include "delegate/fc_partition_kernel.h"

#include <limits>

#include "cc/kernels/f32_bsr_fully_connected.h"
#include "delegate/fc_formats.h"
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
  if (op.info.int8) {
    // Int8 weights, dense or decoded from TFLite's sparse encoding.
    std::vector<int8_t> decoded;
    const int8_t* w = DenseInt8Weights(context, op.info.weights,
                                       op.info.densify_input, &decoded,
                                       &error);
    if (w == nullptr) return where + ": " + error;
    const FcFormatDescriptor* format = FindFcFormat(decision.format);
    if (format == nullptr || format->create_qs8 == nullptr) {
      return where + ": format has no int8 kernels";
    }
    const int32_t* bias =
        op.info.bias >= 0
            ? static_cast<const int32_t*>(context->tensors[op.info.bias].data)
            : nullptr;
    op.op8 = format->create_qs8(w, op.info, bias, decision, &error);
    if (op.op8 == nullptr) return where + ": " + error;
    io->input = op.info.input;
    io->output = op.info.output;
    io->densify_node = op.info.densify_node;
    ops_.push_back(std::move(op));
    return "";
  }
  const float* bias =
      op.info.bias >= 0
          ? static_cast<const float*>(context->tensors[op.info.bias].data)
          : nullptr;
  if (op.info.tflite_sparse) {
    // TFLite's own sparse encoding, read directly: delegate/tflite_sparsity.h.
    F32BsrFullyConnected::Options fc_options;
    fc_options.block_height = decision.block_height;
    fc_options.block_width = decision.block_width;
    op.op = MakeFcOperator(CreateFcFromTfLiteSparsity(
        context->tensors[op.info.weights], bias, op.info.output_min,
        op.info.output_max, fc_options, &error));
  } else {
    // Dense values (decoded when a DENSIFY node feeds the weights).
    std::vector<float> decoded;
    const float* w = DenseWeights(context, op.info.weights,
                                  op.info.densify_input, &decoded, &error);
    if (w == nullptr) return where + ": " + error;
    op.op = FindFcFormat(decision.format)
                ->create(w, op.info, bias, decision, &error);
  }
  if (op.op == nullptr) return where + ": " + error;
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
  return op.op8 != nullptr ? op.op8->Reshape(op.batch)
                           : op.op->Reshape(op.batch);
}

void FcPartitionKernel::RunNode(size_t index, const void* x, void* y,
                                ThreadPool* pool) {
  Op& op = ops_[index];
  if (op.op8 != nullptr) {
    op.op8->Run(static_cast<const int8_t*>(x), static_cast<int8_t*>(y), pool);
  } else {
    op.op->Run(static_cast<const float*>(x), static_cast<float*>(y), pool);
  }
}

}  // namespace tf_sparse
