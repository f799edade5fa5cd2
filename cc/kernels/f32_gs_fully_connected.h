// A fully connected operator on gather-scatter packs (cc/formats/gs.h):
//   y[b][o] = clamp(sum_k W[o][k] * x[b][k] + bias[o], output_min, output_max)
// Create packs once (any weights of a valid shape; padding lanes where the
// GS structure is not met); Run splits the row groups over the pool's
// threads in shares of equal packs.
#ifndef TF_SPARSE_CC_KERNELS_F32_GS_FULLY_CONNECTED_H_
#define TF_SPARSE_CC_KERNELS_F32_GS_FULLY_CONNECTED_H_

#include <memory>
#include <string>
#include <vector>

#include "cc/formats/gs.h"
#include "cc/kernels/f32_gs_ukernel.h"
#include "cc/kernels/row_split.h"
#include "cc/util/aligned_buffer.h"
#include "cc/util/thread_pool.h"

namespace tf_sparse {

// The GS kernel of `isa` (isa.h's rule; SVE has its own).
const F32GsUkernel& SelectF32GsUkernel(Isa isa);

class F32GsFullyConnected {
 public:
  struct Options {
    int banks = 16;
    int elements_per_row = 1;
    int isa = -1;  // Negative: ActiveIsa().
  };
  static std::unique_ptr<F32GsFullyConnected> Create(
      const float* weights, int out, int in, const float* bias,
      float output_min, float output_max, const Options& options,
      std::string* error);

  void Run(size_t batch, const float* x, float* y, ThreadPool* pool);

  const GsMatrix& matrix() const { return matrix_; }
  const F32GsUkernel& kernel() const { return *kernel_; }
  const char* kernel_name() const { return kernel_->name; }
  int64_t PackedBytes() const { return matrix_.PackedBytes(); }

 private:
  F32GsFullyConnected() = default;
  void RunGroups(size_t batch, const float* x, float* y, size_t begin,
                 size_t end) const;

  GsMatrix matrix_;
  const F32GsUkernel* kernel_ = nullptr;
  AlignedBuffer<float> bias_;
  float output_min_ = 0.0f;
  float output_max_ = 0.0f;
  SplitCache split_;  // Shares of the work per thread count.
};

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_GS_FULLY_CONNECTED_H_
