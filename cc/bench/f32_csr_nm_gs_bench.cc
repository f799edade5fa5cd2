// Speed of the CSR, N:M and GS fully connected kernels on real layer
// shapes, against a dense matrix-vector product on the best ISA, and the
// bytes each streams. Median of many timed runs.
//
//   bazel run -c opt //cc/bench:f32_csr_nm_gs_bench [-- --runs=N --threads=T]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "cc/bench/f32_dense_gemv.h"
#include "cc/kernels/dispatch.h"
#include "cc/kernels/f32_csr_fully_connected.h"
#include "cc/kernels/f32_gs_fully_connected.h"
#include "cc/kernels/f32_nm_fully_connected.h"
#include "cc/util/thread_pool.h"

namespace tf_sparse {
namespace {

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

float Value(std::mt19937& rng) {
  std::uniform_real_distribution<float> v(0.1f, 1.0f);
  return (rng() & 1) ? v(rng) : -v(rng);
}

std::vector<float> Unstructured(int out, int in, double s, std::mt19937& rng) {
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  std::vector<float> w(static_cast<size_t>(out) * in, 0.0f);
  for (float& v : w) {
    if (coin(rng) >= s) v = Value(rng);
  }
  return w;
}

std::vector<float> Nm(int out, int in, int n, int m, std::mt19937& rng) {
  std::vector<float> w(static_cast<size_t>(out) * in, 0.0f);
  std::vector<int> perm(m);
  for (int o = 0; o < out; ++o) {
    for (int j0 = 0; j0 + m <= in; j0 += m) {
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), rng);
      for (int s = 0; s < n; ++s) {
        w[static_cast<size_t>(o) * in + j0 + perm[s]] = Value(rng);
      }
    }
  }
  return w;
}

// Density 1 - s with B banks, e = 1: packs = s-density * in per group.
std::vector<float> Gs(int out, int in, int B, double s, std::mt19937& rng) {
  std::vector<float> w(static_cast<size_t>(out) * in, 0.0f);
  const int packs = static_cast<int>((1.0 - s) * in + 0.5);
  const int per_bank = in / B;
  for (int g = 0; g < out / B; ++g) {
    // Pack p uses column slot p of each bank, banks rotated per row, so
    // every cell column is distinct.
    for (int p = 0; p < packs; ++p) {
      const int shift = static_cast<int>(rng() % B);
      for (int l = 0; l < B; ++l) {
        const int bank = (l + shift + p) % B;
        const int slot = (p * 7 + l) % per_bank;
        w[static_cast<size_t>(g * B + l) * in + slot * B + bank] = Value(rng);
      }
    }
  }
  return w;
}

int Main(int argc, char** argv) {
  int runs = 1000;
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
  std::printf("%-15s %-12s | %-24s %9s %8s | %9s | %7s | %7s\n", "layer",
              "structure", "kernel", "sparse us", "MB", "dense us", "speedup",
              "GB/s");
  ThreadPool pool(threads);
  std::mt19937 rng(1);
  const float inf = std::numeric_limits<float>::infinity();
  struct Shape {
    const char* name;
    int out, in;
  };
  for (const Shape& sh :
       {Shape{"FC 1024->1024", 1024, 1024}, Shape{"FC 4096->1024", 1024, 4096},
        Shape{"FC 256->256", 256, 256}}) {
    std::vector<float> bias(sh.out, 0.5f);
    std::vector<float> x(sh.in, 0.25f);
    std::vector<float> y(sh.out);
    const std::vector<float> dense_w = Unstructured(sh.out, sh.in, 0.0, rng);
    auto gemv =
        best == Isa::kAvx512 ? f32_dense_gemv__avx512 : f32_dense_gemv__avx2;
    const double dense_us = MedianMicros(runs, [&] {
      gemv(sh.out, sh.in, dense_w.data(), bias.data(), x.data(), y.data());
    });
    auto report = [&](const char* what, const char* kernel, double us,
                      double bytes) {
      std::printf("%-15s %-12s | %-24s %9.2f %8.3f | %9.2f | %6.2fx | %7.1f\n",
                  sh.name, what, kernel, us, bytes / 1e6, dense_us,
                  dense_us / us, bytes / us / 1e3);
    };
    for (double s : {0.9, 0.75}) {
      const std::vector<float> w = Unstructured(sh.out, sh.in, s, rng);
      std::string err;
      auto op = F32CsrFullyConnected::Create(w.data(), sh.out, sh.in,
                                             bias.data(), -inf, inf, {}, &err);
      const double us =
          MedianMicros(runs, [&] { op->Run(1, x.data(), y.data(), &pool); });
      char what[32];
      std::snprintf(what, sizeof(what), "csr %.0f%%", s * 100);
      report(what, op->kernel_name(), us, op->PackedBytes());
    }
    for (int B : {16, 8}) {
      const std::vector<float> w = Gs(sh.out, sh.in, B, 0.9, rng);
      F32GsFullyConnected::Options o;
      o.banks = B;
      std::string err;
      auto op = F32GsFullyConnected::Create(w.data(), sh.out, sh.in,
                                            bias.data(), -inf, inf, o, &err);
      if (op == nullptr) {
        std::printf("gs: %s\n", err.c_str());
        continue;
      }
      const double us =
          MedianMicros(runs, [&] { op->Run(1, x.data(), y.data(), &pool); });
      char what[32];
      std::snprintf(what, sizeof(what), "gs%d 90%%", B);
      report(what, op->kernel().name, us, op->matrix().PackedBytes());
    }
    for (auto nm : {std::pair<int, int>{2, 4}, {1, 4}, {4, 8}, {1, 8}}) {
      const std::vector<float> w = Nm(sh.out, sh.in, nm.first, nm.second, rng);
      F32NmFullyConnected::Options o;
      o.n = nm.first;
      o.m = nm.second;
      std::string err;
      auto op = F32NmFullyConnected::Create(w.data(), sh.out, sh.in,
                                            bias.data(), -inf, inf, o, &err);
      const double us =
          MedianMicros(runs, [&] { op->Run(1, x.data(), y.data(), &pool); });
      char what[32];
      std::snprintf(what, sizeof(what), "nm %d:%d", nm.first, nm.second);
      report(what, op->kernel_name(), us, op->PackedBytes());
    }
  }
  return 0;
}

}  // namespace
}  // namespace tf_sparse

int main(int argc, char** argv) { return tf_sparse::Main(argc, argv); }
