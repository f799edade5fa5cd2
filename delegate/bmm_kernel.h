// The kernel TFLite runs in place of one partition of claimed BATCH_MATMUL
// nodes with constant weights (bmm_analysis.h): each node is the
// SparseOperator of its chosen FULLY_CONNECTED format over the rows of its
// left-hand side, packed at init from the weights as [N, K].
#ifndef TF_SPARSE_DELEGATE_BMM_KERNEL_H_
#define TF_SPARSE_DELEGATE_BMM_KERNEL_H_

#include <memory>
#include <string>
#include <vector>

#include "cc/kernels/sparse_operator.h"
#include "delegate/bmm_analysis.h"
#include "delegate/partition_kernel.h"
#include "delegate/tflite_abi.h"

namespace tf_sparse {

class BmmPartitionKernel : public PartitionKernel {
 public:
  static tflite_abi::TfLiteRegistrationPadded Registration() {
    return MakeRegistration<BmmPartitionKernel>("TfSparseDelegate");
  }

 private:
  struct Op {
    BmmNodeInfo info;
    std::unique_ptr<SparseOperator> op;
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

#endif  // TF_SPARSE_DELEGATE_BMM_KERNEL_H_
