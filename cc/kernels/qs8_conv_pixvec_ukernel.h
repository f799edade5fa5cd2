// Int8 micro-kernels of the pixel-vector 1x1 convolution
// (qs8_conv_pixvec.h): one tile of output pixels, a range of output
// channels, weights as kept groups of 4 input channels.
//
// Tile layout X (written by the kernel's pack function, read by its tile
// function): for group g of 4 input channels and tile pixel p,
//   X[(g * tile + p) * 4 * value_bytes ...] = the 4 input values
//   x[pixel p][4g .. 4g + 3] (channels past `in` are 0 or 0x80: their
//   weights are 0),
// stored as value_bytes-wide values: int8 (input_offset 0), x + 128 as
// uint8 (input_offset 128: vpdpbusd multiplies unsigned by signed bytes),
// or int16 (value_bytes 2: sign-extended for vpmaddwd). One vector of
// `lanes` pixels of one group is then contiguous, and a kept group's 4
// weights broadcast as one 32-bit word multiply it with one dot-product
// instruction (vpdpbusd, sdot) or its equivalent.
//
// For every output channel o of the range and tile pixel p < pixels:
//   acc = bias[o] + sum over kept groups k of o:
//           sum_{j < 4} X value(group g of k, p, j) * weight byte j of k
//   y[p * y_stride + o] = RequantizeToInt8(acc, multiplier[o], shift[o],
//                                          output_zero_point, output_min,
//                                          output_max)
// bias is folded for the kernel's input_offset (requantize.h FoldQs8Bias),
// so every kernel is bit-exact with the scalar one and with TFLite (the
// AVX-512 kernel through the float shortcut of requantize.h where it is
// exact, the integer path elsewhere).
// Contract: tile is a multiple of lanes, at most lanes * 4 (the kernels
// specialise on tile / lanes in {1, 2, 4}); acc is 64-byte aligned scratch
// of group * tile int32; X holds every group a weight refers to, 64-byte
// aligned; every accumulator fits int32 (checked at creation).
// Names: qs8_conv1x1_pixvec_minmax__avx512vnni (data type, op, layout, clamp,
// ISA).
#ifndef TF_SPARSE_CC_KERNELS_QS8_CONV_PIXVEC_UKERNEL_H_
#define TF_SPARSE_CC_KERNELS_QS8_CONV_PIXVEC_UKERNEL_H_

#include <cstddef>
#include <cstdint>

#include "cc/kernels/isa.h"
#include "cc/kernels/requantize.h"

namespace tf_sparse {

struct Qs8PixvecTileArgs {
  const int8_t* x;            // The tile's X (layout above).
  size_t tile;                // Pixels per group in X.
  const int32_t* group_ptr;   // channels + 1 entries: channel j's kept
                              // groups are [group_ptr[j], group_ptr[j + 1]).
  const int32_t* offset;      // Per kept group: bytes from x to its group
                              // (g * tile * 4 * value_bytes).
  const int32_t* weights;     // Per kept group: its 4 int8 weights, channel
                              // 4g first, as one 32-bit word.
  const int32_t* run;         // Per channel: how many channels from this
                              // one on have the same kept groups (>= 1);
                              // kernels may share their loads of X.
  const int32_t* bias;        // Per channel, folded.
  const int32_t* multiplier;  // Per channel.
  const int32_t* shift;       // Per channel.
  const FloatRequantization* fast;  // Per channel: the float shortcut.
  int channels;               // Output channels of the range (>= 1).
  int pixels;                 // Valid pixels of the tile (1 .. tile).
  int8_t* y;                  // Output of pixel 0, channel 0 of the range.
  size_t y_stride;            // Bytes between output pixels.
  int32_t output_zero_point;
  int32_t output_min;
  int32_t output_max;
  int32_t* acc;               // Scratch, group * tile int32.
};
using Qs8PixvecTileFn = void (*)(const Qs8PixvecTileArgs& args);

// Packs `pixels` (1 .. tile) input pixels into X: pixel p's `in` int8
// channels start at x + pixel_offset[p]. Pixels p >= pixels of X keep
// whatever they held (their outputs are never stored).
using Qs8PixvecPackFn = void (*)(const int8_t* x, const int32_t* pixel_offset,
                                 int pixels, int in, size_t tile, int8_t* X);

struct Qs8PixvecUkernel {
  const char* name;
  Isa isa;
  int lanes;             // Pixels per vector; tile is lanes * {1, 2, 4}.
  int group;             // Output channels per requantization block (the
                         // acc scratch holds group x tile).
  int value_bytes;       // Bytes per value of X (1 or 2).
  int32_t input_offset;  // 0 or 128 (see the layout).
  Qs8PixvecTileFn tile_fn;
  Qs8PixvecPackFn pack_fn;
};

// One kernel per instruction set variant, each in its own translation unit
// compiled for it. Call a kernel only when the CPU supports it: AVX-512 VNNI
// needs CpuFeatures::avx512vnni besides AVX-512, NEON dot product
// CpuFeatures::neon_dot.
const Qs8PixvecUkernel& Qs8PixvecUkernelScalar();
// vpmaddwd on int16 X (exact for every int8 pair).
const Qs8PixvecUkernel& Qs8PixvecUkernelAvx2();
const Qs8PixvecUkernel& Qs8PixvecUkernelAvx512Vnni();
// vmull_s8 + pairwise adds: baseline Advanced SIMD.
const Qs8PixvecUkernel& Qs8PixvecUkernelNeon();
// sdot (ARMv8.2 dot product extension).
const Qs8PixvecUkernel& Qs8PixvecUkernelNeonDot();

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_QS8_CONV_PIXVEC_UKERNEL_H_
