#include "delegate/sparse_delegate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "delegate/node_util.h"

namespace tf_sparse {
namespace {

using namespace tflite_abi;  // NOLINT: the ABI names are prefixed already.

// Live delegates, so that handles coming from Python can be checked before
// they are dereferenced.
std::mutex g_live_mutex;
std::set<const void*>& LiveDelegates() {
  static std::set<const void*>* live = new std::set<const void*>();
  return *live;
}

}  // namespace

SparseDelegate::SparseDelegate(const DelegateOptions& options)
    : options_(options) {
  std::memset(&padded_, 0, sizeof(padded_));
  padded_.delegate.data_ = this;
  padded_.delegate.Prepare = &SparseDelegate::PrepareThunk;
  padded_.delegate.flags = kTfLiteDelegateFlagsAllowDynamicTensors;
  std::lock_guard<std::mutex> lock(g_live_mutex);
  LiveDelegates().insert(&padded_.delegate);
}

SparseDelegate::~SparseDelegate() {
  std::lock_guard<std::mutex> lock(g_live_mutex);
  LiveDelegates().erase(&padded_.delegate);
}

SparseDelegate* SparseDelegate::FromHandle(const void* handle) {
  if (handle == nullptr) return nullptr;
  std::lock_guard<std::mutex> lock(g_live_mutex);
  if (LiveDelegates().count(handle) == 0) return nullptr;
  return static_cast<SparseDelegate*>(
      static_cast<const TfLiteDelegate*>(handle)->data_);
}

ThreadPool* SparseDelegate::AcquirePool() {
  if (options_.num_threads <= 1) return nullptr;
  bool expected = false;
  if (!pool_busy_.compare_exchange_strong(expected, true,
                                          std::memory_order_acquire)) {
    return nullptr;
  }
  if (pool_ == nullptr) {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    if (pool_ == nullptr) pool_.reset(new ThreadPool(options_.num_threads));
  }
  return pool_.get();
}

void SparseDelegate::ReleasePool() {
  pool_busy_.store(false, std::memory_order_release);
}

int64_t SparseDelegate::nodes_claimed() const {
  std::lock_guard<std::mutex> lock(decisions_mutex_);
  int64_t n = 0;
  for (const GraphDecisions& g : graphs_) {
    for (const Considered& c : g.nodes) n += c.decision->claimed ? 1 : 0;
  }
  return n;
}

std::shared_ptr<const NodeDecision> SparseDelegate::FindDecision(
    const TfLiteContext* context, int node_index) const {
  std::lock_guard<std::mutex> lock(decisions_mutex_);
  for (const GraphDecisions& g : graphs_) {
    if (g.context != context) continue;
    for (const Considered& c : g.nodes) {
      if (c.decision->node_index == node_index) return c.decision;
    }
  }
  return nullptr;
}

std::string SparseDelegate::ReportJson() const {
  std::lock_guard<std::mutex> lock(decisions_mutex_);
  std::string out = "[";
  bool first = true;
  // Per graph, op by op in the table's order, nodes in plan order.
  for (const GraphDecisions& g : graphs_) {
    for (const OpHandler& h : OpHandlers()) {
      for (const Considered& c : g.nodes) {
        if (c.handler != &h) continue;
        if (!first) out += ", ";
        first = false;
        out += h.json(*c.decision);
      }
    }
  }
  return out + "]";
}

TfLiteStatus SparseDelegate::PrepareThunk(TfLiteContext* context,
                                          TfLiteDelegate* d) {
  SparseDelegate* self = FromHandle(d);
  if (self == nullptr) return kTfLiteError;
  try {
    return self->Prepare(context);
  } catch (const std::exception& e) {
    context->ReportError(context, "tf_sparse: delegate prepare failed: %s\n",
                         e.what());
    return kTfLiteError;
  }
}

TfLiteStatus SparseDelegate::Prepare(TfLiteContext* context) {
  int bad = -1;
  if (!CheckTensorArray(context, &bad)) {
    // The runtime's tensor layout is not the one this library was built
    // for: reading further would be guesswork, so leave the graph alone.
    context->ReportError(context,
                         "tf_sparse: TFLite tensor layout check failed at "
                         "tensor %d; the delegate claims no nodes\n",
                         bad);
    return kTfLiteOk;
  }
  TfLiteIntArray* plan = nullptr;
  if (context->GetExecutionPlan(context, &plan) != kTfLiteOk ||
      plan == nullptr) {
    context->ReportError(context, "tf_sparse: cannot read the execution plan\n");
    return kTfLiteError;
  }
  // The plan array belongs to the runtime and is freed by the next
  // GetExecutionPlan call (and changes with every replacement): copy it.
  const std::vector<int> plan_nodes(plan->data, plan->data + plan->size);
  // Corrupt sparse encodings fail the load here, before anything (ours or
  // TFLite's DENSIFY and sparse FULLY_CONNECTED kernels) reads them.
  if (options_.corrupt_sparsity == CorruptSparsity::kError) {
    const std::string problem = CheckSparseTensors(context, plan_nodes);
    if (!problem.empty()) {
      context->ReportError(context, "%s", problem.c_str());
      return kTfLiteError;
    }
  }
  // DENSIFY outputs (tensor -> where from) and how many node inputs read
  // each tensor. A claimed node whose weights come from a DENSIFY decodes
  // the DENSIFY's sparse input itself at init; the DENSIFY node is taken
  // over too (so no dense copy of the weights is ever made) when that node
  // is its output's sole reader and the graph does not expose the output.
  std::map<int, DensifySource> densified;
  std::map<int, int> readers;
  struct PlanNode {
    int index;
    TfLiteNode* node;
    TfLiteRegistration* reg;
  };
  std::vector<PlanNode> nodes;
  for (const int node_index : plan_nodes) {
    TfLiteNode* node = nullptr;
    TfLiteRegistration* reg = nullptr;
    if (context->GetNodeAndRegistration(context, node_index, &node, &reg) !=
            kTfLiteOk ||
        node == nullptr || reg == nullptr) {
      continue;
    }
    nodes.push_back(PlanNode{node_index, node, reg});
    if (node->inputs != nullptr) {
      for (int j = 0; j < node->inputs->size; ++j) {
        ++readers[node->inputs->data[j]];
      }
    }
    if (reg->builtin_code == kTfLiteBuiltinDensify && node->inputs != nullptr &&
        node->outputs != nullptr && node->inputs->size == 1 &&
        node->outputs->size == 1) {
      densified[node->outputs->data[0]] =
          DensifySource{node_index, node->inputs->data[0]};
    }
  }
  std::set<int> graph_outputs;
  const bool outputs_known = GraphOutputs(context, plan_nodes, &graph_outputs);
  // Whether the DENSIFY node feeding claimed node `info` is handed over too.
  auto take_densify = [&](const WeightedNodeInfo& info) {
    if (info.densify_node < 0 || !outputs_known) return false;
    const int out = info.weights;
    return readers[out] == 1 && graph_outputs.count(out) == 0;
  };
  const std::vector<OpHandler>& handlers = OpHandlers();
  std::vector<Considered> considered;
  // The same decisions, writable while Prepare settles them, and their nodes.
  std::vector<NodeDecision*> decisions;
  std::vector<const TfLiteNode*> decided_nodes;
  // Which considered node (position in `considered`) writes and reads each
  // tensor, for the islands below.
  std::map<int, int> writer_of;
  std::map<int, std::vector<int>> readers_of;
  for (const PlanNode& n : nodes) {
    const OpHandler* handler = FindOpHandler(n.reg->builtin_code);
    if (handler == nullptr) continue;
    const DensifySource* densify = nullptr;
    if (n.node->inputs != nullptr && n.node->inputs->size >= 2) {
      const auto it = densified.find(n.node->inputs->data[1]);
      if (it != densified.end()) densify = &it->second;
    }
    std::unique_ptr<NodeDecision> d =
        handler->analyze(context, n.index, n.node, options_, densify);
    const int position = static_cast<int>(considered.size());
    if (n.node->inputs != nullptr && n.node->inputs->size >= 1) {
      readers_of[n.node->inputs->data[0]].push_back(position);
    }
    if (n.node->outputs != nullptr) {
      for (int j = 0; j < n.node->outputs->size; ++j) {
        writer_of[n.node->outputs->data[j]] = position;
      }
    }
    decisions.push_back(d.get());
    decided_nodes.push_back(n.node);
    considered.push_back(Considered{handler, std::move(d)});
  }
  // A node declined alone only for the split of XNNPACK's graph it would
  // make is claimed when a node it feeds or is fed by (through its data
  // input or an output) is claimed or in the same case: the island pays
  // the split once. Repeated until nothing changes (chains).
  auto neighbour_takes = [&](int position) {
    const TfLiteNode* node = decided_nodes[position];
    auto takes = [&](int other) {
      const NodeDecision& o = *decisions[other];
      return other != position && (o.claimed || o.claim_in_chain);
    };
    if (node->inputs != nullptr && node->inputs->size >= 1) {
      const auto w = writer_of.find(node->inputs->data[0]);
      if (w != writer_of.end() && takes(w->second)) return true;
    }
    if (node->outputs != nullptr) {
      for (int j = 0; j < node->outputs->size; ++j) {
        const auto r = readers_of.find(node->outputs->data[j]);
        if (r == readers_of.end()) continue;
        for (int other : r->second) {
          if (takes(other)) return true;
        }
      }
    }
    return false;
  };
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < considered.size(); ++i) {
      NodeDecision& d = *decisions[i];
      if (d.claimed || !d.claim_in_chain) continue;
      if (neighbour_takes(static_cast<int>(i))) {
        d.claimed = true;
        d.reason = d.chain_reason;
        changed = true;
      }
    }
  }
  // Per handler, the nodes to replace with its kernel.
  std::vector<std::vector<int>> claimed(handlers.size());
  for (size_t i = 0; i < considered.size(); ++i) {
    NodeDecision& d = *decisions[i];
    const OpHandler* handler = considered[i].handler;
    handler->log(d, options_.verbose);
    if (!d.claimed) continue;
    std::vector<int>& list = claimed[handler - handlers.data()];
    list.push_back(d.node_index);
    WeightedNodeInfo& info = d.weighted_info();
    info.densify_claimed = take_densify(info);
    if (info.densify_claimed) list.push_back(info.densify_node);
  }
  {
    std::lock_guard<std::mutex> lock(decisions_mutex_);
    graphs_.erase(std::remove_if(graphs_.begin(), graphs_.end(),
                                 [&](const GraphDecisions& g) {
                                   return g.context == context;
                                 }),
                  graphs_.end());
    graphs_.push_back(GraphDecisions{context, std::move(considered)});
  }
  // One replacement per op: TFLite partitions the current execution plan
  // each time, so a partition holds one op's nodes only.
  for (size_t i = 0; i < handlers.size(); ++i) {
    if (claimed[i].empty()) continue;
    TfLiteIntArray* list =
        NewIntArray(claimed[i].data(), static_cast<int>(claimed[i].size()));
    if (list == nullptr) return kTfLiteError;
    const TfLiteStatus status = context->ReplaceNodeSubsetsWithDelegateKernels(
        context, handlers[i].registration(), list, &padded_.delegate);
    std::free(list);
    if (status != kTfLiteOk) return status;
  }
  return kTfLiteOk;
}

}  // namespace tf_sparse
