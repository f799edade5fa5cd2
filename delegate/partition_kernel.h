// What every kernel TFLite runs in place of one partition of claimed nodes
// has in common; FcPartitionKernel and ConvPartitionKernel add how one node
// is packed, shaped and run.
//
// TFLite groups connected claimed nodes into one partition. Tensors that
// only flow between the partition's own nodes get no memory from TFLite, so
// the kernel owns scratch buffers for them. DENSIFY nodes in a partition
// were taken over with the node that reads their output: they do nothing
// here (that node's weights were decoded from the DENSIFY input at init);
// when TFLite put that node into another partition, the DENSIFY output is
// sized empty.
//
//  - init: runs while GetNodeAndRegistration still works; AddNode copies
//    everything a node needs (tensor indices, parameters) and packs its
//    weights, so nothing of the original nodes is touched later.
//  - prepare: runs after every input resize; OutputDims computes each
//    node's output shape, the partition's outputs are resized
//    (ResizeTensor takes a malloc'ed array) and the scratch sized.
//  - invoke: re-reads the tensors' data pointers (they may move between
//    invocations) and only computes (RunNode).
#ifndef TF_SPARSE_DELEGATE_PARTITION_KERNEL_H_
#define TF_SPARSE_DELEGATE_PARTITION_KERNEL_H_

#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "cc/util/aligned_buffer.h"
#include "cc/util/thread_pool.h"
#include "delegate/tflite_abi.h"

namespace tf_sparse {

class SparseDelegate;

class PartitionKernel {
 public:
  virtual ~PartitionKernel() = default;

  // The registration of kernel class K (a PartitionKernel with a default
  // constructor) to hand to ReplaceNodeSubsetsWithDelegateKernels.
  template <class K>
  static tflite_abi::TfLiteRegistrationPadded MakeRegistration(
      const char* custom_name) {
    tflite_abi::TfLiteRegistrationPadded r;
    std::memset(&r, 0, sizeof(r));
    r.registration.init = &InitThunk<K>;
    r.registration.free = &Free;
    r.registration.prepare = &Prepare;
    r.registration.invoke = &Invoke;
    r.registration.builtin_code = tflite_abi::kTfLiteBuiltinDelegate;
    r.registration.custom_name = custom_name;
    r.registration.version = 1;
    return r;
  }

 protected:
  // The tensors node `index` (in AddNode order) reads and writes.
  struct NodeIo {
    int node_index = -1;
    int input = -1;
    int output = -1;
    // The DENSIFY node whose output this node's weights are, or -1.
    int densify_node = -1;
  };

  SparseDelegate* delegate() const { return delegate_; }
  // The context of the current prepare or invoke (null before the first),
  // for kernels that read tensors besides their node's input and output
  // (e.g. an LSTM's state). Only valid during OutputDims and RunNode.
  tflite_abi::TfLiteContext* context() const { return context_; }

  // Reads and packs claimed node `node_index` (`node`), appending it to
  // the subclass's nodes; fills *io. Returns an empty string or what failed.
  virtual std::string AddNode(tflite_abi::TfLiteContext* context,
                              int node_index,
                              const tflite_abi::TfLiteNode* node,
                              NodeIo* io) = 0;
  // The output shape of node `index` for input shape `in_dims`. Returns an
  // empty string or what is wrong.
  virtual std::string OutputDims(size_t index, const std::vector<int>& in_dims,
                                 std::vector<int>* out_dims) = 0;
  // Computes node `index`; called only when its output is not empty (x and
  // y are then non-null). x and y hold the node's element type (float32,
  // or int8 for full-integer nodes).
  virtual void RunNode(size_t index, const void* x, void* y,
                       ThreadPool* pool) = 0;

 private:
  struct Scratch {
    int tensor = -1;
    std::vector<int> dims;
    // output_size floats: room for any element type of at most 4 bytes.
    AlignedBuffer<float> data;
  };
  struct Slot {
    NodeIo io;
    int input_scratch = -1;  // Index into scratch_, or -1: a TFLite tensor.
    int output_scratch = -1;
    size_t output_size = 0;  // Set by prepare.
  };

  template <class K>
  static void* InitThunk(tflite_abi::TfLiteContext* context,
                         const char* buffer, size_t /*length*/) {
    K* kernel = new (std::nothrow) K();
    if (kernel == nullptr) return nullptr;
    PartitionKernel* base = kernel;
    base->Init(context, buffer);
    return base;
  }
  static void Free(tflite_abi::TfLiteContext* context, void* buffer);
  static tflite_abi::TfLiteStatus Prepare(tflite_abi::TfLiteContext* context,
                                          tflite_abi::TfLiteNode* node);
  static tflite_abi::TfLiteStatus Invoke(tflite_abi::TfLiteContext* context,
                                         tflite_abi::TfLiteNode* node);

  void Init(tflite_abi::TfLiteContext* context, const char* buffer);
  std::string InitNodes(tflite_abi::TfLiteContext* context,
                        const tflite_abi::TfLiteDelegateParams* params);
  tflite_abi::TfLiteStatus DoPrepare(tflite_abi::TfLiteContext* context);
  tflite_abi::TfLiteStatus DoInvoke(tflite_abi::TfLiteContext* context);
  int ScratchIndex(int tensor) const;

  // Outputs of claimed DENSIFY nodes whose reader sits in another of our
  // partitions (which decoded the weights itself): sized empty, never
  // written.
  std::vector<int> detached_outputs_;

  SparseDelegate* delegate_ = nullptr;
  tflite_abi::TfLiteContext* context_ = nullptr;
  std::vector<Slot> slots_;
  std::vector<Scratch> scratch_;
  std::string init_error_;
};

}  // namespace tf_sparse

#endif  // TF_SPARSE_DELEGATE_PARTITION_KERNEL_H_
