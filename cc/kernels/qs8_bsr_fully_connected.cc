#include "cc/kernels/qs8_bsr_fully_connected.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <utility>

#include "cc/kernels/dispatch.h"

namespace tf_sparse {
namespace {

// Relative cost of finishing one output row (reduction, requantization,
// store) against one multiply-add, for balancing the thread split (the
// float operator's constant; the requantization costs a few more).
constexpr int64_t kRowCost = 16;

}  // namespace

std::unique_ptr<Qs8BsrFullyConnected> Qs8BsrFullyConnected::Create(
    const int8_t* weights, int out, int in, const int32_t* bias,
    const Qs8FcQuantization& quantization, const Options& options,
    std::string* error) {
  if (weights == nullptr) {
    *error = "weights must not be null";
    return nullptr;
  }
  std::string problem =
      CheckBsrShape(out, in, options.block_height, options.block_width);
  if (!problem.empty()) {
    *error = problem;
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
  std::unique_ptr<Qs8BsrFullyConnected> op(new Qs8BsrFullyConnected());
  try {
    op->matrix_ = PackQs8Bsr(weights, out, in, options.block_height,
                             options.block_width, options.index_width);
    const int32_t padded_rows = op->matrix_.layout.padded_rows;
    op->bias_.Resize(padded_rows);
    op->multiplier_.Resize(padded_rows);
    op->shift_.Resize(padded_rows);
  } catch (const std::bad_alloc&) {
    *error = "out of memory while packing weights";
    return nullptr;
  } catch (const std::invalid_argument& e) {
    *error = e.what();
    return nullptr;
  }
  const int r = op->matrix_.layout.block_height;
  const int c = op->matrix_.layout.block_width;
  op->kernel_ = SelectQs8BsrUkernel(r, c, isa, options.use_dot_product);
  problem = FoldQs8Bias(bias, out, op->matrix_.row_sums.data(),
                        op->matrix_.row_abs_sums.data(),
                        quantization.input_zero_point,
                        op->kernel_.input_offset, op->bias_.data());
  if (!problem.empty()) {
    *error = problem;
    return nullptr;
  }
  for (int o = 0; o < out; ++o) {
    op->multiplier_[o] = rows[o].multiplier;
    op->shift_[o] = rows[o].shift;
  }
  op->output_zero_point_ = quantization.output_zero_point;
  op->output_min_ = quantization.output_min;
  op->output_max_ = quantization.output_max;
  op->full_block_rows_ = static_cast<size_t>(out / r);
  return op;
}

void Qs8BsrFullyConnected::RunBlockRows(size_t batch, const int8_t* x,
                                        size_t x_stride, int8_t* y,
                                        size_t begin, size_t end) {
  const BsrMatrix& m = matrix_.layout;
  const size_t r = static_cast<size_t>(m.block_height);
  const size_t full_end = end < full_block_rows_ ? end : full_block_rows_;
  const bool tail = end > full_block_rows_;

  auto fill = [&](auto& a, size_t b0, size_t b1, int8_t* y_out,
                  size_t y_stride) {
    a.batch = batch;
    a.num_block_rows = b1 - b0;
    a.r = r;
    a.c = static_cast<size_t>(m.block_width);
    a.row_ptr = m.row_ptr.data() + b0;
    a.values = matrix_.values.data();
    a.bias = bias_.data() + b0 * r;
    a.multiplier = multiplier_.data() + b0 * r;
    a.shift = shift_.data() + b0 * r;
    a.x = x;
    a.x_stride = x_stride;
    a.y = y_out;
    a.y_stride = y_stride;
    a.output_zero_point = output_zero_point_;
    a.output_min = output_min_;
    a.output_max = output_max_;
  };
  auto call = [&](size_t b0, size_t b1, int8_t* y_out, size_t y_stride) {
    if (m.index_bytes == 2) {
      Qs8BsrArgs<uint16_t> a;
      fill(a, b0, b1, y_out, y_stride);
      a.col_idx = m.col_idx16.data();
      kernel_.fn16(a);
    } else {
      Qs8BsrArgs<int32_t> a;
      fill(a, b0, b1, y_out, y_stride);
      a.col_idx = m.col_idx32.data();
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
      std::memcpy(y + b * out + last * r, y_tail_.data() + b * r, valid);
    }
  }
}

const std::vector<size_t>& Qs8BsrFullyConnected::Split(int num_threads) {
  const BsrMatrix& m = matrix_.layout;
  const int64_t block_cost =
      static_cast<int64_t>(m.block_height) * m.block_width;
  return split_.Get(static_cast<size_t>(m.num_block_rows), num_threads,
                    kRowCost * m.block_height, [&](size_t i) {
                      return static_cast<int64_t>(m.row_ptr[i]) * block_cost;
                    });
}

void Qs8BsrFullyConnected::Run(size_t batch, const int8_t* x, int8_t* y,
                               ThreadPool* pool) {
  if (batch == 0) return;
  const BsrMatrix& m = matrix_.layout;
  const size_t in = static_cast<size_t>(m.cols);
  const size_t padded_cols = static_cast<size_t>(m.padded_cols);
  const int8_t* xs = x;
  size_t x_stride = in;
  if (padded_cols != in || kernel_.input_offset != 0) {
    if (x_buf_.size() < batch * padded_cols) {
      x_buf_.Resize(batch * padded_cols);
    }
    // Padding columns meet zero weights only: their content is irrelevant.
    for (size_t b = 0; b < batch; ++b) {
      int8_t* dst = x_buf_.data() + b * padded_cols;
      const int8_t* src = x + b * in;
      if (kernel_.input_offset == 0) {
        std::memcpy(dst, src, in);
      } else {
        // x + 128 as uint8 is the int8 byte with its top bit flipped.
        for (size_t k = 0; k < in; ++k) {
          dst[k] = static_cast<int8_t>(static_cast<uint8_t>(src[k]) ^ 0x80u);
        }
      }
    }
    xs = x_buf_.data();
    x_stride = padded_cols;
  }
  if (full_block_rows_ < static_cast<size_t>(m.num_block_rows) &&
      y_tail_.size() < batch * static_cast<size_t>(m.block_height)) {
    y_tail_.Resize(batch * static_cast<size_t>(m.block_height));
  }

  const size_t n = static_cast<size_t>(m.num_block_rows);
  const int64_t work = static_cast<int64_t>(batch) *
                       (matrix_.num_blocks() * m.block_height * m.block_width +
                        static_cast<int64_t>(m.padded_rows));
  RunInShares(
      pool, work, n,
      [&](int threads) -> const std::vector<size_t>& {
        return Split(threads);
      },
      [&](size_t begin, size_t end) {
        RunBlockRows(batch, xs, x_stride, y, begin, end);
      });
}

}  // namespace tf_sparse
