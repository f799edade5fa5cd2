// AVX-512 pattern-group kernels. Compiled with -mavx512f -mfma; only reached
// when the CPU and OS support AVX-512.
#include <immintrin.h>

#include "cc/kernels/f32_conv_patdnn_generic.inc.h"
#include "cc/kernels/f32_conv_patdnn_ukernel.h"

namespace tf_sparse {
namespace {

struct Avx512Vec {
  using T = __m512;
  static constexpr int kLanes = 16;
  static T Load(const float* p) { return _mm512_loadu_ps(p); }
  static void Store(float* p, T v) { _mm512_storeu_ps(p, v); }
  static T Zero() { return _mm512_setzero_ps(); }
  static T Add(T a, T b) { return _mm512_add_ps(a, b); }
  static T Broadcast(float v) { return _mm512_set1_ps(v); }
  static T Fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
};

constexpr int kRows = 4;
constexpr int kVecs = 2;

F32PatdnnFilterFn Select(int stride_h, int stride_w, int row_floats) {
  return patdnn_internal::SelectFilter<Avx512Vec, kRows, kVecs>(
      stride_h, stride_w, row_floats);
}

const F32PatdnnUkernel kKernel = {"f32_conv3x3_patdnn_4x32__avx512",
                                  Isa::kAvx512, kRows,
                                  kVecs * Avx512Vec::kLanes, Select};

}  // namespace

const F32PatdnnUkernel& F32PatdnnUkernelAvx512() { return kKernel; }

}  // namespace tf_sparse
