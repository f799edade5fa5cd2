// Int8 row-group kernel on the ARMv8.2 dot product extension (sdot;
// compiled with +dotprod, selected only when HWCAP_ASIMDDP is set).
#include "cc/kernels/qs8_row_group_neon_generic.inc.h"

namespace tf_sparse {
namespace {

const Qs8RowGroupUkernel kKernel = {
    &Kernel, "qs8_rowgroup_minmax_16x64__neondot", Isa::kNeon, 0};

}  // namespace

const Qs8RowGroupUkernel& Qs8RowGroupUkernelNeonDot() { return kKernel; }

}  // namespace tf_sparse
