#include "delegate/partition_kernel.h"

#include <chrono>
#include <cstring>
#include <exception>

#include "delegate/node_util.h"
#include "delegate/sparse_delegate.h"

namespace tf_sparse {

using namespace tflite_abi;  // NOLINT: the ABI names are prefixed already.

int PartitionKernel::ScratchIndex(int tensor) const {
  for (size_t i = 0; i < scratch_.size(); ++i) {
    if (scratch_[i].tensor == tensor) return static_cast<int>(i);
  }
  return -1;
}

std::string PartitionKernel::InitNodes(TfLiteContext* context,
                                       const TfLiteDelegateParams* params) {
  delegate_ = SparseDelegate::FromHandle(params->delegate);
  if (delegate_ == nullptr) return "partition does not belong to tf_sparse";
  const TfLiteIntArray* nodes = params->nodes_to_replace;
  if (nodes == nullptr || nodes->size < 1) return "empty partition";
  std::vector<int> densify_nodes;
  for (int i = 0; i < nodes->size; ++i) {
    const int node_index = nodes->data[i];
    TfLiteNode* node = nullptr;
    TfLiteRegistration* reg = nullptr;
    if (context->GetNodeAndRegistration(context, node_index, &node, &reg) !=
            kTfLiteOk ||
        node == nullptr || reg == nullptr) {
      return "cannot read node " + std::to_string(node_index);
    }
    if (reg->builtin_code == kTfLiteBuiltinDensify) {
      densify_nodes.push_back(node_index);
      continue;
    }
    Slot slot;
    slot.io.node_index = node_index;
    const std::string problem = AddNode(context, node_index, node, &slot.io);
    if (!problem.empty()) return problem;
    slots_.push_back(slot);
  }
  // A DENSIFY node is claimed only with the claimed node that is its
  // output's sole reader (which decodes the DENSIFY input itself), and never
  // when the graph exposes its output. TFLite's partitioner places a node
  // whose inputs are all constant in the first partition it builds, so the
  // reader may sit in a later partition: then the output leaves this
  // partition for one of ours that never reads it, and it is sized empty
  // rather than filled with a dense copy of the weights.
  for (int densify : densify_nodes) {
    bool absorbed = false;
    for (const Slot& s : slots_) absorbed |= s.io.densify_node == densify;
    if (absorbed) continue;
    TfLiteNode* node = nullptr;
    TfLiteRegistration* reg = nullptr;
    if (context->GetNodeAndRegistration(context, densify, &node, &reg) !=
            kTfLiteOk ||
        node == nullptr || node->outputs == nullptr ||
        node->outputs->size != 1) {
      return "cannot read DENSIFY node " + std::to_string(densify);
    }
    detached_outputs_.push_back(node->outputs->data[0]);
  }
  for (const Slot& s : slots_) {
    if (!IntArrayContains(params->output_tensors, s.io.output)) {
      Scratch scratch;
      scratch.tensor = s.io.output;
      scratch_.push_back(std::move(scratch));
    }
  }
  for (Slot& s : slots_) {
    s.input_scratch = ScratchIndex(s.io.input);
    s.output_scratch = ScratchIndex(s.io.output);
  }
  return "";
}

void PartitionKernel::Init(TfLiteContext* context, const char* buffer) {
  const auto* params = reinterpret_cast<const TfLiteDelegateParams*>(buffer);
  if (params == nullptr) {
    init_error_ = "no delegate parameters";
  } else {
    try {
      init_error_ = InitNodes(context, params);
    } catch (const std::exception& e) {
      init_error_ = e.what();
    }
  }
  // Reported once, by prepare (which the runtime calls next).
}

void PartitionKernel::Free(TfLiteContext* /*context*/, void* buffer) {
  delete static_cast<PartitionKernel*>(buffer);
}

TfLiteStatus PartitionKernel::Prepare(TfLiteContext* context,
                                      TfLiteNode* node) {
  auto* kernel = static_cast<PartitionKernel*>(node->user_data);
  if (kernel == nullptr) {
    context->ReportError(context, "tf_sparse: kernel was not created\n");
    return kTfLiteError;
  }
  try {
    return kernel->DoPrepare(context);
  } catch (const std::exception& e) {
    context->ReportError(context, "tf_sparse: prepare failed: %s\n", e.what());
    return kTfLiteError;
  }
}

TfLiteStatus PartitionKernel::DoPrepare(TfLiteContext* context) {
  context_ = context;
  if (!init_error_.empty()) {
    context->ReportError(context, "tf_sparse: %s\n", init_error_.c_str());
    return kTfLiteError;
  }
  for (const int tensor : detached_outputs_) {
    const int empty[1] = {0};
    TfLiteIntArray* dims = NewIntArray(empty, 1);
    if (dims == nullptr) return kTfLiteError;
    const TfLiteStatus status =
        context->ResizeTensor(context, &context->tensors[tensor], dims);
    if (status != kTfLiteOk) return status;
  }
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    const std::vector<int> in_dims =
        s.input_scratch >= 0 ? scratch_[s.input_scratch].dims
                             : TensorDims(context->tensors[s.io.input]);
    std::vector<int> out_dims;
    const std::string error = OutputDims(i, in_dims, &out_dims);
    if (!error.empty()) {
      context->ReportError(context, "tf_sparse: node %d: %s\n", s.io.node_index,
                           error.c_str());
      return kTfLiteError;
    }
    s.output_size = 1;
    for (int d : out_dims) s.output_size *= static_cast<size_t>(d);
    if (s.output_scratch >= 0) {
      Scratch& scratch = scratch_[s.output_scratch];
      scratch.dims = out_dims;
      if (scratch.data.size() < s.output_size) {
        scratch.data.Resize(s.output_size);
      }
    } else {
      TfLiteIntArray* dims =
          NewIntArray(out_dims.data(), static_cast<int>(out_dims.size()));
      if (dims == nullptr) return kTfLiteError;
      // ResizeTensor owns `dims` from here on, whatever it returns.
      const TfLiteStatus status = context->ResizeTensor(
          context, &context->tensors[s.io.output], dims);
      if (status != kTfLiteOk) return status;
    }
  }
  return kTfLiteOk;
}

