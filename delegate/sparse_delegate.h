// The tf_sparse TFLite delegate: the capability side (which nodes it takes)
// and the state shared by its kernels (options, thread pool, statistics,
// the per-node report).
//
// Lifecycle, as driven by TFLite:
//  1. tflite_plugin_create_delegate parses the options and builds one
//     SparseDelegate (plugin.cc).
//  2. The interpreter calls Prepare once per subgraph when it is built (with
//     kTfLiteDelegateFlagsAllowDynamicTensors, resizes do not re-prepare).
//     Prepare hands every node whose builtin op has an entry in
//     OpHandlers() (op_handler.h: FULLY_CONNECTED, CONV_2D,
//     DEPTHWISE_CONV_2D, UNIDIRECTIONAL_SEQUENCE_LSTM) to that handler's
//     analysis (fc_analysis.h, conv_analysis.h, dwconv_analysis.h,
//     lstm_analysis.h), keeps one list of decisions per
//     graph and hands the claimed nodes to TFLite, one replacement per
//     handler, which groups connected ones into partitions. A DENSIFY node
//     whose output only a claimed node reads (as its weights) is handed
//     over with that node (node_util.h).
//  3. Each partition becomes one kernel of its handler (FcPartitionKernel,
//     ConvPartitionKernel, DwConvPartitionKernel, LstmPartitionKernel;
//     partition_kernel.h),
//     which finds its nodes' decisions with FindDecision: init packs the
//     weights, prepare sizes outputs, invoke computes.
#ifndef TF_SPARSE_DELEGATE_SPARSE_DELEGATE_H_
#define TF_SPARSE_DELEGATE_SPARSE_DELEGATE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cc/util/thread_pool.h"
#include "delegate/op_handler.h"
#include "delegate/options.h"
#include "delegate/tflite_abi.h"

namespace tf_sparse {

class SparseDelegate {
 public:
  explicit SparseDelegate(const DelegateOptions& options);
  ~SparseDelegate();
  SparseDelegate(const SparseDelegate&) = delete;
  SparseDelegate& operator=(const SparseDelegate&) = delete;

  // The struct handed to TFLite; data_ points back to this object.
  tflite_abi::TfLiteDelegate* tflite_delegate() { return &padded_.delegate; }
  // The SparseDelegate behind a TfLiteDelegate made by this library, or null
  // for any other pointer (checked against the live delegates).
  static SparseDelegate* FromHandle(const void* handle);

  const DelegateOptions& options() const { return options_; }

  // The pool for one kernel call, or null if another call is using it (then
  // the caller runs single-threaded). Release with ReleasePool.
  ThreadPool* AcquirePool();
  void ReleasePool();

  void AddInvocations(int64_t n) {
    invocations_.fetch_add(n, std::memory_order_relaxed);
  }
  int64_t invocations() const {
    return invocations_.load(std::memory_order_relaxed);
  }
  // Wall time spent inside this delegate's partition kernels (their
  // invoke), summed over calls and threads that invoke them.
  void AddKernelTime(int64_t ns) {
    kernel_ns_.fetch_add(ns, std::memory_order_relaxed);
  }
  int64_t kernel_ns() const {
    return kernel_ns_.load(std::memory_order_relaxed);
  }
  int64_t nodes_claimed() const;

  // The decision Prepare made for node `node_index` of `context`'s graph,
  // or null (a decision stays valid after a later Prepare replaces it).
  std::shared_ptr<const NodeDecision> FindDecision(
      const tflite_abi::TfLiteContext* context, int node_index) const;
  // The same, copied into *decision when it is of type Decision.
  template <class Decision>
  bool FindDecision(const tflite_abi::TfLiteContext* context, int node_index,
                    Decision* decision) const {
    const std::shared_ptr<const NodeDecision> found =
        FindDecision(context, node_index);
    const Decision* d = dynamic_cast<const Decision*>(found.get());
    if (d == nullptr) return false;
    *decision = *d;
    return true;
  }

  // JSON array, one object per considered node (see plugin.cc).
  std::string ReportJson() const;

 private:
  static tflite_abi::TfLiteStatus PrepareThunk(
      tflite_abi::TfLiteContext* context, tflite_abi::TfLiteDelegate* d);
  tflite_abi::TfLiteStatus Prepare(tflite_abi::TfLiteContext* context);

  // The runtime reads the delegate struct in full: keep a zeroed tail after
  // it (see tflite_abi.h). Must stay the first member.
  struct Padded {
    tflite_abi::TfLiteDelegate delegate;
    unsigned char zero_tail[64];
  } padded_;

  const DelegateOptions options_;
  std::atomic<int64_t> invocations_{0};
  std::atomic<int64_t> kernel_ns_{0};

  std::mutex pool_mutex_;  // Guards pool_ creation.
  std::unique_ptr<ThreadPool> pool_;
  std::atomic<bool> pool_busy_{false};

  // One considered node: its op's handler and its decision.
  struct Considered {
    const OpHandler* handler;
    std::shared_ptr<const NodeDecision> decision;
  };
  struct GraphDecisions {
    const tflite_abi::TfLiteContext* context;
    std::vector<Considered> nodes;  // In execution-plan order.
  };

  mutable std::mutex decisions_mutex_;
  std::vector<GraphDecisions> graphs_;
};

}  // namespace tf_sparse

#endif  // TF_SPARSE_DELEGATE_SPARSE_DELEGATE_H_
