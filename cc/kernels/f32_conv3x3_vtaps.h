// CONV_2D on filter-vector taps (VT), float32, NHWC in and out: any kernel
// of at most kVtapsMaxTaps (64) taps (3x3, 1x1, a Conv1D's 1 x K, ...), any
// stride and dilation, SAME or VALID padding. The delegate also runs a
// FULLY_CONNECTED call of many rows on it, as a 1x1 convolution over a
// 1 x rows image (delegate/fc_formats.h). The class keeps its historical
// name F32Conv3x3Vtaps.
//
// The format for weights whose sparsity is shared by blocks of 16
// consecutive filters: KernelPattern(..., filter_block=16) (every block of
// 16 filters keeps one 4-tap pattern per input channel, or drops the
// channel), block-punched structures, or any weights at all (correct, but
// only fast when the blocks share their zeros). For each block b of 16
// output channels (the last one zero-padded), the packer keeps the
// (input channel c, tap t) pairs where some filter of the block has a
// nonzero weight, each with the 16 filters' weights at (t, c) as one
// vector. A pair costs one vector FMA per output pixel however many of
// its 16 weights are zero, so the layer costs
//   executed_fraction() = kept pairs / (blocks * in_c * kernel_h * kernel_w)
// of a dense convolution.
//
// Why this layout runs near FMA peak where the per-kernel pattern layout
// (f32_conv_patdnn.h) cannot: the output vector runs across filters, so
// one broadcast input value feeds 16 filters, the accumulators of a tile
// of output pixels stay in registers for the whole block, and the output
// is stored NHWC straight from them (no transposes, no padded tiles). The
// input is transposed once per call to a zero-bordered row-channel-column
// layout X[row][c][col], so that the tile's pixels of one (row, c) lie at
// constant distances (stride_w floats) and each broadcast is one load at
// a constant displacement.
//
// Create packs once (weights only); Reshape resolves every pair to an
// offset in X for an input shape; Run transposes the input and runs the
// micro-kernel over (output row, tile of pixels, block), split over rows
// between threads.
//
// Every kernel shape takes the same path with its own taps (a tap (ky, kx)
// reads the input at (ky * dilation_h, kx * dilation_w)). 1x1 convolutions
// (any stride; padding does not matter) run the same micro-kernel straight
// on the NHWC input: a pair is an input channel, its offset the channel,
// the pixel stride stride_w * in_c; nothing is transposed. A row's last, partial tile reads its pixels
// from a small zero-padded copy, so no read passes the input's end.
#ifndef TF_SPARSE_CC_KERNELS_F32_CONV3X3_VTAPS_H_
#define TF_SPARSE_CC_KERNELS_F32_CONV3X3_VTAPS_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "cc/kernels/isa.h"
#include "cc/kernels/f32_conv_reference.h"
#include "cc/util/aligned_buffer.h"
#include "cc/util/thread_pool.h"

