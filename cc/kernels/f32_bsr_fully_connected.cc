#include "cc/kernels/f32_bsr_fully_connected.h"

#include <cstring>
#include <new>
#include <stdexcept>
#include <utility>

#include "cc/kernels/dispatch.h"
#include "cc/kernels/row_split.h"

namespace tf_sparse {
namespace {

// Relative cost of finishing one dense output row (reduction, bias, clamp,
// store) against one multiply-add, for balancing the thread split.
constexpr int64_t kRowCost = 8;

}  // namespace

std::unique_ptr<F32BsrFullyConnected> F32BsrFullyConnected::Create(
    const float* weights, int out, int in, const float* bias,
    float output_min, float output_max, const Options& options,
    std::string* error) {
  const std::string problem =
      CheckBsrShape(out, in, options.block_height, options.block_width);
  if (!problem.empty()) {
    *error = problem;
    return nullptr;
  }
  BsrMatrix matrix;
  try {
    matrix = PackBsr(weights, out, in, options.block_height,
                     options.block_width, options.index_width);
  } catch (const std::bad_alloc&) {
    *error = "out of memory while packing weights";
    return nullptr;
  } catch (const std::invalid_argument& e) {
    *error = e.what();
    return nullptr;
  }
  return CreateFromBsr(std::move(matrix), bias, output_min, output_max,
                       options, error);
}

std::unique_ptr<F32BsrFullyConnected> F32BsrFullyConnected::CreateFromBsr(
    BsrMatrix matrix, const float* bias, float output_min, float output_max,
    const Options& options, std::string* error) {
  const std::string problem = CheckBsrShape(
      matrix.rows, matrix.cols, matrix.block_height, matrix.block_width);
  if (!problem.empty()) {
    *error = problem;
    return nullptr;
  }
  Isa isa;
  *error = CheckClampAndIsa(output_min, output_max, options.isa, &isa);
  if (!error->empty()) return nullptr;
  std::unique_ptr<F32BsrFullyConnected> op(new F32BsrFullyConnected());
  const int out = matrix.rows;
  const int r = matrix.block_height;
  const int c = matrix.block_width;
  try {
    op->matrix_ = std::move(matrix);
    op->bias_.Resize(op->matrix_.padded_rows);
    if (bias != nullptr) {
      std::memcpy(op->bias_.data(), bias, sizeof(float) * out);
    }
  } catch (const std::bad_alloc&) {
    *error = "out of memory while packing weights";
    return nullptr;
  }
  op->kernel_ = SelectF32BsrUkernel(r, c, isa);
  op->output_min_ = output_min;
  op->output_max_ = output_max;
  op->full_block_rows_ = static_cast<size_t>(out / r);
  return op;
}

void F32BsrFullyConnected::RunBlockRows(size_t batch, const float* x,
                                        size_t x_stride, float* y,
                                        size_t begin, size_t end) {
  const BsrMatrix& m = matrix_;
  const size_t r = static_cast<size_t>(m.block_height);
  const size_t full_end = end < full_block_rows_ ? end : full_block_rows_;
  const bool tail = end > full_block_rows_;

  auto call = [&](size_t b0, size_t b1, float* y_out, size_t y_stride) {
    if (m.index_bytes == 2) {
      F32BsrArgs<uint16_t> a;
      a.batch = batch;
      a.num_block_rows = b1 - b0;
      a.r = r;
      a.c = static_cast<size_t>(m.block_width);
      a.row_ptr = m.row_ptr.data() + b0;
      a.col_idx = m.col_idx16.data();
      a.values = m.values.data();
      a.bias = bias_.data() + b0 * r;
      a.x = x;
      a.x_stride = x_stride;
      a.y = y_out;
      a.y_stride = y_stride;
      a.output_min = output_min_;
      a.output_max = output_max_;
      kernel_.fn16(a);
    } else {
      F32BsrArgs<int32_t> a;
      a.batch = batch;
      a.num_block_rows = b1 - b0;
      a.r = r;
      a.c = static_cast<size_t>(m.block_width);
      a.row_ptr = m.row_ptr.data() + b0;
      a.col_idx = m.col_idx32.data();
      a.values = m.values.data();
      a.bias = bias_.data() + b0 * r;
      a.x = x;
      a.x_stride = x_stride;
      a.y = y_out;
      a.y_stride = y_stride;
      a.output_min = output_min_;
      a.output_max = output_max_;
      kernel_.fn32(a);
    }
  };

  const size_t out = static_cast<size_t>(m.rows);
  if (begin < full_end) call(begin, full_end, y + begin * r, out);
  if (tail) {
    // The last block row sticks out of the matrix: compute all r rows into
    // scratch and copy the ones that exist.
    const size_t last = full_block_rows_;
    call(last, last + 1, y_tail_.data(), r);
    const size_t valid = out - last * r;
    for (size_t b = 0; b < batch; ++b) {
      std::memcpy(y + b * out + last * r, y_tail_.data() + b * r,
                  valid * sizeof(float));
    }
  }
}

const std::vector<size_t>& F32BsrFullyConnected::Split(int num_threads) {
  const BsrMatrix& m = matrix_;
  const int64_t block_cost =
      static_cast<int64_t>(m.block_height) * m.block_width;
  return split_.Get(static_cast<size_t>(m.num_block_rows), num_threads,
                    kRowCost * m.block_height, [&](size_t i) {
                      return static_cast<int64_t>(m.row_ptr[i]) * block_cost;
                    });
}

void F32BsrFullyConnected::Run(size_t batch, const float* x, float* y,
                               ThreadPool* pool) {
  if (batch == 0) return;
  const BsrMatrix& m = matrix_;
  const size_t in = static_cast<size_t>(m.cols);
  const size_t padded_cols = static_cast<size_t>(m.padded_cols);
  const float* xs = x;
  size_t x_stride = in;
  if (padded_cols != in) {
    if (x_pad_.size() < batch * padded_cols) {
      x_pad_.Resize(batch * padded_cols);
    }
    // Columns [in, padded_cols) stay zero: only the first `in` of each row
    // are ever written.
    for (size_t b = 0; b < batch; ++b) {
      std::memcpy(x_pad_.data() + b * padded_cols, x + b * in,
                  in * sizeof(float));
    }
    xs = x_pad_.data();
    x_stride = padded_cols;
  }
  if (full_block_rows_ < static_cast<size_t>(m.num_block_rows) &&
      y_tail_.size() < batch * static_cast<size_t>(m.block_height)) {
    y_tail_.Resize(batch * static_cast<size_t>(m.block_height));
  }

  const size_t n = static_cast<size_t>(m.num_block_rows);
  const int64_t work = static_cast<int64_t>(batch) *
                       (m.num_blocks() * m.block_height * m.block_width +
                        static_cast<int64_t>(m.padded_rows));
  RunInShares(
      pool, work, n, [&](int threads) -> const std::vector<size_t>& {
        return Split(threads);
      },
      [&](size_t begin, size_t end) {
        RunBlockRows(batch, xs, x_stride, y, begin, end);
      });
}

}  // namespace tf_sparse
