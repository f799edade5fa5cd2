// The kernel TFLite runs in place of one partition of claimed
// UNIDIRECTIONAL_SEQUENCE_LSTM nodes (stacked LSTM layers form one
// partition; the sequences between them live in PartitionKernel's
// scratch). Every node is one F32SparseLstm, its two stacked gate
// matrices packed at init in the formats its decision chose. The state
// tensors (variable tensors, inputs of the node) are read at every invoke
// as the initial state and overwritten with the final one, as TFLite's own
// kernel does, so state carries over between invocations until the
// interpreter resets its variables.
#ifndef TF_SPARSE_DELEGATE_LSTM_KERNEL_H_
#define TF_SPARSE_DELEGATE_LSTM_KERNEL_H_

#include <memory>
#include <string>
#include <vector>

#include "cc/kernels/f32_sparse_lstm.h"
#include "delegate/lstm_analysis.h"
#include "delegate/partition_kernel.h"
#include "delegate/tflite_abi.h"

namespace tf_sparse {

class LstmPartitionKernel : public PartitionKernel {
 public:
  // The registration to hand to ReplaceNodeSubsetsWithDelegateKernels.
  static tflite_abi::TfLiteRegistrationPadded Registration() {
    return MakeRegistration<LstmPartitionKernel>("TfSparseDelegateLstm");
  }

 private:
  struct Op {
    LstmNodeInfo info;
    std::unique_ptr<F32SparseLstm> lstm;
  };

  std::string AddNode(tflite_abi::TfLiteContext* context, int node_index,
                      const tflite_abi::TfLiteNode* node, NodeIo* io) override;
  std::string OutputDims(size_t index, const std::vector<int>& in_dims,
                         std::vector<int>* out_dims) override;
  void RunNode(size_t index, const void* x, void* y,
               ThreadPool* pool) override;

  std::vector<Op> ops_;
};

}  // namespace tf_sparse

#endif  // TF_SPARSE_DELEGATE_LSTM_KERNEL_H_
