// The kernel TFLite runs in place of one partition of claimed CONV_2D
// nodes (and the DENSIFY nodes feeding their weights). The delegate hands
// CONV_2D nodes over separately from FULLY_CONNECTED ones, so a partition
// holds convolutions only. Every node is one ConvOperator
// (cc/kernels/sparse_operator.h) of the format its decision names, made by
// that format's descriptor (ConvFormats(), conv_analysis.h) and packed at
// init. The partition plumbing is PartitionKernel's.
#ifndef TF_SPARSE_DELEGATE_CONV_KERNEL_H_
#define TF_SPARSE_DELEGATE_CONV_KERNEL_H_

#include <memory>
#include <string>
#include <vector>

#include "cc/kernels/sparse_operator.h"
#include "cc/util/aligned_buffer.h"
#include "delegate/conv_analysis.h"
#include "delegate/partition_kernel.h"
#include "delegate/tflite_abi.h"

namespace tf_sparse {

class ConvPartitionKernel : public PartitionKernel {
 public:
  // The registration to hand to ReplaceNodeSubsetsWithDelegateKernels.
  static tflite_abi::TfLiteRegistrationPadded Registration() {
    return MakeRegistration<ConvPartitionKernel>("TfSparseDelegateConv");
  }

 private:
  struct Op {
    ConvNodeInfo info;
    // The node's packed weights, in its decision's format: op for float
    // nodes, op8 for full-integer int8 ones.
    std::unique_ptr<ConvOperator> op;
    std::unique_ptr<Qs8ConvOperator> op8;
    // TFLite runs an input of G * in channels as a grouped convolution:
    // group g reads input channels [g * in, (g + 1) * in) and computes
    // filters [g * out / G, (g + 1) * out / G). The delegate gathers each
    // group's channels into group_in, runs the packed operator (all `out`
    // filters) and keeps the group's filters: G times the work, exact.
    // Set by OutputDims for the last prepared input.
    int groups = 1;
    size_t input_pixels = 0, output_pixels = 0;
    // Bytes (float32 or int8 elements).
    AlignedBuffer<uint8_t> group_in, group_out;
  };
  template <typename T>
  static void RunGrouped(Op& op, const T* x, T* y,
                         TypedConvOperator<T>* kernel, ThreadPool* pool);

  std::string AddNode(tflite_abi::TfLiteContext* context, int node_index,
                      const tflite_abi::TfLiteNode* node, NodeIo* io) override;
  std::string OutputDims(size_t index, const std::vector<int>& in_dims,
                         std::vector<int>* out_dims) override;
  void RunNode(size_t index, const void* x, void* y,
               ThreadPool* pool) override;

  std::vector<Op> ops_;
};

}  // namespace tf_sparse

#endif  // TF_SPARSE_DELEGATE_CONV_KERNEL_H_
