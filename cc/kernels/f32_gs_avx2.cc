// AVX2 + FMA GS kernel: each eight lanes of a pack are one
// _mm256_i32gather_ps and one FMA; lanes past a multiple of eight run
// scalar. With e == 1 and B a multiple of 8 the lane sums are the rows: bias,
// clamp and store straight from the registers.
#include <immintrin.h>

#include "cc/kernels/f32_gs_ukernel.h"

namespace tf_sparse {
namespace {

inline __m256i Load8(const uint16_t* p) {
  return _mm256_cvtepu16_epi32(
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline __m256i Load8(const int32_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

template <typename Index>
void GsAvx2(const F32GsArgs<Index>& a) {
  const size_t B = a.banks;
  const size_t e = a.elements_per_row;
  const size_t R = B / e;
  const size_t vec_lanes = B / 8 * 8;
  const bool direct = e == 1 && vec_lanes == B;
  const __m256 vmin = _mm256_set1_ps(a.output_min);
  const __m256 vmax = _mm256_set1_ps(a.output_max);
  alignas(32) float lanes[256];
  for (size_t g = 0; g < a.num_groups; ++g) {
    const int32_t p0 = a.group_ptr[g];
    const int32_t p1 = a.group_ptr[g + 1];
    for (size_t b = 0; b < a.batch; ++b) {
      const float* x = a.x + b * a.x_stride;
      float* y = a.y + b * a.y_stride + g * R;
      for (size_t l0 = 0; l0 < vec_lanes; l0 += 8) {
        __m256 acc0 = _mm256_setzero_ps();
        __m256 acc1 = _mm256_setzero_ps();
        const float* v = a.values + static_cast<size_t>(p0) * B + l0;
        const Index* c = a.col_idx + static_cast<size_t>(p0) * B + l0;
        int32_t p = p0;
        for (; p + 2 <= p1; p += 2, v += 2 * B, c += 2 * B) {
          const __m256 x0 = _mm256_i32gather_ps(x, Load8(c), 4);
          const __m256 x1 = _mm256_i32gather_ps(x, Load8(c + B), 4);
          acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(v), x0, acc0);
          acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(v + B), x1, acc1);
        }
        if (p < p1) {
          const __m256 x0 = _mm256_i32gather_ps(x, Load8(c), 4);
          acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(v), x0, acc0);
        }
        const __m256 acc = _mm256_add_ps(acc0, acc1);
        if (direct) {
          __m256 out = _mm256_add_ps(acc, _mm256_loadu_ps(a.bias + g * R + l0));
          out = _mm256_min_ps(vmax, _mm256_max_ps(vmin, out));
          _mm256_storeu_ps(y + l0, out);
        } else {
          _mm256_store_ps(lanes + l0, acc);
        }
      }
      if (direct) continue;
      for (size_t l = vec_lanes; l < B; ++l) {
        float acc = 0.0f;
        for (int32_t p = p0; p < p1; ++p) {
          const size_t k = static_cast<size_t>(p) * B + l;
          acc += a.values[k] * x[a.col_idx[k]];
        }
        lanes[l] = acc;
      }
      F32GsFinishGroup(lanes, B, e, a.bias + g * R, a.output_min, a.output_max,
                       y);
    }
  }
}

}  // namespace

const F32GsUkernel& F32GsUkernelAvx2() {
  static const F32GsUkernel k = {&GsAvx2<uint16_t>, &GsAvx2<int32_t>,
                                 "f32_gs_minmax__avx2", Isa::kAvx2};
  return k;
}

}  // namespace tf_sparse
