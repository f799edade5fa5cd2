// The kernel TFLite runs in place of one partition of claimed
// DEPTHWISE_CONV_2D nodes (and the DENSIFY nodes feeding their weights).
// The delegate hands depthwise nodes over separately from the other kinds,
// so a partition holds depthwise convolutions only. Every node is one
// F32SparseDepthwiseConv3x3, packed at init; the partition plumbing is
// PartitionKernel's.
#ifndef TF_SPARSE_DELEGATE_DWCONV_KERNEL_H_
#define TF_SPARSE_DELEGATE_DWCONV_KERNEL_H_

#include <memory>
#include <string>
#include <vector>

#include "cc/kernels/f32_dwconv3x3_sparse.h"
#include "cc/util/aligned_buffer.h"
#include "delegate/dwconv_analysis.h"
#include "delegate/partition_kernel.h"
#include "delegate/tflite_abi.h"

namespace tf_sparse {

class DwConvPartitionKernel : public PartitionKernel {
 public:
  // The registration to hand to ReplaceNodeSubsetsWithDelegateKernels.
  static tflite_abi::TfLiteRegistrationPadded Registration() {
    return MakeRegistration<DwConvPartitionKernel>("TfSparseDelegateDepthwise");
  }

 private:
  struct Op {
    DwConvNodeInfo info;
    std::unique_ptr<F32SparseDepthwiseConv3x3> conv;
    // Set by OutputDims for the last prepared input. TFLite reads an input
    // of C < channels as depth multiplier m = channels / C (output channel
    // c * m + j from input channel c); the delegate repeats each input
    // channel m times into `expanded` and runs the packed multiplier-1
    // kernel on that, which is the same sum exactly.
    int multiplier = 1;
    size_t input_pixels = 0;  // batch * in_h * in_w.
    AlignedBuffer<float> expanded;
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

#endif  // TF_SPARSE_DELEGATE_DWCONV_KERNEL_H_
