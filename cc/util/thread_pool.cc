#include "cc/util/thread_pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace tf_sparse {
namespace {

// Iterations of the busy-wait before a worker goes to sleep. A pause costs
// tens to ~150 cycles depending on the core, so this is in the order of a
// millisecond: long enough to stay awake between back-to-back inferences.
constexpr int kSpinIterations = 1 << 14;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

}  // namespace

ThreadPool::ThreadPool(int num_threads)
    : num_threads_(num_threads < 1 ? 1 : num_threads) {
  workers_.reserve(num_threads_ - 1);
  for (int t = 1; t < num_threads_; ++t) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  cv_.notify_all();
  for (std::thread& w : workers_) w.join();
}

bool ThreadPool::Claim(uint64_t epoch, int* task) {
  uint64_t job = job_.load(std::memory_order_acquire);
  for (;;) {
    const uint64_t count = (job >> 16) & 0xFFFF;
    const uint64_t next = job & 0xFFFF;
    if ((job >> 32) != epoch || next >= count) return false;
    if (job_.compare_exchange_weak(job, Pack(epoch, count, next + 1),
                                   std::memory_order_acq_rel,
                                   std::memory_order_acquire)) {
      *task = static_cast<int>(next);
      return true;
    }
  }
}

void ThreadPool::Run(int num_tasks, void (*fn)(void*, int), void* ctx) {
  if (num_tasks <= 0) return;
  if (num_threads_ == 1 || num_tasks == 1) {
    for (int t = 0; t < num_tasks; ++t) fn(ctx, t);
    return;
  }
  fn_ = fn;
  ctx_ = ctx;
  done_.store(0, std::memory_order_relaxed);
  const uint64_t epoch = (job_.load(std::memory_order_relaxed) >> 32) + 1;
  // Sequentially consistent pair with the worker's sleeping_ increment:
  // either the worker sees the new job, or we see it sleeping and wake it.
  job_.store(Pack(epoch, static_cast<uint64_t>(num_tasks), 0),
             std::memory_order_seq_cst);
  if (sleeping_.load(std::memory_order_seq_cst) > 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    cv_.notify_all();
  }
  int task;
  int mine = 0;
  while (Claim(epoch, &task)) {
    fn(ctx, task);
    ++mine;
  }
  if (mine > 0) done_.fetch_add(mine, std::memory_order_acq_rel);
  // Only tasks a worker has started remain.
  int spins = 0;
  while (done_.load(std::memory_order_acquire) != num_tasks) {
    if (++spins < kSpinIterations) {
      CpuRelax();
    } else {
      std::this_thread::yield();
    }
  }
}

void ThreadPool::WorkerLoop() {
  uint64_t seen = 0;  // Last epoch this worker took part in.
  for (;;) {
    uint64_t epoch = job_.load(std::memory_order_acquire) >> 32;
    for (int i = 0; epoch == seen && i < kSpinIterations; ++i) {
      if (stop_.load(std::memory_order_relaxed)) return;
      CpuRelax();
      epoch = job_.load(std::memory_order_acquire) >> 32;
    }
    if (epoch == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      sleeping_.fetch_add(1, std::memory_order_seq_cst);
      cv_.wait(lock, [&] {
        return stop_.load() ||
               (job_.load(std::memory_order_seq_cst) >> 32) != seen;
      });
      sleeping_.fetch_sub(1, std::memory_order_relaxed);
      if (stop_.load()) return;
      epoch = job_.load(std::memory_order_acquire) >> 32;
    }
    seen = epoch;
    int task;
    int mine = 0;
    while (Claim(epoch, &task)) {
      fn_(ctx_, task);
      ++mine;
    }
    if (mine > 0) done_.fetch_add(mine, std::memory_order_acq_rel);
  }
}

}  // namespace tf_sparse
