// Speed of the int8 pixel-vector 1x1 convolution (qs8_conv_pixvec.h) on
// ResNet-50 layer shapes, 1 thread, batch 1, against a dense int8 1x1
// convolution with vpdpbusd (qs8_dense_conv1x1.h: a GEMM standing in for
// XNNPACK's QS8 GEMM, with its cheaper fp32 requantization):
//  - "fb75": 75% of the 16 x 4 blocks removed (16 filters x 4 input
//    channels: blocks of 16 filters sharing their zeros, every kept group
//    of 4 full);
//  - "g90": 90% of the 1 x 4 groups along the input channels removed,
//    independently per filter;
//  - "dense": every weight nonzero (the sparse kernel at 0%);
//  - "zero": all-zero weights (pack, bias-only requantization, stores: the
//    floor of the sparse kernel).
// Medians of --runs calls (default 51) of this thread's CPU time (the
// machine may be shared; with --threads=N, wall time), after 5 warm-up
// calls; x and y 64-byte aligned as in TFLite's arena. The dense GEMM's
// share of the peak vpdpbusd rate (independent vpdpbusd chains, measured
// here) says how good a baseline it is.
//
//   bazel run -c opt //cc/bench:qs8_conv_pixvec_bench [-- --runs=N
//       --layer=56x56x64->256 --zero_only --threads=N --no_dot]
//
// "Intel(R) Xeon(R) Processor" (lscpu; AVX-512 VNNI and AMX flags, a
// Sapphire Rapids class VM), 1 thread, medians of 51 runs, the range over
// three runs of the benchmark (us; x = dense GEMM time / sparse time):
//   layer            GEMM  %peak   fb75    x      g90    x      dense  zero
//   56x56x64->256    197-203  60  203-212 0.97  197-203 1.00  320-336  137
//   28x28x512->128   144-149  82   70-75  2.03   56-59  2.55  187-192   30
//   14x14x1024->256  150-155  79   56-62  2.6    48-51  3.1   179-189   17
// Every output costs the sparse kernel about 0.17 ns (requantization and
// NHWC stores, the "zero" column), which a GEMM spreads over in / 4 dot
// products: with 64 input channels that floor alone is two thirds of the
// dense GEMM's time.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cc/bench/qs8_dense_conv1x1.h"
#include "cc/kernels/dispatch.h"
#include "cc/kernels/qs8_conv_pixvec.h"
#include "cc/kernels/requantize.h"
#include "cc/util/aligned_buffer.h"
#include "cc/util/cpu_features.h"
#include "cc/util/thread_pool.h"

