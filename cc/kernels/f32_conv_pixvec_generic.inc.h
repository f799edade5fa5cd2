// The PV micro-kernel and input pack, written once over a vector type V:
//
//   struct V {
//     using T = ...;                   // register type
//     static constexpr int kLanes;     // floats per register (= group)
//     static T Zero();
//     static T Add(T a, T b);
//     static T Load(const float*);     // unaligned
//     static void Store(float*, T);    // unaligned
//     static void StorePartial(float*, T, int n);  // lanes 0 .. n - 1
//     static void PrefetchWrite(const float*);  // a hint, or nothing
//     static T Broadcast(float);
//     static T Fma(T a, T b, T c);     // a * b + c
//     static T Min(T a, T b);          // b when either is NaN (x86 order)
//     static T Max(T a, T b);
//     static void Transpose(T r[kLanes]);  // kLanes x kLanes, in place
//   };
//
// and instantiated by each ISA's translation unit with its tile (see
// f32_conv_pixvec.h for the contract).
#ifndef TF_SPARSE_CC_KERNELS_F32_CONV_PIXVEC_GENERIC_INC_H_
#define TF_SPARSE_CC_KERNELS_F32_CONV_PIXVEC_GENERIC_INC_H_

#include <cstddef>
#include <cstdint>

#include "cc/kernels/f32_conv_pixvec.h"

namespace tf_sparse {
namespace pixvec_internal {

// acc[v] = init[v] + sum_k w[k] * x[off[k] + v * L .. + L - 1] for k in
// [k0, k1) (init: `bias` broadcast when `from` is null, else from[v * L]),
// even and odd k in two chains (each chain then waits on half the FMAs);
// with kClamp, clamped as Min(hi, Max(lo, acc)) so that NaN stays NaN.
template <class V, int NV, bool kClamp>
inline void AccumulateChannel(const float* x, const int32_t* off,
                              const float* w, int k0, int k1, float bias,
                              const float* from, typename V::T lo,
                              typename V::T hi, float* out) {
  using T = typename V::T;
  constexpr int L = V::kLanes;
  T a0[NV], a1[NV];
#pragma GCC unroll 16
  for (int v = 0; v < NV; ++v) {
    a0[v] = from != nullptr ? V::Load(from + v * L) : V::Broadcast(bias);
    a1[v] = V::Zero();
  }
  int k = k0;
  for (; k + 2 <= k1; k += 2) {
    const float* p0 = x + off[k];
    const float* p1 = x + off[k + 1];
    // Materialise the addresses: loads from base + displacement stay one
    // fused uop with the FMA, base + index * 4 + displacement do not.
    asm("" : "+r"(p0), "+r"(p1));
    const T w0 = V::Broadcast(w[k]);
    const T w1 = V::Broadcast(w[k + 1]);
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) {
      a0[v] = V::Fma(w0, V::Load(p0 + v * L), a0[v]);
      a1[v] = V::Fma(w1, V::Load(p1 + v * L), a1[v]);
    }
  }
  if (k < k1) {
    const float* p0 = x + off[k];
    const T w0 = V::Broadcast(w[k]);
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) {
      a0[v] = V::Fma(w0, V::Load(p0 + v * L), a0[v]);
    }
  }
#pragma GCC unroll 16
  for (int v = 0; v < NV; ++v) {
    const T r = V::Add(a0[v], a1[v]);
    V::Store(out + v * L, kClamp ? V::Min(hi, V::Max(lo, r)) : r);
  }
}

