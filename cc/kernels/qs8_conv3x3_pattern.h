// Int8 3x3 CONV_2D on pattern-sparse weights (PatDNN: every kept 3x3
// kernel keeps at most 4 of its 9 taps, the 4-tap pattern drawn from a
// small library; whole kernels may be removed), bit-exact with TFLite's
// int8 CONV_2D (qs8_conv_reference.h):
//   acc[n][oy][ox][o] = bias[o] + sum over in-bounds taps (kh, kw) and
//                       channels c of (x[n][iy][ix][c] - input_zero_point)
//                       * w[o][kh][kw][c]
//   y = clamp(output_zero_point + MultiplyByQuantizedMultiplier(acc, M[o]))
// with stride 1 or 2, SAME or VALID padding (ConvOutputSize), NHWC int8 in
// and out, filter scales per tensor or per output channel (requantize.h).
//
// Why the work is grouped this way. A kept kernel's 4 taps are exactly one
// 4-byte dot-product group (vpdpbusd, sdot). The 16 filters of a block
// that use the same pattern on input channel c form one "entry": 64 weight
// bytes (16 filters x 4 taps). Per tile of output pixels (16, or 64 for
// the AVX-512 VNNI kernel) the kernel first gathers, for every (channel,
// pattern) pair in use (a "slot"), each pixel's 4 input bytes under that
// pattern as one 32-bit word; a slot is shared by every block whose
// filters use that pattern there. Then every entry meets every pixel of
// the tile once: one dot product of 16 filters x 4 taps per pixel. The
// cost is entries x pixels dot products, so a model whose 16-filter blocks
// share their pattern per channel (the pruning the benchmark models)
// wastes no lane; filters of a block with another pattern on c make more
// entries, filters without a kernel on c zero lanes.
// Two arrangements of the lanes:
//  - filters in lanes (scalar, AVX2, NEON, NEON dot product): a pixel's
//    word is broadcast (or taken by lane, sdot) against the entry's 16
//    filters; the accumulators are pixels and come out in NHWC order;
//  - pixels in lanes (AVX-512 VNNI): 16 pixels' words are one load and
//    each filter's 4 weights a broadcast memory operand of vpdpbusd (one
//    fused instruction per dot product instead of a broadcast and a
//    vpdpbusd); the accumulators are filters, transposed back to NHWC per
//    block after requantization.
//
// Packed weights (built by Create, read by the micro-kernels,
// qs8_conv3x3_pattern_ukernel.h):
//   patterns    the library: every distinct 4-tap set (a kernel with fewer
//               nonzero taps takes the first library pattern covering them,
//               else its taps completed with the lowest free ones);
//   slots       (channel, pattern) pairs used by some kept kernel, ordered
//               by channel then pattern: slot_channel[s], slot_taps[4 s..]
//               (tap t = 3 kh + kw, ascending);
//   entries     per block b of 16 filters (the last one padded with zero
//               filters), entry_ptr[b]..entry_ptr[b + 1] in slot order:
//               entry_slot[e], weights[64 e + 4 f + k] = w[16 b + f][tap k
//               of the slot's pattern][channel];
//   bias        bias[o] - (input_zero_point + input_offset) * sum of w[o]
//               (the zero point folded in: padding reads the zero point,
//               so it contributes nothing), multiplier[o], shift[o].
// Input planes (built by Run per image, row by row just ahead of the
// output rows with one thread): per channel c, stride_w column
// phases, each (out_h - 1) * stride_h + 3 rows of the zero-point-padded
// input, phase ph holding padded columns ph, ph + stride_w, ... ; so the
// tap (kh, kw) of output pixels (oy, ox .. ox + 15) is 16 contiguous bytes
// at phase kw % stride_w, row oy * stride_h + kh, column ox + kw /
// stride_w. Bytes are x, or x ^ 0x80 for kernels with input offset 128.
//
// Weights with a kept kernel of more than 4 nonzero taps are refused by
// Create (the error names the filter and channel).
#ifndef TF_SPARSE_CC_KERNELS_QS8_CONV3X3_PATTERN_H_
#define TF_SPARSE_CC_KERNELS_QS8_CONV3X3_PATTERN_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cc/kernels/f32_conv_reference.h"
#include "cc/kernels/qs8_conv3x3_pattern_ukernel.h"
#include "cc/kernels/requantize.h"
#include "cc/util/aligned_buffer.h"
#include "cc/util/thread_pool.h"

