// AVX-512 GS kernel: each sixteen lanes of a pack are one
// _mm512_i32gather_ps and one FMA (a masked gather for a last partial set of
// lanes, e.g. B = 8). With e == 1 and B a multiple of 16 the lane sums are
// the group's rows: bias, clamp and store straight from the registers.
#include <immintrin.h>

#include "cc/kernels/f32_gs_ukernel.h"

namespace tf_sparse {
namespace {

inline __m512i Load16(__mmask16 m, const uint16_t* p) {
  return _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
}
inline __m512i Load16(__mmask16 m, const int32_t* p) {
  return _mm512_maskz_loadu_epi32(m, p);
}

template <typename Index>
void GsAvx512(const F32GsArgs<Index>& a) {
  const size_t B = a.banks;
  const size_t e = a.elements_per_row;
  const size_t R = B / e;
  const bool direct = e == 1 && B % 16 == 0;
  const __m512 zero = _mm512_setzero_ps();
  const __m512 vmin = _mm512_set1_ps(a.output_min);
  const __m512 vmax = _mm512_set1_ps(a.output_max);
  alignas(64) float lanes[256];
  for (size_t g = 0; g < a.num_groups; ++g) {
    const int32_t p0 = a.group_ptr[g];
    const int32_t p1 = a.group_ptr[g + 1];
    for (size_t b = 0; b < a.batch; ++b) {
      const float* x = a.x + b * a.x_stride;
      float* y = a.y + b * a.y_stride + g * R;
      for (size_t l0 = 0; l0 < B; l0 += 16) {
        const size_t n = B - l0 < 16 ? B - l0 : 16;
        const __mmask16 m = static_cast<__mmask16>((1u << n) - 1);
        __m512 acc0 = zero;
        __m512 acc1 = zero;
        const float* v = a.values + static_cast<size_t>(p0) * B + l0;
        const Index* c = a.col_idx + static_cast<size_t>(p0) * B + l0;
        int32_t p = p0;
        for (; p + 2 <= p1; p += 2, v += 2 * B, c += 2 * B) {
          const __m512 x0 =
              _mm512_mask_i32gather_ps(zero, m, Load16(m, c), x, 4);
          const __m512 x1 =
              _mm512_mask_i32gather_ps(zero, m, Load16(m, c + B), x, 4);
          acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, v), x0, acc0);
          acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, v + B), x1, acc1);
        }
        if (p < p1) {
          const __m512 x0 =
              _mm512_mask_i32gather_ps(zero, m, Load16(m, c), x, 4);
          acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, v), x0, acc0);
        }
        const __m512 acc = _mm512_add_ps(acc0, acc1);
        if (direct) {
          __m512 out = _mm512_add_ps(acc, _mm512_loadu_ps(a.bias + g * R + l0));
          out = _mm512_min_ps(vmax, _mm512_max_ps(vmin, out));
          _mm512_storeu_ps(y + l0, out);
        } else {
          _mm512_mask_storeu_ps(lanes + l0, m, acc);
        }
      }
      if (!direct) {
        F32GsFinishGroup(lanes, B, e, a.bias + g * R, a.output_min,
                         a.output_max, y);
      }
    }
  }
}

}  // namespace

const F32GsUkernel& F32GsUkernelAvx512() {
  static const F32GsUkernel k = {&GsAvx512<uint16_t>, &GsAvx512<int32_t>,
                                 "f32_gs_minmax__avx512", Isa::kAvx512};
  return k;
}

}  // namespace tf_sparse
