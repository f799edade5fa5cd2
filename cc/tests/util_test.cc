#include <atomic>
#include <cstdint>
#include <vector>

#include "cc/util/aligned_buffer.h"
#include "cc/util/cpu_features.h"
#include "cc/util/thread_pool.h"
#include "gtest/gtest.h"

namespace tf_sparse {
namespace {

TEST(CpuFeaturesTest, ImpliedFeaturesAreConsistent) {
  const CpuFeatures& f = GetCpuFeatures();
  // An AVX-512 machine has AVX2 too; the answer is stable.
  if (f.HasAvx512()) {
    EXPECT_TRUE(f.HasAvx2Fma());
  }
  EXPECT_EQ(&f, &GetCpuFeatures());
  std::printf("avx2=%d fma=%d avx512f=%d vl=%d dq=%d bw=%d\n", f.avx2, f.fma,
              f.avx512f, f.avx512vl, f.avx512dq, f.avx512bw);
}

TEST(ThreadPoolTest, EveryTaskRunsOncePerCall) {
  for (int n : {1, 2, 4}) {
    ThreadPool pool(n);
    EXPECT_EQ(pool.num_threads(), n);
    // More threads than this machine may have cores: keep rounds modest.
    for (int round = 0; round < 300; ++round) {
      for (int tasks : {1, n, 3 * n + 1}) {
        std::vector<std::atomic<int>> hits(tasks);
        auto task = [&](int t) { hits[t].fetch_add(1); };
        pool.Run(tasks, task);
        for (int t = 0; t < tasks; ++t) ASSERT_EQ(hits[t].load(), 1);
      }
    }
  }
}

TEST(ThreadPoolTest, CallerFinishesWhenWorkersAreBusyElsewhere) {
  // Workers asleep (after the spin phase): the caller must not wait for them
  // to wake up before it may run the tasks itself.
  ThreadPool pool(2);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::atomic<int> sum{0};
  auto task = [&](int t) { sum.fetch_add(t + 1); };
  for (int i = 0; i < 100; ++i) pool.Run(2, task);
  EXPECT_EQ(sum.load(), 300);
}

TEST(ThreadPoolTest, SingleThreadRunsInline) {
  ThreadPool pool(1);
  const std::thread::id caller = std::this_thread::get_id();
  std::thread::id seen;
  auto task = [&](int) { seen = std::this_thread::get_id(); };
  pool.Run(1, task);
  EXPECT_EQ(seen, caller);
  ThreadPool clamped(0);
  EXPECT_EQ(clamped.num_threads(), 1);
}

TEST(ThreadPoolTest, WakesAfterWorkersFellAsleep) {
  ThreadPool pool(2);
  std::atomic<int> sum{0};
  auto task = [&](int t) { sum.fetch_add(t + 1); };
  pool.Run(2, task);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  pool.Run(2, task);
  EXPECT_EQ(sum.load(), 6);
}

TEST(AlignedBufferTest, AlignedZeroedAndCopyable) {
  AlignedBuffer<float> a(13);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data()) % kBufferAlignment, 0u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], 0.0f);
  a[3] = 2.5f;
  AlignedBuffer<float> b = a;
  EXPECT_EQ(b[3], 2.5f);
  AlignedBuffer<float> c = std::move(b);
  EXPECT_EQ(c[3], 2.5f);
  EXPECT_TRUE(b.empty());
  AlignedBuffer<int> empty(0);
  EXPECT_EQ(empty.data(), nullptr);
}

}  // namespace
}  // namespace tf_sparse
