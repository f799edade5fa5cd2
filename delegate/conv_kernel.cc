#include "delegate/conv_kernel.h"

#include <cstring>

#include "delegate/node_util.h"
#include "delegate/sparse_delegate.h"

namespace tf_sparse {

using namespace tflite_abi;  // NOLINT: the ABI names are prefixed already.

std::string ConvPartitionKernel::AddNode(TfLiteContext* context, int node_index,
                                         const TfLiteNode* node, NodeIo* io) {
  const std::string where = "node " + std::to_string(node_index);
  ConvDecision decision;
  if (!delegate()->FindDecision(context, node_index, &decision) ||
      !decision.claimed) {
    return where + " was not claimed";
  }
  Op op;
  const DensifySource densify{decision.info.densify_node,
                              decision.info.densify_input};
  std::string problem = ReadConvNode(context, node, &op.info, &densify);
  if (!problem.empty()) return where + ": " + problem;
  const ConvFormatDescriptor* format = FindConvFormat(decision.format);
  if (format == nullptr) return where + " was claimed without a format";
  if (op.info.int8) {
    std::vector<int8_t> decoded;
    const int8_t* w = DenseInt8Weights(context, op.info.weights,
                                       op.info.densify_input, &decoded,
                                       &problem);
    if (w == nullptr) return where + ": " + problem;
    if (format->create_qs8 == nullptr) {
      return where + ": format has no int8 kernels";
    }
    const int32_t* bias =
        op.info.bias >= 0
            ? static_cast<const int32_t*>(context->tensors[op.info.bias].data)
            : nullptr;
    op.op8 = format->create_qs8(w, op.info, bias, &problem);
    if (op.op8 == nullptr) return where + ": " + problem;
  } else {
    std::vector<float> decoded;
    const float* w = DenseWeights(context, op.info.weights,
                                  op.info.densify_input, &decoded, &problem);
    if (w == nullptr) return where + ": " + problem;
    const float* bias =
        op.info.bias >= 0
            ? static_cast<const float*>(context->tensors[op.info.bias].data)
            : nullptr;
    op.op = format->create(w, op.info, bias, &problem);
    if (op.op == nullptr) return where + ": " + problem;
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
  op.groups = 1;
  if (in_dims.size() == 4 && in_dims[3] != op.info.in) {
    // TFLite's CONV_2D: a multiple of the weights' input channels is a
    // grouped convolution whose groups divide the filters.
    const int in_c = in_dims[3];
    if (in_c <= 0 || in_c % op.info.in != 0 ||
        op.info.out % (in_c / op.info.in) != 0) {
      return "input has " + std::to_string(in_c) +
             " channels; it must be a multiple of the weights' " +
             std::to_string(op.info.in) +
             " input channels (groups) that divides the " +
             std::to_string(op.info.out) + " filters";
    }
    op.groups = in_c / op.info.in;
  }
  // The shape TFLite's CONV_2D gives (and its errors), then the packed
  // operator for it unless the output is empty.
  std::string error = StockConvOutputDims(
      in_dims, op.info.padding, op.info.kernel_h, op.info.kernel_w,
      op.info.stride_h, op.info.stride_w, op.info.dilation_h,
      op.info.dilation_w, op.info.out, out_dims);
  if (!error.empty()) return error;
  if ((*out_dims)[0] == 0 || (*out_dims)[1] == 0 || (*out_dims)[2] == 0) {
    return "";  // An empty output: nothing to pack for, nothing to run.
  }
  int out_h = 0, out_w = 0;
  const bool reshaped =
      op.op8 != nullptr
          ? op.op8->Reshape(in_dims[0], in_dims[1], in_dims[2], &out_h, &out_w,
                            &error)
          : op.op->Reshape(in_dims[0], in_dims[1], in_dims[2], &out_h, &out_w,
                           &error);
  if (!reshaped) return error;
  const std::string mismatch = KernelOutputMismatch(out_h, out_w, *out_dims);
  if (!mismatch.empty()) return mismatch;
  op.input_pixels = static_cast<size_t>(in_dims[0]) * in_dims[1] * in_dims[2];
  op.output_pixels = static_cast<size_t>(in_dims[0]) * out_h * out_w;
  if (op.groups > 1) {
    const size_t element = op.info.int8 ? 1 : sizeof(float);
    const size_t in_need = op.input_pixels * op.info.in * element;
    const size_t out_need = op.output_pixels * op.info.out * element;
    if (op.group_in.size() < in_need) op.group_in.Resize(in_need);
    if (op.group_out.size() < out_need) op.group_out.Resize(out_need);
  }
  return "";
}

template <typename T>
void ConvPartitionKernel::RunGrouped(Op& op, const T* x, T* y,
                                     TypedConvOperator<T>* kernel,
                                     ThreadPool* pool) {
  if (op.groups == 1) {
    kernel->Run(x, y, pool);
    return;
  }
  const size_t in = op.info.in, out = op.info.out;
  const size_t in_c = in * op.groups, per_group = out / op.groups;
  T* gi = reinterpret_cast<T*>(op.group_in.data());
  T* go_all = reinterpret_cast<T*>(op.group_out.data());
  for (int g = 0; g < op.groups; ++g) {
    for (size_t p = 0; p < op.input_pixels; ++p) {
      std::memcpy(gi + p * in, x + p * in_c + g * in, in * sizeof(T));
    }
    kernel->Run(gi, go_all, pool);
    const T* go = go_all + g * per_group;
    for (size_t p = 0; p < op.output_pixels; ++p) {
      std::memcpy(y + p * out + g * per_group, go + p * out,
                  per_group * sizeof(T));
    }
  }
}

void ConvPartitionKernel::RunNode(size_t index, const void* x, void* y,
                                  ThreadPool* pool) {
  Op& op = ops_[index];
  if (op.op8 != nullptr) {
    RunGrouped(op, static_cast<const int8_t*>(x), static_cast<int8_t*>(y),
               op.op8.get(), pool);
  } else {
    RunGrouped(op, static_cast<const float*>(x), static_cast<float*>(y),
               op.op.get(), pool);
  }
}

}  // namespace tf_sparse
