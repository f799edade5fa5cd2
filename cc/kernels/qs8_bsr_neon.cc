// Baseline Advanced SIMD int8 BSR kernel (no dot product extension): the
// 16 byte products of four blocks by vmull_s8 (exact in int16), widened
// pairwise into int32 (vpaddlq_s16) and added pairwise again (vpaddq_s32),
// which leaves one block per lane, as sdot does.
#include "cc/kernels/qs8_neon_dot4.h"
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
