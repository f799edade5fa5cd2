// Speed of the sparse 3x3 convolutions on real layer shapes (ResNet
// stages), 4-of-9 patterns from a library of 8 and half the kernels
// removed, per supported ISA: the PatDNN operator on per-kernel patterns,
// and the filter-vector-taps (VT) operator on the same density with the
// pattern and the removal shared by each block of 16 filters
// (KernelPattern(filter_block=16)); median of timed runs, and the rate of
// useful FMAs.
//
//   bazel run //cc/bench:f32_conv_patdnn_bench [-- --runs=N --threads=T
//       --isa=avx512 --layer=28x28x128->128]
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cc/kernels/dispatch.h"
#include "cc/kernels/f32_conv3x3_vtaps.h"
#include "cc/kernels/f32_conv_patdnn.h"
#include "cc/util/thread_pool.h"

namespace tf_sparse {
namespace {

struct Case {
  const char* name;
  int h, w, in_c, out_c, stride;
};

// `block` consecutive filters share each input channel's pattern and
// removal (1: every kernel on its own).
std::vector<float> PatternWeights(int out_c, int in_c, std::mt19937* rng,
                                  int block = 1) {
  std::uniform_real_distribution<float> value(0.1f, 1.0f);
  std::vector<std::vector<int>> lib;
  for (int p = 0; p < 8; ++p) {
    std::vector<int> t = {0, 1, 2, 3, 5, 6, 7, 8};
    std::shuffle(t.begin(), t.end(), *rng);
    t.resize(3);
    t.push_back(4);
    lib.push_back(t);
  }
  std::vector<float> w(static_cast<size_t>(out_c) * 9 * in_c, 0.0f);
  for (int o0 = 0; o0 < out_c; o0 += block) {
    for (int i = 0; i < in_c; ++i) {
      if ((*rng)() % 2) continue;
      const std::vector<int>& taps = lib[(*rng)() % 8];
      for (int o = o0; o < std::min(out_c, o0 + block); ++o) {
        for (int tap : taps) {
          w[(static_cast<size_t>(o) * 9 + tap) * in_c + i] = value(*rng);
        }
      }
    }
  }
  return w;
}

int Main(int argc, char** argv) {
  int runs = 300;
  int threads = 1;
  const char* only = nullptr;  // --isa=scalar|avx2|avx512: that one only.
  const char* layer = nullptr;  // --layer=56x56x64->64: that one only.
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--runs=", 7) == 0) runs = std::atoi(argv[i] + 7);
    if (std::strncmp(argv[i], "--threads=", 10) == 0) {
      threads = std::atoi(argv[i] + 10);
    }
    if (std::strncmp(argv[i], "--isa=", 6) == 0) only = argv[i] + 6;
    if (std::strncmp(argv[i], "--layer=", 8) == 0) layer = argv[i] + 8;
  }
  const Case cases[] = {{"56x56x64->64", 56, 56, 64, 64, 1},
                        {"28x28x128->128", 28, 28, 128, 128, 1},
                        {"56x56x64->128 s2", 56, 56, 64, 128, 2},
                        {"56x56x16->256", 56, 56, 16, 256, 1}};
  std::unique_ptr<ThreadPool> pool;
  if (threads > 1) pool.reset(new ThreadPool(threads));
  std::printf("%-18s %-34s %10s %12s %14s\n", "layer", "kernel", "median us",
              "GFMA/s useful", "caller cpu us");
  // Median wall and caller-CPU microseconds of op->Run.
  auto time = [&](auto* op, const std::vector<float>& x, int oh, int ow,
                  int out_c, int n, double* cpu_us) {
    std::vector<float> y(static_cast<size_t>(oh) * ow * out_c);
    std::vector<double> t(n), cpu(n);
    for (int i = 0; i < 10; ++i) op->Run(x.data(), y.data(), pool.get());
    for (int i = 0; i < n; ++i) {
      timespec c0, c1;
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
      const auto t0 = std::chrono::steady_clock::now();
      op->Run(x.data(), y.data(), pool.get());
      t[i] = std::chrono::duration<double, std::micro>(
                 std::chrono::steady_clock::now() - t0)
                 .count();
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
      cpu[i] = (c1.tv_sec - c0.tv_sec) * 1e6 + (c1.tv_nsec - c0.tv_nsec) * 1e-3;
    }
    std::nth_element(t.begin(), t.begin() + n / 2, t.end());
    std::nth_element(cpu.begin(), cpu.begin() + n / 2, cpu.end());
    *cpu_us = cpu[n / 2];
    return t[n / 2];
  };
  for (const Case& c : cases) {
    if (layer != nullptr && std::strcmp(layer, c.name) != 0) continue;
    std::mt19937 rng(1);
    const std::vector<float> w = PatternWeights(c.out_c, c.in_c, &rng);
    const std::vector<float> wb = PatternWeights(c.out_c, c.in_c, &rng, 16);
    std::vector<float> x(static_cast<size_t>(c.h) * c.w * c.in_c);
    for (float& v : x) v = static_cast<float>(rng() % 1000) / 1000.0f;
    for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
      if (!IsaSupported(isa)) continue;
      if (only != nullptr && std::strcmp(only, IsaName(isa)) != 0) continue;
      const int n = isa == Isa::kScalar ? std::max(runs / 20, 5) : runs;
      std::string error;
      int oh = 0, ow = 0;
      double cpu = 0;
      F32PatdnnConv2D::Params p;
      p.stride_h = p.stride_w = c.stride;
      auto op = F32PatdnnConv2D::Create(w.data(), c.out_c, c.in_c, nullptr, p,
                                        isa, &error);
      if (op == nullptr || !op->Reshape(1, c.h, c.w, &oh, &ow, &error)) {
        std::printf("%s: %s\n", c.name, error.c_str());
        return 1;
      }
      double us = time(op.get(), x, oh, ow, c.out_c, n, &cpu);
      const double fmas = 4.0 * op->weights().num_kernels() * oh * ow;
      std::printf("%-18s %-34s %10.1f %12.1f %14.1f\n", c.name,
                  op->kernel_name(), us, fmas / us / 1e3, cpu);
      F32Conv3x3Vtaps::Params q;
      q.stride_h = q.stride_w = c.stride;
      auto vt = F32Conv3x3Vtaps::Create(wb.data(), c.out_c, c.in_c, nullptr, q,
                                        isa, &error);
      if (vt == nullptr || !vt->Reshape(1, c.h, c.w, &oh, &ow, &error)) {
        std::printf("%s: %s\n", c.name, error.c_str());
        return 1;
      }
      us = time(vt.get(), x, oh, ow, c.out_c, n, &cpu);
      const double vfmas = 16.0 * vt->stats().pairs * oh * ow;
      std::printf("%-18s %-34s %10.1f %12.1f %14.1f\n", c.name,
                  vt->kernel_name(), us, vfmas / us / 1e3, cpu);
    }
  }
  return 0;
}

}  // namespace
}  // namespace tf_sparse

int main(int argc, char** argv) { return tf_sparse::Main(argc, argv); }
