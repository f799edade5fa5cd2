// CONV_2D (and FULLY_CONNECTED with many rows) on fine-grained sparse
// weights, vectorised over OUTPUT PIXELS (PV), float32, NHWC in and out.
//
// Why pixels: the filter-vector kernels (f32_conv3x3_vtaps.h, BSR) pay one
// vector FMA per kept (block of 16 filters, channel, tap), so they only run
// fast when 16 filters share their zeros. Unstructured, 1x4-along-channels,
// N:M and per-kernel pattern pruning do not; here each nonzero weight is
// one broadcast scalar multiplied by a vector of output pixels, so every
// FMA lane is useful whatever the sparsity structure.
//
// Weights (Create): per output channel the list of its nonzeros (input
// channel c, tap t = ky * kernel_w + kx, value), channel-major (c, then t),
// i.e. CSR by output channel. All-zero filters give bias-only outputs.
//
// Layout (Run, per batch item): the NHWC input is transposed once into a
// zero-bordered channel-planar buffer X split by stride phase:
//
//   X[c][ph][a][b],  ph = index of (py, px) among the phases some tap
//                    reads (py < stride_h, px < stride_w),
//   X[c][ph][a][b] = input[a * stride_h + py - pad_top]
//                         [b * stride_w + px - pad_left][c]  (0 outside),
//   a < Hq = out_h + ((kernel_h - 1) * dilation_h) / stride_h,
//   b < Wq = out_w + ((kernel_w - 1) * dilation_w) / stride_w.
//
// Output pixel (oy, ox) has the flat index o = oy * Wq + ox, and tap
// (ky, kx) of channel c reads X at o plus a constant offset
//   c * channel_stride + ph(ky, kx) * phase_stride
//     + (ky * dilation_h / stride_h) * Wq + kx * dilation_w / stride_w,
// ph(ky, kx) = ((ky * dilation_h) % stride_h, (kx * dilation_w) % stride_w):
// one unit-stride vector load per nonzero at every stride and dilation.
// Planes are 64-byte aligned, Wq is rounded up to 16 when that costs at
// most 1/8, and with Wq a multiple of 16 and taps 1-2 columns right each
// plane is kept in shifted copies (copies_) so that every load is aligned,
// while X with its copies fits in half of L2 (AVX2; AVX-512 at stride 2);
// at stride 1 on AVX-512 instead, each tile's views of each block of
// channels are copied to an aligned per-thread buffer (local_). 1x1 stride 1 skips the
// whole-input transpose: each work item transposes its tile's pixels just
// before computing it (tile_x_). A
// tile is T consecutive flat positions across rows; positions with
// ox >= out_w are junk (computed, never stored): 7x7 outputs at 3x3 use
// 49 of 63 flat positions, where 2-D tiles waste more. Borders are zeroed at
// Reshape and never written by Run; X ends with a tile of zeros so that
// the last tile never reads past it.
//
// Compute: for each tile, each block of input channels whose slice of X
// stays in L1 (partial sums carried in a per-thread buffer between
// blocks), and each group of `group` output channels (the
// ISA's lanes: 16 AVX-512, 8 AVX2, 4 NEON, 1 scalar), the micro-kernel
// accumulates each channel's nonzeros over the tile in registers (two
// accumulator chains, even and odd nonzeros, so the FMA latency is
// hidden), adds the bias, clamps, and writes the group to an L1 buffer
// [group][T]; in-register group x group transposes then store the valid
// pixels NHWC as contiguous runs of the group's channels. The output is
// written once, no full-size transposed copy.
//
// Threads: the transpose by input rows, then work items (a tile and its
// groups, or a share of its groups when tiles are fewer than 2 per
// thread) in tile-major order, in contiguous chunks.
//
// Speed (cc/bench/f32_conv_pixvec_bench.cc, AVX-512 Xeon, 1 thread): the
// micro-kernel runs about one 64-byte load a cycle, i.e. near 1.15 cycles
// a vector FMA (25-35% of the FMA ports' peak) on 3x3 patterns and 1x1 at
// 90% sparsity, the inputs and outputs about 0.5-0.7 cycles a value; see
// EstimatePixvecCycles.
#ifndef TF_SPARSE_CC_KERNELS_F32_CONV_PIXVEC_H_
#define TF_SPARSE_CC_KERNELS_F32_CONV_PIXVEC_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "cc/kernels/f32_bsr_ukernel.h"  // Isa.
#include "cc/kernels/f32_conv_reference.h"
#include "cc/util/aligned_buffer.h"
#include "cc/util/thread_pool.h"

