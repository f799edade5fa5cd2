// Baseline Advanced SIMD int8 row-group kernel (vmull_s8 + pairwise adds).
#include "cc/kernels/qs8_row_group_neon_generic.inc.h"

namespace tf_sparse {
namespace {

const Qs8RowGroupUkernel kKernel = {&Kernel, "qs8_rowgroup_minmax_16x64__neon",
                                    Isa::kNeon, 0};

}  // namespace

const Qs8RowGroupUkernel& Qs8RowGroupUkernelNeon() { return kKernel; }

}  // namespace tf_sparse