namespace tf_sparse {

// What the delegate's cost estimate needs, computed without packing.
struct Qs8PatternConv3x3Stats {
  int64_t kept_kernels = 0;  // (o, c) with a nonzero weight.
  int64_t max_taps = 0;      // Most nonzero taps in one kernel (> 4: refused).
  int64_t entries = 0;       // Dot products (of 16 filters) per pixel.
  int64_t slots = 0;         // (channel, pattern) pairs gathered per tile.
  int num_patterns = 0;      // Library size.
  double patterns_per_channel = 0.0;  // slots / in_c.
};

// The micro-kernel for an ISA (isa.h's rule); on AVX-512 the VNNI kernel
// when the CPU has it and use_dot_product, else AVX2's; on NEON/SVE the
// sdot kernel when the CPU has it and use_dot_product.
const Qs8PatConvUkernel& SelectQs8PatConvUkernel(Isa isa,
                                                 bool use_dot_product);

class Qs8PatternConv3x3 {
 public:
  struct Params {
    int stride_h = 1;  // 1 or 2.
    int stride_w = 1;  // 1 or 2.
    ConvPadding padding = ConvPadding::kSame;
    int isa = -1;  // An Isa value the CPU supports; negative: ActiveIsa().
    bool use_dot_product = true;
  };

  // weights: OHWI int8 [out_c][3][3][in_c] (zero point 0); bias: out_c
  // int32 or null; q: as for the fully connected layer (filter scales per
  // tensor or per output channel). Nothing is retained from the arguments.
  // Returns null with *error set on invalid arguments, a kernel with more
  // than 4 nonzero taps, accumulators that could overflow int32, or
  // allocation failure.
  static std::unique_ptr<Qs8PatternConv3x3> Create(
      const int8_t* weights, int out_c, int in_c, const int32_t* bias,
      const Qs8FcQuantization& q, const Params& params, std::string* error);

  // Counts for the cost estimate (no packing, no checks of q). For weights
  // Create refuses (a kernel with more than 4 taps) only max_taps is set.
  static Qs8PatternConv3x3Stats Analyze(const int8_t* weights, int out_c,
                                        int in_c);

  // Sets the input size (NHWC [batch][in_h][in_w][in_c]) and returns the
  // output size as TFLite computes it. False with *error when no output
  // fits or on allocation failure.
  bool Reshape(int batch, int in_h, int in_w, int* out_h, int* out_w,
               std::string* error);

  // x: [batch][in_h][in_w][in_c], y: [batch][out_h][out_w][out_c] int8 for
  // the last Reshape. pool may be null. One Run at a time per operator.
  void Run(const int8_t* x, int8_t* y, ThreadPool* pool);

  const char* kernel_name() const { return kernel_.name; }
  int64_t PackedBytes() const;
  const Qs8PatternConv3x3Stats& stats() const { return stats_; }
  int out_c() const { return out_c_; }
  int in_c() const { return in_c_; }

 private:
  Qs8PatternConv3x3() = default;
  // Lays out input rows [ih_begin, ih_end) of one image.
  void FillPlanes(const int8_t* x, int ih_begin, int ih_end);
  void RunTiles(int8_t* y, size_t begin, size_t end, int8_t* xbuf);

  Qs8PatConvUkernel kernel_{};
  int out_c_ = 0, in_c_ = 0;
  int stride_h_ = 1, stride_w_ = 1;
  ConvPadding padding_ = ConvPadding::kSame;
  int32_t output_zero_point_ = 0, output_min_ = -128, output_max_ = 127;
  int8_t pad_byte_ = 0;
  Qs8PatternConv3x3Stats stats_;

  std::vector<int32_t> slot_channel_;
  std::vector<uint8_t> slot_taps_;
  std::vector<int32_t> entry_ptr_;
  std::vector<int32_t> entry_slot_;
  AlignedBuffer<int8_t> weights_;
  AlignedBuffer<int16_t> weights16_;  // Only for kernels that read int16.
  AlignedBuffer<int32_t> bias_, multiplier_, shift_;

  // Shape of the last Reshape.
  int batch_ = 0, in_h_ = 0, in_w_ = 0, out_h_ = 0, out_w_ = 0;
  int pad_top_ = 0, pad_left_ = 0;
  size_t plane_rows_ = 0, plane_cols_ = 0, channel_stride_ = 0;
  size_t tiles_per_row_ = 0;
  int32_t tap_offset_[9] = {};
  AlignedBuffer<int8_t> planes_;
  AlignedBuffer<int8_t> xbuf_;  // Per thread: slots * 64 bytes.
  int xbuf_threads_ = 0;
};

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_QS8_CONV3X3_PATTERN_H_
