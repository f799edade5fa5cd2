// PatDNN filter-kernel-weight (FKW): the packed format of pattern-pruned 3x3
// convolutions.
//
// A 3x3 convolution's weights are TFLite's CONV_2D filter tensor
// W[out][3][3][in] (OHWI). For one output channel (filter) o and one input
// channel i, the 9 taps W[o][.][.][i] form a "kernel". The layer is
// pattern-structured when every kernel is either all zero (removed by
// connectivity pruning: simply absent) or has at most 4 nonzero taps. Each
// kept kernel is stored as a pattern id plus exactly 4 values; the pattern
// is a 9-bit mask with 4 bits set (bit 3*y + x for tap (y, x)) and the set of
// distinct patterns of the layer is its pattern library.
//
// Why this layout: for one filter, the kernels that share a pattern touch
// the input at the same 4 (dy, dx) offsets, so a kernel compiled for that
// pattern runs over all of them without looking at a single weight's
// position; grouping kernels by pattern (stride) gives branch-free inner
// loops, and sorting filters by their number of kernels (reorder) gives
// threads balanced work. This is PatDNN's filter-kernel reorder (FKR) plus
// its FKW storage.
//
// Fields (docs/formats.md, "PatDNN filter-kernel-weight (FKW)", shared with
// the Python encoder tf_sparse/formats/fkw.py):
//
//   patterns[P]        uint16 9-bit masks, 4 bits set each, distinct.
//   reorder[out]       original output channel of each reordered filter;
//                      filters sorted by kernel count, descending, ties by
//                      channel.
//   offset[out + 1]    the kernels of reordered filter f are entries
//                      [offset[f], offset[f+1]) of index and weight/4.
//   index[nnzk]        input channel of each kernel; inside a filter sorted
//                      by pattern id, then by channel.
//   stride[out*(P+1)]  stride[f*(P+1) + p] = number of the filter's kernels
//                      whose pattern id is below p (0 first, the filter's
//                      count last): pattern p's kernels of filter f are
//                      offset[f] + [stride[f*(P+1)+p], stride[f*(P+1)+p+1]).
//   weight[4*nnzk]     4 values per kernel, in ascending tap order (bit
//                      order) of its pattern; a kernel with fewer than 4
//                      nonzeros stores zeros at the pattern's other taps.
#ifndef TF_SPARSE_CC_FORMATS_PATDNN_H_
#define TF_SPARSE_CC_FORMATS_PATDNN_H_

#include <cstdint>
#include <string>
#include <vector>

namespace tf_sparse {

constexpr int kPatdnnTaps = 4;       // Values stored per kernel.
constexpr int kPatdnnMaxPatterns = 126;  // C(9, 4): every 4-tap mask.

// The (dy, dx) of the 4 taps of a 9-bit pattern mask, in bit order.
struct PatternTaps {
  int dy[kPatdnnTaps];
  int dx[kPatdnnTaps];
};
PatternTaps TapsOf(uint16_t mask);

// What the weights of a 3x3 layer look like, before any packing.
struct PatternStats {
  int out_channels = 0;
  int in_channels = 0;
  long long weights = 0;          // out * 9 * in.
  long long zero_weights = 0;     // Exactly zero (-0.0f counts as zero).
  long long kernels = 0;          // out * in.
  long long nonzero_kernels = 0;  // Kernels with a nonzero tap (nnzk).
  int max_kernel_nonzeros = 0;    // Largest tap count of one kernel (0..9).
  int num_patterns = 0;           // Library size after packing (P).
  // True when every kernel has at most 4 nonzero taps.
  bool pattern_structured() const { return max_kernel_nonzeros <= 4; }
  double sparsity() const {
    return weights > 0 ? static_cast<double>(zero_weights) / weights : 0.0;
  }
  double kernel_density() const {
    return kernels > 0 ? static_cast<double>(nonzero_kernels) / kernels : 0.0;
  }
};

struct PatdnnWeights {
  int out_channels = 0;
  int in_channels = 0;
  std::vector<uint16_t> patterns;
  std::vector<int32_t> reorder;
  std::vector<int32_t> offset;
  std::vector<int32_t> index;
  std::vector<int32_t> stride;
  std::vector<float> weight;

  int num_patterns() const { return static_cast<int>(patterns.size()); }
  int64_t num_kernels() const { return static_cast<int64_t>(index.size()); }
  // Bytes of the five arrays and the library, with 32-bit indices.
  int64_t PackedBytes() const;
};

// Counts zeros, kernels and taps of OHWI weights [out][3][3][in].
PatternStats MeasurePatterns(const float* w, int out, int in);

// Packs OHWI weights [out][3][3][in] (both counts >= 1). The library is
// detected from the weights: every kernel with exactly 4 nonzero taps
// contributes its support; a kernel with 1..3 nonzeros takes the most
// frequent library pattern that covers it, or, if none does, its support
// completed with the centre and then the lowest free taps (which becomes a
// library member). Returns false with *error set when some kernel has more
// than 4 nonzero taps. `stats`, if not null, receives MeasurePatterns plus
// num_patterns.
bool PackPatdnn(const float* w, int out, int in, PatdnnWeights* packed,
                PatternStats* stats, std::string* error);

// Writes the dense OHWI weights [out][3][3][in] that `packed` encodes.
void UnpackPatdnn(const PatdnnWeights& packed, float* w);

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_FORMATS_PATDNN_H_
