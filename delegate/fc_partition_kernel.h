// The kernel TFLite runs in place of one partition of claimed
// FULLY_CONNECTED nodes (and the DENSIFY nodes feeding their weights).
// Every node is one operator of its chosen format (BSR, CSR, N:M or GS),
// packed at init; the partition plumbing is PartitionKernel's.
#ifndef TF_SPARSE_DELEGATE_FC_PARTITION_KERNEL_H_
#define TF_SPARSE_DELEGATE_FC_PARTITION_KERNEL_H_

#include <memory>
#include <string>
#include <vector>

#include "cc/kernels/f32_bsr_fully_connected.h"
#include "cc/kernels/f32_csr_fully_connected.h"
#include "cc/kernels/f32_conv3x3_vtaps.h"
#include "cc/kernels/f32_gs_fully_connected.h"
#include "cc/kernels/f32_nm_fully_connected.h"
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
    // Exactly one operator is set, by the node's chosen format.
    std::unique_ptr<F32BsrFullyConnected> fc;
    std::unique_ptr<F32CsrFullyConnected> csr;
    std::unique_ptr<F32NmFullyConnected> nm;
    std::unique_ptr<F32GsFullyConnected> gs;
    // Many rows a call: a 1x1 convolution over the rows (reshaped to the
    // batch of each prepare).
    std::unique_ptr<F32Conv3x3Vtaps> vt;
    size_t batch = 0;  // Set by prepare.
  };

  std::string AddNode(tflite_abi::TfLiteContext* context, int node_index,
                      const tflite_abi::TfLiteNode* node, NodeIo* io) override;
  std::string OutputDims(size_t index, const std::vector<int>& in_dims,
                         std::vector<int>* out_dims) override;
  void RunNode(size_t index, const float* x, float* y,
               ThreadPool* pool) override;

  std::vector<Op> ops_;
};

}  // namespace tf_sparse

#endif  // TF_SPARSE_DELEGATE_FC_PARTITION_KERNEL_H_
