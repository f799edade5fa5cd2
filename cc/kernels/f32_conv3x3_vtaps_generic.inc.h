// The VT row micro-kernel (contract: F32VtapsArgs in f32_conv3x3_vtaps.h),
// written once over a vector type V (as in f32_conv_patdnn_generic.inc.h:
// T, kLanes, Zero, Load, Store, Broadcast, Fma, Min, Max) and instantiated
// by each ISA's translation unit with its own tile of MR pixels. Min(a, b)
// and Max(a, b) return b (or NaN) when either is NaN, like x86 minps/maxps,
// so the clamp Min(hi, Max(lo, acc)) keeps a NaN accumulator NaN.
//
// The tile's MR x (16 / kLanes) accumulators stay in registers over all
// pairs of the block: per pair, 16 / kLanes weight loads, then per pixel
// one broadcast load of its input value (constant displacement
// p * pixel_stride when the stride is a compile-time constant) and
// 16 / kLanes FMAs.
#ifndef TF_SPARSE_CC_KERNELS_F32_CONV3X3_VTAPS_GENERIC_INC_H_
#define TF_SPARSE_CC_KERNELS_F32_CONV3X3_VTAPS_GENERIC_INC_H_

#include <cstddef>
#include <cstdint>

#include "cc/kernels/f32_conv3x3_vtaps.h"

namespace tf_sparse {
namespace vtaps_internal {

template <class V, int MR, int PS>
void VtapsRow(const F32VtapsArgs& a) {
  using T = typename V::T;
  constexpr int L = V::kLanes;
  constexpr int NV = kVtapsBlock / L;
  const size_t ps = PS > 0 ? static_cast<size_t>(PS) : a.pixel_stride;
  T acc[MR][NV];
#pragma GCC unroll 16
  for (int p = 0; p < MR; ++p) {
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) acc[p][v] = V::Load(a.bias + v * L);
  }
  const int32_t* off = a.offset;
  const float* w = a.weight;
  for (int e = 0; e < a.num_pairs; ++e, w += kVtapsBlock) {
    const float* x = a.x + off[e];
    T wv[NV];
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) wv[v] = V::Load(w + v * L);
#pragma GCC unroll 16
    for (int p = 0; p < MR; ++p) {
      const T xb = V::Broadcast(x[p * ps]);
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) acc[p][v] = V::Fma(xb, wv[v], acc[p][v]);
    }
  }
  const T lo = V::Broadcast(a.output_min);
  const T hi = V::Broadcast(a.output_max);
  const int full = a.channels / L;  // Whole vectors to store.
#pragma GCC unroll 16
  for (int p = 0; p < MR; ++p) {
    if (p >= a.pixels) break;
    float* y = a.y + p * a.y_stride;
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) {
      const T r = V::Min(hi, V::Max(lo, acc[p][v]));
      if (v < full) {
        V::Store(y + v * L, r);
      } else if (v == full && a.channels % L != 0) {
        float tmp[L];
        V::Store(tmp, r);
        for (int j = 0; j < a.channels % L; ++j) y[v * L + j] = tmp[j];
      }
    }
  }
}

// Pixel strides 1 and 2 (convolution strides 1 and 2) with compile-time
// displacements, others run-time.
template <class V, int MR>
F32VtapsFn SelectRow(int pixel_stride) {
  switch (pixel_stride) {
    case 1:
      return &VtapsRow<V, MR, 1>;
    case 2:
      return &VtapsRow<V, MR, 2>;
    default:
      return &VtapsRow<V, MR, 0>;
  }
}

}  // namespace vtaps_internal
}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_CONV3X3_VTAPS_GENERIC_INC_H_
