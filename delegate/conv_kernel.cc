#include "delegate/conv_kernel.h"

#include <cstring>
#include <new>

#include "delegate/sparse_delegate.h"

namespace tf_sparse {
namespace {

using namespace tflite_abi;  // NOLINT: the ABI names are prefixed already.

bool Contains(const TfLiteIntArray* a, int v) {
  if (a == nullptr) return false;
  for (int i = 0; i < a->size; ++i) {
    if (a->data[i] == v) return true;
  }
  return false;
}

std::vector<int> DimsOf(const TfLiteTensor& t) {
  std::vector<int> dims;
  if (t.dims != nullptr) dims.assign(t.dims->data, t.dims->data + t.dims->size);
  return dims;
}

}  // namespace

TfLiteRegistrationPadded ConvPartitionKernel::Registration() {
  TfLiteRegistrationPadded r;
  std::memset(&r, 0, sizeof(r));
  r.registration.init = &ConvPartitionKernel::Init;
  r.registration.free = &ConvPartitionKernel::Free;
  r.registration.prepare = &ConvPartitionKernel::Prepare;
  r.registration.invoke = &ConvPartitionKernel::Invoke;
  r.registration.builtin_code = kTfLiteBuiltinDelegate;
  r.registration.custom_name = "TfSparseDelegateConv";
  r.registration.version = 1;
  return r;
}

int ConvPartitionKernel::ScratchIndex(int tensor) const {
  for (size_t i = 0; i < scratch_.size(); ++i) {
    if (scratch_[i].tensor == tensor) return static_cast<int>(i);
  }
  return -1;
}

std::string ConvPartitionKernel::InitOps(TfLiteContext* context,
                                         const TfLiteDelegateParams* params) {
  delegate_ = SparseDelegate::FromHandle(params->delegate);
  if (delegate_ == nullptr) return "partition does not belong to tf_sparse";
  const TfLiteIntArray* nodes = params->nodes_to_replace;
  if (nodes == nullptr || nodes->size < 1) return "empty partition";
  for (int i = 0; i < nodes->size; ++i) {
    Op op;
    op.node_index = nodes->data[i];
    TfLiteNode* node = nullptr;
    TfLiteRegistration* reg = nullptr;
    if (context->GetNodeAndRegistration(context, op.node_index, &node, &reg) !=
            kTfLiteOk ||
        node == nullptr || reg == nullptr) {
      return "cannot read node " + std::to_string(op.node_index);
    }
    const std::string problem = ReadConvNode(context, node, &op.info);
    if (!problem.empty()) {
      return "node " + std::to_string(op.node_index) + ": " + problem;
    }
    ConvDecision decision;
    if (!delegate_->FindConvDecision(context, op.node_index, &decision) ||
        !decision.claimed) {
      return "node " + std::to_string(op.node_index) + " was not claimed";
    }
    F32PatdnnConv2D::Params p;
    p.stride_h = op.info.stride_h;
    p.stride_w = op.info.stride_w;
    p.padding = op.info.padding;
    p.output_min = op.info.output_min;
    p.output_max = op.info.output_max;
    const float* w =
        static_cast<const float*>(context->tensors[op.info.weights].data);
    const float* bias =
        op.info.bias >= 0
            ? static_cast<const float*>(context->tensors[op.info.bias].data)
            : nullptr;
    std::string error;
    op.conv = F32PatdnnConv2D::Create(w, op.info.out, op.info.in, bias, p,
                                      &error);
    if (op.conv == nullptr) {
      return "node " + std::to_string(op.node_index) + ": " + error;
    }
    ops_.push_back(std::move(op));
  }
  for (Op& op : ops_) {
    if (!Contains(params->output_tensors, op.info.output)) {
      Scratch s;
      s.tensor = op.info.output;
      scratch_.push_back(std::move(s));
    }
  }
  for (Op& op : ops_) {
    op.input_scratch = ScratchIndex(op.info.input);
    op.output_scratch = ScratchIndex(op.info.output);
  }
  return "";
}

void* ConvPartitionKernel::Init(TfLiteContext* context, const char* buffer,
                                size_t /*length*/) {
  ConvPartitionKernel* kernel = new (std::nothrow) ConvPartitionKernel();
  if (kernel == nullptr) return nullptr;
  const auto* params = reinterpret_cast<const TfLiteDelegateParams*>(buffer);
  if (params == nullptr) {
    kernel->init_error_ = "no delegate parameters";
  } else {
    try {
      kernel->init_error_ = kernel->InitOps(context, params);
    } catch (const std::exception& e) {
      kernel->init_error_ = e.what();
    }
  }
  if (!kernel->init_error_.empty()) {
    context->ReportError(context, "tf_sparse: %s",
                         kernel->init_error_.c_str());
  }
  return kernel;
}

void ConvPartitionKernel::Free(TfLiteContext* /*context*/, void* buffer) {
  delete static_cast<ConvPartitionKernel*>(buffer);
}

TfLiteStatus ConvPartitionKernel::Prepare(TfLiteContext* context,
                                          TfLiteNode* node) {
  auto* kernel = static_cast<ConvPartitionKernel*>(node->user_data);
  if (kernel == nullptr) {
    context->ReportError(context, "tf_sparse: kernel was not created");
    return kTfLiteError;
  }
  try {
    return kernel->DoPrepare(context);
  } catch (const std::exception& e) {
    context->ReportError(context, "tf_sparse: prepare failed: %s", e.what());
    return kTfLiteError;
  }
}

TfLiteStatus ConvPartitionKernel::DoPrepare(TfLiteContext* context) {
  if (!init_error_.empty()) {
    context->ReportError(context, "tf_sparse: %s", init_error_.c_str());
    return kTfLiteError;
  }
  for (Op& op : ops_) {
    const std::vector<int> in_dims =
        op.input_scratch >= 0 ? scratch_[op.input_scratch].dims
                              : DimsOf(context->tensors[op.info.input]);
    if (in_dims.size() != 4 || in_dims[3] != op.info.in || in_dims[0] < 0) {
      context->ReportError(context,
                           "tf_sparse: node %d: input is not NHWC with %d "
                           "channels",
                           op.node_index, op.info.in);
      return kTfLiteError;
    }
    int out_h = 0, out_w = 0;
    std::string error;
    if (!op.conv->Reshape(in_dims[0], in_dims[1], in_dims[2], &out_h, &out_w,
                          &error)) {
      context->ReportError(context, "tf_sparse: node %d: %s", op.node_index,
                           error.c_str());
      return kTfLiteError;
    }
    std::vector<int> out_dims = {in_dims[0], out_h, out_w, op.info.out};
    if (op.output_scratch >= 0) {
      Scratch& s = scratch_[op.output_scratch];
      s.dims = out_dims;
      const size_t need = static_cast<size_t>(in_dims[0]) * out_h * out_w *
                          op.info.out;
      if (s.data.size() < need) s.data.Resize(need);
    } else {
      TfLiteIntArray* dims = NewIntArray(out_dims.data(), 4);
      if (dims == nullptr) return kTfLiteError;
      // ResizeTensor owns `dims` from here on, whatever it returns.
      const TfLiteStatus status = context->ResizeTensor(
          context, &context->tensors[op.info.output], dims);
      if (status != kTfLiteOk) return status;
    }
  }
  return kTfLiteOk;
}

TfLiteStatus ConvPartitionKernel::Invoke(TfLiteContext* context,
                                         TfLiteNode* node) {
  auto* kernel = static_cast<ConvPartitionKernel*>(node->user_data);
  if (kernel == nullptr || !kernel->init_error_.empty()) return kTfLiteError;
  return kernel->DoInvoke(context);
}

TfLiteStatus ConvPartitionKernel::DoInvoke(TfLiteContext* context) {
  ThreadPool* pool = delegate_->AcquirePool();
  TfLiteStatus status = kTfLiteOk;
  int64_t ran = 0;
  for (Op& op : ops_) {
    const float* x =
        op.input_scratch >= 0
            ? scratch_[op.input_scratch].data.data()
            : static_cast<const float*>(context->tensors[op.info.input].data);
    float* y = op.output_scratch >= 0
                   ? scratch_[op.output_scratch].data.data()
                   : static_cast<float*>(context->tensors[op.info.output].data);
    if (op.conv->shape().batch > 0 && (x == nullptr || y == nullptr)) {
      context->ReportError(context, "tf_sparse: node %d has no tensor data",
                           op.node_index);
      status = kTfLiteError;
      break;
    }
    op.conv->Run(x, y, pool);
    ++ran;
  }
  if (pool != nullptr) delegate_->ReleasePool();
  delegate_->AddInvocations(ran);
  return status;
}

}  // namespace tf_sparse
