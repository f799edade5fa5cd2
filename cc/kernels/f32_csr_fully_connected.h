// A fully connected operator on CSR-packed weights:
//   y[b][o] = clamp(sum_k W[o][k] * x[b][k] + bias[o], output_min, output_max)
// Create packs once and picks the kernel for the ISA; Run only computes,
// splitting the rows (or row groups) over the pool's threads in shares of
// equal work. Two layouts: row-group quads (the default; 16 rows per
// vector step, sliding 64-column windows, one-byte indices, x fetched by register permutes on
// AVX-512) and plain CSR (one row at a time, x fetched by gathers).
#ifndef TF_SPARSE_CC_KERNELS_F32_CSR_FULLY_CONNECTED_H_
#define TF_SPARSE_CC_KERNELS_F32_CSR_FULLY_CONNECTED_H_

#include <memory>
#include <string>
#include <vector>

#include "cc/formats/csr.h"
#include "cc/kernels/f32_csr_ukernel.h"
#include "cc/kernels/row_split.h"
#include "cc/util/aligned_buffer.h"
#include "cc/util/thread_pool.h"

namespace tf_sparse {

// The CSR kernel of `isa` (isa.h's rule; SVE uses NEON's).
const F32CsrUkernel& SelectF32CsrUkernel(Isa isa);

class F32CsrFullyConnected {
 public:
  enum class Layout { kPanels, kRows };
  struct Options {
    Layout layout = Layout::kPanels;
    int isa = -1;  // Negative: ActiveIsa().
  };
  // weights: dense row-major [out][in]; bias: `out` floats or null. Returns
  // null and sets *error on invalid arguments or allocation failure.
  static std::unique_ptr<F32CsrFullyConnected> Create(
      const float* weights, int out, int in, const float* bias,
      float output_min, float output_max, const Options& options,
      std::string* error);

  // x: [batch][in], y: [batch][out]. pool may be null. One Run at a time.
  void Run(size_t batch, const float* x, float* y, ThreadPool* pool);

  const CsrMatrix& matrix() const { return matrix_; }       // kRows only.
  const CsrPanelMatrix& panels() const { return panels_; }  // kPanels only.
  const F32CsrUkernel& kernel() const { return *kernel_; }
  const char* kernel_name() const {
    return layout_ == Layout::kPanels ? kernel_->panel_name : kernel_->name;
  }
  int64_t PackedBytes() const {
    return layout_ == Layout::kPanels ? panels_.PackedBytes()
                                      : matrix_.PackedBytes();
  }

 private:
  F32CsrFullyConnected() = default;
  void RunRows(size_t batch, const float* x, float* y, size_t begin,
               size_t end) const;

  void RunGroups(size_t batch, const float* x, float* y, size_t begin,
                 size_t end) const;

  Layout layout_ = Layout::kPanels;
  CsrMatrix matrix_;
  CsrPanelMatrix panels_;
  const F32CsrUkernel* kernel_ = nullptr;
  AlignedBuffer<float> bias_;
  float output_min_ = 0.0f;
  float output_max_ = 0.0f;
  SplitCache split_;  // Shares of the work per thread count.
};

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_CSR_FULLY_CONNECTED_H_
