// Baseline Advanced SIMD int8 BSR kernel (no dot product extension), with
// qs8_neon_dot4.h's vmull_s8 + pairwise adds per four blocks.
#include "cc/kernels/qs8_bsr_neon_generic.inc.h"

namespace tf_sparse {
namespace {

const Qs8BsrUkernel kTable[] = {
    {1, 4, &Kernel1x4<uint16_t>, &Kernel1x4<int32_t>,
     "qs8_bsr_minmax_1x4__neon", Isa::kNeon, 0},
};

}  // namespace

const Qs8BsrUkernel* Qs8BsrUkernelsNeon(size_t* count) {
  *count = sizeof(kTable) / sizeof(kTable[0]);
  return kTable;
}

}  // namespace tf_sparse
