#include "cc/kernels/f32_nm_fully_connected.h"

#include <cstring>
#include <new>
#include <stdexcept>

#include "cc/kernels/dispatch.h"
#include "cc/kernels/row_split.h"

namespace tf_sparse {

const F32NmUkernel& SelectF32NmUkernel(Isa isa) {
  static const IsaKernels<const F32NmUkernel& (*)()> kKernels = {
      &F32NmUkernelScalar,
      TF_SPARSE_X86_ONLY(F32NmUkernelAvx2),
      TF_SPARSE_X86_ONLY(F32NmUkernelAvx512),
      TF_SPARSE_ARM_ONLY(F32NmUkernelNeon),
      nullptr};
  return kKernels.For(isa)();
}

std::unique_ptr<F32NmFullyConnected> F32NmFullyConnected::Create(
    const float* weights, int out, int in, const float* bias, float output_min,
    float output_max, const Options& options, std::string* error) {
  const std::string problem = CheckNmShape(out, in, options.n, options.m);
  if (!problem.empty()) {
    *error = problem;
    return nullptr;
  }
  Isa isa;
  *error = CheckClampAndIsa(output_min, output_max, options.isa, &isa);
  if (!error->empty()) return nullptr;
  std::unique_ptr<F32NmFullyConnected> op(new F32NmFullyConnected());
  try {
    op->row_groups_ =
        options.layout == Layout::kRowGroups ||
        (options.layout == Layout::kAuto && NmRowGroupsSupported(options.m));
    if (op->row_groups_) {
      op->groups_ = PackNmRowGroups(weights, out, in, options.n, options.m);
    } else {
      op->matrix_ = PackNm(weights, out, in, options.n, options.m);
    }
    op->bias_.Resize(static_cast<size_t>(out) + 16);
    if (bias != nullptr)
      std::memcpy(op->bias_.data(), bias, sizeof(float) * out);
  } catch (const std::bad_alloc&) {
    *error = "out of memory while packing weights";
    return nullptr;
  } catch (const std::invalid_argument& e) {
    *error = e.what();
    return nullptr;
  }
  op->kernel_ = &SelectF32NmUkernel(isa);
  op->output_min_ = output_min;
  op->output_max_ = output_max;
  return op;
}

void F32NmFullyConnected::RunRows(size_t batch, const float* x, size_t x_stride,
                                  float* y, size_t begin, size_t end) const {
  const NmMatrix& p = matrix_;
  F32NmArgs a;
  a.batch = batch;
  a.num_rows = end - begin;
  a.kept_per_row = static_cast<size_t>(p.kept_per_row);
  a.words_per_row = static_cast<size_t>(p.words_per_row);
  a.n = p.n;
  a.m = p.m;
  a.index_bits = p.index_bits;
  a.values = p.values.data() + begin * a.kept_per_row;
  a.positions = p.positions.data() + begin * a.words_per_row;
  a.bias = bias_.data() + begin;
  a.x = x;
  a.x_stride = x_stride;
  a.y = y + begin;
  a.y_stride = static_cast<size_t>(p.rows);
  a.output_min = output_min_;
  a.output_max = output_max_;
  kernel_->fn(a);
}

void F32NmFullyConnected::RunGroups(size_t batch, const float* x, float* y,
                                    size_t begin, size_t end) const {
  const NmRowGroupMatrix& p = groups_;
  F32NmRowGroupArgs a;
  a.batch = batch;
  a.num_groups = end - begin;
  a.num_rows = static_cast<size_t>(p.rows) - begin * 16;
  a.cols = static_cast<size_t>(p.cols);
  a.kept = static_cast<size_t>(p.kept);
  a.words_per_slot = static_cast<size_t>(p.words_per_slot);
  a.n = p.n;
  a.m = p.m;
  a.index_bits = p.index_bits;
  a.values = p.values.data() + begin * a.kept * 16;
  a.positions = p.positions.data() + begin * a.kept * a.words_per_slot;
  a.bias = bias_.data() + begin * 16;
  a.x = x;
  a.x_stride = a.cols;
  a.y = y + begin * 16;
  a.y_stride = static_cast<size_t>(p.rows);
  a.output_min = output_min_;
  a.output_max = output_max_;
  kernel_->row_group_fn(a);
}

void F32NmFullyConnected::Run(size_t batch, const float* x, float* y,
                              ThreadPool* pool) {
  if (batch == 0) return;
  // Every row (group) costs the same: equal shares.
  auto equal = [](size_t units) {
    return [units](int threads) { return EqualShares(units, threads); };
  };
  if (row_groups_) {
    const size_t groups = static_cast<size_t>(groups_.num_row_groups);
    const int64_t work =
        static_cast<int64_t>(batch) * groups * 16 * groups_.kept;
    RunInShares(
        pool, work, groups, equal(groups),
        [&](size_t begin, size_t end) { RunGroups(batch, x, y, begin, end); });
    return;
  }
  const NmMatrix& p = matrix_;
  const size_t in = static_cast<size_t>(p.cols);
  const size_t padded = static_cast<size_t>(p.padded_cols);
  const float* xs = x;
  size_t x_stride = in;
  if (padded != in) {
    if (x_pad_.size() < batch * padded) x_pad_.Resize(batch * padded);
    // Columns [in, padded) stay zero: only the first `in` are written.
    for (size_t b = 0; b < batch; ++b) {
      std::memcpy(x_pad_.data() + b * padded, x + b * in, in * sizeof(float));
    }
    xs = x_pad_.data();
    x_stride = padded;
  }
  const size_t rows = static_cast<size_t>(p.rows);
  const int64_t work = static_cast<int64_t>(batch) * rows * p.kept_per_row;
  RunInShares(pool, work, rows, equal(rows), [&](size_t begin, size_t end) {
    RunRows(batch, xs, x_stride, y, begin, end);
  });
}

}  // namespace tf_sparse
