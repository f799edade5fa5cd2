// Speed of the pixel-vectorised sparse convolution (PV) on real layer
// shapes (ResNet-50 stages), 1 thread, batch 1:
//  - 1x1 at 90% sparsity, unstructured and in 1x4 blocks along input
//    channels;
//  - 3x3 with PatDNN per-kernel 4-of-9 patterns (8-pattern library, centre
//    tap always kept) and half the kernels removed, also run through the
//    FKW operator (f32_conv_patdnn.h) for comparison.
// For each: the median time of PV, of PV on all-zero weights of the same
// shape (transpose, bias-only stores, call overhead), the useful GFLOP/s
// (nonzero MACs over valid outputs x 2 / time) and its share of the peak
// FMA rate measured here, the dense roofline (dense MACs at that peak) and
// an estimate of XNNPACK's dense time (roofline / 0.875: it runs dense
// convolutions at 85-90% of peak), and the cost model's prediction
// (EstimatePixvecCycles at the clock measured here).
//
//   bazel run -c opt //cc/bench:f32_conv_pixvec_bench [-- --runs=N
//       --isa=avx512 --layer=1x1 --features]
// --features prints the model's terms per layer (for refitting it).
// Times are this thread's CPU time (the machine may be shared), x and y
// 64-byte aligned as in TFLite's arena; the dense baseline is a roofline,
// not a measured dense convolution (none exists in cc/). XNNPACK's dense
// convolution measured through TFLite on the Xeon of the fit in
// f32_conv_pixvec.cc (1 thread) reaches only 54-68% of that peak, not
// 87.5%: 1x1 56x56x64->256 758 us, 1x1 7x7x512->2048 777, 3x3 28x28x128
// 1843, 3x3 7x7x512 2164; "XNN est" overstates it there.
#include <algorithm>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cc/bench/f32_peak_fma.h"
#include "cc/kernels/dispatch.h"
#include "cc/kernels/f32_conv_patdnn.h"
#include "cc/kernels/f32_conv_pixvec.h"
#include "cc/util/aligned_buffer.h"
#include "cc/util/thread_pool.h"

namespace tf_sparse {
namespace {

enum class Kind { kUnstructured, kBlocks1x4, kPattern };

struct Case {
  const char* name;
  int h, w, in_c, out_c, k, stride;
  Kind kind;
};

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kUnstructured: return "90% unstr";
    case Kind::kBlocks1x4: return "90% 1x4";
    case Kind::kPattern: return "4of9 +50%";
  }
  return "?";
}

std::vector<float> Weights(const Case& c, std::mt19937* rng) {
  std::uniform_real_distribution<float> value(0.1f, 1.0f);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  const int taps = c.k * c.k;
  std::vector<float> w(static_cast<size_t>(c.out_c) * taps * c.in_c, 0.0f);
  if (c.kind == Kind::kPattern) {
    std::vector<std::vector<int>> lib;
    for (int p = 0; p < 8; ++p) {
      std::vector<int> t = {0, 1, 2, 3, 5, 6, 7, 8};
      std::shuffle(t.begin(), t.end(), *rng);
      t.resize(3);
      t.push_back(4);
      lib.push_back(t);
    }
    for (int o = 0; o < c.out_c; ++o) {
      for (int i = 0; i < c.in_c; ++i) {
        if ((*rng)() % 2) continue;
        for (int tap : lib[(*rng)() % 8]) {
          w[(static_cast<size_t>(o) * 9 + tap) * c.in_c + i] = value(*rng);
        }
      }
    }
    return w;
  }
  const int block = c.kind == Kind::kBlocks1x4 ? 4 : 1;
  for (int o = 0; o < c.out_c; ++o) {
    for (int t = 0; t < taps; ++t) {
      for (int i = 0; i < c.in_c; i += block) {
        if (coin(*rng) >= 0.1) continue;
        for (int j = i; j < std::min(c.in_c, i + block); ++j) {
          w[(static_cast<size_t>(o) * taps + t) * c.in_c + j] = value(*rng);
        }
      }
    }
  }
  return w;
}

// CPU time of this thread: the machine may be shared, and time spent
// descheduled would otherwise land in the medians.
double ThreadSeconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

