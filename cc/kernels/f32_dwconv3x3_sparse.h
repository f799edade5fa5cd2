// 3x3 DEPTHWISE_CONV_2D (depth multiplier 1) on tap-sparse weights,
// float32, NHWC in and out, any stride, SAME or VALID padding, dilation 1.
//
// Depthwise weights are TFLite's [1][3][3][C]: one 3x3 kernel per channel.
// A pattern-pruned layer keeps at most a few taps of each kernel (PatDNN
// patterns: 4 of 9) and removes whole kernels (connectivity/channel
// pruning). The layer does little arithmetic per byte, so the kernels stay
// in NHWC and vectorise over channels like XNNPACK's dense ones; the
// sparsity pays where a vector of channels can skip a tap:
//
//  - Packing (once, at Create, for the ISA's vector width `lanes`) cuts the
//    channels into groups of `lanes` consecutive channels and keeps per
//    group the union of its channels' nonzero taps, with the weights of
//    each kept tap as a vector (zero in lanes whose channel lacks the tap).
//    A group of pruned channels keeps no tap: it only writes its bias. See
//    docs/formats.md, "Depthwise 3x3 channel-vector taps (DWT)".
//  - Channels are not permuted to make groups share a pattern: the input
//    is NHWC in the original channel order, so a permuted group would load
//    its inputs with gathers (16 scalar loads for one AVX-512 vector) where
//    an unpermuted group does one load per tap. Patterns pay when
//    neighbouring channels share them (a library of one or two patterns, or
//    patterns chosen per group of channels), and pruned channels pay when
//    they fill whole groups.
//  - Run walks output rows (split between threads); per row the 9 input
//    pointers of the first interior pixel advance by stride * C per pixel,
//    and the border pixels (SAME padding) take a zero buffer for the taps
//    that fall outside the input, so the kernels never branch on position.
//
// Costs per item: per output pixel and group, one vector FMA and one load
// per kept tap of the group plus one store; no transposes, no scratch
// besides the zero buffer (in_w * C floats).
#ifndef TF_SPARSE_CC_KERNELS_F32_DWCONV3X3_SPARSE_H_
#define TF_SPARSE_CC_KERNELS_F32_DWCONV3X3_SPARSE_H_

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "cc/kernels/f32_conv_reference.h"
#include "cc/kernels/f32_dwconv3x3_ukernel.h"
#include "cc/util/aligned_buffer.h"
#include "cc/util/thread_pool.h"

namespace tf_sparse {

// The depthwise micro-kernel for an instruction set (isa.h's rule: scalar
// when the ISA has none; SVE uses NEON's).
const F32DwConv3x3Ukernel& F32DwConv3x3UkernelFor(Isa isa);

// What depthwise weights [3][3][C] look like, and what packing them for a
// vector of `lanes` channels keeps.
struct DwTapStats {
  int channels = 0;
  int lanes = 1;
  long long weights = 0;       // 9 * C.
  long long zero_weights = 0;  // Exactly zero (-0.0f counts as zero).
  int zero_channels = 0;       // Channels whose 9 taps are all zero.
  int max_channel_taps = 0;    // Largest tap count of one channel (0..9).
  int groups = 0;              // ceil(C / lanes).
  long long group_taps = 0;    // Sum over groups of the kept (union) taps.
  double sparsity() const {
    return weights > 0 ? static_cast<double>(zero_weights) / weights : 0.0;
  }
  // Vector FMAs per pixel over those of the dense kernel (9 per group).
  double executed_tap_fraction() const {
    return groups > 0 ? static_cast<double>(group_taps) / (9.0 * groups)
                      : 0.0;
  }
};

// The packed weights (docs/formats.md, DWT).
struct DwTapsWeights {
  int channels = 0;
  int lanes = 1;
  std::vector<F32DwGroup> groups;  // ceil(C / lanes), by first channel.
  std::vector<uint8_t> tap;        // Kept taps (3 * dy + dx) of each group,
                                   // ascending; group g's are
                                   // [groups[g].tap_begin, + num_taps).
  std::vector<float> weight;       // lanes floats per entry of tap: lane j
                                   // is channel c0 + j's weight (0 past C).
  std::vector<float> bias;         // lanes floats per group (0 past C).
};

// Measures weights [3][3][C] (tap-major, channel fastest: TFLite's
// [1][3][3][C] filter) for vectors of `lanes` channels.
DwTapStats MeasureDwTaps(const float* w, int channels, int lanes);

// Packs weights [3][3][C] and bias (C values or null: zero) for vectors of
// `lanes` (>= 1) channels.
void PackDwTaps(const float* w, const float* bias, int channels, int lanes,
                DwTapsWeights* packed);

// Writes the dense [3][3][C] weights that `packed` encodes.
void UnpackDwTaps(const DwTapsWeights& packed, float* w);

class F32SparseDepthwiseConv3x3 {
 public:
  struct Params {
    int stride_h = 1;
    int stride_w = 1;
    ConvPadding padding = ConvPadding::kSame;
    float output_min = -std::numeric_limits<float>::infinity();
    float output_max = std::numeric_limits<float>::infinity();
  };

  // w: [3][3][C] (TFLite's [1][3][3][C]); bias: C values or null. Any
  // sparsity runs correctly (dense kernels execute all 9 taps); whether it
  // pays is the caller's decision. Returns null with *error set when an
  // argument is out of range. Uses ActiveIsa() unless `isa` is given.
  static std::unique_ptr<F32SparseDepthwiseConv3x3> Create(
      const float* w, int channels, const float* bias, const Params& params,
      std::string* error);
  static std::unique_ptr<F32SparseDepthwiseConv3x3> Create(
      const float* w, int channels, const float* bias, const Params& params,
      Isa isa, std::string* error);

  // Sizes the zero buffer for NHWC input [batch, in_h, in_w, C] and returns
  // the output size. False (with *error) when no output fits.
  bool Reshape(int batch, int in_h, int in_w, int* out_h, int* out_w,
               std::string* error);

  // x: [batch, in_h, in_w, C], y: [batch, out_h, out_w, C] of the last
  // Reshape. pool may be null.
  void Run(const float* x, float* y, ThreadPool* pool);

  const DwTapsWeights& weights() const { return packed_; }
  const DwTapStats& stats() const { return stats_; }
  const char* kernel_name() const { return ukernel_->name; }
  const ConvShape& shape() const { return shape_; }

 private:
  F32SparseDepthwiseConv3x3() = default;
  // Output rows [row_begin, row_end) of all batch items (row r is item
  // r / out_h, row r % out_h).
  void RunRows(const float* x, float* y, size_t row_begin,
               size_t row_end) const;

  DwTapsWeights packed_;
  DwTapStats stats_;
  const F32DwConv3x3Ukernel* ukernel_ = nullptr;
  Params params_;
  ConvShape shape_;
  bool reshaped_ = false;
  // Interior output columns [col_begin_, col_end_): every tap's column is
  // inside the input; the others are border pixels.
  int col_begin_ = 0, col_end_ = 0;
  // Zeros read by taps in the padding: a whole row (in_w * C) plus a
  // vector, so that a padding row can step like an input row.
  AlignedBuffer<float> zeros_;
};

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_DWCONV3X3_SPARSE_H_
