// The tap-sparse depthwise 3x3 micro-kernel, written once over a vector
// type V:
//
//   struct V {
//     using T = ...;                       // register type
//     static constexpr int kLanes;         // floats per register
//     static T Zero();
//     static T Add(T a, T b);
//     static T Min(T a, T b);              // b (or NaN) when a or b is NaN
//     static T Max(T a, T b);              // b (or NaN) when a or b is NaN
//     static T Load(const float*);         // unaligned
//     static void Store(float*, T);        // unaligned
//     static T LoadN(const float*, int n); // lanes >= n read as 0, not read
//     static void StoreN(float*, T, int n);// only lanes < n written
//     static T Broadcast(float);
//     static T Fma(T a, T b, T c);         // a * b + c
//   };
//
// and instantiated by each ISA's translation unit (see
// f32_dwconv3x3_ukernel.h for the contract). The clamp is written
// Min(hi, Max(lo, acc)) so that a NaN accumulator stays NaN on every ISA
// (x86 minps/maxps return their second operand when either is NaN).
#ifndef TF_SPARSE_CC_KERNELS_F32_DWCONV3X3_GENERIC_INC_H_
#define TF_SPARSE_CC_KERNELS_F32_DWCONV3X3_GENERIC_INC_H_

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "cc/kernels/f32_dwconv3x3_ukernel.h"

namespace tf_sparse {
namespace dwconv_internal {

// P pixels of one group: pixel i reads in9[t] + off + i * step (plus the
// group's first channel) for tap t and is stored at out + i * out_step.
// NT taps is a compile-time count, so that the tap loop is unrolled
// without a branch; each weight vector is loaded once and used for the P
// pixels, whose P accumulators are independent FMA chains.
template <class V, int NT, int P>
inline void Tile(const F32DwConv3x3Args& a, int gi, const float* const* in9,
                 size_t off, float* out) {
  using T = typename V::T;
  constexpr int L = V::kLanes;
  const F32DwGroup& g = a.groups[gi];
  const uint8_t* const tap = a.tap + g.tap_begin;
  const float* const wp = a.weight + static_cast<size_t>(g.tap_begin) * L;
  const size_t step = a.in_step;
  const size_t ostep = a.out_step;
  const T bias = V::Load(a.bias + static_cast<size_t>(gi) * L);
  const T lo = V::Broadcast(a.lo);
  const T hi = V::Broadcast(a.hi);
  out += g.c0;
  off += g.c0;
  if (g.channels == L && P == 1 && NT >= 2) {
    // One pixel (borders, short rows): two chains (even and odd taps)
    // halve the FMA latency it waits on.
    T s0 = bias, s1 = V::Zero();
#pragma GCC unroll 9
    for (int k = 0; k < NT; ++k) {
      const T x = V::Load(in9[tap[k]] + off);
      if (k % 2 == 0) {
        s0 = V::Fma(V::Load(wp + k * L), x, s0);
      } else {
        s1 = V::Fma(V::Load(wp + k * L), x, s1);
      }
    }
    V::Store(out, V::Min(hi, V::Max(lo, V::Add(s0, s1))));
  } else if (g.channels == L) {
    T acc[P];
#pragma GCC unroll 8
    for (int i = 0; i < P; ++i) acc[i] = bias;
#pragma GCC unroll 9
    for (int k = 0; k < NT; ++k) {
      const T w = V::Load(wp + k * L);
      const float* const p = in9[tap[k]] + off;
#pragma GCC unroll 8
      for (int i = 0; i < P; ++i) {
        acc[i] = V::Fma(w, V::Load(p + i * step), acc[i]);
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < P; ++i) {
      V::Store(out + i * ostep, V::Min(hi, V::Max(lo, acc[i])));
    }
  } else {
    // The partial last group: the lanes past the C channels are neither
    // read (they would be the next pixel's channels, or past the end of
    // the input) nor written.
    const int m = g.channels;
    for (int i = 0; i < P; ++i) {
      T s = bias;
#pragma GCC unroll 9
      for (int k = 0; k < NT; ++k) {
        const T x = V::LoadN(in9[tap[k]] + off + i * step, m);
        s = V::Fma(V::Load(wp + k * L), x, s);
      }
      V::StoreN(out + i * ostep, V::Min(hi, V::Max(lo, s)), m);
    }
  }
}

// Every group of P pixels; the tap count picks the unrolled loop.
template <class V, int P>
inline void Groups(const F32DwConv3x3Args& a, const float* const* in9,
                   size_t off, float* out) {
  for (int gi = a.group_begin; gi < a.group_end; ++gi) {
    switch (a.groups[gi].num_taps) {
      case 0:
        Tile<V, 0, P>(a, gi, in9, off, out);
        break;
      case 1:
        Tile<V, 1, P>(a, gi, in9, off, out);
        break;
      case 2:
        Tile<V, 2, P>(a, gi, in9, off, out);
        break;
      case 3:
        Tile<V, 3, P>(a, gi, in9, off, out);
        break;
      case 4:
        Tile<V, 4, P>(a, gi, in9, off, out);
        break;
      case 5:
        Tile<V, 5, P>(a, gi, in9, off, out);
        break;
      case 6:
        Tile<V, 6, P>(a, gi, in9, off, out);
        break;
      case 7:
        Tile<V, 7, P>(a, gi, in9, off, out);
        break;
      case 8:
        Tile<V, 8, P>(a, gi, in9, off, out);
        break;
      default:
        Tile<V, 9, P>(a, gi, in9, off, out);
        break;
    }
  }
}

// The row, in NHWC order: tiles of P pixels, all groups of a tile before
// the next one. That order walks the input and output near-contiguously
// (the next group is the next cache line of the same pixels), which the
// hardware prefetchers follow; a group-major order (each group across the
// whole row, weights held in registers) strides by C floats per access and
// measured up to 2x slower on layers of 128..512 channels.
template <class V, int P>
void Run(const F32DwConv3x3Args& a) {
  const size_t ostep = a.out_step;
  for (int i = 0; i < a.left; ++i) {
    Groups<V, 1>(a, a.border_in + 9 * static_cast<size_t>(i), 0,
                 a.out + static_cast<size_t>(i) * ostep);
  }
  float* const mid = a.out + static_cast<size_t>(a.left) * ostep;
  const int n = a.pixels;
  const auto tile = [&](auto p_tag, int px) {
    Groups<V, decltype(p_tag)::value>(a, a.in,
                                      static_cast<size_t>(px) * a.in_step,
                                      mid + static_cast<size_t>(px) * ostep);
  };
  int px = 0;
  for (; px + P <= n; px += P) tile(std::integral_constant<int, P>(), px);
  // The rest in halving tiles (an overlapping last tile of P would redo up
  // to P - 1 pixels: a third more work on 14-pixel rows, measured slower).
  if (P > 4 && px + 4 <= n) {
    tile(std::integral_constant<int, (P > 4 ? 4 : 1)>(), px);
    px += 4;
  }
  if (P > 2 && px + 2 <= n) {
    tile(std::integral_constant<int, (P > 2 ? 2 : 1)>(), px);
    px += 2;
  }
  for (; px < n; ++px) tile(std::integral_constant<int, 1>(), px);
  float* const right = mid + static_cast<size_t>(a.pixels) * ostep;
  for (int i = 0; i < a.right; ++i) {
    Groups<V, 1>(a, a.border_in + 9 * static_cast<size_t>(a.left + i), 0,
                 right + static_cast<size_t>(i) * ostep);
  }
}

}  // namespace dwconv_internal
}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_DWCONV3X3_GENERIC_INC_H_
