// Splitting a batch-1 layer's output rows (or row groups) over threads in
// shares of equal work, where unit i costs cost_prefix[i+1] - cost_prefix[i]
// plus a fixed per-unit cost.
#ifndef TF_SPARSE_CC_KERNELS_ROW_SPLIT_H_
#define TF_SPARSE_CC_KERNELS_ROW_SPLIT_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cc/util/thread_pool.h"

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

// Equal shares of `units` (every unit costs the same).
inline std::vector<size_t> EqualShares(size_t units, int threads) {
  std::vector<size_t> split(threads + 1);
  for (int t = 0; t <= threads; ++t) split[t] = units * t / threads;
  return split;
}

// SplitUnits' boundaries for the last thread count asked for, kept between
// calls (an operator's work per unit does not change after packing).
class SplitCache {
 public:
  template <typename PrefixAt>
  const std::vector<size_t>& Get(size_t units, int threads, int64_t unit_cost,
                                 PrefixAt prefix_at) {
    if (threads_ != threads) {
      split_ = SplitUnits(units, threads, unit_cost, prefix_at);
      threads_ = threads;
    }
    return split_;
  }

 private:
  std::vector<size_t> split_;
  int threads_ = 0;
};

// Runs run(begin, end) over units [0, units): once on the caller's thread
// when there is one unit or `work` (multiply-adds) is too small to share,
// else on up to pool's threads in the shares split(threads) returns
// (threads + 1 boundaries, as SplitUnits).
template <typename Split, typename RunShare>
void RunInShares(ThreadPool* pool, int64_t work, size_t units, Split split,
                 RunShare run) {
  int threads = pool == nullptr ? 1 : pool->num_threads();
  while (threads > 1 && work / threads < kSparseMinWorkPerThread) --threads;
  if (threads <= 1 || units < 2) {
    run(size_t{0}, units);
    return;
  }
  decltype(auto) shares = split(threads);
  auto task = [&](int t) {
    if (shares[t] < shares[t + 1]) run(shares[t], shares[t + 1]);
  };
  pool->Run(threads, task);
}

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_ROW_SPLIT_H_
