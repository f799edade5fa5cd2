#include "delegate/conv_kernel.h"

#include "delegate/node_util.h"
#include "delegate/sparse_delegate.h"

namespace tf_sparse {

using namespace tflite_abi;  // NOLINT: the ABI names are prefixed already.

namespace {

// Either operator's Params (same fields) from the node.
template <typename Params>
Params ConvParams(const ConvNodeInfo& info) {
  Params p;
  p.stride_h = info.stride_h;
  p.stride_w = info.stride_w;
  p.padding = info.padding;
  p.output_min = info.output_min;
  p.output_max = info.output_max;
  return p;
}

}  // namespace

std::string ConvPartitionKernel::AddNode(TfLiteContext* context, int node_index,
                                         const TfLiteNode* node, NodeIo* io) {
  const std::string where = "node " + std::to_string(node_index);
  ConvDecision decision;
  if (!delegate()->FindConvDecision(context, node_index, &decision) ||
      !decision.claimed) {
    return where + " was not claimed";
  }
  Op op;
  const DensifySource densify{decision.info.densify_node,
                              decision.info.densify_input};
  std::string problem = ReadConvNode(context, node, &op.info, &densify);
  if (!problem.empty()) return where + ": " + problem;
  std::vector<float> decoded;
  const float* w = DenseWeights(context, op.info.weights,
                                op.info.densify_input, &decoded, &problem);
  if (w == nullptr) return where + ": " + problem;
  const float* bias =
      op.info.bias >= 0
          ? static_cast<const float*>(context->tensors[op.info.bias].data)
          : nullptr;
  switch (decision.format) {
    case ConvFormat::kPatdnn:
      op.patdnn = F32PatdnnConv2D::Create(
          w, op.info.out, op.info.in, bias,
          ConvParams<F32PatdnnConv2D::Params>(op.info), &problem);
      if (op.patdnn == nullptr) return where + ": " + problem;
      break;
    case ConvFormat::kVtaps: {
      F32Conv3x3Vtaps::Params params =
          ConvParams<F32Conv3x3Vtaps::Params>(op.info);
      params.kernel_h = op.info.kernel_h;  // 1..8 (ReadConvNode).
      params.kernel_w = op.info.kernel_w;
      params.dilation_h = op.info.dilation_h;
      params.dilation_w = op.info.dilation_w;
      op.vtaps = F32Conv3x3Vtaps::Create(w, op.info.out, op.info.in, bias,
                                         params, &problem);
      if (op.vtaps == nullptr) return where + ": " + problem;
      break;
    }
    case ConvFormat::kNone:
      return where + " was claimed without a format";
  }
  io->input = op.info.input;
  io->output = op.info.output;
  io->densify_node = op.info.densify_node;
  ops_.push_back(std::move(op));
  return "";
}

std::string ConvPartitionKernel::OutputDims(size_t index,
                                            const std::vector<int>& in_dims,
                                            std::vector<int>* out_dims) {
  Op& op = ops_[index];
  op.empty = true;
  if (in_dims.size() == 4 && in_dims[3] != op.info.in) {
    return "input has " + std::to_string(in_dims[3]) +
           " channels, the weights " + std::to_string(op.info.in);
  }
  // The shape TFLite's CONV_2D gives (and its errors), then the packed
  // operator for it unless the output is empty.
  std::string error = StockConvOutputDims(
      in_dims, op.info.padding, op.info.kernel_h, op.info.kernel_w,
      op.info.stride_h, op.info.stride_w, op.info.dilation_h,
      op.info.dilation_w, op.info.out, out_dims);
  if (!error.empty()) return error;
  op.empty = (*out_dims)[0] == 0 || (*out_dims)[1] == 0 || (*out_dims)[2] == 0;
  if (op.empty) return "";
  int out_h = 0, out_w = 0;
  const bool ok =
      op.patdnn != nullptr
          ? op.patdnn->Reshape(in_dims[0], in_dims[1], in_dims[2], &out_h,
                               &out_w, &error)
          : op.vtaps->Reshape(in_dims[0], in_dims[1], in_dims[2], &out_h,
                              &out_w, &error);
  if (!ok) return error;
  if (out_h != (*out_dims)[1] || out_w != (*out_dims)[2]) {
    return "kernel output " + std::to_string(out_h) + "x" +
           std::to_string(out_w) + " differs from TFLite's " +
           std::to_string((*out_dims)[1]) + "x" +
           std::to_string((*out_dims)[2]);
  }
  return "";
}

void ConvPartitionKernel::RunNode(size_t index, const float* x, float* y,
                                  ThreadPool* pool) {
  Op& op = ops_[index];
  if (op.empty) return;
  if (op.patdnn != nullptr) {
    op.patdnn->Run(x, y, pool);
  } else {
    op.vtaps->Run(x, y, pool);
  }
}

}  // namespace tf_sparse
