// SVE BSR kernels: the shapes where SVE's gather loads pay off. Built with
// -march=armv8-a+sve, only for aarch64; the dispatcher selects them when the
// kernel reports SVE (HWCAP_SVE), and takes every other block shape from the
// NEON table. Vector-length agnostic: one binary for 128- to 2048-bit SVE.
#if !defined(__aarch64__) || !defined(__ARM_FEATURE_SVE)
#error "f32_bsr_sve.cc needs aarch64 with SVE enabled (-march=armv8-a+sve)"
#endif

#include <arm_sve.h>

#include <type_traits>

#include "cc/kernels/f32_bsr_generic.inc.h"
#include "cc/kernels/f32_bsr_ukernel.h"

namespace tf_sparse {
namespace {

// Column indices of lanes [k, k + VL) under `pg`, widened to 32 bits.
inline svuint32_t LoadIndices(svbool_t pg, const uint16_t* p) {
  return svld1uh_u32(pg, p);
}
inline svuint32_t LoadIndices(svbool_t pg, const int32_t* p) {
  return svreinterpret_u32_s32(svld1_s32(pg, p));
}

// ---- 1x1: one weight per block (unstructured sparsity). ----
//
// A row's nonzeros a vector at a time: the x values are gathered by column
// index, the tail handled by the predicate; two accumulators in flight.
template <typename Index>
void f32_bsr_minmax_1x1__sve(const F32BsrArgs<Index>& a) {
  const int32_t* rp = a.row_ptr;
  const float* v = a.values;
  const int32_t vl = static_cast<int32_t>(svcntw());
  const svbool_t all = svptrue_b32();
  for (size_t b = 0; b < a.batch; ++b) {
    const float* x = a.x + b * a.x_stride;
    float* y = a.y + b * a.y_stride;
    for (size_t i = 0; i < a.num_block_rows; ++i) {
      int32_t k = rp[i];
      const int32_t end = rp[i + 1];
      svfloat32_t acc0 = svdup_n_f32(0.0f);
      svfloat32_t acc1 = svdup_n_f32(0.0f);
      for (; k + 2 * vl <= end; k += 2 * vl) {
        const svfloat32_t g0 = svld1_gather_u32index_f32(
            all, x, LoadIndices(all, a.col_idx + k));
        const svfloat32_t g1 = svld1_gather_u32index_f32(
            all, x, LoadIndices(all, a.col_idx + k + vl));
        acc0 = svmla_f32_x(all, acc0, svld1_f32(all, v + k), g0);
        acc1 = svmla_f32_x(all, acc1, svld1_f32(all, v + k + vl), g1);
      }
      for (; k < end; k += vl) {
        const svbool_t pg = svwhilelt_b32_s32(k, end);
        const svfloat32_t g = svld1_gather_u32index_f32(
            pg, x, LoadIndices(pg, a.col_idx + k));
        // Inactive lanes keep acc0 (merging form).
        acc0 = svmla_f32_m(pg, acc0, svld1_f32(pg, v + k), g);
      }
      const float s = svaddv_f32(all, svadd_f32_x(all, acc0, acc1));
      y[i] = ClampF32(s + a.bias[i], a.output_min, a.output_max);
    }
  }
}

#define TF_SPARSE_KERNEL(R, C, FN, NAME) \
  {R, C, FN<uint16_t>, FN<int32_t>, NAME, Isa::kSve}

const F32BsrUkernel kSveKernels[] = {
    TF_SPARSE_KERNEL(1, 1, f32_bsr_minmax_1x1__sve, "f32_bsr_minmax_1x1__sve"),
    // Not selected for shapes the NEON table specialises (see dispatch.cc).
    TF_SPARSE_KERNEL(0, 0, F32BsrGeneric, "f32_bsr_minmax_rxc__sve"),
};

#undef TF_SPARSE_KERNEL

}  // namespace

const F32BsrUkernel* F32BsrUkernelsSve(size_t* count) {
  *count = sizeof(kSveKernels) / sizeof(kSveKernels[0]);
  return kSveKernels;
}

}  // namespace tf_sparse
