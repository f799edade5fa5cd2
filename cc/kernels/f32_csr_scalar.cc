// Scalar CSR kernel: the reference every other ISA is tested against.
#include "cc/kernels/f32_csr_ukernel.h"

namespace tf_sparse {
namespace {

template <typename Index>
void CsrScalar(const F32CsrArgs<Index>& a) {
  for (size_t o = 0; o < a.num_rows; ++o) {
    const int32_t begin = a.row_ptr[o];
    const int32_t end = a.row_ptr[o + 1];
    for (size_t b = 0; b < a.batch; ++b) {
      const float* x = a.x + b * a.x_stride;
      float acc = a.bias[o];
      for (int32_t k = begin; k < end; ++k)
        acc += a.values[k] * x[a.col_idx[k]];
      acc = acc < a.output_min ? a.output_min : acc;
      acc = acc > a.output_max ? a.output_max : acc;
      a.y[b * a.y_stride + o] = acc;
    }
  }
}

void CsrPanelScalar(const F32CsrPanelArgs& a) {
  constexpr size_t L = 16;
  for (size_t g = 0; g < a.num_groups; ++g) {
    for (size_t b = 0; b < a.batch; ++b) {
      const float* x = a.x + b * a.x_stride;
      float acc[L] = {};
      for (int32_t s = a.slice_ptr[g]; s < a.slice_ptr[g + 1]; ++s) {
        const float* xs = x + a.base[s / 4];
        const float* v = a.values + static_cast<size_t>(s) * L;
        // Offsets of a quad's slices are interleaved: byte 4 l + s % 4.
        const uint8_t* off = a.offsets + static_cast<size_t>(s / 4) * 4 * L +
                             s % 4;
        for (size_t l = 0; l < L; ++l) acc[l] += v[l] * xs[off[4 * l]];
      }
      for (size_t l = 0; l < L && g * L + l < a.num_rows; ++l) {
        float r = a.bias[g * L + l] + acc[l];
        r = r < a.output_min ? a.output_min : r;
        r = r > a.output_max ? a.output_max : r;
        a.y[b * a.y_stride + g * L + l] = r;
      }
    }
  }
}

}  // namespace

const F32CsrUkernel& F32CsrUkernelScalar() {
  static const F32CsrUkernel k = {
      &CsrScalar<uint16_t>,     &CsrScalar<int32_t>,
      "f32_csr_minmax__scalar", Isa::kScalar,
      &CsrPanelScalar,          "f32_csr_panel_minmax_16x64__scalar"};
  return k;
}

}  // namespace tf_sparse