namespace tf_sparse {

// What PV packing of OHWI weights gives.
struct PixvecStats {
  int out_channels = 0;
  int in_channels = 0;
  int kernel_h = 1;
  int kernel_w = 1;
  long long weights = 0;    // out * kernel_h * kernel_w * in.
  long long nonzeros = 0;   // Stored weights (neither +0.0f nor -0.0f).
  int empty_filters = 0;    // Output channels without a nonzero.
  int max_filter_nonzeros = 0;
  std::vector<long long> tap_nonzeros;  // Per tap ky * kernel_w + kx.
  double sparsity() const {
    return weights > 0 ? 1.0 - static_cast<double>(nonzeros) / weights : 0.0;
  }
};

// w: OHWI [out_c][kernel_h][kernel_w][in_c].
PixvecStats MeasurePixvec(const float* w, int out_c, int in_c, int kernel_h,
                          int kernel_w);

// Micro-kernel contract: one tile of `tile` flat output positions starting
// at flat index o0, for `channels` (1..group) output channels, over the
// nonzeros of one block of input channels. The sum over blocks is carried
// in acc ([channels][tile] floats): the first block starts from the bias,
// the others from acc; every block but the last stores its sum to acc,
// the last adds, clamps and stores the valid positions NHWC to y.
struct F32PixvecTileArgs {
  const float* x;          // X + o0.
  const int32_t* nz;       // channels + 1 entries: channel j's nonzeros are
                           // [nz[j], nz[j + 1]) of offset / weight.
  const int32_t* offset;   // Per nonzero: floats from x.
  const float* weight;     // Per nonzero.
  const float* bias;       // `channels` values.
  int channels;            // 1 .. group.
  float output_min;
  float output_max;
  int o0;                  // Flat index of the tile's first position.
  int positions;           // Positions of the tile that are output rows
                           // (1 .. tile): o0 + positions <= out_h * Wq.
  int row_floats;          // Wq.
  int out_w;
  float* y;                // Output of the item at the group's channel 0.
  size_t out_c;            // Floats between output pixels.
  float* acc;              // Partial sums; unused when first and last.
  int first;               // Nonzero: start from the bias.
  int last;                // Nonzero: clamp and store to y.
  int prefetch_output;     // Nonzero: the output is far larger than L2;
                           // with no junk positions, the last block asks
                           // for the tile's output lines before its sums.
};
using F32PixvecTileFn = void (*)(const F32PixvecTileArgs& args);

// Input transpose of `pixels` (1 .. group) pixels x `group` channels:
// dst[c * dst_stride + k * copy_step + p] = src[p * src_stride + c] for
// p < pixels and k < copies (only those pixels are read and written).
using F32PixvecPackFn = void (*)(const float* src, size_t src_stride,
                                 int pixels, float* dst, size_t dst_stride,
                                 int copies, ptrdiff_t copy_step);

// Tile-local views (F32ConvPixvec::local_): for c < channels and
// v < views, dst[(c * views + v) * floats + f] = src[c * channel_stride +
// view[v] + f], f < floats (a multiple of 16). dst is 64-byte aligned.
using F32PixvecGatherFn = void (*)(const float* src, size_t channel_stride,
                                   const int32_t* view, int views,
                                   int floats, int channels, float* dst);

struct F32PixvecUkernel {
  const char* name;
  Isa isa;
  int tile;   // Flat positions per call (T).
  int group;  // Output channels per call, pixels x channels per pack.
  F32PixvecTileFn tile_fn;
  F32PixvecPackFn pack_fn;
  F32PixvecGatherFn gather_fn;
};
const F32PixvecUkernel& F32PixvecUkernelScalar();
const F32PixvecUkernel& F32PixvecUkernelAvx2();    // x86-64 builds only.
const F32PixvecUkernel& F32PixvecUkernelAvx512();  // x86-64 builds only.
const F32PixvecUkernel& F32PixvecUkernelNeon();    // aarch64 builds only.
// The one place that maps ISAs to PV kernels (scalar when none; SVE uses
// NEON's).
const F32PixvecUkernel& F32PixvecUkernelFor(Isa isa);

// Cost model, in cycles of one thread, for the delegate's choice. Terms:
// vector FMAs (nonzeros * tiles * T / lanes: each one load + one FMA),
// those of them whose load is not 64-byte aligned (it splits across two
// cache lines: taps at a column or row offset that is not a multiple of
// 16 floats), input values transposed (times the shifted copies), output
// values stored (through the
// group transposes), micro-kernel calls (tiles * groups * channel
// blocks), and floats copied into tile-local views (local_).
// Fitted on an AVX-512 Xeon; see f32_conv_pixvec.cc for the fit and its
// quality.
struct PixvecCostTerms {
  double vector_fmas = 0;
  double split_loads = 0;
  double inputs = 0;
  double outputs = 0;
  double calls = 0;
  double gathered = 0;  // Floats copied into tile-local views (local_).
};
PixvecCostTerms PixvecTerms(const PixvecStats& stats, const ConvShape& shape,
                            Isa isa);
struct PixvecCostModel {
  double per_vector_fma;
  double per_split_load;
  double per_input_value;
  double per_output_value;
  double per_call;
  double per_gathered = 0;
};
PixvecCostModel PixvecCostModelFor(Isa isa);
// Estimated cycles of one batch item of a PV convolution.
double EstimatePixvecCycles(const PixvecStats& stats, const ConvShape& shape,
                            Isa isa);

class F32ConvPixvec {
 public:
  struct Params {
    int kernel_h = 1;  // Sides >= 1, product <= kPixvecMaxTaps.
    int kernel_w = 1;
    int stride_h = 1;
    int stride_w = 1;
    int dilation_h = 1;  // Tap (ky, kx) reads input (ky * dilation_h,
    int dilation_w = 1;  // kx * dilation_w) from the window's corner.
    ConvPadding padding = ConvPadding::kSame;
    float output_min = -std::numeric_limits<float>::infinity();
    float output_max = std::numeric_limits<float>::infinity();
  };
  static constexpr int kMaxTaps = 1024;
  // Floats of X per channel block and tile: half of a 48 KiB L1, the rest
  // for the accumulators, the output transposes and the weights; 1x1
  // filters all of it: they have a few nonzeros per (output channel,
  // block), so each block's round trip of the accumulators costs more than
  // the misses of a larger block (measured on the benchmark's layers:
  // 3x3 best at 6 Ki floats among 3, 6, 12 Ki; 1x1 at 12 Ki, 15-35% faster
  // than 6 Ki on 14x14x1024 and 7x7x512).
  static constexpr long long kL1Floats = 6 * 1024;
  // Outputs of one batch item above this many bytes are prefetched for
  // writing by the micro-kernel (F32PixvecTileArgs::prefetch_output):
  // 1x1 56x56x64->256 (3.2 MB) is bound by the reads for ownership of its
  // output lines; 3% faster with it, its zero-weight run 20%. Smaller
  // outputs lost 1-2%. Non-temporal stores instead were 10-30% slower.
  static constexpr long long kPrefetchOutputBytes = 2 << 20;
  static constexpr long long L1Floats(int taps) {
    return taps == 1 ? 2 * kL1Floats : kL1Floats;
  }
  // Floats of a slot's tile-local views per channel block (local_):
  // measured on the benchmark's 3x3 stride-1 layers among 4, 6, 9 and
  // 12 Ki: 9 Ki best or within noise of the best on 56x56x64, 28x28x128
  // and 7x7x512 (12 Ki: the views alone fill the 48 KiB L1).
  static constexpr long long kLocalFloats = 9 * 1024;

