#include "cc/kernels/f32_csr_fully_connected.h"

#include <cstring>
#include <new>
#include <stdexcept>

#include "cc/kernels/dispatch.h"
#include "cc/kernels/row_split.h"

namespace tf_sparse {
namespace {

// Relative cost of finishing one output row (reduction, bias, clamp,
// store) against one multiply-add, for balancing the thread split.
constexpr int64_t kRowCost = 16;

}  // namespace

const F32CsrUkernel& SelectF32CsrUkernel(Isa isa) {
  static const IsaKernels<const F32CsrUkernel& (*)()> kKernels = {
      &F32CsrUkernelScalar,
      TF_SPARSE_X86_ONLY(F32CsrUkernelAvx2),
      TF_SPARSE_X86_ONLY(F32CsrUkernelAvx512),
      TF_SPARSE_ARM_ONLY(F32CsrUkernelNeon),
      nullptr};
  return kKernels.For(isa)();
}

std::unique_ptr<F32CsrFullyConnected> F32CsrFullyConnected::Create(
    const float* weights, int out, int in, const float* bias, float output_min,
    float output_max, const Options& options, std::string* error) {
  const std::string problem = CheckCsrShape(out, in);
  if (!problem.empty()) {
    *error = problem;
    return nullptr;
  }
  Isa isa;
  *error = CheckClampAndIsa(output_min, output_max, options.isa, &isa);
  if (!error->empty()) return nullptr;
  std::unique_ptr<F32CsrFullyConnected> op(new F32CsrFullyConnected());
  try {
    op->layout_ = options.layout;
    if (options.layout == Layout::kPanels) {
      op->panels_ = PackCsrPanels(weights, out, in);
    } else {
      op->matrix_ = PackCsr(weights, out, in);
    }
    // Panels read the bias of every lane of the last group.
    op->bias_.Resize(static_cast<size_t>(out + kCsrPanelRows));
    if (bias != nullptr)
      std::memcpy(op->bias_.data(), bias, sizeof(float) * out);
  } catch (const std::bad_alloc&) {
    *error = "out of memory while packing weights";
    return nullptr;
  } catch (const std::invalid_argument& e) {
    *error = e.what();
    return nullptr;
  }
  op->kernel_ = &SelectF32CsrUkernel(isa);
  op->output_min_ = output_min;
  op->output_max_ = output_max;
  return op;
}

void F32CsrFullyConnected::RunRows(size_t batch, const float* x, float* y,
                                   size_t begin, size_t end) const {
  const CsrMatrix& m = matrix_;
  auto fill = [&](auto& a) {
    a.batch = batch;
    a.num_rows = end - begin;
    a.row_ptr = m.row_ptr.data() + begin;
    a.values = m.values.data();
    a.bias = bias_.data() + begin;
    a.x = x;
    a.x_stride = static_cast<size_t>(m.cols);
    a.y = y + begin;
    a.y_stride = static_cast<size_t>(m.rows);
    a.output_min = output_min_;
    a.output_max = output_max_;
  };
  if (m.index_bytes == 2) {
    F32CsrArgs<uint16_t> a;
    fill(a);
    a.col_idx = m.col_idx16.data();
    kernel_->fn16(a);
  } else {
    F32CsrArgs<int32_t> a;
    fill(a);
    a.col_idx = m.col_idx32.data();
    kernel_->fn32(a);
  }
}

void F32CsrFullyConnected::RunGroups(size_t batch, const float* x, float* y,
                                     size_t begin, size_t end) const {
  const CsrPanelMatrix& m = panels_;
  F32CsrPanelArgs a;
  a.batch = batch;
  a.num_groups = end - begin;
  a.num_rows = static_cast<size_t>(m.rows) - begin * kCsrPanelRows;
  a.cols = static_cast<size_t>(m.cols);
  a.slice_ptr = m.slice_ptr.data() + begin;
  a.base = m.base.data();
  a.values = m.values.data();
  a.offsets = m.offsets.data();
  a.bias = bias_.data() + begin * kCsrPanelRows;
  a.x = x;
  a.x_stride = static_cast<size_t>(m.cols);
  a.y = y + begin * kCsrPanelRows;
  a.y_stride = static_cast<size_t>(m.rows);
  a.output_min = output_min_;
  a.output_max = output_max_;
  kernel_->panel_fn(a);
}

void F32CsrFullyConnected::Run(size_t batch, const float* x, float* y,
                               ThreadPool* pool) {
  if (batch == 0) return;
  if (layout_ == Layout::kPanels) {
    const size_t groups = static_cast<size_t>(panels_.num_groups);
    const int64_t work =
        static_cast<int64_t>(batch) *
        (panels_.num_slices() * kCsrPanelRows + kRowCost * panels_.rows);
    const int32_t* sp = panels_.slice_ptr.data();
    RunInShares(
        pool, work, groups,
        [&](int threads) -> const std::vector<size_t>& {
          return split_.Get(groups, threads, kRowCost,
                            [sp](size_t g) { return sp[g]; });
        },
        [&](size_t begin, size_t end) { RunGroups(batch, x, y, begin, end); });
    return;
  }
  const size_t rows = static_cast<size_t>(matrix_.rows);
  const int64_t work =
      static_cast<int64_t>(batch) * (matrix_.nnz() + kRowCost * matrix_.rows);
  const int32_t* rp = matrix_.row_ptr.data();
  RunInShares(
      pool, work, rows,
      [&](int threads) -> const std::vector<size_t>& {
        return split_.Get(rows, threads, kRowCost,
                          [rp](size_t i) { return rp[i]; });
      },
      [&](size_t begin, size_t end) { RunRows(batch, x, y, begin, end); });
}

}  // namespace tf_sparse
