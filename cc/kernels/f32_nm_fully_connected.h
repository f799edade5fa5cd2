// A fully connected operator on N:M-packed weights (cc/formats/nm.h):
//   y[b][o] = clamp(sum_k W[o][k] * x[b][k] + bias[o], output_min, output_max)
// Create packs once (the weights must hold at most n nonzeros in every m
// consecutive inputs); Run pads x to padded_cols when needed and splits the
// rows over the pool's threads.
#ifndef TF_SPARSE_CC_KERNELS_F32_NM_FULLY_CONNECTED_H_
#define TF_SPARSE_CC_KERNELS_F32_NM_FULLY_CONNECTED_H_

#include <memory>
#include <string>
#include <vector>

#include "cc/formats/nm.h"
#include "cc/kernels/f32_nm_ukernel.h"
#include "cc/util/aligned_buffer.h"
#include "cc/util/thread_pool.h"

namespace tf_sparse {

// The N:M kernel of `isa` (isa.h's rule; SVE uses NEON's).
const F32NmUkernel& SelectF32NmUkernel(Isa isa);

class F32NmFullyConnected {
 public:
  // kRowGroups (16 rows per vector step, no reductions; m in 2, 4, 8, 16,
  // 32) is used whenever m allows; kRows (one row at a time) otherwise.
  enum class Layout { kAuto, kRowGroups, kRows };
  struct Options {
    int n = 2;
    int m = 4;
    Layout layout = Layout::kAuto;
    int isa = -1;  // Negative: ActiveIsa().
  };
  static std::unique_ptr<F32NmFullyConnected> Create(
      const float* weights, int out, int in, const float* bias,
      float output_min, float output_max, const Options& options,
      std::string* error);

  void Run(size_t batch, const float* x, float* y, ThreadPool* pool);

  const NmMatrix& matrix() const { return matrix_; }  // kRows only.
  const F32NmUkernel& kernel() const { return *kernel_; }
  bool row_groups() const { return row_groups_; }
  const char* kernel_name() const {
    return row_groups_ ? kernel_->row_group_name : kernel_->name;
  }
  int64_t PackedBytes() const {
    return row_groups_ ? groups_.PackedBytes() : matrix_.PackedBytes();
  }

 private:
  F32NmFullyConnected() = default;
  void RunRows(size_t batch, const float* x, size_t x_stride, float* y,
               size_t begin, size_t end) const;

  void RunGroups(size_t batch, const float* x, float* y, size_t begin,
                 size_t end) const;

  bool row_groups_ = false;
  NmMatrix matrix_;
  NmRowGroupMatrix groups_;
  const F32NmUkernel* kernel_ = nullptr;
  AlignedBuffer<float> bias_;
  AlignedBuffer<float> x_pad_;
  float output_min_ = 0.0f;
  float output_max_ = 0.0f;
};

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_NM_FULLY_CONNECTED_H_