// Peak FLOP/s of one core: best and median of 15 short runs (the median
// shows how much other processes on the machine take away).
double PeakFlops(double* median) {
  std::vector<double> r(15);
  volatile float sink = 0;
  for (double& v : r) {
    const long long it = 400000;
    const double t0 = ThreadSeconds();
    sink = sink + f32_peak_fma__avx512(it);
    v = it * 24.0 * 16 * 2 / (ThreadSeconds() - t0);
  }
  std::sort(r.begin(), r.end());
  *median = r[r.size() / 2];
  return r.back();
}

// Core clock (best of 5): a chain of dependent integer multiplies, 3
// cycles each (adds of an immediate can be folded by the renamer).
double ClockHz() {
  double best = 0;
  for (int r = 0; r < 5; ++r) {
    long long x = 3;
    const long long n = 20000000;
    const double t0 = ThreadSeconds();
    for (long long i = 0; i < n; i += 4) {
      asm volatile(
          "imul %0, %0\n\timul %0, %0\n\timul %0, %0\n\timul %0, %0"
          : "+r"(x));
    }
    best = std::max(best, 3.0 * n / (ThreadSeconds() - t0));
  }
  return best;
}

template <class Op>
double MedianUs(Op* op, const AlignedBuffer<float>& x, size_t out, int n) {
  // 64-byte aligned, as TFLite's arena aligns tensors.
  AlignedBuffer<float> y(out);
  std::vector<double> t(n);
  for (int i = 0; i < 5; ++i) op->Run(x.data(), y.data(), nullptr);
  for (int i = 0; i < n; ++i) {
    const double t0 = ThreadSeconds();
    op->Run(x.data(), y.data(), nullptr);
    t[i] = (ThreadSeconds() - t0) * 1e6;
  }
  std::nth_element(t.begin(), t.begin() + n / 2, t.end());
  return t[n / 2];
}

