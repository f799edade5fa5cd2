// Scalar kernels: the reference every other kernel is tested against, and
// the fallback on CPUs without AVX2.
#include "cc/kernels/f32_bsr_generic.inc.h"
#include "cc/kernels/f32_bsr_ukernel.h"

namespace tf_sparse {
namespace {

void f32_bsr_minmax_rxc__scalar_u16(const F32BsrArgs<uint16_t>& a) {
  F32BsrGeneric(a);
}
void f32_bsr_minmax_rxc__scalar_u32(const F32BsrArgs<int32_t>& a) {
  F32BsrGeneric(a);
}

const F32BsrUkernel kScalarKernels[] = {
    {0, 0, f32_bsr_minmax_rxc__scalar_u16, f32_bsr_minmax_rxc__scalar_u32,
     "f32_bsr_minmax_rxc__scalar", Isa::kScalar},
};

}  // namespace

const F32BsrUkernel* F32BsrUkernelsScalar(size_t* count) {
  *count = sizeof(kScalarKernels) / sizeof(kScalarKernels[0]);
  return kScalarKernels;
}

}  // namespace tf_sparse
