// Int8 CONV_2D with 1x1 filters (any stride, models use 1 and 2; NHWC int8
// in and out) on
// sparse weights, vectorised over OUTPUT PIXELS: the int8 sibling of the
// float pixel-vector convolution (f32_conv_pixvec.h), bit-exact with
// TFLite's int8 CONV_2D (qs8_conv_reference.h):
//   y[n][oy][ox][o] = clamp(output_zero_point + requantize(bias[o] +
//       sum_k (x[n][oy * stride_h][ox * stride_w][k] - input_zero_point)
//             * W[o][k]), min, max)
// A 1x1 filter gives the same output size with SAME and VALID padding,
// out = ceil(in / stride), and never reads padding, so padding is not a
// parameter. A batched FULLY_CONNECTED is the 1 x rows image (ReshapeRows).
//
// Why pixels: the dot-product instructions multiply 4 consecutive bytes; a
// kernel vectorised over output channels needs 16 filters to share their
// zeros. Here each kept group of 4 input channels of one filter is one
// broadcast 32-bit word multiplied by a vector of output pixels, so every
// lane is useful whatever the sparsity pattern (1x4 blocks along input
// channels, filter-block pruning, unstructured with whole groups kept).
//
// Weights (Create): W [out][in] int8, zero point 0, cut along the input
// channels into groups of 4 (the last one padded with zero weights). A
// group is kept when any of its 4 weights is nonzero. Per output channel o,
// its kept groups [group_ptr[o], group_ptr[o + 1]) in increasing order:
//   group[k]    int32  index g of the group (input channels 4g .. 4g + 3),
//   weights[k]  int32  the 4 int8 weights W[o][4g + j] as bytes j = 0..3 of
//                      one little-endian word.
// An all-zero filter has no groups: its output is requantize(bias).
// run[o]: how many channels from o on keep the same groups as o (filter
// blocks), so that a kernel can load X once for several channels.
// Per channel besides: the bias with the input zero point folded in
// through the row sums (FoldQs8Bias, for the kernel's input offset) and
// TFLite's multiplier and shift (ComputeFcMultipliers).
//
// Run: the output pixels of the whole batch, in NHWC order, are cut into
// tiles of T pixels (T = lanes * {1, 2, 4}, the largest whose packed tile
// fits kTileBytes of L1, and no larger than the pixel count needs). Each
// tile's input pixels (the strided ones at stride 2; their input offsets
// are computed at Reshape) are packed once into
//   X[g][p][4]  (group g, tile pixel p; int8, x + 128 as uint8 for
//               vpdpbusd, or int16 for AVX2's vpmaddwd)
// so one vector of X holds `lanes` pixels x 4 channels (AVX-512: 16 pixels
// per 64 bytes), and each kept group's index is a byte offset into X (set
// at Reshape). Per output channel and kept group, one dot-product
// instruction per vector of pixels (vpdpbusd, sdot, or the vpmaddwd /
// vmull equivalents) accumulates in registers, several channels at once
// (their lists walked together; channels keeping the same groups, as
// filter blocks do, share each load of X). Each channel's sums are
// requantized (AVX-512, AVX2: requantize.h's exact float shortcut, the
// integer steps near ties; NEON, scalar: the integer steps) and blocks of `group` output channels are turned into
// NHWC bytes in registers and stored.
// Threads: contiguous runs of tiles (and, when tiles are fewer than two per
// thread, shares of the output channels).
//
// Speed (cc/bench/qs8_conv_pixvec_bench.cc, AVX-512 VNNI Xeon at about
// 3.3 GHz, 1 thread): the inner loop runs at 0.65 cycles per vpdpbusd
// (peak 0.5) when the channels share their groups (filter blocks), about
// 1.0 when each has its own (one load of X per vpdpbusd). Besides, every
// output costs about 0.55 cycles (requantization, NHWC stores), every
// channel of every tile about 9 and every input byte about 0.07 (the tile
// pack); in cycles,
//   c * kept_groups * tiles * T / 16 + 9 * tiles * out
//     + 0.55 * outputs + 0.07 * input bytes,   c = 0.65 or 1.0,
// is within 10% of the benchmark's six sparse runs (75% of filter blocks,
// 90% of groups removed; ~3.3 cycles a ns). A dense GEMM spreads its per-output costs over
// all in / 4 dot products of an output: layers with few input channels and
// many outputs (56x56x64->256) gain little from sparsity, layers with many
// input channels 2-3x at 75-90% of groups removed. The AVX2 kernel
// (vpmaddwd on int16) runs about 3x slower than the VNNI one.
#ifndef TF_SPARSE_CC_KERNELS_QS8_CONV_PIXVEC_H_
#define TF_SPARSE_CC_KERNELS_QS8_CONV_PIXVEC_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cc/kernels/qs8_conv_pixvec_ukernel.h"
#include "cc/kernels/requantize.h"
#include "cc/util/aligned_buffer.h"
#include "cc/util/thread_pool.h"

