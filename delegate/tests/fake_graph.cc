#include "delegate/tests/fake_graph.h"

#include <algorithm>
#include <cmath>
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
  ctx_.context.PreviewDelegatePartitioning = &FakeGraph::Preview;
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
  ClearPreview();
}

void FakeGraph::ClearPreview() {
  for (PreviewEntry& e : preview_arrays_) {
    std::free(e.nodes);
    std::free(e.inputs);
    std::free(e.outputs);
  }
  preview_arrays_.clear();
  preview_.clear();
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
  units_.push_back(Unit{false, static_cast<int>(nodes_.size()) - 1});
  return static_cast<int>(nodes_.size()) - 1;
}

TfLiteStatus FakeGraph::GetExecutionPlan(TfLiteContext* c,
                                         TfLiteIntArray** plan) {
  FakeGraph* g = Self(c);
  std::free(g->plan_);
  std::vector<int> all;
  for (const Unit& u : g->units_) {
    if (!u.partition) all.push_back(u.index);
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

static bool Has(const std::vector<int>& v, int x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::vector<int> FakeGraph::UnitInputs(const Unit& u) const {
  if (!u.partition) return nodes_[u.index].inputs;
  const TfLiteIntArray* a = partitions_[u.index].inputs;
  return std::vector<int>(a->data, a->data + a->size);
}

std::vector<int> FakeGraph::UnitOutputs(const Unit& u) const {
  if (!u.partition) return nodes_[u.index].outputs;
  const TfLiteIntArray* a = partitions_[u.index].outputs;
  return std::vector<int>(a->data, a->data + a->size);
}

std::vector<FakeGraph::Subset> FakeGraph::PartitionPlan(
    const std::vector<int>& members, std::vector<int>* order) const {
  // Epochs as TFLite builds them (greedily): tensors produced by a unit are
  // not ready until that unit has an epoch; an epoch takes the type of the
  // first ready unit and then every ready unit of that type.
  const int n = static_cast<int>(units_.size());
  std::vector<int> produced_by(tensors_.size(), -1);
  for (int u = 0; u < n; ++u) {
    for (int t : UnitOutputs(units_[u])) {
      if (t >= 0) produced_by[t] = u;
    }
  }
  auto claimed = [&](int u) {
    return !units_[u].partition && Has(members, units_[u].index);
  };
  std::vector<int> epoch_of(n, -1);
  std::vector<std::vector<int>> epochs;
  std::vector<bool> epoch_claimed;
  while (true) {
    std::vector<int> current;
    int type = -1;
    for (bool progress = true; progress;) {
      progress = false;
      for (int u = 0; u < n; ++u) {
        if (epoch_of[u] >= 0) continue;
        bool ready = true;
        for (int t : UnitInputs(units_[u])) {
          if (t >= 0 && produced_by[t] >= 0 && epoch_of[produced_by[t]] < 0) {
            ready = false;
          }
        }
        if (!ready) continue;
        if (type < 0) type = claimed(u) ? 1 : 0;
        if ((claimed(u) ? 1 : 0) != type) continue;
        epoch_of[u] = static_cast<int>(epochs.size());
        current.push_back(u);
        progress = true;
      }
    }
    if (current.empty()) break;
    epochs.push_back(current);
    epoch_claimed.push_back(type == 1);
  }
  std::vector<Subset> subsets;
  order->clear();
  for (size_t e = 0; e < epochs.size(); ++e) {
    if (!epoch_claimed[e]) {
      for (int u : epochs[e]) order->push_back(u);
      continue;
    }
    Subset s;
    std::vector<int> produced;
    for (int u : epochs[e]) {
      s.nodes.push_back(units_[u].index);
      for (int t : UnitOutputs(units_[u])) produced.push_back(t);
    }
    for (int u : epochs[e]) {
      for (int t : UnitInputs(units_[u])) {
        if (t >= 0 && !Has(produced, t) && !Has(s.inputs, t)) {
          s.inputs.push_back(t);
        }
      }
    }
    for (int t : produced) {
      // Graph outputs, tensors nobody reads (graph outputs too) and tensors
      // read by units outside the subset.
      bool outside = Has(outputs_, t);
      bool consumed = false;
      for (int u = 0; u < n; ++u) {
        if (!Has(UnitInputs(units_[u]), t)) continue;
        consumed = true;
        if (epoch_of[u] != static_cast<int>(e)) outside = true;
      }
      if (!consumed) outside = true;
      if (outside) s.outputs.push_back(t);
    }
    order->push_back(-1 - static_cast<int>(subsets.size()));
    subsets.push_back(std::move(s));
  }
  return subsets;
}

TfLiteStatus FakeGraph::Preview(TfLiteContext* c, const TfLiteIntArray* nodes,
                                TfLiteDelegateParams** params, int* count) {
  FakeGraph* g = Self(c);
  if (!g->in_delegate_prepare_) return kTfLiteError;
  g->ClearPreview();
  std::vector<int> order;
  const std::vector<Subset> subsets = g->PartitionPlan(
      std::vector<int>(nodes->data, nodes->data + nodes->size), &order);
  for (const Subset& s : subsets) {
    PreviewEntry e;
    e.nodes = ToArray(s.nodes);
    e.inputs = ToArray(s.inputs);
    e.outputs = ToArray(s.outputs);
    g->preview_arrays_.push_back(e);
    TfLiteDelegateParams p;
    p.delegate = nullptr;
    p.nodes_to_replace = e.nodes;
    p.input_tensors = e.inputs;
    p.output_tensors = e.outputs;
    g->preview_.push_back(p);
  }
  *params = g->preview_.data();
  *count = static_cast<int>(g->preview_.size());
  return kTfLiteOk;
}

TfLiteStatus FakeGraph::Replace(TfLiteContext* c,
                                TfLiteRegistrationPadded registration,
                                const TfLiteIntArray* nodes,
                                TfLiteDelegate* delegate) {
  FakeGraph* g = Self(c);
  std::vector<int> members(nodes->data, nodes->data + nodes->size);
  g->replaced_ = members;
  std::vector<int> order;
  const std::vector<Subset> subsets = g->PartitionPlan(members, &order);
  std::vector<int> partition_of_subset;
  for (const Subset& s : subsets) {
    g->partitions_.emplace_back();
    Partition& p = g->partitions_.back();
    p.reg = registration.registration;
    p.nodes = ToArray(s.nodes);
    p.inputs = ToArray(s.inputs);
    p.outputs = ToArray(s.outputs);
    p.params.delegate = delegate;
    p.params.nodes_to_replace = p.nodes;
    p.params.input_tensors = p.inputs;
    p.params.output_tensors = p.outputs;
    std::memset(&p.node, 0, sizeof(p.node));
    p.node.inputs = p.inputs;
    p.node.outputs = p.outputs;
    p.user_data = p.reg.init(c, reinterpret_cast<const char*>(&p.params), 0);
    p.node.user_data = p.user_data;
    partition_of_subset.push_back(static_cast<int>(g->partitions_.size()) - 1);
    // Internal tensors get no memory, as in TFLite.
    for (int m : s.nodes) {
      for (int t : g->nodes_[m].outputs) {
        if (!Has(s.outputs, t)) g->tensors_[t].allocation_type = kTfLiteMemNone;
      }
    }
  }
  std::vector<Unit> units;
  for (int o : order) {
    units.push_back(o >= 0 ? g->units_[o]
                           : Unit{true, partition_of_subset[-1 - o]});
  }
  g->units_ = units;
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
  for (const Unit& u : units_) {
    if (!u.partition) continue;
    Partition& p = partitions_[u.index];
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
  for (const Unit& u : units_) {
    if (u.partition) {
      Partition& p = partitions_[u.index];
      const TfLiteStatus s = p.reg.invoke(&ctx_.context, &p.node);
      if (s != kTfLiteOk) return s;
      continue;
    }
    const Node& n = nodes_[u.index];
    if (n.reg.builtin_code == 28 /* TANH */) {
      const TfLiteTensor& in = tensors_[n.inputs[0]];
      TfLiteTensor& out = tensors_[n.outputs[0]];
      if (in.data == nullptr || out.data == nullptr || in.bytes != out.bytes) {
        return kTfLiteError;
      }
      const float* x = static_cast<const float*>(in.data);
      float* y = static_cast<float*>(out.data);
      for (size_t i = 0; i < in.bytes / sizeof(float); ++i) {
        y[i] = std::tanh(x[i]);
      }
    }
  }
  return kTfLiteOk;
}

}  // namespace testing
}  // namespace tf_sparse
