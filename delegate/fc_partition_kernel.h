// The kernel TFLite runs in place of one partition of claimed
// FULLY_CONNECTED nodes (and the DENSIFY nodes feeding their weights).
// Every node is one SparseOperator of its chosen format (fc_formats.h: BSR,
// CSR, N:M, GS, or filter-vector taps over the rows of a call), or for an
// int8 node one Qs8SparseOperator, packed at init; the partition plumbing is
// PartitionKernel's.
#ifndef TF_SPARSE_DELEGATE_FC_PARTITION_KERNEL_H_
#define TF_SPARSE_DELEGATE_FC_PARTITION_KERNEL_H_

#include <memory>
#include <string>
#include <vector>

#include "cc/kernels/sparse_operator.h"
#include "delegate/fc_analysis.h"
#include "delegate/partition_kernel.h"
#include "delegate/tflite_abi.h"

namespace tf_sparse {

class FcPartitionKernel : public PartitionKernel {
 public:
  // The registration to hand to ReplaceNodeSubsetsWithDelegateKernels.
  static tflite_abi::TfLiteRegistrationPadded Registration() {
    return MakeRegistration<FcPartitionKernel>("TfSparseDelegate");
  }

 private:
  struct Op {
    FcNodeInfo info;
    // The node's packed weights, in its chosen format (fc_formats.h): op
    // for float nodes, op8 for full-integer int8 ones.
    std::unique_ptr<SparseOperator> op;
    std::unique_ptr<Qs8SparseOperator> op8;
    size_t batch = 0;  // Set by prepare.
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

#endif  // TF_SPARSE_DELEGATE_FC_PARTITION_KERNEL_H_
