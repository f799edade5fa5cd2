#include "delegate/sparse_delegate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "cc/kernels/dispatch.h"
#include "cc/kernels/f32_csr_fully_connected.h"
#include "cc/kernels/f32_conv3x3_vtaps.h"
#include "cc/kernels/f32_gs_fully_connected.h"
#include "cc/kernels/f32_nm_fully_connected.h"
#include "delegate/conv_kernel.h"
#include "delegate/dwconv_kernel.h"
#include "delegate/fc_partition_kernel.h"
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

std::string BlockName(int r, int c) {
  return "bsr:" + std::to_string(r) + "x" + std::to_string(c);
}

// The chosen format's name ("bsr:1x4", "csr", "nm:2:4", "gs:16:1").
std::string FormatName(const FcDecision& d) {
  return d.format_name.empty() ? BlockName(d.block_height, d.block_width)
                               : d.format_name;
}

// The kernel that runs a claimed node on `isa`.
const char* KernelName(const FcDecision& d, Isa isa) {
  switch (d.format) {
    case FcFormat::kCsr:
      return SelectF32CsrUkernel(isa).panel_name;
    case FcFormat::kNm:
      return SelectF32NmUkernel(isa).name;
    case FcFormat::kGs:
      return SelectF32GsUkernel(isa).name;
    case FcFormat::kVtaps:
      return F32VtapsUkernelFor(isa).name;
    default:
      return SelectF32BsrUkernel(d.block_height, d.block_width, isa).name;
  }
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
    for (const FcDecision& d : g.decisions) n += d.claimed ? 1 : 0;
    for (const ConvDecision& d : g.conv_decisions) n += d.claimed ? 1 : 0;
    for (const DwConvDecision& d : g.dw_decisions) n += d.claimed ? 1 : 0;
  }
  return n;
}

template <class Decision>
bool SparseDelegate::Find(const TfLiteContext* context, int node_index,
                          std::vector<Decision> GraphDecisions::*list,
                          Decision* decision) const {
  std::lock_guard<std::mutex> lock(decisions_mutex_);
  for (const GraphDecisions& g : graphs_) {
    if (g.context != context) continue;
    for (const Decision& d : g.*list) {
      if (d.node_index == node_index) {
        *decision = d;
        return true;
      }
    }
  }
  return false;
}

bool SparseDelegate::FindDecision(const TfLiteContext* context, int node_index,
                                  FcDecision* decision) const {
  return Find(context, node_index, &GraphDecisions::decisions, decision);
}

bool SparseDelegate::FindConvDecision(const TfLiteContext* context,
                                      int node_index,
                                      ConvDecision* decision) const {
  return Find(context, node_index, &GraphDecisions::conv_decisions, decision);
}

bool SparseDelegate::FindDwConvDecision(const TfLiteContext* context,
                                        int node_index,
                                        DwConvDecision* decision) const {
  return Find(context, node_index, &GraphDecisions::dw_decisions, decision);
}

std::string SparseDelegate::ReportJson() const {
  std::lock_guard<std::mutex> lock(decisions_mutex_);
  const Isa isa = ActiveIsa();
  std::string out = "[";
  bool first = true;
  for (const GraphDecisions& g : graphs_) {
    for (const FcDecision& d : g.decisions) {
      if (!first) out += ", ";
      first = false;
      out += "{\"node\": " + std::to_string(d.node_index);
      out += ", \"op\": \"FULLY_CONNECTED\"";
      out += std::string(", \"claimed\": ") + (d.claimed ? "true" : "false");
      out += ", \"reason\": " + JsonString(d.reason);
      out += ", \"format\": ";
      out += d.claimed ? JsonString(FormatName(d)) : "null";
      out += ", \"shape\": ";
      out += d.has_shape ? "[" + std::to_string(d.info.out) + ", " +
                               std::to_string(d.info.in) + "]"
                         : "null";
      out += ", \"sparsity\": ";
      out += d.sparsity >= 0 ? JsonNumber(d.sparsity) : "null";
      out += ", \"block_density\": ";
      out += d.block_height > 0 && d.format == FcFormat::kBsr
                 ? JsonNumber(d.block_density)
                 : "null";
      out += ", \"cost_vs_dense\": ";
      out += d.block_height > 0 || !d.format_name.empty()
                 ? JsonNumber(d.cost_ratio)
                 : "null";
      out += ", \"batch_rows\": " + std::to_string(d.batch_rows);
      out += ", \"kernel\": ";
      out += d.claimed ? JsonString(KernelName(d, isa)) : "null";
      out += ", \"candidates\": {";
      for (size_t i = 0; i < d.formats.size(); ++i) {
        out += (i ? ", " : "") + JsonString(d.formats[i].name) + ": " +
               JsonNumber(d.formats[i].cost_ratio);
      }
      out += "}";
      out += ", \"densify_node\": ";
      out += d.info.densify_node >= 0 ? std::to_string(d.info.densify_node)
                                      : "null";
      out += std::string(", \"densify_claimed\": ") +
             (d.info.densify_claimed ? "true" : "false");
      out += "}";
    }
    for (const ConvDecision& d : g.conv_decisions) {
      if (!first) out += ", ";
      first = false;
      out += ConvDecisionJson(d);
    }
    for (const DwConvDecision& d : g.dw_decisions) {
      if (!first) out += ", ";
      first = false;
      out += DwConvDecisionJson(d);
    }
  }
  return out + "]";
}

