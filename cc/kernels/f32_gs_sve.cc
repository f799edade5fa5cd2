// SVE GS kernel: the format was designed for gathers. Each vector of a
// pack's lanes is one gather load of x by column index and one predicated
// FMA; the last, partial vector of the B lanes runs under a predicate
// instead of a scalar tail. Vector-length agnostic (128- to 2048-bit SVE).
// With e == 1 the lane sums are the rows: bias, clamp and store straight
// from the registers. Built with -march=armv8-a+sve, only for aarch64; the
// GS operator selects it when the kernel reports SVE.
#if !defined(__aarch64__) || !defined(__ARM_FEATURE_SVE)
#error "f32_gs_sve.cc needs aarch64 with SVE enabled (-march=armv8-a+sve)"
#endif

#include <arm_sve.h>

#include "cc/kernels/f32_gs_ukernel.h"

namespace tf_sparse {
namespace {

// Column indices of the lanes under `pg`, widened to 32 bits.
inline svuint32_t LoadIndices(svbool_t pg, const uint16_t* p) {
  return svld1uh_u32(pg, p);
}
inline svuint32_t LoadIndices(svbool_t pg, const int32_t* p) {
  return svreinterpret_u32_s32(svld1_s32(pg, p));
}

template <typename Index>
void f32_gs_minmax__sve(const F32GsArgs<Index>& a) {
  const size_t B = a.banks;
  const size_t e = a.elements_per_row;
  const size_t R = B / e;
  const size_t vl = svcntw();
  const bool direct = e == 1;
  const svfloat32_t vmin = svdup_n_f32(a.output_min);
  const svfloat32_t vmax = svdup_n_f32(a.output_max);
  float lanes[256];
  for (size_t g = 0; g < a.num_groups; ++g) {
    const int32_t p0 = a.group_ptr[g];
    const int32_t p1 = a.group_ptr[g + 1];
    const float* bias = a.bias + g * R;
    for (size_t b = 0; b < a.batch; ++b) {
      const float* x = a.x + b * a.x_stride;
      float* y = a.y + b * a.y_stride + g * R;
      for (size_t l0 = 0; l0 < B; l0 += vl) {
        const svbool_t pg = svwhilelt_b32_u64(l0, B);
        svfloat32_t acc0 = svdup_n_f32(0.0f);
        svfloat32_t acc1 = svdup_n_f32(0.0f);
        const float* v = a.values + static_cast<size_t>(p0) * B + l0;
        const Index* c = a.col_idx + static_cast<size_t>(p0) * B + l0;
        int32_t p = p0;
        for (; p + 2 <= p1; p += 2, v += 2 * B, c += 2 * B) {
          const svfloat32_t x0 =
              svld1_gather_u32index_f32(pg, x, LoadIndices(pg, c));
          const svfloat32_t x1 =
              svld1_gather_u32index_f32(pg, x, LoadIndices(pg, c + B));
          acc0 = svmla_f32_m(pg, acc0, svld1_f32(pg, v), x0);
          acc1 = svmla_f32_m(pg, acc1, svld1_f32(pg, v + B), x1);
        }
        if (p < p1) {
          const svfloat32_t x0 =
              svld1_gather_u32index_f32(pg, x, LoadIndices(pg, c));
          acc0 = svmla_f32_m(pg, acc0, svld1_f32(pg, v), x0);
        }
        const svfloat32_t acc = svadd_f32_x(pg, acc0, acc1);
        if (direct) {
          svfloat32_t out = svadd_f32_x(pg, acc, svld1_f32(pg, bias + l0));
          out = svmin_f32_x(pg, svmax_f32_x(pg, out, vmin), vmax);
          svst1_f32(pg, y + l0, out);
        } else {
          svst1_f32(pg, lanes + l0, acc);
        }
      }
      if (!direct) {
        F32GsFinishGroup(lanes, B, e, bias, a.output_min, a.output_max, y);
      }
    }
  }
}

}  // namespace

const F32GsUkernel& F32GsUkernelSve() {
  static const F32GsUkernel k = {&f32_gs_minmax__sve<uint16_t>,
                                 &f32_gs_minmax__sve<int32_t>,
                                 "f32_gs_minmax__sve", Isa::kSve};
  return k;
}

}  // namespace tf_sparse