template <class V, int NV>
void PixvecTile(const F32PixvecTileArgs& a) {
  using T = typename V::T;
  constexpr int L = V::kLanes;
  constexpr int kTile = NV * L;
  const T lo = V::Broadcast(a.output_min);
  const T hi = V::Broadcast(a.output_max);
  if (!a.last) {
    // A partial sum over one block of input channels, kept in acc.
    for (int j = 0; j < a.channels; ++j) {
      float* acc = a.acc + j * kTile;
      AccumulateChannel<V, NV, false>(a.x, a.offset, a.weight, a.nz[j],
                                      a.nz[j + 1], a.bias[j],
                                      a.first ? nullptr : acc, lo, hi, acc);
    }
    return;
  }
  alignas(64) float buf[L * kTile];
  if (a.prefetch_output && a.row_floats == a.out_w) {
    // Consecutive output pixels: ask for their lines now, so that the
    // stores after the sums find them.
    const float* out = a.y + static_cast<size_t>(a.o0) * a.out_c;
    for (int i = 0; i < a.positions; ++i) V::PrefetchWrite(out + i * a.out_c);
  }
  for (int j = 0; j < a.channels; ++j) {
    AccumulateChannel<V, NV, true>(
        a.x, a.offset, a.weight, a.nz[j], a.nz[j + 1], a.bias[j],
        a.first ? nullptr : a.acc + j * kTile, lo, hi, buf + j * kTile);
  }
  // Rows of buf past `channels` are transposed but never stored.
  for (int j = a.channels; j < L; ++j) {
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) V::Store(buf + j * kTile + v * L, V::Zero());
  }
  const int wq = a.row_floats;
  if (wq == a.out_w) {
    // No junk positions (1x1 at stride 1, or rows that need no padding):
    // the tile's positions are consecutive output pixels.
    float* out = a.y + static_cast<size_t>(a.o0) * a.out_c;
    const size_t step = a.out_c;
    for (int p0 = 0; p0 < a.positions; p0 += L, out += L * step) {
      T r[L];
#pragma GCC unroll 16
      for (int j = 0; j < L; ++j) r[j] = V::Load(buf + j * kTile + p0);
      V::Transpose(r);
      const int n = a.positions - p0 < L ? a.positions - p0 : L;
      if (n == L && a.channels == L) {
#pragma GCC unroll 16
        for (int i = 0; i < L; ++i) V::Store(out + i * step, r[i]);
        continue;
      }
      for (int i = 0; i < n; ++i) {
        if (a.channels == L) {
          V::Store(out + i * step, r[i]);
        } else {
          V::StorePartial(out + i * step, r[i], a.channels);
        }
      }
    }
    return;
  }
  int oy = a.o0 / wq, ox = a.o0 % wq;
  for (int p0 = 0; p0 < a.positions; p0 += L) {
    T r[L];
#pragma GCC unroll 16
    for (int j = 0; j < L; ++j) r[j] = V::Load(buf + j * kTile + p0);
    V::Transpose(r);
    const int n = a.positions - p0 < L ? a.positions - p0 : L;
    for (int i = 0; i < n; ++i) {
      if (ox < a.out_w) {
        float* out = a.y + (static_cast<size_t>(oy) * a.out_w + ox) * a.out_c;
        if (a.channels == L) {
          V::Store(out, r[i]);
        } else {
          V::StorePartial(out, r[i], a.channels);
        }
      }
      if (++ox == wq) {
        ox = 0;
        ++oy;
      }
    }
  }
}

template <class V>
void PixvecPack(const float* src, size_t src_stride, int pixels, float* dst,
                size_t dst_stride, int copies, ptrdiff_t copy_step) {
  using T = typename V::T;
  constexpr int L = V::kLanes;
  T r[L];
  if (pixels == L) {
#pragma GCC unroll 16
    for (int p = 0; p < L; ++p) r[p] = V::Load(src + p * src_stride);
    V::Transpose(r);
    for (int k = 0; k < copies; ++k) {
      float* d = dst + k * copy_step;
#pragma GCC unroll 16
      for (int c = 0; c < L; ++c) V::Store(d + c * dst_stride, r[c]);
    }
    return;
  }
  for (int p = 0; p < L; ++p) {
    r[p] = p < pixels ? V::Load(src + p * src_stride) : V::Zero();
  }
  V::Transpose(r);
  for (int k = 0; k < copies; ++k) {
    float* d = dst + k * copy_step;
    for (int c = 0; c < L; ++c) V::StorePartial(d + c * dst_stride, r[c], pixels);
  }
}

template <class V>
void PixvecGather(const float* src, size_t channel_stride,
                  const int32_t* view, int views, int floats, int channels,
                  float* dst) {
  constexpr int L = V::kLanes;
  for (int c = 0; c < channels; ++c) {
    const float* s = src + c * channel_stride;
    for (int v = 0; v < views; ++v, dst += floats) {
      const float* p = s + view[v];
#pragma GCC unroll 4
      for (int i = 0; i < floats; i += L) V::Store(dst + i, V::Load(p + i));
    }
  }
}

}  // namespace pixvec_internal
}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_CONV_PIXVEC_GENERIC_INC_H_
