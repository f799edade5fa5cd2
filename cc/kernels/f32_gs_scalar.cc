// Scalar GS kernel: the reference every other ISA is tested against.
#include "cc/kernels/f32_gs_ukernel.h"

namespace tf_sparse {
namespace {

template <typename Index>
void GsScalar(const F32GsArgs<Index>& a) {
  const size_t B = a.banks;
  const size_t R = B / a.elements_per_row;
  float lanes[256];
  for (size_t g = 0; g < a.num_groups; ++g) {
    for (size_t b = 0; b < a.batch; ++b) {
      const float* x = a.x + b * a.x_stride;
      for (size_t l = 0; l < B; ++l) lanes[l] = 0.0f;
      for (int32_t p = a.group_ptr[g]; p < a.group_ptr[g + 1]; ++p) {
        const float* v = a.values + static_cast<size_t>(p) * B;
        const Index* c = a.col_idx + static_cast<size_t>(p) * B;
        for (size_t l = 0; l < B; ++l) lanes[l] += v[l] * x[c[l]];
      }
      F32GsFinishGroup(lanes, B, a.elements_per_row, a.bias + g * R,
                       a.output_min, a.output_max,
                       a.y + b * a.y_stride + g * R);
    }
  }
}

}  // namespace

const F32GsUkernel& F32GsUkernelScalar() {
  static const F32GsUkernel k = {&GsScalar<uint16_t>, &GsScalar<int32_t>,
                                 "f32_gs_minmax__scalar", Isa::kScalar};
  return k;
}

}  // namespace tf_sparse
