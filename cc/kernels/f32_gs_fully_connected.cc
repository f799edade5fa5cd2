#include "cc/kernels/f32_gs_fully_connected.h"

#include <cstring>
#include <new>
#include <stdexcept>

#include "cc/kernels/dispatch.h"
#include "cc/kernels/row_split.h"

namespace tf_sparse {
namespace {

// Relative cost of finishing one group against one pack, for balancing.
constexpr int64_t kGroupCost = 2;

}  // namespace

const F32GsUkernel& SelectF32GsUkernel(Isa isa) {
  static const IsaKernels<const F32GsUkernel& (*)()> kKernels = {
      &F32GsUkernelScalar,
      TF_SPARSE_X86_ONLY(F32GsUkernelAvx2),
      TF_SPARSE_X86_ONLY(F32GsUkernelAvx512),
      TF_SPARSE_ARM_ONLY(F32GsUkernelNeon),
      TF_SPARSE_ARM_ONLY(F32GsUkernelSve)};
  return kKernels.For(isa)();
}

std::unique_ptr<F32GsFullyConnected> F32GsFullyConnected::Create(
    const float* weights, int out, int in, const float* bias, float output_min,
    float output_max, const Options& options, std::string* error) {
  const std::string problem =
      CheckGsShape(out, in, options.banks, options.elements_per_row);
  if (!problem.empty()) {
    *error = problem;
    return nullptr;
  }
  Isa isa;
  *error = CheckClampAndIsa(output_min, output_max, options.isa, &isa);
  if (!error->empty()) return nullptr;
  std::unique_ptr<F32GsFullyConnected> op(new F32GsFullyConnected());
  try {
    op->matrix_ =
        PackGs(weights, out, in, options.banks, options.elements_per_row);
    op->bias_.Resize(out);
    if (bias != nullptr)
      std::memcpy(op->bias_.data(), bias, sizeof(float) * out);
  } catch (const std::bad_alloc&) {
    *error = "out of memory while packing weights";
    return nullptr;
  } catch (const std::exception& e) {
    *error = e.what();
    return nullptr;
  }
  op->kernel_ = &SelectF32GsUkernel(isa);
  op->output_min_ = output_min;
  op->output_max_ = output_max;
  return op;
}

void F32GsFullyConnected::RunGroups(size_t batch, const float* x, float* y,
                                    size_t begin, size_t end) const {
  const GsMatrix& m = matrix_;
  const size_t R = static_cast<size_t>(m.rows_per_group);
  auto fill = [&](auto& a) {
    a.batch = batch;
    a.num_groups = end - begin;
    a.banks = static_cast<size_t>(m.banks);
    a.elements_per_row = static_cast<size_t>(m.elements_per_row);
    a.group_ptr = m.group_ptr.data() + begin;
    a.values = m.values.data();
    a.bias = bias_.data() + begin * R;
    a.x = x;
    a.x_stride = static_cast<size_t>(m.cols);
    a.y = y + begin * R;
    a.y_stride = static_cast<size_t>(m.rows);
    a.output_min = output_min_;
    a.output_max = output_max_;
  };
  if (m.index_bytes == 2) {
    F32GsArgs<uint16_t> a;
    fill(a);
    a.col_idx = m.col_idx16.data();
    kernel_->fn16(a);
  } else {
    F32GsArgs<int32_t> a;
    fill(a);
    a.col_idx = m.col_idx32.data();
    kernel_->fn32(a);
  }
}

void F32GsFullyConnected::Run(size_t batch, const float* x, float* y,
                              ThreadPool* pool) {
  if (batch == 0) return;
  const GsMatrix& m = matrix_;
  const size_t groups = static_cast<size_t>(m.num_groups);
  const int64_t work = static_cast<int64_t>(batch) * m.num_packs() * m.banks;
  const int32_t* gp = m.group_ptr.data();
  RunInShares(
      pool, work, groups,
      [&](int threads) -> const std::vector<size_t>& {
        return split_.Get(groups, threads, kGroupCost,
                          [gp](size_t i) { return gp[i]; });
      },
      [&](size_t begin, size_t end) { RunGroups(batch, x, y, begin, end); });
}

}  // namespace tf_sparse