int Main(int argc, char** argv) {
  int runs = 51;
  const char* only = nullptr;
  const char* layer = nullptr;
  bool features = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--runs=", 7) == 0) runs = std::atoi(argv[i] + 7);
    if (std::strncmp(argv[i], "--isa=", 6) == 0) only = argv[i] + 6;
    if (std::strncmp(argv[i], "--layer=", 8) == 0) layer = argv[i] + 8;
    if (std::strcmp(argv[i], "--features") == 0) features = true;
  }
  if (!IsaSupported(Isa::kAvx512)) {
    std::printf("needs AVX-512 for the peak FMA measurement\n");
    return 1;
  }
  double peak_median = 0;
  const double peak = PeakFlops(&peak_median);
  const double hz = ClockHz();
  std::printf(
      "peak %.1f GFLOP/s (1 core; median of 15 short runs %.1f), clock %.2f "
      "GHz, %d runs, median\n",
      peak / 1e9, peak_median / 1e9, hz / 1e9, runs);
  const Case cases[] = {
      {"1x1 56x56x64->256", 56, 56, 64, 256, 1, 1, Kind::kUnstructured},
      {"1x1 56x56x64->256", 56, 56, 64, 256, 1, 1, Kind::kBlocks1x4},
      {"1x1 28x28x512->128", 28, 28, 512, 128, 1, 1, Kind::kUnstructured},
      {"1x1 28x28x512->128", 28, 28, 512, 128, 1, 1, Kind::kBlocks1x4},
      {"1x1 14x14x1024->256", 14, 14, 1024, 256, 1, 1, Kind::kUnstructured},
      {"1x1 14x14x1024->256", 14, 14, 1024, 256, 1, 1, Kind::kBlocks1x4},
      {"1x1 7x7x512->2048", 7, 7, 512, 2048, 1, 1, Kind::kUnstructured},
      {"1x1 7x7x512->2048", 7, 7, 512, 2048, 1, 1, Kind::kBlocks1x4},
      {"3x3 56x56x64->64", 56, 56, 64, 64, 3, 1, Kind::kPattern},
      {"3x3 28x28x128->128", 28, 28, 128, 128, 3, 1, Kind::kPattern},
      {"3x3 14x14x256->256", 14, 14, 256, 256, 3, 1, Kind::kPattern},
      {"3x3 7x7x512->512", 7, 7, 512, 512, 3, 1, Kind::kPattern},
      {"3x3 28x28x256->256 s2", 28, 28, 256, 256, 3, 2, Kind::kPattern},
  };
  std::printf(
      "%-22s %-10s %-30s %8s %9s %9s %7s %6s %9s %9s %7s %9s %9s\n", "layer",
      "weights", "kernel", "nnz", "PV us", "zero-w us", "GFLOP/s", "%peak",
      "dense@pk", "XNN est", "vs XNN", "model us", "FKW us");
  for (const Case& c : cases) {
    if (layer != nullptr && std::strstr(c.name, layer) == nullptr) continue;
    std::mt19937 rng(1);
    const std::vector<float> w = Weights(c, &rng);
    const std::vector<float> zero(w.size(), 0.0f);
    AlignedBuffer<float> x(static_cast<size_t>(c.h) * c.w * c.in_c);
    for (size_t i = 0; i < x.size(); ++i) {
      x.data()[i] = static_cast<float>(rng() % 1000) / 1000.0f;
    }
    for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
      if (only != nullptr && std::strcmp(only, IsaName(isa)) != 0) continue;
      if (only == nullptr && isa != Isa::kAvx512) continue;
      F32ConvPixvec::Params p;
      p.kernel_h = p.kernel_w = c.k;
      p.stride_h = p.stride_w = c.stride;
      std::string error;
      auto op = F32ConvPixvec::Create(w.data(), c.out_c, c.in_c, nullptr, p,
                                      isa, &error);
      auto op0 = F32ConvPixvec::Create(zero.data(), c.out_c, c.in_c, nullptr,
                                       p, isa, &error);
      int oh = 0, ow = 0;
      if (op == nullptr || op0 == nullptr ||
          !op->Reshape(1, c.h, c.w, &oh, &ow, &error) ||
          !op0->Reshape(1, c.h, c.w, &oh, &ow, &error)) {
        std::printf("%s: %s\n", c.name, error.c_str());
        return 1;
      }
      const size_t out = static_cast<size_t>(oh) * ow * c.out_c;
      const double us = MedianUs(op.get(), x, out, runs);
      const double us0 = MedianUs(op0.get(), x, out, runs);
      const double nnz = static_cast<double>(op->stats().nonzeros);
      const double useful = 2.0 * nnz * oh * ow;
      const double dense = 2.0 * c.out_c * c.in_c * c.k * c.k * oh * ow;
      const double dense_us = dense / peak * 1e6;
      const double xnn_us = dense_us / 0.875;
      const double model_us =
          EstimatePixvecCycles(op->stats(), op->shape(), isa) / hz * 1e6;
      double fkw_us = 0;
      if (c.kind == Kind::kPattern) {
        F32PatdnnConv2D::Params q;
        q.stride_h = q.stride_w = c.stride;
        auto fkw = F32PatdnnConv2D::Create(w.data(), c.out_c, c.in_c, nullptr,
                                           q, isa, &error);
        if (fkw != nullptr && fkw->Reshape(1, c.h, c.w, &oh, &ow, &error)) {
          fkw_us = MedianUs(fkw.get(), x, out, runs);
        }
      }
      std::printf(
          "%-22s %-10s %-30s %8.0f %9.1f %9.1f %7.1f %5.0f%% %9.1f %9.1f "
          "%6.2fx %9.1f %9.1f\n",
          c.name, KindName(c.kind), op->kernel_name(), nnz, us, us0,
          useful / us / 1e3, 100.0 * useful / (us * 1e-6) / peak, dense_us,
          xnn_us, xnn_us / us, model_us, fkw_us);
      if (features) {
        const PixvecCostTerms t = PixvecTerms(op->stats(), op->shape(), isa);
        std::printf(
            "features %s|%s vfma=%.0f split=%.0f in=%.0f out=%.0f calls=%.0f "
            "gathered=%.0f cycles=%.0f zero_cycles=%.0f\n",
            c.name, KindName(c.kind), t.vector_fmas, t.split_loads, t.inputs,
            t.outputs, t.calls, t.gathered, us * 1e-6 * hz, us0 * 1e-6 * hz);
      }
    }
  }
  return 0;
}

}  // namespace
}  // namespace tf_sparse

int main(int argc, char** argv) { return tf_sparse::Main(argc, argv); }
