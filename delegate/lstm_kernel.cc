#include "delegate/lstm_kernel.h"

#include "delegate/fc_formats.h"
#include "delegate/node_util.h"
#include "delegate/sparse_delegate.h"

namespace tf_sparse {

using namespace tflite_abi;  // NOLINT: the ABI names are prefixed already.

namespace {

// Packs stacked gate matrix `w` as `fc` says.
std::unique_ptr<SparseOperator> PackGates(const std::vector<float>& w,
                                          const float* bias,
                                          const FcDecision& fc,
                                          std::string* error) {
  const FcFormatDescriptor* format = FindFcFormat(fc.format);
  if (format == nullptr) {
    *error = "no format chosen";
    return nullptr;
  }
  return format->create(w.data(), fc.info, bias, fc, error);
}

}  // namespace

std::string LstmPartitionKernel::AddNode(TfLiteContext* context,
                                         int node_index,
                                         const TfLiteNode* node, NodeIo* io) {
  const std::string where = "node " + std::to_string(node_index);
  LstmDecision decision;
  if (!delegate()->FindDecision(context, node_index, &decision) ||
      !decision.claimed) {
    return where + " was not claimed";
  }
  Op op;
  std::string problem = ReadLstmNode(context, node, &op.info);
  if (!problem.empty()) return where + ": " + problem;
  const int n = op.info.n_cell;
  const float* wx[4];
  const float* wh[4];
  const float* bias[4];
  for (int g = 0; g < 4; ++g) {
    wx[g] = static_cast<const float*>(
        context->tensors[op.info.input_weights[g]].data);
    wh[g] = static_cast<const float*>(
        context->tensors[op.info.recurrent_weights[g]].data);
    bias[g] = op.info.biases[g] >= 0
                  ? static_cast<const float*>(
                        context->tensors[op.info.biases[g]].data)
                  : nullptr;
  }
  std::unique_ptr<SparseOperator> input_op =
      PackGates(StackLstmGates(wx, n, op.info.n_input),
                StackLstmBiases(bias, n).data(), decision.input_format,
                &problem);
  if (input_op == nullptr) return where + ": input gates: " + problem;
  std::unique_ptr<SparseOperator> recurrent_op =
      PackGates(StackLstmGates(wh, n, n), nullptr, decision.recurrent_format,
                &problem);
  if (recurrent_op == nullptr) return where + ": recurrent gates: " + problem;
  op.lstm = F32SparseLstm::Create(std::move(input_op), std::move(recurrent_op),
                                  op.info.n_input, n, op.info.cell_clip,
                                  &problem);
  if (op.lstm == nullptr) return where + ": " + problem;
  io->input = op.info.input;
  io->output = op.info.output;
  ops_.push_back(std::move(op));
  return "";
}

std::string LstmPartitionKernel::OutputDims(size_t index,
                                            const std::vector<int>& in_dims,
                                            std::vector<int>* out_dims) {
  Op& op = ops_[index];
  const LstmNodeInfo& info = op.info;
  if (in_dims.size() != 3 || in_dims[2] != info.n_input || in_dims[0] < 0 ||
      in_dims[1] < 0) {
    return "LSTM input must be [" +
           std::string(info.time_major ? "time, batch" : "batch, time") +
           ", " + std::to_string(info.n_input) + "]";
  }
  const int batch = info.time_major ? in_dims[1] : in_dims[0];
  const int steps = info.time_major ? in_dims[0] : in_dims[1];
  // The state tensors keep the batch they were converted with, as in
  // TFLite's own kernel, which refuses any other.
  const TfLiteTensor& state = context()->tensors[info.cell_state];
  const std::vector<int> state_dims = TensorDims(state);
  if (state_dims.size() != 2 || state_dims[0] != batch ||
      state_dims[1] != info.n_cell) {
    return "LSTM input batch " + std::to_string(batch) +
           " does not match the state tensors' [" +
           (state_dims.size() == 2 ? std::to_string(state_dims[0]) + ", " +
                                         std::to_string(state_dims[1])
                                   : std::string("?")) +
           "]";
  }
  *out_dims = {in_dims[0], in_dims[1], info.n_cell};
  return op.lstm->Reshape(batch, steps, info.time_major);
}

void LstmPartitionKernel::RunNode(size_t index, const void* x, void* y,
                                  ThreadPool* pool) {
  Op& op = ops_[index];
  TfLiteContext* ctx = context();
  float* h = static_cast<float*>(ctx->tensors[op.info.output_state].data);
  float* c = static_cast<float*>(ctx->tensors[op.info.cell_state].data);
  op.lstm->Run(static_cast<const float*>(x), static_cast<float*>(y), h, c,
               pool);
}

}  // namespace tf_sparse
