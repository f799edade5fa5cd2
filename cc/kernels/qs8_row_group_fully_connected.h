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
// slices, 90% random sparsity into slices about 2/3 full. Weights with at
// most 1 or 2 nonzeros in every aligned group of 4 columns (1:4, 2:4) are
// packed in the N:4 layout instead (2-bit positions: 80 bytes a slice
// rather than 128) when the ISA has a kernel for it (AVX-512 VBMI + VNNI).
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
  enum class Layout {
    kAuto,     // kNm4 when the weights and the ISA allow it, else kWindows.
    kWindows,  // Qs8RowGroupMatrix: any pattern.
    kNm4,      // Qs8Nm4RowGroupMatrix: 1:4 / 2:4 weights only.
  };
  struct Options {
    Layout layout = Layout::kAuto;
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

  // What Create would pack, without packing (one or two passes over the
  // weights), for cost estimates: the layout, its slice count (a slice is
  // about one vector step: 64 multiply-adds, a permute and for N:4 a
  // decode) and its bytes. slices < 0: Create would refuse the arguments.
  struct Plan {
    bool nm4 = false;
    int64_t slices = -1;
    int64_t bytes = -1;
  };
  static Plan PlanLayout(const int8_t* weights, int out, int in,
                         const Options& options);

  // x: [batch][in] int8, y: [batch][out] int8. pool may be null (one
  // thread). Not reentrant: one Run at a time per operator.
  void Run(size_t batch, const int8_t* x, int8_t* y, ThreadPool* pool);

  int out() const { return out_; }
  int in() const { return in_; }
  bool uses_nm4_layout() const { return nm4_kernel_ != nullptr; }
  // The packed weights of the layout in use (the other one is empty).
  const Qs8RowGroupMatrix& matrix() const { return matrix_; }
  const Qs8Nm4RowGroupMatrix& nm4_matrix() const { return nm4_matrix_; }
  const char* kernel_name() const {
    return uses_nm4_layout() ? nm4_kernel_->name : kernel_.name;
  }
  int64_t PackedBytes() const {
    return uses_nm4_layout() ? nm4_matrix_.PackedBytes()
                             : matrix_.PackedBytes();
  }

 private:
  Qs8RowGroupFullyConnected() = default;
  // The N:4 kernel Create uses for these weights (null: windows layout);
  // sets *error when options.layout is kNm4 and cannot be used.
  static const Qs8Nm4RowGroupUkernel* ChooseNm4Kernel(
      const int8_t* weights, int out, int in, Isa isa, const Options& options,
      std::string* error);
  void RunGroups(size_t batch, const int8_t* x, int8_t* y, size_t begin,
                 size_t end);
  const std::vector<size_t>& Split(int num_threads);

  int out_ = 0;
  int in_ = 0;
  size_t num_groups_ = 0;
  Qs8RowGroupMatrix matrix_;
  Qs8RowGroupUkernel kernel_{};
  Qs8Nm4RowGroupMatrix nm4_matrix_;
  const Qs8Nm4RowGroupUkernel* nm4_kernel_ = nullptr;  // Null: windows.
  int32_t input_offset_ = 0;  // The kernel's (ukernel.h).
  int32_t output_zero_point_ = 0;
  int32_t output_min_ = -128;
  int32_t output_max_ = 127;
  size_t x_stride_ = 0;                // in rounded up to 64.
  AlignedBuffer<int32_t> bias_;        // 16 per group, folded (see ukernel).
  AlignedBuffer<int32_t> multiplier_;  // 16 per group.
  AlignedBuffer<int32_t> shift_;       // 16 per group.
  AlignedBuffer<int8_t> x_buf_;        // [batch][x_stride_]: padded x.
  SplitCache split_;
};

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_QS8_ROW_GROUP_FULLY_CONNECTED_H_
