#include "cc/kernels/qs8_row_group_fully_connected.h"

#include <algorithm>
#include <new>
#include <stdexcept>

#include "cc/kernels/dispatch.h"
#include "cc/kernels/qs8_fc_common.h"

namespace tf_sparse {
namespace {

// Relative cost of one window (x load) and of finishing one group
// (requantizing 16 rows) against one slice (64 multiply-adds), for
// balancing the thread split.
constexpr int64_t kSliceCost = 64;
constexpr int64_t kWindowCost = 16;
constexpr int64_t kGroupCost = 256;

}  // namespace

const Qs8Nm4RowGroupUkernel* Qs8RowGroupFullyConnected::ChooseNm4Kernel(
    const int8_t* weights, int out, int in, Isa isa, const Options& options,
    std::string* error) {
  error->clear();
  if (options.layout == Layout::kWindows) return nullptr;
  const int degree = Qs8NmDegreeOf4(weights, out, in);
  const bool fits = degree == 1 || degree == 2;
  const Qs8Nm4RowGroupUkernel* kernel =
      SelectQs8Nm4RowGroupUkernel(isa, options.use_dot_product);
  if (options.layout == Layout::kNm4) {
    if (!fits) {
      *error = "layout kNm4 needs at most 1 or 2 nonzeros in every group "
               "of 4 columns; the weights have " +
               std::to_string(degree);
      return nullptr;
    }
    if (kernel == nullptr) {
      *error = std::string("layout kNm4 has no kernel for ISA ") +
               IsaName(isa) +
               (options.use_dot_product ? "" : " without dot products");
    }
    return kernel;
  }
  // Automatic: N:4 where a vector kernel has it.
  return fits && isa != Isa::kScalar ? kernel : nullptr;
}

Qs8RowGroupFullyConnected::Plan Qs8RowGroupFullyConnected::PlanLayout(
    const int8_t* weights, int out, int in, const Options& options) {
  Plan plan;
  Isa isa;
  std::string error;
  if (weights == nullptr || !CheckQs8RowGroupShape(out, in).empty() ||
      !CheckClampAndIsa(0.0f, 0.0f, options.isa, &isa).empty()) {
    return plan;
  }
  const Qs8Nm4RowGroupUkernel* nm4 =
      ChooseNm4Kernel(weights, out, in, isa, options, &error);
  if (!error.empty()) return plan;
  const int64_t groups = (int64_t{out} + kQs8RowGroupRows - 1) /
                         kQs8RowGroupRows;
  if (nm4 != nullptr) {
    plan.nm4 = true;
    plan.slices = groups * ((int64_t{in} + kQs8RowGroupCols - 1) /
                            kQs8RowGroupCols) *
                  4 * Qs8NmDegreeOf4(weights, out, in);
    plan.bytes = 80 * plan.slices;
  } else {
    plan.slices = CountQs8RowGroupSlices(weights, out, in);
    plan.bytes = kQs8RowGroupSliceBytes * plan.slices;
  }
  return plan;
}

std::unique_ptr<Qs8RowGroupFullyConnected> Qs8RowGroupFullyConnected::Create(
    const int8_t* weights, int out, int in, const int32_t* bias,
    const Qs8FcQuantization& quantization, const Options& options,
    std::string* error) {
  if (weights == nullptr) {
    *error = "weights must not be null";
    return nullptr;
  }
  std::string problem = CheckQs8RowGroupShape(out, in);
  if (!problem.empty()) {
    *error = "out and in: " + problem;
    return nullptr;
  }
  std::vector<QuantizedMultiplier> rows;
  problem = ComputeFcMultipliers(quantization, out, &rows);
  if (!problem.empty()) {
    *error = problem;
    return nullptr;
  }
  Isa isa;
  // The int8 clamp is checked by ComputeFcMultipliers; only the ISA here.
  problem = CheckClampAndIsa(0.0f, 0.0f, options.isa, &isa);
  if (!problem.empty()) {
    *error = problem;
    return nullptr;
  }
  const Qs8Nm4RowGroupUkernel* nm4_kernel =
      ChooseNm4Kernel(weights, out, in, isa, options, error);
  if (nm4_kernel == nullptr && !error->empty()) return nullptr;
  std::unique_ptr<Qs8RowGroupFullyConnected> op(
      new Qs8RowGroupFullyConnected());
  op->out_ = out;
  op->in_ = in;
  op->num_groups_ = static_cast<size_t>((out + kQs8RowGroupRows - 1) /
                                        kQs8RowGroupRows);
  const int32_t* row_sums = nullptr;
  const int32_t* row_abs_sums = nullptr;
  try {
    if (nm4_kernel != nullptr) {
      op->nm4_matrix_ = PackQs8Nm4RowGroups(weights, out, in);
      row_sums = op->nm4_matrix_.row_sums.data();
      row_abs_sums = op->nm4_matrix_.row_abs_sums.data();
    } else {
      op->matrix_ = PackQs8RowGroups(weights, out, in);
      row_sums = op->matrix_.row_sums.data();
      row_abs_sums = op->matrix_.row_abs_sums.data();
    }
    const size_t padded_rows = op->num_groups_ * kQs8RowGroupRows;
    op->bias_.Resize(padded_rows);
    op->multiplier_.Resize(padded_rows);
    op->shift_.Resize(padded_rows);
    // Zero-filled: padding rows have bias, multiplier and shift 0.
  } catch (const std::bad_alloc&) {
    *error = "out of memory while packing weights";
    return nullptr;
  } catch (const std::invalid_argument& e) {
    *error = e.what();
    return nullptr;
  }
  op->nm4_kernel_ = nm4_kernel;
  op->kernel_ = SelectQs8RowGroupUkernel(isa, options.use_dot_product);
  const int32_t input_offset = nm4_kernel != nullptr
                                   ? nm4_kernel->input_offset
                                   : op->kernel_.input_offset;
  op->input_offset_ = input_offset;
  problem = FoldQs8FcRows(out, bias, row_sums, row_abs_sums,
                          quantization.input_zero_point, input_offset,
                          rows.data(), op->bias_.data(),
                          op->multiplier_.data(), op->shift_.data());
  if (!problem.empty()) {
    *error = problem;
    return nullptr;
  }
  op->output_zero_point_ = quantization.output_zero_point;
  op->output_min_ = quantization.output_min;
  op->output_max_ = quantization.output_max;
  op->x_stride_ = (static_cast<size_t>(in) + kQs8RowGroupCols - 1) /
                 kQs8RowGroupCols * kQs8RowGroupCols;
  return op;
}

void Qs8RowGroupFullyConnected::RunGroups(size_t batch, const int8_t* x,
                                          int8_t* y, size_t begin,
                                          size_t end) {
  const size_t row0 = begin * kQs8RowGroupRows;
  const size_t rows = static_cast<size_t>(out_);
  auto fill = [&](auto& a) {
    a.batch = batch;
    a.num_groups = end - begin;
    a.num_rows = std::min(rows, end * kQs8RowGroupRows) - row0;
    a.bias = bias_.data() + row0;
    a.multiplier = multiplier_.data() + row0;
    a.shift = shift_.data() + row0;
    a.x = x;
    a.x_stride = x_stride_;
    a.y = y + row0;
    a.y_stride = rows;
    a.output_zero_point = output_zero_point_;
    a.output_min = output_min_;
    a.output_max = output_max_;
  };
  if (nm4_kernel_ != nullptr) {
    const Qs8Nm4RowGroupMatrix& m = nm4_matrix_;
    Qs8Nm4RowGroupArgs a;
    fill(a);
    a.num_windows = static_cast<size_t>(m.num_windows);
    a.n = m.n;
    const size_t slice0 = begin * static_cast<size_t>(m.slices_per_group());
    a.positions = m.positions.data() + slice0 * 16;
    a.weights = m.weights.data() + slice0 * 64;
    nm4_kernel_->fn(a);
    return;
  }
  Qs8RowGroupArgs a;
  fill(a);
  a.window_ptr = matrix_.window_ptr.data() + begin;
  a.slice_ptr = matrix_.slice_ptr.data();
  a.base = matrix_.base.data();
  a.slices = matrix_.slices.data();
  kernel_.fn(a);
}

const std::vector<size_t>& Qs8RowGroupFullyConnected::Split(int num_threads) {
  const Qs8RowGroupMatrix& m = matrix_;
  const int64_t nm4_group = nm4_matrix_.slices_per_group() * kSliceCost +
                            nm4_matrix_.num_windows * kWindowCost;
  return split_.Get(num_groups_, num_threads, kGroupCost, [&](size_t g) {
    if (nm4_kernel_ != nullptr) return static_cast<int64_t>(g) * nm4_group;
    const int32_t w = m.window_ptr[g];
    return static_cast<int64_t>(m.slice_ptr[w]) * kSliceCost +
           static_cast<int64_t>(w) * kWindowCost;
  });
}

void Qs8RowGroupFullyConnected::Run(size_t batch, const int8_t* x, int8_t* y,
                                    ThreadPool* pool) {
  if (batch == 0) return;
  const size_t in = static_cast<size_t>(in_);
  if (x_buf_.size() < batch * x_stride_) x_buf_.Resize(batch * x_stride_);
  // Every window reads 64 bytes of x: the copy is padded to a multiple of
  // 64 (the padding meets zero weights only) and, for vpdpbusd, offset by
  // 128.
  PrepareQs8Input(batch, in, x, input_offset_, x_stride_, x_buf_.data());
  const int8_t* xs = x_buf_.data();
  const size_t n = num_groups_;
  const int64_t slices = nm4_kernel_ != nullptr ? nm4_matrix_.num_slices()
                                                : matrix_.num_slices();
  const int64_t work =
      static_cast<int64_t>(batch) *
      (slices * kSliceCost + static_cast<int64_t>(n) * 16);
  RunInShares(
      pool, work, n,
      [&](int threads) -> const std::vector<size_t>& {
        return Split(threads);
      },
      [&](size_t begin, size_t end) { RunGroups(batch, xs, y, begin, end); });
}

}  // namespace tf_sparse
