// A fully connected operator on BSR-packed weights:
//   y[b][o] = clamp(sum_k W[o][k] * x[b][k] + bias[o], output_min, output_max)
//
// Create packs the weights once and picks a micro-kernel; Run only computes.
// Run establishes the micro-kernel contract (f32_bsr_ukernel.h): it pads x
// when in % c != 0, computes a ragged last block row into scratch, and splits
// the block rows over the pool's threads in shares of equal work (blocks
// weighted by their size, plus a per-row cost), so the split follows where
// the nonzeros are rather than the row count.
#ifndef TF_SPARSE_CC_KERNELS_F32_BSR_FULLY_CONNECTED_H_
#define TF_SPARSE_CC_KERNELS_F32_BSR_FULLY_CONNECTED_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cc/formats/bsr.h"
#include "cc/kernels/f32_bsr_ukernel.h"
#include "cc/kernels/row_split.h"
#include "cc/util/aligned_buffer.h"
#include "cc/util/thread_pool.h"

namespace tf_sparse {

class F32BsrFullyConnected {
 public:
  struct Options {
    int block_height = 1;  // r
    int block_width = 4;   // c
    BsrIndexWidth index_width = BsrIndexWidth::kAuto;
    // Kernel ISA; must be supported by the CPU. Negative: ActiveIsa().
    int isa = -1;
  };

  // weights: dense row-major [out][in]; bias: `out` floats or null. Nothing
  // is retained from the arguments. Returns null and sets *error on invalid
  // shapes or allocation failure.
  static std::unique_ptr<F32BsrFullyConnected> Create(
      const float* weights, int out, int in, const float* bias,
      float output_min, float output_max, const Options& options,
      std::string* error);

  // Same, for weights already packed (e.g. converted from another sparse
  // encoding); takes ownership of `matrix`, whose fields must be consistent
  // (see cc/formats/bsr.h). options.index_width is ignored.
  static std::unique_ptr<F32BsrFullyConnected> CreateFromBsr(
      BsrMatrix matrix, const float* bias, float output_min, float output_max,
      const Options& options, std::string* error);

  // x: [batch][in], y: [batch][out], both dense. pool may be null (one
  // thread). Not reentrant: one Run at a time per operator.
  void Run(size_t batch, const float* x, float* y, ThreadPool* pool);

  int out() const { return matrix_.rows; }
  int in() const { return matrix_.cols; }
  const BsrMatrix& matrix() const { return matrix_; }
  const F32BsrUkernel& kernel() const { return kernel_; }
  const char* kernel_name() const { return kernel_.name; }
  int64_t PackedBytes() const { return matrix_.PackedBytes(); }

 private:
  F32BsrFullyConnected() = default;
  // Computes block rows [begin, end) for every batch item.
  void RunBlockRows(size_t batch, const float* x, size_t x_stride, float* y,
                    size_t begin, size_t end);
  const std::vector<size_t>& Split(int num_threads);

  BsrMatrix matrix_;
  F32BsrUkernel kernel_{};
  float output_min_ = 0.0f;
  float output_max_ = 0.0f;
  size_t full_block_rows_ = 0;  // Block rows lying fully inside the matrix.
  AlignedBuffer<float> bias_;   // padded_rows entries, zeros past `out`.
  AlignedBuffer<float> x_pad_;  // [batch][padded_cols] when in % c != 0.
  AlignedBuffer<float> y_tail_;  // [batch][r] for the ragged block row.
  SplitCache split_;  // Block-row boundaries per thread count.
};

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_BSR_FULLY_CONNECTED_H_
