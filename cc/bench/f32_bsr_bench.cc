// Speed of the BSR fully connected kernels on real layer shapes, against a
// dense matrix-vector product on the same ISA. Median of many timed runs.
//
//   bazel run //cc/bench:f32_bsr_bench [-- --runs=N --threads=T]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cc/bench/f32_dense_gemv.h"
#include "cc/kernels/dispatch.h"
#include "cc/kernels/f32_bsr_fully_connected.h"
#include "cc/util/thread_pool.h"

namespace tf_sparse {
namespace {

struct Case {
  const char* name;
  int out, in, r, c;
  double sparsity;
  int batch;
};

// FC shapes of real models (MLP heads, transformer projections).
const Case kCases[] = {
    {"FC 1024->1024", 1024, 1024, 1, 4, 0.90, 1},
    {"FC 4096->1024", 1024, 4096, 1, 4, 0.90, 1},
    {"FC 1024->4096", 4096, 1024, 1, 4, 0.90, 1},
    {"FC 1024->1024", 1024, 1024, 1, 4, 0.75, 1},
    {"FC 1024->1024", 1024, 1024, 1, 4, 0.50, 1},
    {"FC 1024->1024", 1024, 1024, 1, 8, 0.90, 1},
    {"FC 1024->1024", 1024, 1024, 4, 1, 0.90, 1},
    {"FC 1024->1024", 1024, 1024, 8, 1, 0.90, 1},
    {"FC 1024->1024", 1024, 1024, 16, 1, 0.90, 1},
    {"FC 1024->1024", 1024, 1024, 4, 4, 0.90, 1},
    {"FC 1024->1024", 1024, 1024, 1, 1, 0.90, 1},
    {"FC 1024->1024", 1024, 1024, 2, 2, 0.90, 1},
    {"FC 1024->1024", 1024, 1024, 1, 2, 0.90, 1},
    {"FC 1024->1024", 1024, 1024, 1, 4, 0.90, 8},
    {"FC 256->128", 128, 256, 1, 4, 0.90, 1},
};

template <typename F>
double MedianMicros(int runs, F&& f) {
  for (int i = 0; i < std::max(3, runs / 10); ++i) f();
  std::vector<double> t(runs);
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const auto t1 = std::chrono::steady_clock::now();
    t[i] = std::chrono::duration<double, std::micro>(t1 - t0).count();
  }
  std::nth_element(t.begin(), t.begin() + runs / 2, t.end());
  return t[runs / 2];
}

std::vector<float> BlockSparse(const Case& cs, std::mt19937& rng) {
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  std::vector<float> w(static_cast<size_t>(cs.out) * cs.in);
  for (float& v : w) v = value(rng);
  for (int bi = 0; bi * cs.r < cs.out; ++bi) {
    for (int bj = 0; bj * cs.c < cs.in; ++bj) {
      if (coin(rng) >= cs.sparsity) continue;
      for (int i = bi * cs.r; i < cs.out && i < (bi + 1) * cs.r; ++i) {
        for (int j = bj * cs.c; j < cs.in && j < (bj + 1) * cs.c; ++j) {
          w[static_cast<size_t>(i) * cs.in + j] = 0.0f;
        }
      }
    }
  }
  return w;
}

int Main(int argc, char** argv) {
  int runs = 2000;
  int threads = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--runs=", 7) == 0) runs = std::atoi(argv[i] + 7);
    if (std::strncmp(argv[i], "--threads=", 10) == 0) {
      threads = std::atoi(argv[i] + 10);
    }
  }
  const Isa best = BestSupportedIsa();
  std::printf("active ISA %s, %d thread(s), median of %d runs\n",
              IsaName(ActiveIsa()), threads, runs);
  std::printf("%-15s %5s %5s %5s | %-28s %9s | %9s %9s | %7s\n", "layer",
              "block", "spars", "batch", "kernel", "sparse us", "dense us",
              "dense isa", "speedup");
  ThreadPool pool(threads);
  std::mt19937 rng(1);
  for (const Case& cs : kCases) {
    const std::vector<float> w = BlockSparse(cs, rng);
    std::vector<float> bias(cs.out, 0.5f);
    std::vector<float> x(static_cast<size_t>(cs.batch) * cs.in, 0.25f);
    std::vector<float> y(static_cast<size_t>(cs.batch) * cs.out);
    F32BsrFullyConnected::Options options;
    options.block_height = cs.r;
    options.block_width = cs.c;
    std::string error;
    const float inf = std::numeric_limits<float>::infinity();
    auto op = F32BsrFullyConnected::Create(w.data(), cs.out, cs.in,
                                           bias.data(), -inf, inf, options,
                                           &error);
    if (op == nullptr) {
      std::printf("%s: %s\n", cs.name, error.c_str());
      return 1;
    }
    const double sparse_us = MedianMicros(
        runs, [&] { op->Run(cs.batch, x.data(), y.data(), &pool); });
    double dense_us = 0;
    const char* dense_isa = "none";
    if (best == Isa::kAvx512 || best == Isa::kAvx2) {
      auto gemv = best == Isa::kAvx512 ? f32_dense_gemv__avx512
                                       : f32_dense_gemv__avx2;
      dense_isa = IsaName(best);
      dense_us = MedianMicros(runs, [&] {
        for (int b = 0; b < cs.batch; ++b) {
          gemv(cs.out, cs.in, w.data(), bias.data(),
               x.data() + static_cast<size_t>(b) * cs.in,
               y.data() + static_cast<size_t>(b) * cs.out);
        }
      });
    }
    char block[16];
    std::snprintf(block, sizeof(block), "%dx%d", cs.r, cs.c);
    std::printf("%-15s %5s %5.2f %5d | %-28s %9.2f | %9.2f %9s | %6.2fx\n",
                cs.name, block, cs.sparsity, cs.batch, op->kernel().name,
                sparse_us, dense_us, dense_isa,
                dense_us > 0 ? dense_us / sparse_us : 0.0);
  }
  return 0;
}

}  // namespace
}  // namespace tf_sparse

int main(int argc, char** argv) { return tf_sparse::Main(argc, argv); }
