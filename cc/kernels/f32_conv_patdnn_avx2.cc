// AVX2 + FMA pattern kernels. Compiled with -mavx2 -mfma; only reached
// when the CPU supports both.
#include <immintrin.h>

#include "cc/kernels/f32_conv_patdnn_generic.inc.h"
#include "cc/kernels/f32_conv_patdnn_ukernel.h"

namespace tf_sparse {
namespace {

struct Avx2Vec {
  using T = __m256;
  static constexpr int kLanes = 8;
  static T Load(const float* p) { return _mm256_loadu_ps(p); }
  static void Store(float* p, T v) { _mm256_storeu_ps(p, v); }
  static T Zero() { return _mm256_setzero_ps(); }
  static T Add(T a, T b) { return _mm256_add_ps(a, b); }
  static T Broadcast(float v) { return _mm256_set1_ps(v); }
  static T Fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
};

// 4 rows x 2 registers: 8 accumulators (one chain each: two would spill)
// and 4 weights of 16 registers.
constexpr int kRows = 4;
constexpr int kVecs = 2;
constexpr int kChains = 1;

F32PatdnnFilterFn Select(int stride_h, int stride_w, int row_floats) {
  return patdnn_internal::SelectFilter<Avx2Vec, kRows, kVecs, kChains>(
      stride_h, stride_w, row_floats);
}

const F32PatdnnUkernel kKernel = {"f32_conv3x3_patdnn_4x16__avx2", Isa::kAvx2,
                                  kRows, kVecs * Avx2Vec::kLanes, Select,
                                  nullptr};

}  // namespace

const F32PatdnnUkernel& F32PatdnnUkernelAvx2() { return kKernel; }

}  // namespace tf_sparse
