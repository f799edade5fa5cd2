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

// Every 9-bit mask with 4 bits set, ascending.
#define TF_SPARSE_PATDNN_FOR_EACH_MASK(X)                                  \
  X(15) X(23) X(27) X(29) X(30) X(39) X(43) X(45) X(46) X(51) \
  X(53) X(54) X(57) X(58) X(60) X(71) X(75) X(77) X(78) X(83) \
  X(85) X(86) X(89) X(90) X(92) X(99) X(101) X(102) X(105) X(106) \
  X(108) X(113) X(114) X(116) X(120) X(135) X(139) X(141) X(142) X(147) \
  X(149) X(150) X(153) X(154) X(156) X(163) X(165) X(166) X(169) X(170) \
  X(172) X(177) X(178) X(180) X(184) X(195) X(197) X(198) X(201) X(202) \
  X(204) X(209) X(210) X(212) X(216) X(225) X(226) X(228) X(232) X(240) \
  X(263) X(267) X(269) X(270) X(275) X(277) X(278) X(281) X(282) X(284) \
  X(291) X(293) X(294) X(297) X(298) X(300) X(305) X(306) X(308) X(312) \
  X(323) X(325) X(326) X(329) X(330) X(332) X(337) X(338) X(340) X(344) \
  X(353) X(354) X(356) X(360) X(368) X(387) X(389) X(390) X(393) X(394) \
  X(396) X(401) X(402) X(404) X(408) X(417) X(418) X(420) X(424) X(432) \
  X(449) X(450) X(452) X(456) X(464) X(480)

namespace tf_sparse {
namespace patdnn_internal {

// The t-th set bit of mask m (t < 4).
constexpr int TapOf(unsigned m, int t) {
  for (int b = 0; b < 9; ++b) {
    if ((m >> b) & 1u) {
      if (t == 0) return b;
      --t;
    }
  }
  return 0;
}

// Offsets of the 4 taps of a pattern in X, relative to a tile's origin in
// one channel.
struct TapOffsets {
  size_t at[4];
};

inline TapOffsets Offsets(unsigned mask, int sh, int sw, size_t phase_stride,
                          size_t row_stride) {
  TapOffsets o;
  for (int t = 0; t < 4; ++t) {
    const int tap = TapOf(mask, t);
    const int dy = tap / 3, dx = tap % 3;
    o.at[t] = static_cast<size_t>((dy % sh) * sw + dx % sw) * phase_stride +
              static_cast<size_t>(dy / sh) * row_stride + dx / sw;  // [a][ph]
  }
  return o;
}

// acc[r][v] += sum over kernels and taps: the loop of one pattern group.
// Tap offsets: compile-time pattern and stride (M, SH, SW) and, when
// BW > 0, row length B, so that every load has a constant displacement
// from the kernel's channel pointer.
template <class V, int R, int NV, unsigned M, int SH, int SW, int BW>
__attribute__((always_inline)) inline void GroupLoop(
    typename V::T (&acc)[R][NV], typename V::T (&acc2)[R][NV],
    const float* x, size_t channel_stride, size_t phase_stride,
    size_t row_stride, const int32_t* index,
    const float* w, int count) {
  using T = typename V::T;
  constexpr int L = V::kLanes;
  const size_t PS = BW > 0 ? BW : phase_stride;
  const size_t RS = BW > 0 ? static_cast<size_t>(SH * SW * BW) : row_stride;
  constexpr int t0 = TapOf(M, 0), t1 = TapOf(M, 1), t2 = TapOf(M, 2),
                t3 = TapOf(M, 3);
  const size_t o0 = ((t0 / 3) % SH * SW + (t0 % 3) % SW) * PS +
                    (t0 / 3) / SH * RS + (t0 % 3) / SW;
  const size_t o1 = ((t1 / 3) % SH * SW + (t1 % 3) % SW) * PS +
                    (t1 / 3) / SH * RS + (t1 % 3) / SW;
  const size_t o2 = ((t2 / 3) % SH * SW + (t2 % 3) % SW) * PS +
                    (t2 / 3) / SH * RS + (t2 % 3) / SW;
  const size_t o3 = ((t3 / 3) % SH * SW + (t3 % 3) % SW) * PS +
                    (t3 / 3) / SH * RS + (t3 % 3) / SW;
  for (int k = 0; k < count; ++k) {
    const float* xb = x + static_cast<size_t>(index[k]) * channel_stride;
    const T w0 = V::Broadcast(w[4 * k + 0]);
    const T w1 = V::Broadcast(w[4 * k + 1]);
    const T w2 = V::Broadcast(w[4 * k + 2]);
    const T w3 = V::Broadcast(w[4 * k + 3]);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        const float* p = xb + r * RS + v * L;
        // Two chains per output when registers allow (acc2 aliases acc
        // otherwise): taps 0, 1 and taps 2, 3.
        T s = acc[r][v];
        s = V::Fma(w0, V::Load(p + o0), s);
        s = V::Fma(w1, V::Load(p + o1), s);
        acc[r][v] = s;
        T u = acc2[r][v];
        u = V::Fma(w2, V::Load(p + o2), u);
        u = V::Fma(w3, V::Load(p + o3), u);
        acc2[r][v] = u;
      }
    }
  }
}

