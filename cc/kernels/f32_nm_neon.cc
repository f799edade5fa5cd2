// NEON (AArch64 Advanced SIMD with FMA) N:M kernels.
//
// Positions of 16 values are decoded in one register: a byte lookup puts
// each lane's byte in place, a per-lane shift and a mask leave its
// position (8-bit positions are the bytes themselves). Row groups: the n
// slots of a group of m columns (m dividing 32) read one 32-column window
// of x held in eight registers, fetched by table lookups (Window32); the
// last, partial window is zero-filled, which also covers filler slots past
// cols. Rows: the lanes' columns are formed in four 32-bit vectors and x
// is assembled lane by lane (NEON has no gather).
// Only built for aarch64 (cc/kernels/BUILD; cc/tests/arm/run.sh).
#if !defined(__aarch64__)
#error "f32_nm_neon.cc is for aarch64 only"
#endif

#include <arm_neon.h>

#include "cc/kernels/f32_neon_window.h"
#include "cc/kernels/f32_nm_ukernel.h"

namespace tf_sparse {
namespace {

using neon::Clamp4;
using neon::Gather4;

// Decodes 16 consecutive kBits-bit positions, lane l at bits
// [(l * kBits) % 32, + kBits) of word (l * kBits) / 32, little-endian.
template <int kBits>
struct PositionDecoder {
  uint8x16_t select;  // Lane l -> its byte, (l * kBits) / 8.
  int8x16_t shift;    // Lane l -> -((l * kBits) % 8): a right shift.
  uint8x16_t mask;
  PositionDecoder() {
    uint8_t sel[16];
    int8_t sh[16];
    for (int l = 0; l < 16; ++l) {
      sel[l] = static_cast<uint8_t>(l * kBits / 8);
      sh[l] = static_cast<int8_t>(-((l * kBits) % 8));
    }
    select = vld1q_u8(sel);
    shift = vld1q_s8(sh);
    mask = vdupq_n_u8(static_cast<uint8_t>((1u << kBits) - 1));
  }
  // Reads exactly the kBits / 2 words the 16 positions occupy.
  inline uint8x16_t Decode(const uint32_t* w) const {
    const uint8_t* p = reinterpret_cast<const uint8_t*>(w);
    if (kBits == 8) return vld1q_u8(p);
    uint8x16_t bytes;
    if (kBits == 4) {
      const uint8x8_t h = vld1_u8(p);
      bytes = vcombine_u8(h, h);
    } else {
      bytes = vreinterpretq_u8_u32(vld1q_dup_u32(w));
    }
    return vandq_u8(vshlq_u8(vqtbl1q_u8(bytes, select), shift), mask);
  }
};

template <int kBits>
void NmRows(const F32NmArgs& a) {
  const PositionDecoder<kBits> dec;
  const size_t words_per_chunk = kBits / 2;  // 16 * kBits / 32.
  const uint32_t chunk_cols = static_cast<uint32_t>(16 / a.n * a.m);
  const size_t chunks = a.kept_per_row / 16;
  uint32x4_t base[4];  // Lane l's group offset inside a chunk.
  for (int i = 0; i < 4; ++i) {
    uint32_t lanes[4];
    for (int j = 0; j < 4; ++j) {
      lanes[j] = static_cast<uint32_t>((4 * i + j) / a.n * a.m);
    }
    base[i] = vld1q_u32(lanes);
  }
  uint32_t cols[16];
  for (size_t o = 0; o < a.num_rows; ++o) {
    const float* v = a.values + o * a.kept_per_row;
    const uint32_t* words = a.positions + o * a.words_per_row;
    for (size_t b = 0; b < a.batch; ++b) {
      const float* x = a.x + b * a.x_stride;
      float32x4_t acc0 = vdupq_n_f32(0.0f);
      float32x4_t acc1 = vdupq_n_f32(0.0f);
      for (size_t c = 0; c < chunks; ++c) {
        const uint8x16_t pos = dec.Decode(words + c * words_per_chunk);
        const uint16x8_t lo = vmovl_u8(vget_low_u8(pos));
        const uint16x8_t hi = vmovl_high_u8(pos);
        const uint32x4_t start = vdupq_n_u32(static_cast<uint32_t>(c) *
                                             chunk_cols);
        vst1q_u32(cols, vaddq_u32(vaddq_u32(vmovl_u16(vget_low_u16(lo)),
                                            base[0]),
                                  start));
        vst1q_u32(cols + 4, vaddq_u32(vaddq_u32(vmovl_high_u16(lo), base[1]),
                                      start));
        vst1q_u32(cols + 8, vaddq_u32(vaddq_u32(vmovl_u16(vget_low_u16(hi)),
                                                base[2]),
                                      start));
        vst1q_u32(cols + 12, vaddq_u32(vaddq_u32(vmovl_high_u16(hi), base[3]),
                                       start));
        const float* vc = v + 16 * c;
        acc0 = vfmaq_f32(acc0, vld1q_f32(vc), Gather4(x, cols));
        acc1 = vfmaq_f32(acc1, vld1q_f32(vc + 4), Gather4(x, cols + 4));
        acc0 = vfmaq_f32(acc0, vld1q_f32(vc + 8), Gather4(x, cols + 8));
        acc1 = vfmaq_f32(acc1, vld1q_f32(vc + 12), Gather4(x, cols + 12));
      }
      float acc = a.bias[o] + vaddvq_f32(vaddq_f32(acc0, acc1));
      acc = acc < a.output_min ? a.output_min : acc;
      acc = acc > a.output_max ? a.output_max : acc;
      a.y[b * a.y_stride + o] = acc;
    }
  }
}

void f32_nm_minmax__neonfma(const F32NmArgs& a) {
  if (a.index_bits == 2) {
    NmRows<2>(a);
  } else if (a.index_bits == 4) {
    NmRows<4>(a);
  } else {
    NmRows<8>(a);
  }
}

template <int kBits>
void NmRowGroups(const F32NmRowGroupArgs& a) {
  const PositionDecoder<kBits> dec;
  const neon::WindowLookup lookup;
  const float32x4_t vmin = vdupq_n_f32(a.output_min);
  const float32x4_t vmax = vdupq_n_f32(a.output_max);
  const size_t wps = kBits / 2;                           // Words per slot.
  const size_t spw = static_cast<size_t>(32 / a.m * a.n);  // Slots a window.
  // Offset of each slot's group inside its window: a multiple of m, above
  // the position's bits, so OR adds it.
  uint8x16_t slot_base[32];
  for (size_t k = 0; k < spw; ++k) {
    slot_base[k] = vdupq_n_u8(static_cast<uint8_t>(k / a.n * a.m));
  }
  const size_t full_windows = a.cols / 32;
  const size_t tail = a.cols % 32;
  for (size_t g = 0; g < a.num_groups; ++g) {
    const float* v = a.values + g * a.kept * 16;
    const uint32_t* pw = a.positions + g * a.kept * wps;
    for (size_t b = 0; b < a.batch; ++b) {
      const float* x = a.x + b * a.x_stride;
      float32x4_t acc[4], acc2[4], xv[4], xv2[4];
      for (int i = 0; i < 4; ++i) acc[i] = acc2[i] = vdupq_n_f32(0.0f);
      size_t win = 0;
      for (size_t k0 = 0; k0 < a.kept; k0 += spw, ++win) {
        neon::Window32 w;
        if (win < full_windows) {
          w.Load(x + 32 * win);
        } else {
          w.LoadPartial(x + 32 * win, tail);
        }
        const size_t n = k0 + spw < a.kept ? spw : a.kept - k0;
        const float* vw = v + k0 * 16;
        const uint32_t* ww = pw + k0 * wps;
        size_t k = 0;
        for (; k + 2 <= n; k += 2) {
          w.Fetch(lookup, vorrq_u8(dec.Decode(ww + k * wps), slot_base[k]),
                  xv);
          w.Fetch(lookup,
                  vorrq_u8(dec.Decode(ww + (k + 1) * wps), slot_base[k + 1]),
                  xv2);
          for (int i = 0; i < 4; ++i) {
            acc[i] = vfmaq_f32(acc[i], vld1q_f32(vw + 16 * k + 4 * i), xv[i]);
            acc2[i] =
                vfmaq_f32(acc2[i], vld1q_f32(vw + 16 * k + 16 + 4 * i), xv2[i]);
          }
        }
        if (k < n) {
          w.Fetch(lookup, vorrq_u8(dec.Decode(ww + k * wps), slot_base[k]),
                  xv);
          for (int i = 0; i < 4; ++i) {
            acc[i] = vfmaq_f32(acc[i], vld1q_f32(vw + 16 * k + 4 * i), xv[i]);
          }
        }
      }
      float* y = a.y + b * a.y_stride + g * 16;
      const float* bias = a.bias + g * 16;
      float32x4_t r[4];
      for (int i = 0; i < 4; ++i) {
        r[i] = Clamp4(vaddq_f32(vaddq_f32(acc[i], acc2[i]),
                                vld1q_f32(bias + 4 * i)),
                      vmin, vmax);
      }
      if ((g + 1) * 16 <= a.num_rows) {
        for (int i = 0; i < 4; ++i) vst1q_f32(y + 4 * i, r[i]);
      } else {
        float out[16];
        for (int i = 0; i < 4; ++i) vst1q_f32(out + 4 * i, r[i]);
        for (size_t l = 0; g * 16 + l < a.num_rows; ++l) y[l] = out[l];
      }
    }
  }
}

void f32_nm_rowgroup_minmax_16__neonfma(const F32NmRowGroupArgs& a) {
  if (a.index_bits == 2) {
    NmRowGroups<2>(a);
  } else if (a.index_bits == 4) {
    NmRowGroups<4>(a);
  } else {
    NmRowGroups<8>(a);
  }
}

}  // namespace

const F32NmUkernel& F32NmUkernelNeon() {
  static const F32NmUkernel k = {
      &f32_nm_minmax__neonfma, "f32_nm_minmax__neonfma", Isa::kNeon,
      &f32_nm_rowgroup_minmax_16__neonfma,
      "f32_nm_rowgroup_minmax_16__neonfma"};
  return k;
}

}  // namespace tf_sparse
