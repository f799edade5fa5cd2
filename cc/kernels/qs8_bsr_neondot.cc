// Int8 BSR kernel on the ARMv8.2 dot product extension: one sdot per four
// blocks (compiled with +dotprod; selected only when HWCAP_ASIMDDP is set).
#include "cc/kernels/qs8_neon_dot4.h"
#include "cc/kernels/qs8_bsr_neon_generic.inc.h"

namespace tf_sparse {
namespace {

const Qs8BsrUkernel kTable[] = {
    {1, 4, &Kernel1x4<uint16_t>, &Kernel1x4<int32_t>,
     "qs8_bsr_minmax_1x4__neondot", Isa::kNeon, 0},
};

}  // namespace

const Qs8BsrUkernel* Qs8BsrUkernelsNeonDot(size_t* count) {
  *count = sizeof(kTable) / sizeof(kTable[0]);
  return kTable;
}

}  // namespace tf_sparse
