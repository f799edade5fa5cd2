// Micro-kernels of the tap-sparse 3x3 depthwise convolution (NHWC, float32,
// depth multiplier 1; the operator is f32_dwconv3x3_sparse.h).
//
// Channels are vectorised: the packed weights (docs/formats.md, "Depthwise
// 3x3 channel-vector taps (DWT)") cut the C channels into groups of `lanes`
// consecutive channels (the last group may be partial) and keep, per
// group, only the taps that some channel of the group uses (the union of
// their 3x3 supports). A group whose channels are all pruned has no taps:
// its outputs are the clamped bias.
//
// One call computes one output row for the groups [group_begin,
// group_end): `left` border pixels, then `pixels` interior pixels, then
// `right` border pixels, stored from `out` on. The 9 input pointers of the
// first interior pixel are in[t] for tap t = 3 * dy + dx (the input pixel
// at channel 0, or a zero buffer where the tap's row is in the padding);
// interior pixel p reads in[t] + p * in_step. Border pixel i (the left ones
// first) reads border_in[9 * i + t], a zero buffer where the tap falls in
// the padding. The row runs in tiles of P pixels (P per ISA), all groups
// of a tile before the next tile, so that loads and stores walk the NHWC
// tensors near-contiguously; per (tile, group) an unrolled, branch-free
// loop over the group's tap list (one instantiation per tap count 0..9)
// loads each weight vector once for the P pixels' accumulators.
// Partial groups use masked (AVX-512, AVX2) or staged (NEON) loads
// and stores so that nothing outside the C channels is read or written.
// Kernels check nothing; the operator guarantees every read stays inside
// the input or the zero buffer.
//
// Names: f32_dwconv3x3_taps_<lanes>__<isa>.
#ifndef TF_SPARSE_CC_KERNELS_F32_DWCONV3X3_UKERNEL_H_
#define TF_SPARSE_CC_KERNELS_F32_DWCONV3X3_UKERNEL_H_

#include <cstddef>
#include <cstdint>

#include "cc/kernels/f32_bsr_ukernel.h"  // Isa.

namespace tf_sparse {

// One group of `lanes` channels (fewer in the last group).
struct F32DwGroup {
  int32_t c0;         // First channel.
  int32_t channels;   // 1..lanes.
  int32_t tap_begin;  // Its taps: tap[tap_begin .. tap_begin + num_taps).
  int32_t num_taps;   // 0..9.
};

struct F32DwConv3x3Args {
  const float* in[9];   // Per tap (3 * dy + dx): input of the first
                        // interior pixel, channel 0.
  size_t in_step;       // Floats between consecutive pixels' inputs.
  const float* const* border_in;  // 9 per border pixel (left, then right).
  float* out;           // Output of the row's first pixel, channel 0.
  size_t out_step;      // Floats between consecutive output pixels (C).
  int left;             // Border pixels before the interior (>= 0).
  int pixels;           // Interior pixels (>= 0).
  int right;            // Border pixels after the interior (>= 0).
  const F32DwGroup* groups;
  int group_begin;
  int group_end;
  const uint8_t* tap;    // Tap ids 0..8 of all groups.
  const float* weight;   // `lanes` floats per entry of `tap` (zero lanes
                         // where a channel does not use the tap).
  const float* bias;     // `lanes` floats per group.
  float lo;
  float hi;
};

using F32DwConv3x3Fn = void (*)(const F32DwConv3x3Args& args);

struct F32DwConv3x3Ukernel {
  const char* name;
  Isa isa;
  int lanes;  // Channels per group.
  F32DwConv3x3Fn run;
};

// One per instruction set, each in its own translation unit compiled for
// it (the x86 ones in x86-64 builds only, NEON's in aarch64 builds only).
// Only use one whose ISA the CPU supports.
const F32DwConv3x3Ukernel& F32DwConv3x3UkernelScalar();
const F32DwConv3x3Ukernel& F32DwConv3x3UkernelAvx2();
const F32DwConv3x3Ukernel& F32DwConv3x3UkernelAvx512();
const F32DwConv3x3Ukernel& F32DwConv3x3UkernelNeon();

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_DWCONV3X3_UKERNEL_H_
