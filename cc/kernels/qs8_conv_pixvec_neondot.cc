// Int8 pixel-vector 1x1 kernel on the ARMv8.2 dot product extension: one
// sdot per kept group and 4 pixels (compiled with +dotprod; selected only
// when HWCAP_ASIMDDP is set).
#include "cc/kernels/qs8_conv_pixvec_neon_generic.inc.h"

namespace tf_sparse {
namespace {

const Qs8PixvecUkernel kKernel = {
    "qs8_conv1x1_pixvec_minmax__neondot", Isa::kNeon, 4, 4, 1, 0, &Tile,
    &Pack};

}  // namespace

const Qs8PixvecUkernel& Qs8PixvecUkernelNeonDot() { return kKernel; }

}  // namespace tf_sparse
