// 3x3 CONV_2D on pattern-sparse weights (PatDNN FKW, cc/formats/patdnn.h),
// float32, NHWC in and out, any stride, SAME or VALID padding, dilation 1.
//
// Create packs the weights once and picks the micro-kernel for the CPU
// (ActiveIsa, or the ISA given). Reshape sizes the scratch for an input
// shape and resolves every kernel's taps to offsets in X, ordered by block
// of input channels, then filter. Run, per batch item:
//  1. transposes the input into the zero-bordered channel-planar,
//     stride-phase-split layout with shifted copies of
//     f32_conv_patdnn_ukernel.h (split over input rows between threads;
//     border entries are never written, so they stay zero from Reshape on);
//  2. for each band of output rows (one tile row), each block of input
//     channels (as many as keep the band's slice of X in L1) and each
//     filter: one micro-kernel call that runs the filter's kernels of the
//     block over the band's tiles, the accumulators in registers (and
//     between blocks in the band's accumulator buffer);
//  3. adds the bias, clamps and writes the band to the NHWC output, 16
//     channels at a time (contiguous stores).
// Threads take bands when there are at least two per thread, else
// interleaved filters (FKW sorts filters by kernel count, so interleaving
// balances the work).
// Costs per item: the transpose touches in_h * in_w * in_c values (three
// stores each at stride 1); the kernels do 4 FMAs per kept kernel per
// output of the padded output grid (out_h, out_w rounded up to the tile),
// each FMA with one load from X, aligned at stride 1, from L1 mostly.
#ifndef TF_SPARSE_CC_KERNELS_F32_CONV_PATDNN_H_
#define TF_SPARSE_CC_KERNELS_F32_CONV_PATDNN_H_

#include <atomic>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "cc/formats/patdnn.h"
#include "cc/kernels/f32_conv_patdnn_ukernel.h"
#include "cc/kernels/f32_conv_reference.h"
#include "cc/util/aligned_buffer.h"
#include "cc/util/thread_pool.h"

namespace tf_sparse {

// The pattern micro-kernel for an instruction set (isa.h's rule: scalar
// when the ISA has none; SVE uses NEON's).
const F32PatdnnUkernel& F32PatdnnUkernelFor(Isa isa);

class F32PatdnnConv2D {
 public:
  struct Params {
    int stride_h = 1;
    int stride_w = 1;
    ConvPadding padding = ConvPadding::kSame;
    float output_min = -std::numeric_limits<float>::infinity();
    float output_max = std::numeric_limits<float>::infinity();
  };

  // w: OHWI [out_c][3][3][in_c]; bias: out_c values or null. Returns null
  // with *error set when the weights are not pattern-structured or an
  // argument is out of range. Uses ActiveIsa() unless `isa` is given.
  static std::unique_ptr<F32PatdnnConv2D> Create(const float* w, int out_c,
                                                 int in_c, const float* bias,
                                                 const Params& params,
                                                 std::string* error);
  static std::unique_ptr<F32PatdnnConv2D> Create(const float* w, int out_c,
                                                 int in_c, const float* bias,
                                                 const Params& params, Isa isa,
                                                 std::string* error);

  // Sizes the scratch for NHWC input [batch, in_h, in_w, in_c] and returns
  // the output size. False (with *error) when no output fits.
  bool Reshape(int batch, int in_h, int in_w, int* out_h, int* out_w,
               std::string* error);

  // x: [batch, in_h, in_w, in_c], y: [batch, out_h, out_w, out_c] of the
  // last Reshape. pool may be null.
  void Run(const float* x, float* y, ThreadPool* pool);

  const PatdnnWeights& weights() const { return packed_; }
  const PatternStats& stats() const { return stats_; }
  const char* kernel_name() const { return ukernel_->name; }
  int64_t PackedBytes() const { return packed_.PackedBytes(); }
  const ConvShape& shape() const { return shape_; }

 private:
  F32PatdnnConv2D() = default;
  void Transpose(const float* x, int row_begin, int row_end);
  // Orders each filter's kernels by block of input channels and resolves
  // their taps to offsets in X.
  void BuildPlan();
  // Accumulates band `band` of reordered filters f_begin, f_begin + f_step,
  // ... into acc (FilterFloats() per reordered filter).
  void ComputeBand(int band, int f_begin, int f_step, float* acc);
  // Bias, clamp and NHWC store of rows [row_begin, row_end) of the band.
  void WriteBand(int band, const float* acc, int row_begin, int row_end,
                 float* y) const;
  // A free accumulator slot among the first `slots` (spins until one is).
  int AcquireSlot(int slots);
  size_t FilterFloats() const {
    return static_cast<size_t>(band_rows_) * col_tiles_ * tile_rows_ *
           tile_cols_;
  }

  PatdnnWeights packed_;
  PatternStats stats_;
  std::vector<float> bias_;
  std::vector<int32_t> rank_;  // Reordered position of each output channel.
  F32PatdnnFilterFn filter_fn_ = nullptr;
  const F32PatdnnUkernel* ukernel_ = nullptr;
  Params params_;

  ConvShape shape_;
  bool reshaped_ = false;
  int tile_rows_ = 0, tile_cols_ = 0;
  int row_tiles_ = 0, col_tiles_ = 0;
  int band_rows_ = 1, bands_ = 0;  // Tile rows per band, bands.
  int planes_rows_ = 0;  // A: rows of a phase plane.
  size_t row_floats_ = 0;  // B.
  int copies_ = 1;         // S.
  size_t row_stride_ = 0, phase_stride_ = 0, channel_stride_ = 0;
  AlignedBuffer<float> planar_;
  // Per thread: one band's tiles of every filter.
  std::vector<AlignedBuffer<float>> acc_;
  static constexpr int kMaxThreads = 64;
  std::atomic<bool> slot_busy_[kMaxThreads] = {};
  // Execution plan, per shape: the kernels of reordered filter f with input
  // channels in block blk are entries plan_offset_[blk * out_c + f] ..
  // plan_offset_[blk * out_c + f + 1] of tap_ (4 offsets in X each) and
  // tap_weight_ (4 values each).
  // Floats of X that a band's tiles read per block of channels: 48 KiB,
  // the size of a Zen 5 L1 (the accumulators of the tile in flight and the
  // weights then contend with X; measured best among 24..256 KiB on
  // 56x56x64 and 28x28x128 layers).
  static constexpr size_t kL1Floats = 12 * 1024;
  int block_channels_ = 1, num_blocks_ = 1;
  std::vector<int32_t> tap_;
  std::vector<float> tap_weight_;
  std::vector<int32_t> plan_offset_;
  // The first block with kernels of each reordered filter (num_blocks_ if
  // none): its call starts the accumulators from zero.
  std::vector<int32_t> first_block_;
};

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_CONV_PATDNN_H_