namespace tf_sparse {

// The kernel for `isa` (which must be supported): the VNNI one on AVX-512
// when the CPU has VNNI, else AVX2's; on NEON (and SVE) the sdot one when
// the CPU has the dot product extension. use_dot_product = false forces the
// kernels without dot product instructions (AVX2's, plain NEON).
const Qs8PixvecUkernel& SelectQs8PixvecUkernel(Isa isa,
                                               bool use_dot_product = true);

// Kept groups of 4 input channels of W [out][in] (the work of one pixel in
// multiply-accumulate steps of 4): for a cost estimate, no allocation.
int64_t CountQs8PixvecGroups(const int8_t* weights, int out, int in);

class Qs8ConvPixvec {
 public:
  struct Options {
    int stride_h = 1;  // >= 1 (models use 1 and 2).
    int stride_w = 1;
    // Kernel ISA; must be supported by the CPU. Negative: ActiveIsa().
    int isa = -1;
    // False: the kernels without dot product instructions.
    bool use_dot_product = true;
  };
  // Bytes of one packed tile X that should stay in L1 (48 KiB here): 16
  // KiB (tiles of 16 pixels for 1024 channels) ran 14x14x1024->256 at 75%
  // of filter blocks removed 15% slower, the other benchmark layers within
  // noise.
  static constexpr int64_t kTileBytes = 32 * 1024;

  // weights: [out][in] int8 (the 1x1 OHWI filter, zero point 0); bias:
  // `out` int32 (scale input_scale * filter_scale) or null; quantization:
  // scales (per tensor or per output channel), zero points and clamp
  // (requantize.h). Nothing is retained from the arguments. Returns null
  // and sets *error on invalid arguments, accumulators that could overflow
  // int32, or allocation failure.
  static std::unique_ptr<Qs8ConvPixvec> Create(
      const int8_t* weights, int out, int in, const int32_t* bias,
      const Qs8FcQuantization& quantization, const Options& options,
      std::string* error);

  // Sizes the scratch for NHWC input [batch, in_h, in_w, in] and returns the
  // output size (ceil(in / stride) per side, TFLite's for SAME and VALID).
  // False (with *error) for negative sizes, an empty image, or an input of
  // 2^31 bytes or more.
  bool Reshape(int batch, int in_h, int in_w, int* out_h, int* out_w,
               std::string* error);
  // A batched fully connected layer: x [rows][in] -> y [rows][out], as the
  // 1 x rows image of batch 1. Needs strides 1.
  bool ReshapeRows(int rows, std::string* error);

  // x: [batch, in_h, in_w, in], y: [batch, out_h, out_w, out] of the last
  // Reshape. pool may be null (one thread). Not reentrant.
  void Run(const int8_t* x, int8_t* y, ThreadPool* pool);

  int out() const { return out_; }
  int in() const { return in_; }
  int64_t kept_groups() const { return static_cast<int64_t>(group_.size()); }
  int tile() const { return tile_; }
  const Qs8PixvecUkernel& kernel() const { return *ukernel_; }
  const char* kernel_name() const { return ukernel_->name; }
  // Bytes of the packed weights (groups, channel pointers) and of the
  // per-channel bias, multiplier and shift.
  int64_t PackedBytes() const;

 private:
  Qs8ConvPixvec() = default;
  // Work items [begin, end) with scratch slot t.
  void Compute(const int8_t* x, int8_t* y, int begin, int end, int t);

  const Qs8PixvecUkernel* ukernel_ = nullptr;
  int out_ = 0, in_ = 0, groups_ = 0;
  int stride_h_ = 1, stride_w_ = 1;
  std::vector<int32_t> group_ptr_;
  std::vector<int32_t> group_;
  std::vector<int32_t> weights_;
  std::vector<int32_t> run_;  // Qs8PixvecTileArgs::run.
  std::vector<int32_t> bias_;
  std::vector<int32_t> multiplier_;
  std::vector<int32_t> shift_;
  std::vector<FloatRequantization> fast_;
  int32_t output_zero_point_ = 0;
  int32_t output_min_ = -128;
  int32_t output_max_ = 127;
  // Per shape.
  bool reshaped_ = false;
  int in_h_ = 0, in_w_ = 0, out_h_ = 0, out_w_ = 0;
  int64_t pixels_ = 0;  // batch * out_h * out_w.
  int tile_ = 0;
  int tiles_ = 0;
  std::vector<int32_t> offset_;  // Per kept group: bytes into X.
  std::vector<int32_t> pixel_offset_;  // Per output pixel: bytes into x.
  int splits_ = 1;          // Channel shares per tile.
  int split_channels_ = 0;  // Channels per share (a multiple of group).
  // Per thread slot.
  std::vector<AlignedBuffer<int8_t>> x_;
  std::vector<AlignedBuffer<int32_t>> acc_;

};

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_QS8_CONV_PIXVEC_H_