TfLiteStatus PartitionKernel::Invoke(TfLiteContext* context,
                                     TfLiteNode* node) {
  auto* kernel = static_cast<PartitionKernel*>(node->user_data);
  if (kernel == nullptr || !kernel->init_error_.empty()) return kTfLiteError;
  return kernel->DoInvoke(context);
}

TfLiteStatus PartitionKernel::DoInvoke(TfLiteContext* context) {
  context_ = context;
  const auto start = std::chrono::steady_clock::now();
  ThreadPool* pool = delegate_->AcquirePool();
  TfLiteStatus status = kTfLiteOk;
  int64_t ran = 0;
  for (size_t i = 0; i < slots_.size(); ++i) {
    const Slot& s = slots_[i];
    const void* x = s.input_scratch >= 0
                        ? scratch_[s.input_scratch].data.data()
                        : context->tensors[s.io.input].data;
    void* y = s.output_scratch >= 0 ? scratch_[s.output_scratch].data.data()
                                    : context->tensors[s.io.output].data;
    if (s.output_size > 0 && (x == nullptr || y == nullptr)) {
      context->ReportError(context, "tf_sparse: node %d has no tensor data\n",
                           s.io.node_index);
      status = kTfLiteError;
      break;
    }
    // An empty output (a batch of 0, or a VALID kernel larger than the
    // input) has nothing to compute, as in TFLite's own kernels.
    if (s.output_size > 0) RunNode(i, x, y, pool);
    ++ran;
  }
  if (pool != nullptr) delegate_->ReleasePool();
  delegate_->AddInvocations(ran);
  delegate_->AddKernelTime(std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::steady_clock::now() - start)
                               .count());
  return status;
}

}  // namespace tf_sparse