namespace tf_sparse {
namespace {

struct Layer {
  const char* name;
  int h, w, in, out;
};

const Layer kLayers[] = {
    {"56x56x64->256", 56, 56, 64, 256},
    {"28x28x512->128", 28, 28, 512, 128},
    {"14x14x1024->256", 14, 14, 1024, 256},
};

enum class Pattern { kFilterBlocks75, kGroups90, kDense, kZero };

std::vector<int8_t> Weights(const Layer& l, Pattern p, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> value(1, 127);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  std::vector<int8_t> w(static_cast<size_t>(l.out) * l.in, 0);
  if (p == Pattern::kZero) return w;
  std::vector<bool> keep(static_cast<size_t>(l.in / 4));
  for (int o = 0; o < l.out; ++o) {
    if (o % 16 == 0) {
      for (size_t g = 0; g < keep.size(); ++g) {
        keep[g] = p != Pattern::kFilterBlocks75 || coin(rng) >= 0.75;
      }
    }
    for (int g = 0; g < l.in / 4; ++g) {
      const bool kept = p == Pattern::kGroups90 ? coin(rng) >= 0.9 : keep[g];
      if (!kept) continue;
      for (int k = 4 * g; k < 4 * g + 4; ++k) {
        const int v = value(rng);
        w[static_cast<size_t>(o) * l.in + k] =
            static_cast<int8_t>(rng() & 1 ? v : -v);
      }
    }
  }
  return w;
}

// Wall time when the sparse operator runs on several threads.
bool g_wall_clock = false;

double ThreadSeconds() {
  timespec t;
  clock_gettime(g_wall_clock ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

template <class F>
double MedianUs(F&& f, int n) {
  for (int i = 0; i < 5; ++i) f();
  std::vector<double> t(n);
  for (int i = 0; i < n; ++i) {
    const double t0 = ThreadSeconds();
    f();
    t[i] = (ThreadSeconds() - t0) * 1e6;
  }
  std::nth_element(t.begin(), t.begin() + n / 2, t.end());
  return t[n / 2];
}

std::string CpuModel() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      return line.substr(line.find(':') + 2);
    }
  }
  return "unknown";
}

// Peak int8 MAC/s of one core: best of 15 runs of independent vpdpbusd.
double PeakMacs() {
  double best = 0;
  volatile int32_t sink = 0;
  for (int r = 0; r < 15; ++r) {
    const long long it = 200000;
    const double t0 = ThreadSeconds();
    sink = sink + qs8_peak_vpdpbusd__avx512vnni(it);
    best = std::max(best, it * 24.0 * 64 / (ThreadSeconds() - t0));
  }
  return best;
}

int Main(int argc, char** argv) {
  int runs = 51;
  const char* only = nullptr;
  bool zero_only = false;  // Profiling the floor: only the all-zero run.
  int threads = 1;  // Of the sparse operator (the dense GEMM runs 1).
  bool use_dot_product = true;  // False: the AVX2 (vpmaddwd) kernel.
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--runs=", 7) == 0) runs = std::atoi(argv[i] + 7);
    if (std::strncmp(argv[i], "--layer=", 8) == 0) only = argv[i] + 8;
    if (std::strcmp(argv[i], "--zero_only") == 0) zero_only = true;
    if (std::strcmp(argv[i], "--no_dot") == 0) use_dot_product = false;
    if (std::strncmp(argv[i], "--threads=", 10) == 0) {
      threads = std::atoi(argv[i] + 10);
    }
  }
  if (!IsaSupported(Isa::kAvx512) || !GetCpuFeatures().avx512vnni) {
    std::printf("qs8_conv_pixvec_bench: needs AVX-512 VNNI, skipped\n");
    return 0;
  }
  std::unique_ptr<ThreadPool> pool;
  if (threads > 1) pool.reset(new ThreadPool(threads));
  g_wall_clock = threads > 1;
  const double peak = PeakMacs();
  std::printf(
      "CPU: %s; sparse %d thread(s), dense GEMM 1, batch 1, medians of %d "
      "runs (us)\n",
      CpuModel().c_str(), threads, runs);
  std::printf("peak vpdpbusd: %.1f int8 GMAC/s\n", peak * 1e-9);

  const float input_scale = 0.05f, output_scale = 0.1f;
  const float filter_scale = 0.002f;
  Qs8FcQuantization q;
  q.input_scale = input_scale;
  q.input_zero_point = -3;
  q.filter_scales = &filter_scale;
  q.output_scale = output_scale;
  q.output_zero_point = 5;