void SparseDelegate::Log(const FcDecision& d) const {
  if (options_.verbose < 1) return;
  std::string shape =
      d.has_shape
          ? "[" + std::to_string(d.info.out) + "x" + std::to_string(d.info.in) +
                "]"
          : "[?]";
  if (d.claimed) {
    std::fprintf(stderr,
                 "tf_sparse: node %d FULLY_CONNECTED %s: claimed as %s (%s)\n",
                 d.node_index, shape.c_str(),
                 FormatName(d).c_str(),
                 d.reason.c_str());
  } else {
    std::fprintf(stderr,
                 "tf_sparse: node %d FULLY_CONNECTED %s: declined (%s)\n",
                 d.node_index, shape.c_str(), d.reason.c_str());
  }
  if (options_.verbose >= 2) {
    for (const BlockCandidate& c : d.candidates) {
      std::fprintf(stderr,
                   "tf_sparse:   candidate %s: block density %.3f, estimated "
                   "cost %.3f of dense\n",
                   BlockName(c.r, c.c).c_str(), c.density,
                   c.cost / (static_cast<double>(d.info.out) * d.info.in));
    }
    if (d.claimed) {
      std::fprintf(stderr, "tf_sparse:   kernel %s\n",
                   KernelName(d, ActiveIsa()));
    }
  }
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
  std::vector<FcDecision> decisions;
  std::vector<ConvDecision> conv_decisions;
  std::vector<int> claimed;
  std::vector<int> conv_claimed;
  std::vector<DwConvDecision> dw_decisions;
  std::vector<int> dw_claimed;
  for (const PlanNode& n : nodes) {
    const int node_index = n.index;
    const TfLiteNode* node = n.node;
    const TfLiteRegistration* reg = n.reg;
    const bool is_conv = reg->builtin_code == kTfLiteBuiltinConv2d;
    const bool is_dw = reg->builtin_code == kTfLiteBuiltinDepthwiseConv2d;
    if (!is_conv && !is_dw &&
        reg->builtin_code != kTfLiteBuiltinFullyConnected) {
      continue;
    }
    const DensifySource* densify = nullptr;
    if (node->inputs != nullptr && node->inputs->size >= 2) {
      const auto it = densified.find(node->inputs->data[1]);
      if (it != densified.end()) densify = &it->second;
    }
    if (is_dw) {
      DwConvDecision d =
          AnalyzeDwConvNode(context, node_index, node, options_, densify);
      LogDwConvDecision(d, options_.verbose);
      if (d.claimed) {
        dw_claimed.push_back(node_index);
        d.info.densify_claimed = take_densify(d.info);
        if (d.info.densify_claimed) dw_claimed.push_back(d.info.densify_node);
      }
      dw_decisions.push_back(std::move(d));
      continue;
    }
    if (is_conv) {
      ConvDecision d =
          AnalyzeConvNode(context, node_index, node, options_, densify);
      LogConvDecision(d, options_.verbose);
      if (d.claimed) {
        conv_claimed.push_back(node_index);
        d.info.densify_claimed = take_densify(d.info);
        if (d.info.densify_claimed) conv_claimed.push_back(d.info.densify_node);
      }
      conv_decisions.push_back(std::move(d));
      continue;
    }
    FcDecision d = AnalyzeFcNode(context, node_index, node, options_, densify);
    Log(d);
    if (d.claimed) {
      claimed.push_back(node_index);
      d.info.densify_claimed = take_densify(d.info);
      if (d.info.densify_claimed) claimed.push_back(d.info.densify_node);
    }
    decisions.push_back(std::move(d));
  }
  {
    std::lock_guard<std::mutex> lock(decisions_mutex_);
    graphs_.erase(std::remove_if(graphs_.begin(), graphs_.end(),
                                 [&](const GraphDecisions& g) {
                                   return g.context == context;
                                 }),
                  graphs_.end());
    graphs_.push_back(GraphDecisions{context, std::move(decisions),
                                     std::move(conv_decisions),
                                     std::move(dw_decisions)});
  }
  // One replacement per kind of kernel: TFLite partitions the current
  // execution plan each time, so a partition holds one kind of node only.
  const struct {
    const std::vector<int>* nodes;
    TfLiteRegistrationPadded registration;
  } kinds[] = {{&claimed, FcPartitionKernel::Registration()},
               {&conv_claimed, ConvPartitionKernel::Registration()},
               {&dw_claimed, DwConvPartitionKernel::Registration()}};
  for (const auto& kind : kinds) {
    if (kind.nodes->empty()) continue;
    TfLiteIntArray* nodes =
        NewIntArray(kind.nodes->data(), static_cast<int>(kind.nodes->size()));
    if (nodes == nullptr) return kTfLiteError;
    const TfLiteStatus status = context->ReplaceNodeSubsetsWithDelegateKernels(
        context, kind.registration, nodes, &padded_.delegate);
    std::free(nodes);
    if (status != kTfLiteOk) return status;
  }
  return kTfLiteOk;
}

}  // namespace tf_sparse
