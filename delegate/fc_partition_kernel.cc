#include "delegate/fc_partition_kernel.h"

#include <cstring>
#include <new>

#include "delegate/sparse_delegate.h"
#include "delegate/tflite_sparsity.h"

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

// Output shape and batch of a FULLY_CONNECTED node for an input shape.
bool FcOutputShape(const FcNodeInfo& info, const std::vector<int>& in_dims,
                   std::vector<int>* out_dims, size_t* batch,
                   std::string* error) {
  if (in_dims.empty()) {
    *error = "input has rank 0";
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
  if (info.keep_num_dims) {
    if (in_dims.back() != info.in) {
      *error = "input's last dimension " + std::to_string(in_dims.back()) +
               " differs from the weights' " + std::to_string(info.in);
      return false;
    }
    *out_dims = in_dims;
    out_dims->back() = info.out;
  } else {
    if (elements % info.in != 0) {
      *error = "input size " + std::to_string(elements) +
               " is not a multiple of " + std::to_string(info.in);
      return false;
    }
    *out_dims = {static_cast<int>(elements / info.in), info.out};
  }
  *batch = static_cast<size_t>(elements / info.in);
  return true;
}

std::vector<int> DimsOf(const TfLiteTensor& t) {
  std::vector<int> dims;
  if (t.dims != nullptr) dims.assign(t.dims->data, t.dims->data + t.dims->size);
  return dims;
}

}  // namespace

TfLiteRegistrationPadded FcPartitionKernel::Registration() {
  TfLiteRegistrationPadded r;
  std::memset(&r, 0, sizeof(r));
  r.registration.init = &FcPartitionKernel::Init;
  r.registration.free = &FcPartitionKernel::Free;
  r.registration.prepare = &FcPartitionKernel::Prepare;
  r.registration.invoke = &FcPartitionKernel::Invoke;
  r.registration.builtin_code = kTfLiteBuiltinDelegate;
  r.registration.custom_name = "TfSparseDelegate";
  r.registration.version = 1;
  return r;
}

int FcPartitionKernel::ScratchIndex(int tensor) const {
  for (size_t i = 0; i < scratch_.size(); ++i) {
    if (scratch_[i].tensor == tensor) return static_cast<int>(i);
  }
  return -1;
}

std::string FcPartitionKernel::InitOps(TfLiteContext* context,
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
    const std::string problem = ReadFcNode(context, node, &op.info);
    if (!problem.empty()) {
      return "node " + std::to_string(op.node_index) + ": " + problem;
    }
    FcDecision decision;
    if (!delegate_->FindDecision(context, op.node_index, &decision) ||
        !decision.claimed) {
      return "node " + std::to_string(op.node_index) + " was not claimed";
    }
    F32BsrFullyConnected::Options fc_options;
    fc_options.block_height = decision.block_height;
    fc_options.block_width = decision.block_width;
    const TfLiteTensor& w = context->tensors[op.info.weights];
    const float* bias =
        op.info.bias >= 0
            ? static_cast<const float*>(context->tensors[op.info.bias].data)
            : nullptr;
    std::string error;
    if (op.info.tflite_sparse) {
      // TFLite's own sparse encoding: delegate/tflite_sparsity.h.
      op.fc = CreateFcFromTfLiteSparsity(w, bias, op.info.output_min,
                                         op.info.output_max, fc_options,
                                         &error);
    } else if (decision.format == FcFormat::kCsr) {
      op.csr = F32CsrFullyConnected::Create(
          static_cast<const float*>(w.data), op.info.out, op.info.in, bias,
          op.info.output_min, op.info.output_max, {}, &error);
    } else if (decision.format == FcFormat::kNm) {
      F32NmFullyConnected::Options nm_options;
      nm_options.n = decision.nm_n;
      nm_options.m = decision.nm_m;
      op.nm = F32NmFullyConnected::Create(
          static_cast<const float*>(w.data), op.info.out, op.info.in, bias,
          op.info.output_min, op.info.output_max, nm_options, &error);
    } else if (decision.format == FcFormat::kGs) {
      F32GsFullyConnected::Options gs_options;
      gs_options.banks = decision.gs_banks;
      gs_options.elements_per_row = decision.gs_elements_per_row;
      op.gs = F32GsFullyConnected::Create(
          static_cast<const float*>(w.data), op.info.out, op.info.in, bias,
          op.info.output_min, op.info.output_max, gs_options, &error);
    } else {
      op.fc = F32BsrFullyConnected::Create(
          static_cast<const float*>(w.data), op.info.out, op.info.in, bias,
          op.info.output_min, op.info.output_max, fc_options, &error);
    }
    if (op.fc == nullptr && op.csr == nullptr && op.nm == nullptr &&
        op.gs == nullptr) {
      return "node " + std::to_string(op.node_index) + ": " + error;
    }
    ops_.push_back(std::move(op));
  }
  // Tensors produced inside the partition and not among its outputs get no
  // memory from TFLite: they live in scratch buffers.
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

