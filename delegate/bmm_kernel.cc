#include "delegate/bmm_kernel.h"

#include "delegate/fc_formats.h"
#include "delegate/sparse_delegate.h"

namespace tf_sparse {

using namespace tflite_abi;  // NOLINT: the ABI names are prefixed already.

std::string BmmPartitionKernel::AddNode(TfLiteContext* context,
                                        int node_index, const TfLiteNode* node,
                                        NodeIo* io) {
  const std::string where = "node " + std::to_string(node_index);
  BmmDecision decision;
  if (!delegate()->FindDecision(context, node_index, &decision) ||
      !decision.claimed) {
    return where + " was not claimed";
  }
  Op op;
  std::string error = ReadBmmNode(context, node, &op.info);
  if (!error.empty()) return where + ": " + error;
  const FcFormatDescriptor* format = FindFcFormat(decision.fc.format);
  if (format == nullptr) return where + ": no packed format was chosen";
  std::vector<float> storage;
  const float* w = BmmFcWeights(context, op.info, &storage);
  op.op = format->create(w, op.info.fc, /*bias=*/nullptr, decision.fc, &error);
  if (op.op == nullptr) return where + ": " + error;
  io->input = op.info.fc.input;
  io->output = op.info.fc.output;
  ops_.push_back(std::move(op));
  return "";
}

std::string BmmPartitionKernel::OutputDims(size_t index,
                                           const std::vector<int>& in_dims,
                                           std::vector<int>* out_dims) {
  Op& op = ops_[index];
  size_t rows = 0;
  const std::string error = BmmOutputDims(op.info, in_dims, out_dims, &rows);
  if (!error.empty()) return error;
  return op.op->Reshape(rows);
}

void BmmPartitionKernel::RunNode(size_t index, const void* x, void* y,
                                 ThreadPool* pool) {
  ops_[index].op->Run(static_cast<const float*>(x), static_cast<float*>(y),
                      pool);
}

}  // namespace tf_sparse
