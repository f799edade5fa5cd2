// Int8 3x3 convolution on pattern-sparse weights against dense int8:
//   bazel run -c opt //cc/bench:qs8_conv3x3_pattern_bench [-- reps]
// Layers: 56x56x64 -> 64 and 28x28x128 -> 128, stride 1, SAME, batch 1,
// 1 thread. Weights: 8 patterns of 4 taps; on every input channel each
// block of 16 filters shares one pattern, and half of the (block, channel)
// kernels are removed (so half of all kernels: 4/9 * 1/2 of the dense
// taps are kept). Compared: the pattern operator per kernel variant, a
// dense direct conv with vpdpbusd (qs8_conv3x3_dense.h, for XNNPACK's QS8
// conv; its share of the VNNI peak is printed) and the plain reference.
// Every output is checked against the reference first. Medians of `reps`.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cc/bench/qs8_conv3x3_dense.h"
#include "cc/kernels/dispatch.h"
#include "cc/kernels/qs8_conv3x3_pattern.h"
#include "cc/kernels/qs8_conv_reference.h"
#include "cc/util/cpu_features.h"

namespace tf_sparse {
namespace {

std::string CpuModel() {
  std::string model = "unknown";
  if (FILE* p = popen("lscpu 2>/dev/null", "r")) {
    char line[512];
    while (std::fgets(line, sizeof(line), p) != nullptr) {
      if (std::strncmp(line, "Model name:", 11) == 0) {
        const char* s = line + 11;
        while (*s == ' ') ++s;
        model = s;
        while (!model.empty() && model.back() == '\n') model.pop_back();
      }
    }
    pclose(p);
  }
  return model;
}

double MedianMs(int reps, const std::function<void()>& f) {
  f();  // Warm up.
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto a = std::chrono::steady_clock::now();
    f();
    const auto b = std::chrono::steady_clock::now();
    t.push_back(std::chrono::duration<double, std::milli>(b - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// PatDNN-style library: the center tap and 3 of its neighbours.
std::vector<unsigned> Library() {
  const int taps[8][4] = {{0, 1, 3, 4}, {1, 2, 4, 5}, {3, 4, 6, 7},
                          {4, 5, 7, 8}, {1, 3, 4, 5}, {1, 4, 5, 7},
                          {3, 4, 5, 7}, {1, 3, 4, 7}};
  std::vector<unsigned> lib;
  for (const auto& t : taps) {
    lib.push_back((1u << t[0]) | (1u << t[1]) | (1u << t[2]) | (1u << t[3]));
  }
  return lib;
}

void Layer(int hw, int c, int reps, double peak_dp_per_s) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> nz(1, 127);
  std::uniform_int_distribution<int> sign(0, 1);
  std::uniform_int_distribution<int> pick(0, 7);
  std::uniform_int_distribution<int> byte(-128, 127);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const std::vector<unsigned> lib = Library();
  const int out_c = c, in_c = c;
  std::vector<int8_t> w(static_cast<size_t>(out_c) * 9 * in_c, 0);
  for (int b = 0; b < out_c / 16; ++b) {
    for (int i = 0; i < in_c; ++i) {
      if (u(rng) < 0.5) continue;
      const unsigned m = lib[pick(rng)];
      for (int o = 16 * b; o < 16 * b + 16; ++o) {
        for (int t = 0; t < 9; ++t) {
          if (m & (1u << t)) {
            w[(static_cast<size_t>(o) * 9 + t) * in_c + i] =
                static_cast<int8_t>(sign(rng) ? nz(rng) : -nz(rng));
          }
        }
      }
    }
  }
  std::vector<int8_t> x(static_cast<size_t>(hw) * hw * in_c);
  for (int8_t& e : x) e = static_cast<int8_t>(byte(rng));
  std::vector<int32_t> bias(out_c);
  for (int32_t& e : bias) e = byte(rng) * 50;
  std::vector<float> scales(out_c);
  for (float& s : scales) s = static_cast<float>(0.005 * (0.5 + u(rng)));
  Qs8FcQuantization q;
  q.input_scale = 0.05f;
  q.input_zero_point = -3;
  q.filter_scales = scales.data();
  q.num_filter_scales = out_c;
  q.output_scale = 0.15f * std::sqrt(static_cast<float>(in_c));
  q.output_zero_point = 2;

  ConvShape s;
  s.in_h = s.in_w = s.out_h = s.out_w = hw;
  s.in_c = in_c;
  s.out_c = out_c;
  s.pad_top = s.pad_left = 1;
  const size_t y_size = static_cast<size_t>(hw) * hw * out_c;
  std::vector<int8_t> expected(y_size), y(y_size);
  const double t_ref = MedianMs(std::max(1, reps / 7), [&] {
    Qs8ConvReference(s, x.data(), w.data(), bias.data(), q,
                         expected.data());
  });

  std::printf("\nConv 3x3 %dx%dx%d -> %d, stride 1, SAME\n", hw, hw, in_c,
              out_c);
  const double dense_macs = static_cast<double>(hw) * hw * out_c * in_c * 9;
  const Qs8PatternConv3x3Stats st =
      Qs8PatternConv3x3::Analyze(w.data(), out_c, in_c);
  std::printf(
      "kept kernels %lld of %d (%.0f%%), patterns %d, entries %lld (dot "
      "products of 16 filters per pixel), slots %lld (%.2f patterns per "
      "channel)\n",
      static_cast<long long>(st.kept_kernels), out_c * in_c,
      100.0 * st.kept_kernels / (out_c * in_c), st.num_patterns,
      static_cast<long long>(st.entries), static_cast<long long>(st.slots),
      st.patterns_per_channel);

  double t_dense = 0.0;
  const CpuFeatures& f = GetCpuFeatures();
  if (f.avx512vnni) {
    Qs8DenseConv3x3Vnni dense(w.data(), out_c, in_c, bias.data(), q);
    dense.Run(x.data(), hw, hw, y.data());
    if (y != expected) {
      std::printf("dense VNNI conv differs from the reference\n");
      std::exit(1);
    }
    t_dense = MedianMs(reps, [&] { dense.Run(x.data(), hw, hw, y.data()); });
  }
  std::printf("%-48s %10s %10s %10s\n", "kernel", "median ms", "vs dense",
              "vs ref");
  std::printf("%-48s %10.3f %10s %9.1fx\n", "reference (plain C++, dense)",
              t_ref, "", 1.0);
  if (t_dense > 0) {
    const double share = dense_macs / 64.0 / (t_dense * 1e-3) / peak_dp_per_s;
    std::printf("%-48s %10.3f %9.2fx %9.1fx   (%.0f%% of VNNI peak)\n",
                "dense direct conv 6x64c4 avx512vnni", t_dense, 1.0,
                t_ref / t_dense, 100.0 * share);
  }
  struct V {
    Isa isa;
    bool dot;
  };
  for (V v : {V{Isa::kAvx512, true}, V{Isa::kAvx512, false},
              V{Isa::kScalar, true}}) {
    if (!IsaSupported(v.isa)) continue;
    Qs8PatternConv3x3::Params p;
    p.isa = static_cast<int>(v.isa);
    p.use_dot_product = v.dot;
    std::string error;
    auto op = Qs8PatternConv3x3::Create(w.data(), out_c, in_c, bias.data(), q,
                                        p, &error);
    int oh, ow;
    if (op == nullptr || !op->Reshape(1, hw, hw, &oh, &ow, &error)) {
      std::printf("%s\n", error.c_str());
      std::exit(1);
    }
    op->Run(x.data(), y.data(), nullptr);
    if (y != expected) {
      std::printf("%s differs from the reference\n", op->kernel_name());
      std::exit(1);
    }
    const double t = MedianMs(v.isa == Isa::kScalar ? std::max(1, reps / 7)
                                                    : reps,
                              [&] { op->Run(x.data(), y.data(), nullptr); });
    char speed[32] = "";
    if (t_dense > 0) std::snprintf(speed, sizeof(speed), "%9.2fx", t_dense / t);
    std::printf("%-48s %10.3f %10s %9.1fx\n", op->kernel_name(), t, speed,
                t_ref / t);
  }
}

int Main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 21;
  std::printf("CPU: %s; 1 thread, batch 1, medians of %d runs\n",
              CpuModel().c_str(), reps);
  double peak = 0.0;
  if (GetCpuFeatures().avx512vnni) {
    // Short runs, median (as the layers): the machine is shared.
    const long long iters = 50000;
    std::vector<double> r;
    for (int i = 0; i < 201; ++i) {
      const auto a = std::chrono::steady_clock::now();
      volatile int32_t sink = Qs8PeakVnni(iters);
      (void)sink;
      const auto b = std::chrono::steady_clock::now();
      r.push_back(24.0 * iters /
                  std::chrono::duration<double>(b - a).count());
    }
    std::sort(r.begin(), r.end());
    peak = r[100];
    std::printf("VNNI peak: %.2f G vpdpbusd/s (zmm), %.0f G int8 MAC/s\n",
                peak * 1e-9, peak * 64e-9);
  }
  Layer(56, 64, reps, peak);
  Layer(28, 128, reps, peak);
  return 0;
}

}  // namespace
}  // namespace tf_sparse

int main(int argc, char** argv) { return tf_sparse::Main(argc, argv); }