void* FcPartitionKernel::Init(TfLiteContext* context, const char* buffer,
                              size_t /*length*/) {
  FcPartitionKernel* kernel = new (std::nothrow) FcPartitionKernel();
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

void FcPartitionKernel::Free(TfLiteContext* /*context*/, void* buffer) {
  delete static_cast<FcPartitionKernel*>(buffer);
}

TfLiteStatus FcPartitionKernel::Prepare(TfLiteContext* context,
                                        TfLiteNode* node) {
  auto* kernel = static_cast<FcPartitionKernel*>(node->user_data);
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

TfLiteStatus FcPartitionKernel::DoPrepare(TfLiteContext* context) {
  if (!init_error_.empty()) {
    context->ReportError(context, "tf_sparse: %s", init_error_.c_str());
    return kTfLiteError;
  }
  for (Op& op : ops_) {
    const std::vector<int> in_dims =
        op.input_scratch >= 0 ? scratch_[op.input_scratch].dims
                              : DimsOf(context->tensors[op.info.input]);
    std::vector<int> out_dims;
    std::string error;
    if (!FcOutputShape(op.info, in_dims, &out_dims, &op.batch, &error)) {
      context->ReportError(context, "tf_sparse: node %d: %s", op.node_index,
                           error.c_str());
      return kTfLiteError;
    }
    if (op.output_scratch >= 0) {
      Scratch& s = scratch_[op.output_scratch];
      s.dims = out_dims;
      const size_t need = op.batch * static_cast<size_t>(op.info.out);
      if (s.data.size() < need) s.data.Resize(need);
    } else {
      TfLiteIntArray* dims =
          NewIntArray(out_dims.data(), static_cast<int>(out_dims.size()));
      if (dims == nullptr) return kTfLiteError;
      // ResizeTensor owns `dims` from here on, whatever it returns.
      const TfLiteStatus status = context->ResizeTensor(
          context, &context->tensors[op.info.output], dims);
      if (status != kTfLiteOk) return status;
    }
  }
  return kTfLiteOk;
}

TfLiteStatus FcPartitionKernel::Invoke(TfLiteContext* context,
                                       TfLiteNode* node) {
  auto* kernel = static_cast<FcPartitionKernel*>(node->user_data);
  if (kernel == nullptr || !kernel->init_error_.empty()) return kTfLiteError;
  return kernel->DoInvoke(context);
}

TfLiteStatus FcPartitionKernel::DoInvoke(TfLiteContext* context) {
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
    if (op.batch > 0 && (x == nullptr || y == nullptr)) {
      context->ReportError(context, "tf_sparse: node %d has no tensor data",
                           op.node_index);
      status = kTfLiteError;
      break;
    }
    if (op.fc != nullptr) {
      op.fc->Run(op.batch, x, y, pool);
    } else if (op.csr != nullptr) {
      op.csr->Run(op.batch, x, y, pool);
    } else if (op.nm != nullptr) {
      op.nm->Run(op.batch, x, y, pool);
    } else {
      op.gs->Run(op.batch, x, y, pool);
    }
    ++ran;
  }
  if (pool != nullptr) delegate_->ReleasePool();
  delegate_->AddInvocations(ran);
  return status;
}

}  // namespace tf_sparse