  std::printf(
      "%-16s %9s %6s | %9s %9s %9s %9s | %7s %7s %7s  kernel (tile)\n",
      "layer", "denseGEMM", "%peak", "pv dense", "pv fb75", "pv g90",
      "pv zero", "x fb75", "x g90", "x 0%");
  for (const Layer& l : kLayers) {
    if (only != nullptr && std::strcmp(only, l.name) != 0) continue;
    const size_t pixels = static_cast<size_t>(l.h) * l.w;
    std::mt19937 rng(11);
    std::uniform_int_distribution<int> byte(-128, 127);
    AlignedBuffer<int8_t> x(pixels * l.in);
    AlignedBuffer<uint8_t> xu(pixels * l.in);
    for (size_t i = 0; i < pixels * l.in; ++i) {
      x[i] = static_cast<int8_t>(byte(rng));
      xu[i] = static_cast<uint8_t>(x[i]) ^ 0x80u;
    }
    AlignedBuffer<int8_t> y(pixels * l.out);
    // Biases of a trained layer: no relation to the output scale (round
    // multiples of it would put every output of a channel on a tie).
    std::vector<int32_t> bias(l.out);
    std::uniform_int_distribution<int32_t> bias_value(-20000, 20000);
    for (int32_t& b : bias) b = bias_value(rng);

    // Dense GEMM baseline (on dense weights; its time does not depend on
    // their values).
    const std::vector<int8_t> wd = Weights(l, Pattern::kDense, 1);
    AlignedBuffer<int8_t> packed(static_cast<size_t>(l.out) * l.in);
    qs8_dense_conv1x1_pack(wd.data(), l.out, l.in, packed.data());
    std::vector<int32_t> folded(l.out);
    std::vector<float> scale(l.out, input_scale * filter_scale / output_scale);
    for (int o = 0; o < l.out; ++o) {
      int32_t sum = 0;
      for (int k = 0; k < l.in; ++k) {
        sum += wd[static_cast<size_t>(o) * l.in + k];
      }
      folded[o] = bias[o] - (q.input_zero_point + 128) * sum;
    }
    const double dense_us = zero_only ? 1.0 : MedianUs(
        [&] {
          qs8_dense_conv1x1__avx512vnni(pixels, l.out, l.in, xu.data(),
                                        packed.data(), folded.data(),
                                        scale.data(), q.output_zero_point,
                                        -128, 127, y.data());
        },
        runs);
    const double macs = static_cast<double>(pixels) * l.in * l.out;
    const double dense_peak = macs / (dense_us * 1e-6) / peak * 100;

    double us[4] = {0, 0, 0, 0};
    std::string kernel;
    int tile = 0;
    for (Pattern p : {Pattern::kDense, Pattern::kFilterBlocks75,
                      Pattern::kGroups90, Pattern::kZero}) {
      if (zero_only && p != Pattern::kZero) continue;
      const std::vector<int8_t> w = Weights(l, p, 1);
      Qs8ConvPixvec::Options options;
      options.use_dot_product = use_dot_product;
      std::string error;
      std::unique_ptr<Qs8ConvPixvec> op = Qs8ConvPixvec::Create(
          w.data(), l.out, l.in, bias.data(), q, options, &error);
      int oh = 0, ow = 0;
      if (op == nullptr || !op->Reshape(1, l.h, l.w, &oh, &ow, &error)) {
        std::printf("%s: %s\n", l.name, error.c_str());
        return 1;
      }
      kernel = op->kernel_name();
      tile = op->tile();
      us[static_cast<int>(p)] =
          MedianUs([&] { op->Run(x.data(), y.data(), pool.get()); }, runs);
    }
    const double pv_fb = us[0 + static_cast<int>(Pattern::kFilterBlocks75)];
    const double pv_g = us[static_cast<int>(Pattern::kGroups90)];
    const double pv_d = us[static_cast<int>(Pattern::kDense)];
    const double pv_z = us[static_cast<int>(Pattern::kZero)];
    std::printf(
        "%-16s %9.1f %5.0f%% | %9.1f %9.1f %9.1f %9.1f | %6.2fx %6.2fx "
        "%6.2fx  %s (%d)\n",
        l.name, dense_us, dense_peak, pv_d, pv_fb, pv_g, pv_z,
        dense_us / pv_fb, dense_us / pv_g, dense_us / pv_d, kernel.c_str(),
        tile);
  }
  return 0;
}

}  // namespace
}  // namespace tf_sparse

int main(int argc, char** argv) { return tf_sparse::Main(argc, argv); }
