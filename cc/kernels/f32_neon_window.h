// NEON helpers shared by the sparse FC kernels of aarch64 (CSR, N:M, GS):
// NEON has no gather instruction, so x is fetched either lane by lane
// (Gather4) or, when 16 lanes read from one 32-column window of x, by byte
// table lookups on the window held in eight registers (Window32): two
// TBL4 lookups per four lanes instead of four scalar loads.
#ifndef TF_SPARSE_CC_KERNELS_F32_NEON_WINDOW_H_
#define TF_SPARSE_CC_KERNELS_F32_NEON_WINDOW_H_

#if !defined(__aarch64__)
#error "f32_neon_window.h is for aarch64 only"
#endif

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace tf_sparse {
namespace neon {

// [x[idx[0]], x[idx[1]], x[idx[2]], x[idx[3]]].
template <typename Index>
inline float32x4_t Gather4(const float* x, const Index* idx) {
  float32x4_t g = vld1q_dup_f32(x + idx[0]);
  g = vld1q_lane_f32(x + idx[1], g, 1);
  g = vld1q_lane_f32(x + idx[2], g, 2);
  return vld1q_lane_f32(x + idx[3], g, 3);
}

inline float32x4_t Clamp4(float32x4_t v, float32x4_t lo, float32x4_t hi) {
  return vminq_f32(vmaxq_f32(v, lo), hi);
}

// Byte-lookup constants of Window32::Fetch: output vector v (lanes 4v ..
// 4v+3) takes bytes 4 * col[4v + i / 4] + i % 4 of the window.
struct WindowLookup {
  uint8x16_t spread[4];  // i -> 4v + i / 4.
  uint8x16_t byte;       // i -> i % 4.
  uint8x16_t high;       // 64: moves an index between the two halves.
  WindowLookup() {
    uint8_t s[16], b[16];
    for (int v = 0; v < 4; ++v) {
      for (int i = 0; i < 16; ++i) s[i] = static_cast<uint8_t>(4 * v + i / 4);
      spread[v] = vld1q_u8(s);
    }
    for (int i = 0; i < 16; ++i) b[i] = static_cast<uint8_t>(i % 4);
    byte = vld1q_u8(b);
    high = vdupq_n_u8(64);
  }
};

// 32 consecutive floats of x as two 64-byte lookup tables.
struct Window32 {
  uint8x16x4_t lo, hi;

  inline void Load(const float* p) {
    lo.val[0] = vreinterpretq_u8_f32(vld1q_f32(p));
    lo.val[1] = vreinterpretq_u8_f32(vld1q_f32(p + 4));
    lo.val[2] = vreinterpretq_u8_f32(vld1q_f32(p + 8));
    lo.val[3] = vreinterpretq_u8_f32(vld1q_f32(p + 12));
    hi.val[0] = vreinterpretq_u8_f32(vld1q_f32(p + 16));
    hi.val[1] = vreinterpretq_u8_f32(vld1q_f32(p + 20));
    hi.val[2] = vreinterpretq_u8_f32(vld1q_f32(p + 24));
    hi.val[3] = vreinterpretq_u8_f32(vld1q_f32(p + 28));
  }
  // The first n (< 32) floats of p, zeros after: nothing past p + n is read.
  inline void LoadPartial(const float* p, size_t n) {
    float buf[32] = {};
    std::memcpy(buf, p, n * sizeof(float));
    Load(buf);
  }
  // out[v] lane i = window[cols[4v + i]] for the 16 columns (each < 32).
  inline void Fetch(const WindowLookup& k, uint8x16_t cols,
                    float32x4_t out[4]) const {
    const uint8x16_t b = vshlq_n_u8(cols, 2);  // Byte offset, 0 .. 124.
    for (int v = 0; v < 4; ++v) {
      const uint8x16_t idx = vaddq_u8(vqtbl1q_u8(b, k.spread[v]), k.byte);
      // TBL yields 0 for an index past its table: index ^ 64 selects the
      // byte from exactly one of the two halves.
      const uint8x16_t r = vorrq_u8(vqtbl4q_u8(lo, idx),
                                    vqtbl4q_u8(hi, veorq_u8(idx, k.high)));
      out[v] = vreinterpretq_f32_u8(r);
    }
  }
};

}  // namespace neon
}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_NEON_WINDOW_H_
