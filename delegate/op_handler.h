// What the delegate knows about one kind of TFLite node (one builtin op):
// how to analyse a node into a decision, which partition kernel runs the
// claimed ones, and how a decision is reported (JSON, stderr log).
//
// SparseDelegate::Prepare looks each node's builtin code up in OpHandlers()
// and knows nothing else about the op; the partition kernel of an op finds
// its node's decision with SparseDelegate::FindDecision<Decision>. Adding an
// op is one entry in OpHandlers() (op_handler.cc) plus its analysis (a
// Decision type derived from NodeDecision, Analyze/Json/Log functions) and
// its PartitionKernel subclass.
#ifndef TF_SPARSE_DELEGATE_OP_HANDLER_H_
#define TF_SPARSE_DELEGATE_OP_HANDLER_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "delegate/node_util.h"
#include "delegate/options.h"
#include "delegate/tflite_abi.h"

namespace tf_sparse {

// The part of every op's decision that the delegate itself reads.
struct NodeDecision {
  virtual ~NodeDecision() = default;
  int node_index = -1;
  bool claimed = false;
  std::string reason;  // Why claimed or declined (the report's "reason").
  // Declined alone only for the cost of the split a lone claimed node makes
  // in XNNPACK's graph: claimed (with `chain_reason` as its reason) when a
  // node it shares a tensor with is claimed too, since an island of
  // claimed nodes pays that split once (SparseDelegate::Prepare).
  bool claim_in_chain = false;
  std::string chain_reason;
  // The node's tensors (the op's *NodeInfo, which derives from this).
  virtual WeightedNodeInfo& weighted_info() = 0;
  const WeightedNodeInfo& weighted_info() const {
    return const_cast<NodeDecision*>(this)->weighted_info();
  }
};

struct OpHandler {
  int builtin_code;  // tflite_abi::kTfLiteBuiltin*.
  // Analyses node `node_index` (runs in Prepare, once per node and graph).
  std::unique_ptr<NodeDecision> (*analyze)(
      const tflite_abi::TfLiteContext* context, int node_index,
      const tflite_abi::TfLiteNode* node, const DelegateOptions& options,
      const DensifySource* densify);
  // The registration whose kernel runs a partition of claimed nodes.
  tflite_abi::TfLiteRegistrationPadded (*registration)();
  // One object of tfs.delegate_report()'s JSON array.
  std::string (*json)(const NodeDecision& decision);
  // One line (verbose >= 1) or more (verbose 2) on stderr.
  void (*log)(const NodeDecision& decision, int verbose);
};

// Every op the delegate considers, in the order the report lists them and
// the partitions are replaced.
const std::vector<OpHandler>& OpHandlers();

// The handler for `builtin_code`, or null when the delegate ignores it.
const OpHandler* FindOpHandler(int builtin_code);

// An OpHandler from an op's typed functions: Decision derives from
// NodeDecision, Kernel from PartitionKernel.
template <class Decision,
          Decision (*Analyze)(const tflite_abi::TfLiteContext*, int,
                              const tflite_abi::TfLiteNode*,
                              const DelegateOptions&, const DensifySource*),
          std::string (*Json)(const Decision&),
          void (*Log)(const Decision&, int), class Kernel>
OpHandler MakeOpHandler(int builtin_code) {
  OpHandler h;
  h.builtin_code = builtin_code;
  h.analyze = [](const tflite_abi::TfLiteContext* context, int node_index,
                 const tflite_abi::TfLiteNode* node,
                 const DelegateOptions& options, const DensifySource* densify)
      -> std::unique_ptr<NodeDecision> {
    return std::unique_ptr<NodeDecision>(
        new Decision(Analyze(context, node_index, node, options, densify)));
  };
  h.registration = &Kernel::Registration;
  h.json = [](const NodeDecision& d) {
    return Json(static_cast<const Decision&>(d));
  };
  h.log = [](const NodeDecision& d, int verbose) {
    Log(static_cast<const Decision&>(d), verbose);
  };
  return h;
}

}  // namespace tf_sparse

#endif  // TF_SPARSE_DELEGATE_OP_HANDLER_H_
