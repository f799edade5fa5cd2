#include "delegate/dwconv_kernel.h"

#include "delegate/node_util.h"
#include "delegate/sparse_delegate.h"

namespace tf_sparse {

using namespace tflite_abi;  // NOLINT: the ABI names are prefixed already.

std::string DwConvPartitionKernel::AddNode(TfLiteContext* context,
                                           int node_index,
                                           const TfLiteNode* node,
                                           NodeIo* io) {
  const std::string where = "node " + std::to_string(node_index);
  DwConvDecision decision;
  if (!delegate()->FindDwConvDecision(context, node_index, &decision) ||
      !decision.claimed) {
    return where + " was not claimed";
  }
  Op op;
  const DensifySource densify{decision.info.densify_node,
                              decision.info.densify_input};
  std::string problem = ReadDwConvNode(context, node, &op.info, &densify);
  if (!problem.empty()) return where + ": " + problem;
  F32SparseDepthwiseConv3x3::Params p;
  p.stride_h = op.info.stride_h;
  p.stride_w = op.info.stride_w;
  p.padding = op.info.padding;
  p.output_min = op.info.output_min;
  p.output_max = op.info.output_max;
  std::vector<float> decoded;
  const float* w = DenseWeights(context, op.info.weights,
                                op.info.densify_input, &decoded, &problem);
  if (w == nullptr) return where + ": " + problem;
  const float* bias =
      op.info.bias >= 0
          ? static_cast<const float*>(context->tensors[op.info.bias].data)
          : nullptr;
  op.conv = F32SparseDepthwiseConv3x3::Create(w, op.info.channels, bias, p,
                                              &problem);
  if (op.conv == nullptr) return where + ": " + problem;
  io->input = op.info.input;
  io->output = op.info.output;
  io->densify_node = op.info.densify_node;
  ops_.push_back(std::move(op));
  return "";
}

std::string DwConvPartitionKernel::OutputDims(size_t index,
                                              const std::vector<int>& in_dims,
                                              std::vector<int>* out_dims) {
  Op& op = ops_[index];
  if (in_dims.size() != 4 || in_dims[3] != op.info.channels ||
      in_dims[0] < 0) {
    return "input is not NHWC with " + std::to_string(op.info.channels) +
           " channels";
  }
  int out_h = 0, out_w = 0;
  std::string error;
  if (!op.conv->Reshape(in_dims[0], in_dims[1], in_dims[2], &out_h, &out_w,
                        &error)) {
    return error;
  }
  *out_dims = {in_dims[0], out_h, out_w, op.info.channels};
  return "";
}

void DwConvPartitionKernel::RunNode(size_t index, const float* x, float* y,
                                    ThreadPool* pool) {
  ops_[index].conv->Run(x, y, pool);
}

}  // namespace tf_sparse