  // w: OHWI [out_c][kernel_h][kernel_w][in_c]; bias: out_c values or null.
  // Any weights pack; null with *error only for bad arguments. Uses
  // ActiveIsa() unless `isa` is given.
  static std::unique_ptr<F32ConvPixvec> Create(const float* w, int out_c,
                                               int in_c, const float* bias,
                                               const Params& params,
                                               std::string* error);
  static std::unique_ptr<F32ConvPixvec> Create(const float* w, int out_c,
                                               int in_c, const float* bias,
                                               const Params& params, Isa isa,
                                               std::string* error);

  // Sizes the scratch for NHWC input [batch, in_h, in_w, in_c] and returns
  // the output size; false (with *error) for negative sizes or when no
  // output fits.
  bool Reshape(int batch, int in_h, int in_w, int* out_h, int* out_w,
               std::string* error);

  // x: [batch, in_h, in_w, in_c], y: [batch, out_h, out_w, out_c] of the
  // last Reshape. pool may be null.
  void Run(const float* x, float* y, ThreadPool* pool);

  const PixvecStats& stats() const { return stats_; }
  const char* kernel_name() const { return ukernel_->name; }
  const ConvShape& shape() const { return shape_; }
  // Bytes of the packed nonzeros (offsets, weights, channel pointers) and
  // the bias.
  int64_t PackedBytes() const;

