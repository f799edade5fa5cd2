// The kernel TFLite runs in place of one partition of claimed
// FULLY_CONNECTED nodes.
//
// TFLite groups connected claimed nodes into one partition; tensors that
// only flow between the partition's own nodes get no memory from TFLite, so
// the kernel owns scratch buffers for them. Every node is one
// F32BsrFullyConnected operator, packed at init.
//
//  - init: runs while GetNodeAndRegistration still works; copies everything
//    it needs (tensor indices, parameters) and packs the weights, so nothing
//    of the original nodes is touched later.
//  - prepare: runs after every input resize; computes each node's batch and
//    output shape, resizes the partition's outputs (ResizeTensor takes a
//    malloc'ed array) and sizes the scratch buffers.
//  - invoke: re-reads the tensors' data pointers (they may move between
//    invocations) and only computes.
#ifndef TF_SPARSE_DELEGATE_FC_PARTITION_KERNEL_H_
#define TF_SPARSE_DELEGATE_FC_PARTITION_KERNEL_H_

#include <memory>
#include <string>
#include <vector>

#include "cc/kernels/f32_bsr_fully_connected.h"
#include "cc/kernels/f32_csr_fully_connected.h"
#include "cc/kernels/f32_gs_fully_connected.h"
#include "cc/kernels/f32_nm_fully_connected.h"
#include "cc/util/aligned_buffer.h"
#include "delegate/fc_analysis.h"
#include "delegate/tflite_abi.h"

namespace tf_sparse {

class SparseDelegate;

class FcPartitionKernel {
 public:
  // The registration to hand to ReplaceNodeSubsetsWithDelegateKernels.
  static tflite_abi::TfLiteRegistrationPadded Registration();

 private:
  struct Op {
    int node_index = -1;
    FcNodeInfo info;
    // Exactly one operator is set, by the node's chosen format.
    std::unique_ptr<F32BsrFullyConnected> fc;
    std::unique_ptr<F32CsrFullyConnected> csr;
    std::unique_ptr<F32NmFullyConnected> nm;
    std::unique_ptr<F32GsFullyConnected> gs;
    int input_scratch = -1;  // Index into scratch_, or -1: a TFLite tensor.
    int output_scratch = -1;
    size_t batch = 0;  // Set by prepare.
  };
  struct Scratch {
    int tensor = -1;
    std::vector<int> dims;
    AlignedBuffer<float> data;
  };

  static void* Init(tflite_abi::TfLiteContext* context, const char* buffer,
                    size_t length);
  static void Free(tflite_abi::TfLiteContext* context, void* buffer);
  static tflite_abi::TfLiteStatus Prepare(tflite_abi::TfLiteContext* context,
                                          tflite_abi::TfLiteNode* node);
  static tflite_abi::TfLiteStatus Invoke(tflite_abi::TfLiteContext* context,
                                         tflite_abi::TfLiteNode* node);

  std::string InitOps(tflite_abi::TfLiteContext* context,
                      const tflite_abi::TfLiteDelegateParams* params);
  tflite_abi::TfLiteStatus DoPrepare(tflite_abi::TfLiteContext* context);
  tflite_abi::TfLiteStatus DoInvoke(tflite_abi::TfLiteContext* context);
  int ScratchIndex(int tensor) const;

  SparseDelegate* delegate_ = nullptr;
  std::vector<Op> ops_;
  std::vector<Scratch> scratch_;
  std::string init_error_;
};

}  // namespace tf_sparse

#endif  // TF_SPARSE_DELEGATE_FC_PARTITION_KERNEL_H_