// The same with run-time tap offsets (any stride).
template <class V, int R, int NV>
__attribute__((always_inline)) inline void GroupLoopAny(
    typename V::T (&acc)[R][NV], const float* x, size_t channel_stride,
    const TapOffsets& o, size_t B, const int32_t* index, const float* w,
    int count) {
  using T = typename V::T;
  constexpr int L = V::kLanes;
  for (int k = 0; k < count; ++k) {
    const float* xb = x + static_cast<size_t>(index[k]) * channel_stride;
    const T w0 = V::Broadcast(w[4 * k + 0]);
    const T w1 = V::Broadcast(w[4 * k + 1]);
    const T w2 = V::Broadcast(w[4 * k + 2]);
    const T w3 = V::Broadcast(w[4 * k + 3]);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        const float* p = xb + r * B + v * L;
        T s = acc[r][v];
        s = V::Fma(w0, V::Load(p + o.at[0]), s);
        s = V::Fma(w1, V::Load(p + o.at[1]), s);
        s = V::Fma(w2, V::Load(p + o.at[2]), s);
        s = V::Fma(w3, V::Load(p + o.at[3]), s);
        acc[r][v] = s;
      }
    }
  }
}

// SH, SW > 0: compile-time stride, one specialised loop per pattern behind
// a jump per group; 0: run-time offsets.
template <class V, int R, int NV, int SH, int SW, int BW>
void PatdnnFilter(const F32PatdnnFilterArgs& a) {
  using T = typename V::T;
  constexpr int L = V::kLanes;
  constexpr int C = NV * L;
  const size_t B =
      BW > 0 && SH > 0 ? static_cast<size_t>(SH * SW * BW) : a.row_stride;
  for (int ty = 0; ty < a.tiles_y; ++ty) {
    for (int tx = 0; tx < a.tiles_x; ++tx) {
      const float* x = a.x + static_cast<size_t>(ty) * R * B +
                       static_cast<size_t>(tx) * C;
      float* out = a.acc + (static_cast<size_t>(ty) * a.tiles_x + tx) * R * C;
      T acc[R][NV];
      T acc2[R][NV];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) {
          acc[r][v] = V::Load(out + r * C + v * L);
          acc2[r][v] = V::Zero();
        }
      }
      for (int g = 0; g < a.num_groups; ++g) {
        const F32PatdnnGroup& grp = a.groups[g];
        const int32_t* index = a.index + grp.begin;
        const float* w = a.weight + static_cast<size_t>(grp.begin) * 4;
        if constexpr (SH > 0) {
          switch (grp.mask) {
#define TF_SPARSE_PATDNN_CASE(M)                                       \
  case M:                                                              \
    GroupLoop<V, R, NV, M, SH, SW, BW>(acc, acc2, x, a.channel_stride, \
                                       a.phase_stride, B, index, w,    \
                                       grp.count);                     \
    break;
            TF_SPARSE_PATDNN_FOR_EACH_MASK(TF_SPARSE_PATDNN_CASE)
#undef TF_SPARSE_PATDNN_CASE
            default:
              break;
          }
        } else {
          const TapOffsets o =
              Offsets(grp.mask, a.stride_h, a.stride_w, a.phase_stride, B);
          GroupLoopAny<V, R, NV>(acc, x, a.channel_stride, o, B, index, w,
                                 grp.count);
        }
      }
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) {
          V::Store(out + r * C + v * L, V::Add(acc[r][v], acc2[r][v]));
        }
      }
    }
  }
}

template <class V, int R, int NV, int SH, int SW>
F32PatdnnFilterFn SelectWidth(int row_floats) {
  switch (row_floats) {
    case 48:
      return &PatdnnFilter<V, R, NV, SH, SW, 48>;
    case 80:
      return &PatdnnFilter<V, R, NV, SH, SW, 80>;
    case 144:
      return &PatdnnFilter<V, R, NV, SH, SW, 144>;
    default:
      return &PatdnnFilter<V, R, NV, SH, SW, 0>;
  }
}

template <class V, int R, int NV>
F32PatdnnFilterFn SelectFilter(int stride_h, int stride_w, int row_floats) {
  if (stride_h == 1 && stride_w == 1) {
    return SelectWidth<V, R, NV, 1, 1>(row_floats);
  }
  if (stride_h == 2 && stride_w == 2) {
    return SelectWidth<V, R, NV, 2, 2>(row_floats);
  }
  return &PatdnnFilter<V, R, NV, 0, 0, 0>;
}

}  // namespace patdnn_internal
}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_CONV_PATDNN_GENERIC_INC_H_