namespace tf_sparse {

constexpr int kVtapsBlock = 16;  // Filters per block (one vector of outputs).

// What VT packing of OHWI weights [out][kernel_h][kernel_w][in] would give.
struct VtapsStats {
  int out_channels = 0;
  int in_channels = 0;
  int kernel_h = 3;             // Kernel sides (product <= 64).
  int kernel_w = 3;
  int blocks = 0;               // ceil(out / 16).
  long long weights = 0;        // out * kernel_h * kernel_w * in.
  long long zero_weights = 0;   // Exactly zero (-0.0f counts as zero).
  long long pairs = 0;          // Kept (block, channel, tap) vectors.
  long long zero_blocks = 0;    // (block, channel) with no kept tap.
  int max_block_taps = 0;       // Most taps kept by one (block, channel).
  double sparsity() const {
    return weights > 0 ? static_cast<double>(zero_weights) / weights : 0.0;
  }
  // Vector FMAs executed per output pixel against a dense convolution of
  // the same kernel size.
  double executed_fraction() const {
    return blocks > 0 && in_channels > 0
               ? static_cast<double>(pairs) /
                     (static_cast<double>(kernel_h) * kernel_w * blocks *
                      in_channels)
               : 0.0;
  }
};

// Most taps of a kernel (kernel_h * kernel_w): bits of a 64-bit mask.
constexpr int kVtapsMaxTaps = 64;

// w: OHWI [out_c][kernel_h][kernel_w][in_c] (kernel_h * kernel_w <= 64).
VtapsStats MeasureVtaps(const float* w, int out_c, int in_c, int kernel_h = 3,
                        int kernel_w = 3);

// Micro-kernel contract (implemented by f32_conv3x3_vtaps_generic.inc.h
// per ISA): one output row
// segment of `pixels` pixels (<= tile) of one block.
struct F32VtapsArgs {
  const float* x;          // X at (input row of the output row, channel 0,
                           // column of the first pixel).
  const int32_t* offset;   // Per pair: offset in X (floats) from x.
  const float* weight;     // Per pair: 16 filter weights.
  int num_pairs;           // >= 0.
  int pixels;              // 1 .. tile.
  size_t pixel_stride;     // Floats between consecutive pixels in X
                           // (stride_w).
  const float* bias;       // 16 values.
  float output_min;
  float output_max;
  float* y;                // Output of the first pixel, block's channel 0.
  size_t y_stride;         // Floats between consecutive output pixels.
  int channels;            // Filters of the block to store (1 .. 16).
};
using F32VtapsFn = void (*)(const F32VtapsArgs& args);
struct F32VtapsUkernel {
  const char* name;
  Isa isa;
  int tile;  // Pixels per call at most.
  // The kernel for a pixel stride (stride 1 and 2 have compile-time
  // displacements, others run-time).
  F32VtapsFn (*select)(int pixel_stride);
};
const F32VtapsUkernel& F32VtapsUkernelScalar();
const F32VtapsUkernel& F32VtapsUkernelAvx2();    // x86-64 builds only.
const F32VtapsUkernel& F32VtapsUkernelAvx512();  // x86-64 builds only.
const F32VtapsUkernel& F32VtapsUkernelNeon();    // aarch64 builds only.
// The VT kernel for `isa` (isa.h's rule: scalar when none; SVE uses
// NEON's).
const F32VtapsUkernel& F32VtapsUkernelFor(Isa isa);

class F32Conv3x3Vtaps {
 public:
  struct Params {
    int kernel_h = 3;  // Kernel sides >= 1, product <= kVtapsMaxTaps.
    int kernel_w = 3;
    int dilation_h = 1;  // >= 1: tap (ky, kx) reads input offset
    int dilation_w = 1;  // (ky * dilation_h, kx * dilation_w).
    int stride_h = 1;
    int stride_w = 1;
    ConvPadding padding = ConvPadding::kSame;
    float output_min = -std::numeric_limits<float>::infinity();
    float output_max = std::numeric_limits<float>::infinity();
  };

  // w: OHWI [out_c][kernel_h][kernel_w][in_c]; bias: out_c values or
  // null. Any weights pack; null with *error only for bad arguments. Uses
  // ActiveIsa() unless `isa` is given.
  static std::unique_ptr<F32Conv3x3Vtaps> Create(const float* w, int out_c,
                                                 int in_c, const float* bias,
                                                 const Params& params,
                                                 std::string* error);
  static std::unique_ptr<F32Conv3x3Vtaps> Create(const float* w, int out_c,
                                                 int in_c, const float* bias,
                                                 const Params& params, Isa isa,
                                                 std::string* error);

  // Sizes the scratch for NHWC input [batch, in_h, in_w, in_c] and returns
  // the output size; false (with *error) when no output fits.
  bool Reshape(int batch, int in_h, int in_w, int* out_h, int* out_w,
               std::string* error);

  // x: [batch, in_h, in_w, in_c], y: [batch, out_h, out_w, out_c] of the
  // last Reshape. pool may be null.
  void Run(const float* x, float* y, ThreadPool* pool);

  const VtapsStats& stats() const { return stats_; }
  const char* kernel_name() const { return ukernel_->name; }
  const ConvShape& shape() const { return shape_; }
  // Bytes of the packed pairs (weights and offsets) and the bias.
  int64_t PackedBytes() const;

 private:
  F32Conv3x3Vtaps() = default;
  void Transpose(const float* x, int row_begin, int row_end);
  void ComputeRows(const float* X, float* y, int row_begin, int row_end) const;
  // 1x1: the micro-kernel on the NHWC input itself; `tail`: this thread's
  // buffer for a row's partial last tile.
  void ComputeRowsPointwise(const float* x, float* y, int row_begin,
                            int row_end, float* tail) const;

  VtapsStats stats_;
  Params params_;
  const F32VtapsUkernel* ukernel_ = nullptr;
  F32VtapsFn fn_ = nullptr;
  int out_c_ = 0, in_c_ = 0, blocks_ = 0;
  // Pairs of block b: [pair_ptr_[b], pair_ptr_[b + 1]), each a tap
  // (ky * kernel_w + kx) and channel, with 16 weights.
  std::vector<int32_t> pair_ptr_;
  std::vector<uint8_t> pair_tap_;
  std::vector<int32_t> pair_channel_;
  AlignedBuffer<float> pair_weight_;
  AlignedBuffer<float> bias_;  // blocks * 16, zero-padded.
  // Per shape.
  ConvShape shape_;
  bool reshaped_ = false;
  int rows_ = 0, cols_ = 0;  // X: rows_ x in_c x cols_ floats.
  std::vector<int32_t> pair_offset_;
  AlignedBuffer<float> planar_;
  std::vector<AlignedBuffer<float>> tails_;  // 1x1: per thread.
};

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_CONV3X3_VTAPS_H_
