// A tiny stand-in for the TFLite runtime, for testing the delegate without
// TFLite: a graph of tensors and FULLY_CONNECTED (or other) nodes behind a
// TfLiteContext whose callbacks behave like the interpreter's. Replacing
// nodes partitions them as TFLite does (epochs over the execution plan: a
// node joins the current partition as soon as its inputs are ready, so a
// node with only constant inputs lands in the first partition), and
// PreviewDelegatePartitioning previews exactly that. Invoke runs the
// partitions and the few other ops it knows (TANH), in plan order.
#ifndef TF_SPARSE_DELEGATE_TESTS_FAKE_GRAPH_H_
#define TF_SPARSE_DELEGATE_TESTS_FAKE_GRAPH_H_

#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "delegate/tflite_abi.h"

namespace tf_sparse {
namespace testing {

using namespace tflite_abi;  // NOLINT

class FakeGraph {
 public:
  FakeGraph();
  ~FakeGraph();

  // A float32 tensor; constants keep a copy of `data` (kTfLiteMmapRo),
  // activations get memory at AllocateTensors (kTfLiteArenaRw).
  int AddTensor(const std::vector<int>& dims, bool constant,
                const std::vector<float>& data = {},
                TfLiteType type = kTfLiteFloat32);
  // A FULLY_CONNECTED node; bias may be -1.
  int AddFullyConnected(int input, int weights, int bias, int output,
                        int activation = kTfLiteActNone,
                        bool keep_num_dims = false);
  // Any other builtin op (never claimed), inputs -> outputs.
  int AddOtherNode(int builtin_code, const std::vector<int>& inputs,
                   const std::vector<int>& outputs);
  // The builtin parameters of node `node` (e.g. a TfLiteDepthwiseConvParams
  // for a node made by AddOtherNode); `data` must outlive the graph.
  void SetBuiltinData(int node, void* data) {
    nodes_[node].node.builtin_data = data;
  }
  void SetGraphOutputs(const std::vector<int>& outputs) { outputs_ = outputs; }
  TfLiteTensor& tensor(int i) { return tensors_[i]; }

  // Applies a delegate as the interpreter does (its Prepare).
  TfLiteStatus ApplyDelegate(TfLiteDelegate* delegate);
  // Resizes an input tensor.
  void ResizeInput(int tensor, const std::vector<int>& dims);
  // Runs prepare on delegate kernels and gives activations memory.
  TfLiteStatus AllocateTensors();
  // Runs the plan: delegate kernels, TANH nodes; other nodes are skipped.
  TfLiteStatus Invoke();
  // Hosts without PreviewDelegatePartitioning (null in the context).
  void DisablePreview() { ctx_.context.PreviewDelegatePartitioning = nullptr; }

  // What the delegate asked to replace (empty if nothing).
  const std::vector<int>& replaced_nodes() const { return replaced_; }
  const std::vector<std::string>& errors() const { return errors_; }
  float* data(int t) { return static_cast<float*>(tensors_[t].data); }
  std::vector<int> dims(int t) const;
  int num_partitions() const { return static_cast<int>(partitions_.size()); }

 private:
  struct Node {
    TfLiteNode node;
    TfLiteRegistration reg;
    std::vector<int> inputs;
    std::vector<int> outputs;
    TfLiteIntArray* in_array = nullptr;
    TfLiteIntArray* out_array = nullptr;
    TfLiteFullyConnectedParams fc_params;
  };
  // One entry of the execution plan: an original node or a partition.
  struct Unit {
    bool partition = false;
    int index = -1;
  };
  // A group of plan units TFLite would make into one delegate kernel.
  struct Subset {
    std::vector<int> nodes;  // Original node indices.
    std::vector<int> inputs;
    std::vector<int> outputs;
  };
  struct Partition {
    TfLiteRegistration reg;
    TfLiteNode node;
    TfLiteDelegateParams params;
    TfLiteIntArray* nodes = nullptr;
    TfLiteIntArray* inputs = nullptr;
    TfLiteIntArray* outputs = nullptr;
    void* user_data = nullptr;
  };

  static FakeGraph* Self(TfLiteContext* c);
  static TfLiteStatus GetExecutionPlan(TfLiteContext* c, TfLiteIntArray** plan);
  static TfLiteStatus ResizeTensor(TfLiteContext* c, TfLiteTensor* t,
                                   TfLiteIntArray* dims);
  static void ReportError(TfLiteContext* c, const char* format, ...);
  static TfLiteStatus GetNodeAndRegistration(TfLiteContext* c, int index,
                                             TfLiteNode** node,
                                             TfLiteRegistration** reg);
  static TfLiteStatus Preview(TfLiteContext* c, const TfLiteIntArray* nodes,
                              TfLiteDelegateParams** params, int* count);
  // TFLite's partitioning of the current plan with `members` claimed: the
  // claimed subsets, and in *order the new plan (a subset as -1 - its index).
  std::vector<Subset> PartitionPlan(const std::vector<int>& members,
                                    std::vector<int>* order) const;
  std::vector<int> UnitInputs(const Unit& u) const;
  std::vector<int> UnitOutputs(const Unit& u) const;
  static TfLiteStatus Replace(TfLiteContext* c,
                              TfLiteRegistrationPadded registration,
                              const TfLiteIntArray* nodes,
                              TfLiteDelegate* delegate);

  struct ContextWithOwner {
    TfLiteContext context;
    unsigned char tail[256];  // The real context is longer.
    FakeGraph* owner;
  } ctx_;
  std::vector<TfLiteTensor> tensors_;
  std::deque<std::vector<float>> storage_;
  std::deque<Node> nodes_;
  std::deque<Partition> partitions_;
  std::vector<Unit> units_;  // The current execution plan.
  struct PreviewEntry {
    TfLiteIntArray* nodes = nullptr;
    TfLiteIntArray* inputs = nullptr;
    TfLiteIntArray* outputs = nullptr;
  };
  std::vector<PreviewEntry> preview_arrays_;
  std::vector<TfLiteDelegateParams> preview_;
  void ClearPreview();
  std::vector<int> outputs_;
  TfLiteIntArray* plan_ = nullptr;
  std::vector<int> replaced_;
  std::vector<std::string> errors_;
  bool in_delegate_prepare_ = false;
};

}  // namespace testing
}  // namespace tf_sparse

#endif  // TF_SPARSE_DELEGATE_TESTS_FAKE_GRAPH_H_
