#include "delegate/tests/fake_graph.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>

namespace tf_sparse {
namespace testing {

FakeGraph::FakeGraph() {
  std::memset(&ctx_, 0, sizeof(ctx_));
  ctx_.owner = this;
  ctx_.context.GetExecutionPlan = &FakeGraph::GetExecutionPlan;
  ctx_.context.ResizeTensor = &FakeGraph::ResizeTensor;
  ctx_.context.ReportError = &FakeGraph::ReportError;
  ctx_.context.GetNodeAndRegistration = &FakeGraph::GetNodeAndRegistration;
  ctx_.context.ReplaceNodeSubsetsWithDelegateKernels = &FakeGraph::Replace;
  tensors_.reserve(256);
}

FakeGraph::~FakeGraph() {
  for (Partition& p : partitions_) {
    if (p.reg.free != nullptr) p.reg.free(&ctx_.context, p.user_data);
    std::free(p.nodes);
    std::free(p.inputs);
    std::free(p.outputs);
  }
  for (Node& n : nodes_) {
    std::free(n.in_array);
    std::free(n.out_array);
  }
  for (TfLiteTensor& t : tensors_) std::free(t.dims);
  std::free(plan_);
}

FakeGraph* FakeGraph::Self(TfLiteContext* c) {
  return reinterpret_cast<ContextWithOwner*>(c)->owner;
}

int FakeGraph::AddTensor(const std::vector<int>& dims, bool constant,
                         const std::vector<float>& data, TfLiteType type) {
  TfLiteTensor t;
  std::memset(&t, 0, sizeof(t));
  t.type = type;
  t.dims = NewIntArray(dims.data(), static_cast<int>(dims.size()));
  t.allocation_type = constant ? kTfLiteMmapRo : kTfLiteArenaRw;
  if (constant) {
    storage_.push_back(data);
    t.data = storage_.back().data();
    t.bytes = data.size() * sizeof(float);
  }
  tensors_.push_back(t);
  ctx_.context.tensors = tensors_.data();
  ctx_.context.tensors_size = tensors_.size();
  return static_cast<int>(tensors_.size()) - 1;
}

static TfLiteIntArray* ToArray(const std::vector<int>& v) {
  return NewIntArray(v.data(), static_cast<int>(v.size()));
}

int FakeGraph::AddFullyConnected(int input, int weights, int bias, int output,
                                 int activation, bool keep_num_dims) {
  std::vector<int> inputs = {input, weights};
  if (bias != -2) inputs.push_back(bias);
  const int index = AddOtherNode(kTfLiteBuiltinFullyConnected, inputs,
                                 {output});
  Node& n = nodes_[index];
  std::memset(&n.fc_params, 0, sizeof(n.fc_params));
  n.fc_params.activation = static_cast<TfLiteFusedActivation>(activation);
  n.fc_params.keep_num_dims = keep_num_dims;
  n.node.builtin_data = &n.fc_params;
  return index;
}

int FakeGraph::AddOtherNode(int builtin_code, const std::vector<int>& inputs,
                            const std::vector<int>& outputs) {
  nodes_.emplace_back();
  Node& n = nodes_.back();
  std::memset(&n.node, 0, sizeof(n.node));
  std::memset(&n.reg, 0, sizeof(n.reg));
  n.reg.builtin_code = builtin_code;
  n.inputs = inputs;
  n.outputs = outputs;
  n.in_array = ToArray(inputs);
  n.out_array = ToArray(outputs);
  n.node.inputs = n.in_array;
  n.node.outputs = n.out_array;
  return static_cast<int>(nodes_.size()) - 1;
}

TfLiteStatus FakeGraph::GetExecutionPlan(TfLiteContext* c,
                                         TfLiteIntArray** plan) {
  FakeGraph* g = Self(c);
  std::free(g->plan_);
  std::vector<int> all;
  for (size_t i = 0; i < g->nodes_.size(); ++i) {
    all.push_back(static_cast<int>(i));
  }
  g->plan_ = ToArray(all);
  *plan = g->plan_;
  return kTfLiteOk;
}

TfLiteStatus FakeGraph::ResizeTensor(TfLiteContext* c, TfLiteTensor* t,
                                     TfLiteIntArray* dims) {
  (void)c;
  std::free(t->dims);
  t->dims = dims;
  return kTfLiteOk;
}

void FakeGraph::ReportError(TfLiteContext* c, const char* format, ...) {
  char buf[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buf, sizeof(buf), format, args);
  va_end(args);
  Self(c)->errors_.push_back(buf);
}

TfLiteStatus FakeGraph::GetNodeAndRegistration(TfLiteContext* c, int index,
                                               TfLiteNode** node,
                                               TfLiteRegistration** reg) {
  FakeGraph* g = Self(c);
  if (!g->in_delegate_prepare_) {
    return kTfLiteError;  // As the runtime: only during delegate prepare/init.
  }
  if (index < 0 || index >= static_cast<int>(g->nodes_.size())) {
    return kTfLiteError;
  }
  *node = &g->nodes_[index].node;
  *reg = &g->nodes_[index].reg;
  return kTfLiteOk;
}

TfLiteStatus FakeGraph::Replace(TfLiteContext* c,
                                TfLiteRegistrationPadded registration,
                                const TfLiteIntArray* nodes,
                                TfLiteDelegate* delegate) {
  FakeGraph* g = Self(c);
  std::vector<int> members(nodes->data, nodes->data + nodes->size);
  g->replaced_ = members;
  // Partition inputs: consumed but not produced inside; outputs: produced
  // inside and consumed outside or graph outputs.
  std::vector<int> produced, consumed_inside, inputs, outputs;
  for (int m : members) {
    for (int t : g->nodes_[m].outputs) produced.push_back(t);
  }
  auto has = [](const std::vector<int>& v, int x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  };
  for (int m : members) {
    for (int t : g->nodes_[m].inputs) {
      if (t >= 0 && !has(produced, t) && !has(inputs, t)) inputs.push_back(t);
    }
  }
  for (int t : produced) {
    // Graph outputs, tensors nobody consumes (graph outputs too) and
    // tensors consumed by nodes outside the partition.
    bool outside = has(g->outputs_, t);
    bool consumed = false;
    for (size_t n = 0; n < g->nodes_.size(); ++n) {
      if (!has(g->nodes_[n].inputs, t)) continue;
      consumed = true;
      if (!has(members, static_cast<int>(n))) outside = true;
    }
    if (!consumed) outside = true;
    if (outside) outputs.push_back(t);
  }
  g->partitions_.emplace_back();
  Partition& p = g->partitions_.back();
  p.reg = registration.registration;
  p.nodes = ToArray(members);
  p.inputs = ToArray(inputs);
  p.outputs = ToArray(outputs);
  p.params.delegate = delegate;
  p.params.nodes_to_replace = p.nodes;
  p.params.input_tensors = p.inputs;
  p.params.output_tensors = p.outputs;
  std::memset(&p.node, 0, sizeof(p.node));
  p.node.inputs = p.inputs;
  p.node.outputs = p.outputs;
  p.user_data = p.reg.init(c, reinterpret_cast<const char*>(&p.params), 0);
  p.node.user_data = p.user_data;
  // Internal tensors get no memory, as in TFLite.
  for (int t : produced) {
    if (!has(outputs, t)) g->tensors_[t].allocation_type = kTfLiteMemNone;
  }
  return kTfLiteOk;
}

TfLiteStatus FakeGraph::ApplyDelegate(TfLiteDelegate* delegate) {
  in_delegate_prepare_ = true;
  const TfLiteStatus s = delegate->Prepare(&ctx_.context, delegate);
  in_delegate_prepare_ = false;
  return s;
}

void FakeGraph::ResizeInput(int tensor, const std::vector<int>& dims) {
  std::free(tensors_[tensor].dims);
  tensors_[tensor].dims = ToArray(dims);
}

std::vector<int> FakeGraph::dims(int t) const {
  const TfLiteIntArray* d = tensors_[t].dims;
  return std::vector<int>(d->data, d->data + d->size);
}

TfLiteStatus FakeGraph::AllocateTensors() {
  for (Partition& p : partitions_) {
    const TfLiteStatus s = p.reg.prepare(&ctx_.context, &p.node);
    if (s != kTfLiteOk) return s;
  }
  for (size_t i = 0; i < tensors_.size(); ++i) {
    TfLiteTensor& t = tensors_[i];
    if (t.allocation_type != kTfLiteArenaRw) continue;
    size_t n = 1;
    for (int k = 0; k < t.dims->size; ++k) n *= t.dims->data[k];
    storage_.emplace_back(n, -12345.0f);
    t.data = storage_.back().data();
    t.bytes = n * sizeof(float);
  }
  return kTfLiteOk;
}

TfLiteStatus FakeGraph::Invoke() {
  for (Partition& p : partitions_) {
    const TfLiteStatus s = p.reg.invoke(&ctx_.context, &p.node);
    if (s != kTfLiteOk) return s;
  }
  return kTfLiteOk;
}

}  // namespace testing
}  // namespace tf_sparse
