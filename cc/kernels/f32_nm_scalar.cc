// Scalar N:M kernel: the reference every other ISA is tested against.
#include "cc/kernels/f32_nm_ukernel.h"

namespace tf_sparse {
namespace {

void NmScalar(const F32NmArgs& a) {
  const uint32_t mask = (1u << a.index_bits) - 1;
  for (size_t o = 0; o < a.num_rows; ++o) {
    const float* v = a.values + o * a.kept_per_row;
    const uint32_t* words = a.positions + o * a.words_per_row;
    for (size_t b = 0; b < a.batch; ++b) {
      const float* x = a.x + b * a.x_stride;
      float acc = a.bias[o];
      for (size_t k = 0; k < a.kept_per_row; ++k) {
        const size_t bit = k * a.index_bits;
        const size_t pos = (words[bit / 32] >> (bit % 32)) & mask;
        acc += v[k] * x[(k / a.n) * a.m + pos];
      }
      acc = acc < a.output_min ? a.output_min : acc;
      acc = acc > a.output_max ? a.output_max : acc;
      a.y[b * a.y_stride + o] = acc;
    }
  }
}

void NmRowGroupScalar(const F32NmRowGroupArgs& a) {
  const uint32_t mask = (1u << a.index_bits) - 1;
  for (size_t g = 0; g < a.num_groups; ++g) {
    for (size_t b = 0; b < a.batch; ++b) {
      const float* x = a.x + b * a.x_stride;
      float acc[16] = {};
      for (size_t k = 0; k < a.kept; ++k) {
        const size_t slot = g * a.kept + k;
        const float* v = a.values + slot * 16;
        const uint32_t* words = a.positions + slot * a.words_per_slot;
        const size_t base = (k / a.n) * a.m;
        for (size_t l = 0; l < 16; ++l) {
          const size_t bit = l * a.index_bits;
          const size_t j = base + ((words[bit / 32] >> (bit % 32)) & mask);
          if (j < a.cols) acc[l] += v[l] * x[j];
        }
      }
      for (size_t l = 0; l < 16 && g * 16 + l < a.num_rows; ++l) {
        float r = a.bias[g * 16 + l] + acc[l];
        r = r < a.output_min ? a.output_min : r;
        r = r > a.output_max ? a.output_max : r;
        a.y[b * a.y_stride + g * 16 + l] = r;
      }
    }
  }
}

}  // namespace

const F32NmUkernel& F32NmUkernelScalar() {
  static const F32NmUkernel k = {&NmScalar, "f32_nm_minmax__scalar",
                                 Isa::kScalar, &NmRowGroupScalar,
                                 "f32_nm_rowgroup_minmax_16__scalar"};
  return k;
}

}  // namespace tf_sparse
