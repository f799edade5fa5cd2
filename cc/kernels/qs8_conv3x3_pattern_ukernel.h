// Int8 micro-kernels of the pattern-sparse 3x3 convolution
// (qs8_conv3x3_pattern.h): one call computes one tile of up to
// tile_pixels (16 or 64, per kernel) consecutive output pixels of one
// output row, for every filter.
//
// Data the operator hands in (its header documents the packing):
//  - x: the tile's origin in channel 0's input planes; channel c's planes
//    start c * channel_stride bytes further, and tap t of pixel j of the
//    tile reads the byte at x + c * channel_stride + tap_offset[t] + j
//    (the operator lays the planes out so that every tap row is
//    contiguous, for stride 1 and 2). Bytes are the kernel's input form:
//    int8 x (input_offset 0) or x ^ 0x80, i.e. x + 128 as uint8
//    (input_offset 128, for vpdpbusd's unsigned operand). tile_pixels
//    bytes are readable from every tap row even when fewer pixels are
//    valid.
//  - slots: the (channel, pattern) pairs some kept kernel uses; slot s
//    reads channel slot_channel[s] at taps slot_taps[4 s .. 4 s + 3].
//  - xbuf: scratch of num_slots * (tile_pixels * 4 + 1) bytes (64-byte
//    aligned) where the kernel gathers, for every slot and pixel of the tile,
//    the 4 tap bytes of the pixel as one 32-bit word, so that one
//    dot-product group of 4 bytes meets a pattern's 4 weights (the order
//    of the words is the kernel's own: 16-pixel kernels store pixel j at
//    xbuf[64 s + 4 j + k] = tap k; the 64-pixel AVX-512 kernel keeps the
//    order its in-lane unpacks leave).
//  - filter blocks of 16 output channels: block b owns entries
//    [entry_ptr[b], entry_ptr[b + 1]); entry e reads slot entry_slot[e] and
//    carries 64 weight bytes weights[64 e + 4 f + k] (filter 16 b + f, tap k
//    of the slot's pattern; 0 for filters without that kernel).
// For every valid pixel j < num_pixels and filter o < out_c:
//   acc = bias[o] + sum_e sum_k x(slot(e), j, tap k) * w(e)[o][k]
//   y[j * y_stride + o] = RequantizeToInt8(acc, multiplier[o], shift[o],
//                                          output_zero_point, min, max)
// bias folds the zero point and the offset (operator), bias, multiplier
// and shift have 16 * num_blocks entries, and every partial sum fits int32
// (checked at creation). Kernel names follow XNNPACK's:
// qs8_conv3x3_pattern_minmax_64x16__avx512vnni (64 pixels x 16 filters).
#ifndef TF_SPARSE_CC_KERNELS_QS8_CONV3X3_PATTERN_UKERNEL_H_
#define TF_SPARSE_CC_KERNELS_QS8_CONV3X3_PATTERN_UKERNEL_H_

#include <cstddef>
#include <cstdint>

#include "cc/kernels/isa.h"

namespace tf_sparse {

// Pixels per tile of the 16-pixel kernels, and filters per block.
constexpr int kQs8PatTilePixels = 16;
constexpr int kQs8PatBlockFilters = 16;

struct Qs8PatConvArgs {
  const int8_t* x;
  size_t channel_stride;
  const int32_t* tap_offset;  // 9 entries, tap t = 3 * kh + kw.
  size_t num_slots;
  const int32_t* slot_channel;
  const uint8_t* slot_taps;  // 4 per slot, ascending tap indices.
  int8_t* xbuf;              // num_slots * 64 bytes, 64-byte aligned.
  size_t num_blocks;
  const int32_t* entry_ptr;  // num_blocks + 1 entries.
  const int32_t* entry_slot;
  const int8_t* weights;     // 64 bytes per entry.
  // The same weights as int16 (64 per entry), for kernels with
  // int16_weights (AVX2's vpmaddwd); null otherwise.
  const int16_t* weights16;
  const int32_t* bias;       // 16 * num_blocks entries each.
  const int32_t* multiplier;
  const int32_t* shift;
  size_t num_pixels;  // 1..tile_pixels
  size_t out_c;
  int8_t* y;          // Pixel j's out_c outputs at y + j * y_stride.
  size_t y_stride;
  int32_t output_zero_point;
  int32_t output_min;
  int32_t output_max;
};

using Qs8PatConvFn = void (*)(const Qs8PatConvArgs& args);

struct Qs8PatConvUkernel {
  Qs8PatConvFn fn;
  const char* name;
  Isa isa;
  int32_t input_offset;  // 0: x as int8; 128: as uint8 (x ^ 0x80).
  bool int16_weights;    // Reads weights16.
  int tile_pixels;       // Pixels per call: 16 or 64.
};

// One kernel per ISA variant; call only when the CPU supports it (VNNI:
// CpuFeatures::avx512vnni; NEON dot product: CpuFeatures::neon_dot).
const Qs8PatConvUkernel& Qs8PatConvUkernelScalar();
// vpmaddwd on int16 (sign-extended x and w): exact for every int8.
const Qs8PatConvUkernel& Qs8PatConvUkernelAvx2();
const Qs8PatConvUkernel& Qs8PatConvUkernelAvx512Vnni();
// vmull_s8 + vpadalq_s16.
const Qs8PatConvUkernel& Qs8PatConvUkernelNeon();
// sdot by lane.
const Qs8PatConvUkernel& Qs8PatConvUkernelNeonDot();

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_QS8_CONV3X3_PATTERN_UKERNEL_H_
