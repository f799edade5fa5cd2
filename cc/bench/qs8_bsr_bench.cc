// Speed of the int8 BSR 1 x 4 fully connected kernels (90% block sparsity)
// against dense int8: TFLite's reference integer kernel written plainly
// (scalar) and a dense AVX-512 VNNI matrix-vector product; the float BSR
// 1 x 4 operator on the same pattern for scale. Google Benchmark; report
// medians with
//   bazel run -c opt //cc/bench:qs8_bsr_bench --
//       --benchmark_repetitions=15 --benchmark_report_aggregates_only=true
// (one command line).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cc/kernels/dispatch.h"
#include "cc/kernels/f32_bsr_fully_connected.h"
#include "cc/kernels/qs8_bsr_fully_connected.h"
#include "cc/kernels/qs8_dense_reference.h"
#include "cc/kernels/requantize.h"
#include "cc/util/cpu_features.h"
#if defined(__x86_64__)
#include "cc/bench/qs8_dense_gemv.h"
#endif

namespace tf_sparse {
namespace {

struct Layer {
  int out;
  int in;
  double sparsity;
};

// 1x4 blocks dropped with probability `sparsity`; kept entries in
// [-127, 127] \ {0}.
std::vector<int8_t> Weights(const Layer& l, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> value(1, 127);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  std::vector<int8_t> w(static_cast<size_t>(l.out) * l.in, 0);
  for (int o = 0; o < l.out; ++o) {
    for (int k = 0; k < l.in; k += 4) {
      if (coin(rng) < l.sparsity) continue;
      for (int j = k; j < k + 4 && j < l.in; ++j) {
        const int v = value(rng);
        w[static_cast<size_t>(o) * l.in + j] =
            static_cast<int8_t>(rng() & 1 ? v : -v);
      }
    }
  }
  return w;
}

std::vector<int8_t> Input(int in) {
  std::mt19937 rng(9);
  std::uniform_int_distribution<int> value(-128, 127);
  std::vector<int8_t> x(in);
  for (int8_t& v : x) v = static_cast<int8_t>(value(rng));
  return x;
}

const float kFilterScale[] = {0.002f};

Qs8FcQuantization Quantization() {
  Qs8FcQuantization q;
  q.input_scale = 0.05f;
  q.input_zero_point = -3;
  q.filter_scales = kFilterScale;
  q.output_scale = 0.2f;
  q.output_zero_point = 4;
  return q;
}

void Qs8Bsr(benchmark::State& state, Layer l, Isa isa, bool dot) {
  if (!IsaSupported(isa)) {
    state.SkipWithError("ISA not supported here");
    return;
  }
  const std::vector<int8_t> w = Weights(l, 1);
  const std::vector<int8_t> x = Input(l.in);
  std::vector<int32_t> bias(l.out, 100);
  Qs8BsrFullyConnected::Options options;
  options.isa = static_cast<int>(isa);
  options.use_dot_product = dot;
  std::string error;
  auto op = Qs8BsrFullyConnected::Create(w.data(), l.out, l.in, bias.data(),
                                         Quantization(), options, &error);
  if (op == nullptr) {
    state.SkipWithError(error.c_str());
    return;
  }
  state.SetLabel(op->kernel_name());
  std::vector<int8_t> y(l.out);
  for (auto _ : state) {
    op->Run(1, x.data(), y.data(), nullptr);
    benchmark::DoNotOptimize(y.data());
  }
}

void F32Bsr(benchmark::State& state, Layer l) {
  const std::vector<int8_t> wq = Weights(l, 1);
  std::vector<float> w(wq.begin(), wq.end());
  std::vector<float> x(l.in, 0.5f);
  std::string error;
  auto op = F32BsrFullyConnected::Create(
      w.data(), l.out, l.in, nullptr, -1e30f, 1e30f,
      F32BsrFullyConnected::Options(), &error);
  if (op == nullptr) {
    state.SkipWithError(error.c_str());
    return;
  }
  state.SetLabel(op->kernel_name());
  std::vector<float> y(l.out);
  for (auto _ : state) {
    op->Run(1, x.data(), y.data(), nullptr);
    benchmark::DoNotOptimize(y.data());
  }
}

void Qs8DenseReference(benchmark::State& state, Layer l) {
  const std::vector<int8_t> w = Weights(l, 1);
  const std::vector<int8_t> x = Input(l.in);
  std::vector<int32_t> bias(l.out, 100);
  std::vector<QuantizedMultiplier> rows;
  ComputeFcMultipliers(Quantization(), l.out, &rows);
  std::vector<int8_t> y(l.out);
  state.SetLabel("TFLite reference formula, scalar");
  for (auto _ : state) {
    Qs8FullyConnectedReference(1, l.out, l.in, x.data(), -3, w.data(),
                               bias.data(), rows.data(), 4, -128, 127,
                               y.data());
    benchmark::DoNotOptimize(y.data());
  }
}

#if defined(__x86_64__)
void Qs8DenseVnni(benchmark::State& state, Layer l) {
  if (!GetCpuFeatures().avx512vnni || !IsaSupported(Isa::kAvx512)) {
    state.SkipWithError("no AVX-512 VNNI");
    return;
  }
  const std::vector<int8_t> w = Weights(l, 1);
  const std::vector<int8_t> x = Input(l.in);
  std::vector<uint8_t> xu(l.in);
  for (int k = 0; k < l.in; ++k) xu[k] = static_cast<uint8_t>(x[k]) ^ 0x80u;
  std::vector<int32_t> bias(l.out, 100);
  std::vector<QuantizedMultiplier> rows;
  ComputeFcMultipliers(Quantization(), l.out, &rows);
  std::vector<int32_t> m(l.out), s(l.out);
  for (int o = 0; o < l.out; ++o) {
    m[o] = rows[o].multiplier;
    s[o] = rows[o].shift;
  }
  std::vector<int8_t> y(l.out);
  state.SetLabel("qs8_dense_gemv__avx512vnni");
  for (auto _ : state) {
    qs8_dense_gemv__avx512vnni(l.out, l.in, w.data(), bias.data(), xu.data(),
                               m.data(), s.data(), 4, y.data());
    benchmark::DoNotOptimize(y.data());
  }
}
#endif

std::string CpuModel() {
  std::string model = "unknown";
  if (FILE* p = popen("lscpu 2>/dev/null", "r")) {
    char line[512];
    while (std::fgets(line, sizeof(line), p) != nullptr) {
      if (std::strncmp(line, "Model name:", 11) == 0) {
        const char* v = line + 11;
        while (*v == ' ') ++v;
        model = v;
        if (!model.empty() && model.back() == '\n') model.pop_back();
      }
    }
    pclose(p);
  }
  return model;
}

void Register() {
  const Layer layers[] = {{1024, 1024, 0.9}, {1024, 4096, 0.9}};
  for (const Layer& l : layers) {
    const std::string shape =
        "FC" + std::to_string(l.in) + "->" + std::to_string(l.out);
    auto name = [&](const char* what) { return shape + "/" + what; };
    benchmark::RegisterBenchmark(name("qs8_bsr1x4_90/scalar").c_str(), Qs8Bsr,
                                 l, Isa::kScalar, true);
#if defined(__x86_64__)
    benchmark::RegisterBenchmark(name("qs8_bsr1x4_90/avx2").c_str(), Qs8Bsr,
                                 l, Isa::kAvx2, true);
    benchmark::RegisterBenchmark(name("qs8_bsr1x4_90/avx512vnni").c_str(),
                                 Qs8Bsr, l, Isa::kAvx512, true);
#elif defined(__aarch64__)
    benchmark::RegisterBenchmark(name("qs8_bsr1x4_90/neon").c_str(), Qs8Bsr,
                                 l, Isa::kNeon, false);
    benchmark::RegisterBenchmark(name("qs8_bsr1x4_90/neondot").c_str(),
                                 Qs8Bsr, l, Isa::kNeon, true);
#endif
    benchmark::RegisterBenchmark(name("f32_bsr1x4_90/active").c_str(), F32Bsr,
                                 l);
    const Layer dense = {l.out, l.in, 0.0};
    benchmark::RegisterBenchmark(name("qs8_dense/reference").c_str(),
                                 Qs8DenseReference, dense);
#if defined(__x86_64__)
    benchmark::RegisterBenchmark(name("qs8_dense/avx512vnni").c_str(),
                                 Qs8DenseVnni, dense);
    benchmark::RegisterBenchmark(name("qs8_bsr1x4_0/avx512vnni").c_str(),
                                 Qs8Bsr, dense, Isa::kAvx512, true);
#endif
  }
}

}  // namespace
}  // namespace tf_sparse

int main(int argc, char** argv) {
  std::printf("CPU: %s; 1 thread, batch 1\n", tf_sparse::CpuModel().c_str());
  tf_sparse::Register();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
