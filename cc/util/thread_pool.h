// A small persistent thread pool for splitting one kernel call over threads.
//
// Kernel calls last microseconds, so the pool is built for low latency:
// `Run` publishes a job of N tasks by bumping an epoch, workers spin on it
// for a short while before falling back to a condition variable, and every
// thread, the caller included, claims tasks from a shared counter until none
// are left. A worker that the OS has not scheduled (other processes busy on
// the cores) therefore never delays the call: the caller runs its tasks
// itself and only waits for tasks a worker has actually started. A pool of
// one thread starts no workers and runs tasks as plain function calls.
#ifndef TF_SPARSE_CC_UTIL_THREAD_POOL_H_
#define TF_SPARSE_CC_UTIL_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace tf_sparse {

class ThreadPool {
 public:
  // num_threads counts the caller: num_threads - 1 workers are started.
  // Values below 1 are treated as 1.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Calls fn(ctx, task) exactly once for every task in [0, num_tasks), on
  // any of the pool's threads or the caller, and returns when all calls
  // have returned. num_tasks must be below 65536. Not reentrant: one Run at
  // a time per pool.
  void Run(int num_tasks, void (*fn)(void* ctx, int task), void* ctx);

  // Same, for any callable taking the task index.
  template <typename F>
  void Run(int num_tasks, F& f) {
    Run(num_tasks, [](void* c, int t) { (*static_cast<F*>(c))(t); }, &f);
  }

 private:
  // job_ packs epoch (high 32 bits), task count (16) and next task (16).
  static uint64_t Pack(uint64_t epoch, uint64_t count, uint64_t next) {
    return (epoch << 32) | (count << 16) | next;
  }
  // Claims a task of `epoch`; false when none is left or the job changed.
  bool Claim(uint64_t epoch, int* task);
  void WorkerLoop();

  const int num_threads_;
  std::vector<std::thread> workers_;

  // Task slot, written by Run before job_ is published; valid for a worker
  // from a successful Claim until it reports the task done.
  void (*fn_)(void*, int) = nullptr;
  void* ctx_ = nullptr;

  std::atomic<uint64_t> job_{0};
  std::atomic<int> done_{0};
  std::atomic<int> sleeping_{0};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
};

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_UTIL_THREAD_POOL_H_
