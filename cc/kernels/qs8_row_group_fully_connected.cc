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
  std::unique_ptr<Qs8RowGroupFullyConnected> op(
      new Qs8RowGroupFullyConnected());
  try {
    op->matrix_ = PackQs8RowGroups(weights, out, in);
    const size_t padded_rows =
        static_cast<size_t>(op->matrix_.num_groups) * kQs8RowGroupRows;
    op->bias_.Resize(padded_rows);
    op->multiplier_.Resize(padded_rows);
    op->shift_.Resize(padded_rows);
    std::fill(op->bias_.data(), op->bias_.data() + padded_rows, 0);
    std::fill(op->multiplier_.data(), op->multiplier_.data() + padded_rows,
              0);
    std::fill(op->shift_.data(), op->shift_.data() + padded_rows, 0);
  } catch (const std::bad_alloc&) {
    *error = "out of memory while packing weights";
    return nullptr;
  } catch (const std::invalid_argument& e) {
    *error = e.what();
    return nullptr;
  }
  op->kernel_ = SelectQs8RowGroupUkernel(isa, options.use_dot_product);
  problem = FoldQs8FcRows(
      out, bias, op->matrix_.row_sums.data(), op->matrix_.row_abs_sums.data(),
      quantization.input_zero_point, op->kernel_.input_offset, rows.data(),
      op->bias_.data(), op->multiplier_.data(), op->shift_.data());
  if (!problem.empty()) {
    *error = problem;
    return nullptr;
  }
  op->output_zero_point_ = quantization.output_zero_point;
  op->output_min_ = quantization.output_min;
  op->output_max_ = quantization.output_max;
  op->x_stride_ = static_cast<size_t>(std::max(in, kQs8RowGroupCols));
  return op;
}

void Qs8RowGroupFullyConnected::RunGroups(size_t batch, const int8_t* x,
                                          int8_t* y, size_t begin,
                                          size_t end) {
  const size_t row0 = begin * kQs8RowGroupRows;
  const size_t rows = static_cast<size_t>(matrix_.rows);
  Qs8RowGroupArgs a;
  a.batch = batch;
  a.num_groups = end - begin;
  a.num_rows = std::min(rows, end * kQs8RowGroupRows) - row0;
  a.window_ptr = matrix_.window_ptr.data() + begin;
  a.slice_ptr = matrix_.slice_ptr.data();
  a.base = matrix_.base.data();
  a.slices = matrix_.slices.data();
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
  kernel_.fn(a);
}

const std::vector<size_t>& Qs8RowGroupFullyConnected::Split(int num_threads) {
  const Qs8RowGroupMatrix& m = matrix_;
  return split_.Get(
      static_cast<size_t>(m.num_groups), num_threads, kGroupCost,
      [&](size_t g) {
        const int32_t w = m.window_ptr[g];
        return static_cast<int64_t>(m.slice_ptr[w]) * kSliceCost +
               static_cast<int64_t>(w) * kWindowCost;
      });
}

void Qs8RowGroupFullyConnected::Run(size_t batch, const int8_t* x, int8_t* y,
                                    ThreadPool* pool) {
  if (batch == 0) return;
  const size_t in = static_cast<size_t>(matrix_.cols);
  if (x_buf_.size() < batch * x_stride_) x_buf_.Resize(batch * x_stride_);
  // Every window reads 64 bytes of x: the copy is padded to
  // max(in, 64) (the padding meets zero weights only) and, for
  // vpdpbusd, offset by 128.
  PrepareQs8Input(batch, in, x, kernel_.input_offset, x_stride_,
                  x_buf_.data());
  const int8_t* xs = x_buf_.data();
  const size_t n = static_cast<size_t>(matrix_.num_groups);
  const int64_t work =
      static_cast<int64_t>(batch) *
      (matrix_.num_slices() * kSliceCost + static_cast<int64_t>(n) * 16);
  RunInShares(
      pool, work, n,
      [&](int threads) -> const std::vector<size_t>& {
        return Split(threads);
      },
      [&](size_t begin, size_t end) { RunGroups(batch, xs, y, begin, end); });
}

}  // namespace tf_sparse
