// An int8 fully connected operator for unstructured and N:M sparse weights,
// packed as int8 row-group windows (cc/formats/qs8_row_group.h), bit-exact
// with TFLite's int8 FULLY_CONNECTED (qs8_dense_reference.h):
//   y[b][o] = clamp(output_zero_point + requantize(bias[o] +
//             sum_k (x[b][k] - input_zero_point) W[o][k]), min, max)
// The sibling of Qs8BsrFullyConnected with the same interface: Create packs
// once, folds the input zero point (and the kernel's input offset) into the
// bias through the row sums of W, computes one multiplier per row, checks
// that no accumulator can overflow int32 and picks a micro-kernel
// (qs8_row_group_ukernel.h); Run only computes, splitting row groups over
// threads in shares of equal slices. Any sparsity pattern is served; the
// cost is the slice count (CountQs8RowGroupSlices): 2:4 packs into full
// slices, 90% random sparsity into slices about 2/3 full.
#ifndef TF_SPARSE_CC_KERNELS_QS8_ROW_GROUP_FULLY_CONNECTED_H_
#define TF_SPARSE_CC_KERNELS_QS8_ROW_GROUP_FULLY_CONNECTED_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cc/formats/qs8_row_group.h"
#include "cc/kernels/qs8_row_group_ukernel.h"
#include "cc/kernels/requantize.h"
#include "cc/kernels/row_split.h"
#include "cc/util/aligned_buffer.h"
#include "cc/util/thread_pool.h"

namespace tf_sparse {

class Qs8RowGroupFullyConnected {
 public:
  struct Options {
    // Kernel ISA; must be supported by the CPU. Negative: ActiveIsa().
    int isa = -1;
    // False: the kernels without dot product instructions (AVX2's on an
    // AVX-512 CPU, plain NEON on a dotprod one).
    bool use_dot_product = true;
  };

  // weights: dense row-major int8 [out][in] (zero point 0); bias: `out`
  // int32 (TFLite's int32 bias, scale input_scale * filter_scale) or null;
  // quantization: scales, zero points and clamp (requantize.h). Nothing is
  // retained from the arguments. Returns null and sets *error on invalid
  // arguments, accumulators that could overflow int32, or allocation
  // failure.
  static std::unique_ptr<Qs8RowGroupFullyConnected> Create(
      const int8_t* weights, int out, int in, const int32_t* bias,
      const Qs8FcQuantization& quantization, const Options& options,
      std::string* error);

  // x: [batch][in] int8, y: [batch][out] int8. pool may be null (one
  // thread). Not reentrant: one Run at a time per operator.
  void Run(size_t batch, const int8_t* x, int8_t* y, ThreadPool* pool);

  int out() const { return matrix_.rows; }
  int in() const { return matrix_.cols; }
  const Qs8RowGroupMatrix& matrix() const { return matrix_; }
  const Qs8RowGroupUkernel& kernel() const { return kernel_; }
  const char* kernel_name() const { return kernel_.name; }
  int64_t PackedBytes() const { return matrix_.PackedBytes(); }

 private:
  Qs8RowGroupFullyConnected() = default;
  void RunGroups(size_t batch, const int8_t* x, int8_t* y, size_t begin,
                 size_t end);
  const std::vector<size_t>& Split(int num_threads);

  Qs8RowGroupMatrix matrix_;
  Qs8RowGroupUkernel kernel_{};
  int32_t output_zero_point_ = 0;
  int32_t output_min_ = -128;
  int32_t output_max_ = 127;
  size_t x_stride_ = 0;                // max(in, 64).
  AlignedBuffer<int32_t> bias_;        // 16 per group, folded (see ukernel).
  AlignedBuffer<int32_t> multiplier_;  // 16 per group.
  AlignedBuffer<int32_t> shift_;       // 16 per group.
  AlignedBuffer<int8_t> x_buf_;        // [batch][x_stride_]: padded x.
  SplitCache split_;
};

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_QS8_ROW_GROUP_FULLY_CONNECTED_H_
