// Baseline Advanced SIMD int8 pixel-vector 1x1 kernel (no dot product
// extension).
#include "cc/kernels/qs8_conv_pixvec_neon_generic.inc.h"

namespace tf_sparse {
namespace {

const Qs8PixvecUkernel kKernel = {
    "qs8_conv1x1_pixvec_minmax__neon", Isa::kNeon, 4, 4, 1, 0, &Tile, &Pack};

}  // namespace

const Qs8PixvecUkernel& Qs8PixvecUkernelNeon() { return kKernel; }

}  // namespace tf_sparse
