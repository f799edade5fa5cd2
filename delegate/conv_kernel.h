// The kernel TFLite runs in place of one partition of claimed CONV_2D
// nodes (the delegate hands CONV_2D nodes over separately from
// FULLY_CONNECTED ones, so a partition holds convolutions only).
//
// Tensors produced inside the partition and not among its outputs get no
// memory from TFLite: the kernel owns scratch buffers for them. Every node
// is one F32PatdnnConv2D, packed at init.
//  - init: runs while GetNodeAndRegistration still works; copies what it
//    needs (tensor indices, parameters) and packs the weights.
//  - prepare: after every input resize; computes each node's output shape
//    (NHWC), resizes the partition's outputs and sizes the scratch.
//  - invoke: re-reads the tensors' data pointers and only computes.
#ifndef TF_SPARSE_DELEGATE_CONV_KERNEL_H_
#define TF_SPARSE_DELEGATE_CONV_KERNEL_H_

#include <memory>
#include <string>
#include <vector>

#include "cc/kernels/f32_conv_patdnn.h"
#include "cc/util/aligned_buffer.h"
#include "delegate/conv_analysis.h"
#include "delegate/tflite_abi.h"

namespace tf_sparse {

class SparseDelegate;

class ConvPartitionKernel {
 public:
  // The registration to hand to ReplaceNodeSubsetsWithDelegateKernels.
  static tflite_abi::TfLiteRegistrationPadded Registration();

 private:
  struct Op {
    int node_index = -1;
    ConvNodeInfo info;
    std::unique_ptr<F32PatdnnConv2D> conv;
    int input_scratch = -1;  // Index into scratch_, or -1: a TFLite tensor.
    int output_scratch = -1;
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

#endif  // TF_SPARSE_DELEGATE_CONV_KERNEL_H_
