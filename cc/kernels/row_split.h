// Splitting a batch-1 layer's output rows (or row groups) over threads in
// shares of equal work, where unit i costs cost_prefix[i+1] - cost_prefix[i]
// plus a fixed per-unit cost.
#ifndef TF_SPARSE_CC_KERNELS_ROW_SPLIT_H_
#define TF_SPARSE_CC_KERNELS_ROW_SPLIT_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tf_sparse {

// Below this many multiply-adds per thread a call stays on fewer threads:
// waking workers costs more than it saves.
constexpr int64_t kSparseMinWorkPerThread = 8192;

// Boundaries [0 = s_0, s_1, ..., s_threads = units] of `threads` shares.
template <typename PrefixAt>
std::vector<size_t> SplitUnits(size_t units, int threads, int64_t unit_cost,
                               PrefixAt prefix_at) {
  std::vector<size_t> split(threads + 1, units);
  split[0] = 0;
  const int64_t total = static_cast<int64_t>(prefix_at(units)) +
                        unit_cost * static_cast<int64_t>(units);
  size_t i = 0;
  for (int t = 1; t < threads; ++t) {
    const int64_t target = total * t / threads;
    while (i < units && static_cast<int64_t>(prefix_at(i)) +
                                unit_cost * static_cast<int64_t>(i) <
                            target) {
      ++i;
    }
    split[t] = i;
  }
  return split;
}

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_ROW_SPLIT_H_
