// The per-filter micro-kernel, written once over a vector type V:
//
//   struct V {
//     using T = ...;                  // register type
//     static constexpr int kLanes;    // floats per register
//     static T Zero();
//     static T Add(T a, T b);
//     static T Load(const float*);    // unaligned
//     static void Store(float*, T);   // unaligned
//     static T Broadcast(float);
//     static T Fma(T a, T b, T c);    // a * b + c
//   };
//
// and instantiated by each ISA's translation unit for its own V and tile
// (see f32_conv_patdnn_ukernel.h for the contract).
#ifndef TF_SPARSE_CC_KERNELS_F32_CONV_PATDNN_GENERIC_INC_H_
#define TF_SPARSE_CC_KERNELS_F32_CONV_PATDNN_GENERIC_INC_H_

#include <cstddef>
#include <cstdint>

#include "cc/kernels/f32_conv_patdnn_ukernel.h"

namespace tf_sparse {
namespace patdnn_internal {

// acc[r][v] += w[t] * X[tile + tap[t] + r * RS + v * L] over the kernels'
// taps. RS > 0: the row stride is a compile-time constant, so that every
// load of a tap is one base register plus a constant displacement; 0: run
// time.
template <class V, int R, int NV, int RS, int Chains>
void PatdnnFilter(const F32PatdnnFilterArgs& a) {
  using T = typename V::T;
  constexpr int L = V::kLanes;
  constexpr int C = NV * L;
  const size_t rs = RS > 0 ? static_cast<size_t>(RS) : a.row_stride;
  const int32_t* const tap = a.tap;
  const float* const w = a.weight;
  const int n = a.num_kernels;
  for (int ty = 0; ty < a.tiles_y; ++ty) {
    for (int tx = 0; tx < a.tiles_x; ++tx) {
      const float* x =
          a.x + static_cast<size_t>(ty) * R * rs + static_cast<size_t>(tx) * C;
      float* out = a.acc + (static_cast<size_t>(ty) * a.tiles_x + tx) * R * C;
      // Chains == 2: two chains per output (taps 0, 1 and taps 2, 3) halve
      // the FMA latency each output waits on, for small tiles with
      // registers to spare.
      constexpr bool kTwoChains = Chains == 2;
      T acc[R][NV];
      T acc2[kTwoChains ? R : 1][kTwoChains ? NV : 1];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) {
          acc[r][v] =
              a.accumulate ? V::Load(out + r * C + v * L) : V::Zero();
          if constexpr (kTwoChains) acc2[r][v] = V::Zero();
        }
      }
      for (int k = 0; k < n; ++k) {
        const float* p0 = x + tap[4 * k + 0];
        const float* p1 = x + tap[4 * k + 1];
        const float* p2 = x + tap[4 * k + 2];
        const float* p3 = x + tap[4 * k + 3];
        const T w0 = V::Broadcast(w[4 * k + 0]);
        const T w1 = V::Broadcast(w[4 * k + 1]);
        const T w2 = V::Broadcast(w[4 * k + 2]);
        const T w3 = V::Broadcast(w[4 * k + 3]);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
          for (int v = 0; v < NV; ++v) {
            const size_t d = r * rs + v * L;
            T s = acc[r][v];
            s = V::Fma(w0, V::Load(p0 + d), s);
            s = V::Fma(w1, V::Load(p1 + d), s);
            if constexpr (kTwoChains) {
              acc[r][v] = s;
              T u = acc2[r][v];
              u = V::Fma(w2, V::Load(p2 + d), u);
              u = V::Fma(w3, V::Load(p3 + d), u);
              acc2[r][v] = u;
            } else {
              s = V::Fma(w2, V::Load(p2 + d), s);
              s = V::Fma(w3, V::Load(p3 + d), s);
              acc[r][v] = s;
            }
          }
        }
      }
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) {
          if constexpr (kTwoChains) {
            acc[r][v] = V::Add(acc[r][v], acc2[r][v]);
          }
          V::Store(out + r * C + v * L, acc[r][v]);
        }
      }
    }
  }
}

// Row strides stride_h * stride_w * S * B of the common cases (B of 48, 80,
// 144 at strides 1 and 2) get compile-time displacements. Chains: 2 for
// two accumulator sets (2 * R * NV + 4 registers), else 1.
template <class V, int R, int NV, int Chains = (R * NV <= 8 ? 2 : 1)>
F32PatdnnFilterFn SelectFilter(int stride_h, int stride_w, int row_floats) {
  switch (stride_h * stride_w * PatdnnShiftCopies(stride_w) * row_floats) {
    case 3 * 48:
      return &PatdnnFilter<V, R, NV, 3 * 48, Chains>;
    case 3 * 80:
      return &PatdnnFilter<V, R, NV, 3 * 80, Chains>;
    case 3 * 144:
      return &PatdnnFilter<V, R, NV, 3 * 144, Chains>;
    case 4 * 48:
      return &PatdnnFilter<V, R, NV, 4 * 48, Chains>;
    case 4 * 80:
      return &PatdnnFilter<V, R, NV, 4 * 80, Chains>;
    case 4 * 144:
      return &PatdnnFilter<V, R, NV, 4 * 144, Chains>;
    default:
      return &PatdnnFilter<V, R, NV, 0, Chains>;
  }
}

}  // namespace patdnn_internal
}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_CONV_PATDNN_GENERIC_INC_H_