 private:
  F32ConvPixvec() = default;
  void Transpose(const float* x, int row_begin, int row_end);
  // n pixels src + j * src_stride (j < n), all channels, to dst + c *
  // channel_stride_ + j.
  void PackRows(const float* src, size_t src_stride, int n, float* dst) const;
  // Work items [begin, end): item i is tile i / splits_ and its groups
  // (i % splits_) * split_groups_ .. + split_groups_; acc: the partial sums
  // of one item's groups.
  // tile_x: pointwise, the item's tile of X ([in_c][tile]); local
  // views, one channel block's views ([block_channels][views][tile]).
  void Compute(const float* x, float* y, int begin, int end, float* acc,
               float* tile_x) const;
  // A free accumulator slot among the first `slots` (spins until one is).
  int AcquireSlot(int slots);

  PixvecStats stats_;
  Params params_;
  const F32PixvecUkernel* ukernel_ = nullptr;
  int out_c_ = 0, in_c_ = 0;
  // Nonzeros of output channel n: [nz_ptr_[n], nz_ptr_[n + 1]).
  std::vector<int32_t> nz_ptr_;
  std::vector<int32_t> nz_channel_;
  std::vector<int16_t> nz_tap_;
  std::vector<float> nz_weight_;
  std::vector<float> bias_;
  // Per shape.
  ConvShape shape_;
  bool reshaped_ = false;
  // 1x1 at stride 1: no planar copy of the whole input; each work item
  // transposes its tile's pixels into tile_x_ (from L2, read once).
  bool pointwise_ = false;
  int hq_ = 0, wq_ = 0;
  int phases_ = 0;
  // Tile-local views (AVX-512, when the planes have no shifted copies):
  // before each (tile, channel block), every distinct tap displacement
  // view_[v] (phase, rows and columns down and right) of each channel's
  // tile is copied to the slot's buffer ([channel][view][T]), so that
  // every load of the micro-kernel is 64-byte aligned. Its loads are
  // what bounds it, and one that splits across two cache lines takes two
  // load slots: with rows of 32 or 64 floats two thirds of a 3x3 kernel's
  // taps split, which costs more than copying T floats per (tile,
  // channel, view) from L2.
  bool local_ = false;
  std::vector<int32_t> view_;
  int view_floats_ = 0;  // T, or T plus the taps' reach of rows when rows
                         // are a multiple of 16 floats (then views differ
                         // only by phase and columns).
  // With local views the block budget is kLocalFloats (see
  // f32_conv_pixvec.cc for its measurement).
  // Shifted copies of each phase plane (1 or kernel columns' reach + 1):
  // copy k holds the plane shifted by k floats, so that a tap k columns
  // right reads copy k at the aligned position instead of a load that
  // splits across two cache lines. Copy k of plane position f sits at
  // k * (plane_stride_ - 1) floats after copy 0 of position f + k.
  int copies_ = 1;
  size_t plane_stride_ = 0;
  std::vector<int> phase_index_;  // [py * stride_w + px]: index or -1.
  size_t phase_stride_ = 0, channel_stride_ = 0;
  int flat_ = 0;  // out_h * Wq.
  int tiles_ = 0, groups_ = 0;
  int splits_ = 1, split_groups_ = 0;  // Of the groups, per work item.
  // Blocks of input channels whose slice of X for one tile stays in L1
  // while every output channel of the tile runs over it.
  int block_channels_ = 1, num_blocks_ = 1;
  // Execution plan, per shape: the nonzeros of output channel n in block
  // blk are [plan_ptr_[blk * out_c + n], plan_ptr_[blk * out_c + n + 1])
  // of plan_offset_ (floats in X from the tile's start) and plan_weight_.
  std::vector<int32_t> plan_ptr_;
  std::vector<int32_t> plan_offset_;
  std::vector<float> plan_weight_;
  AlignedBuffer<float> planar_;
  static constexpr int kMaxThreads = 64;
  std::vector<AlignedBuffer<float>> acc_;     // Per slot.
  std::vector<AlignedBuffer<float>> tile_x_;  // Per slot, pointwise or
                                              // local views.
  std::atomic<bool> slot_busy_[kMaxThreads] = {};
};

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_CONV_PIXVEC_H_
