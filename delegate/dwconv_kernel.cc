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
  if (!delegate()->FindDecision(context, node_index, &decision) ||
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
  op.multiplier = 1;
  const int channels = op.info.channels;
  if (in_dims.size() == 4) {
    // TFLite's DEPTHWISE_CONV_2D takes any input channel count that divides
    // the weights' channels (as a depth multiplier) and refuses the others.
    const int in_c = in_dims[3];
    if (in_c <= 0 || channels % in_c != 0) {
      return "input has " + std::to_string(in_c) +
             " channels; the weights' " + std::to_string(channels) +
             " channels must be a multiple of it (the depth multiplier)";
    }
    op.multiplier = channels / in_c;
  }
  std::string error = StockConvOutputDims(
      in_dims, op.info.padding, op.info.kernel_h, op.info.kernel_w,
      op.info.stride_h, op.info.stride_w, 1, 1, channels, out_dims);
  if (!error.empty()) return error;
  if ((*out_dims)[0] == 0 || (*out_dims)[1] == 0 || (*out_dims)[2] == 0) {
    return "";  // An empty output: nothing to pack for, nothing to run.
  }
  int out_h = 0, out_w = 0;
  if (!op.conv->Reshape(in_dims[0], in_dims[1], in_dims[2], &out_h, &out_w,
                        &error)) {
    return error;
  }
  const std::string mismatch = KernelOutputMismatch(out_h, out_w, *out_dims);
  if (!mismatch.empty()) return mismatch;
  op.input_pixels = static_cast<size_t>(in_dims[0]) * in_dims[1] * in_dims[2];
  if (op.multiplier > 1) {
    const size_t need = op.input_pixels * static_cast<size_t>(channels);
    if (op.expanded.size() < need) op.expanded.Resize(need);
  }
  return "";
}

void DwConvPartitionKernel::RunNode(size_t index, const void* x_data, void* y_data,
                                    ThreadPool* pool) {
  const float* x = static_cast<const float*>(x_data);
  float* y = static_cast<float*>(y_data);
  Op& op = ops_[index];
  if (op.multiplier > 1) {
    const int m = op.multiplier;
    const size_t in_c = static_cast<size_t>(op.info.channels / m);
    float* e = op.expanded.data();
    for (size_t p = 0; p < op.input_pixels; ++p) {
      const float* src = x + p * in_c;
      for (size_t c = 0; c < in_c; ++c) {
        for (int j = 0; j < m; ++j) *e++ = src[c];
      }
    }
    x = op.expanded.data();
  }
  op.conv->Run(x, y, pool);
}

}  // namespace tf_sparse
