// Speed of the int8 row-group operator (unstructured and N:M weights; for
// 2:4 both the windows and the N:4 layout) against the dense int8 AVX-512
// VNNI matrix-vector product and the int8 BSR 1 x 4 operator on the same
// weights: 1 thread, batch 1, FC 1024->1024 and 4096->1024 at 90% random
// sparsity and 2:4. Every variant of a layer
// is timed in turn, repetition after repetition (so load from other
// processes hits them alike); the table gives the median and minimum time
// per call and the median over repetitions of the paired ratio to dense.
//   bazel run -c opt //cc/bench:qs8_sparse_fc_bench [-- repetitions]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cc/formats/qs8_row_group.h"
#include "cc/kernels/dispatch.h"
#include "cc/kernels/qs8_bsr_fully_connected.h"
#include "cc/kernels/qs8_row_group_fully_connected.h"
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
  const char* pattern;  // "90%" (random) or "2:4".
};

std::vector<int8_t> Weights(const Layer& l, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> value(1, 127);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  std::vector<int8_t> w(static_cast<size_t>(l.out) * l.in, 0);
  auto v = [&] {
    const int a = value(rng);
    return static_cast<int8_t>(rng() & 1 ? a : -a);
  };
  const bool nm = std::strcmp(l.pattern, "2:4") == 0;
  for (int o = 0; o < l.out; ++o) {
    int8_t* row = w.data() + static_cast<size_t>(o) * l.in;
    if (nm) {
      for (int k = 0; k < l.in; k += 4) {
        int idx[4] = {0, 1, 2, 3};
        std::shuffle(idx, idx + 4, rng);
        row[k + idx[0]] = v();
        row[k + idx[1]] = v();
      }
    } else {
      for (int k = 0; k < l.in; ++k) {
        if (coin(rng) >= 0.9) row[k] = v();
      }
    }
  }
  return w;
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

struct Candidate {
  std::string name;
  std::string kernel;
  std::function<void()> run;
  std::vector<double> us;  // Per repetition: microseconds per call.
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void Bench(const Layer& l, int repetitions) {
  const std::vector<int8_t> w = Weights(l, 1);
  std::vector<int8_t> x(l.in);
  std::mt19937 rng(9);
  for (int8_t& e : x) e = static_cast<int8_t>(static_cast<int>(rng() % 256) - 128);
  std::vector<int32_t> bias(l.out, 100);
  std::vector<int8_t> y(l.out);
  const Qs8FcQuantization q = Quantization();
  std::vector<Candidate> cands;
  std::string error;

#if defined(__x86_64__)
  std::vector<uint8_t> xu(l.in);
  std::vector<int32_t> m(l.out), s(l.out);
  if (GetCpuFeatures().avx512vnni && IsaSupported(Isa::kAvx512)) {
    for (int k = 0; k < l.in; ++k) xu[k] = static_cast<uint8_t>(x[k]) ^ 0x80u;
    std::vector<QuantizedMultiplier> rows;
    ComputeFcMultipliers(q, l.out, &rows);
    for (int o = 0; o < l.out; ++o) {
      m[o] = rows[o].multiplier;
      s[o] = rows[o].shift;
    }
    cands.push_back({"dense", "qs8_dense_gemv__avx512vnni", [&] {
                       qs8_dense_gemv__avx512vnni(l.out, l.in, w.data(),
                                                  bias.data(), xu.data(),
                                                  m.data(), s.data(), 4,
                                                  y.data());
                     }, {}});
  }
#endif
  std::vector<std::shared_ptr<void>> keep;
  using Layout = Qs8RowGroupFullyConnected::Layout;
  auto add_row_group = [&](const char* name, Isa isa, bool dot,
                           Layout layout) {
    if (!IsaSupported(isa)) return;
    Qs8RowGroupFullyConnected::Options o;
    o.isa = static_cast<int>(isa);
    o.use_dot_product = dot;
    o.layout = layout;
    std::shared_ptr<Qs8RowGroupFullyConnected> op(
        Qs8RowGroupFullyConnected::Create(w.data(), l.out, l.in, bias.data(),
                                          q, o, &error)
            .release());
    if (op == nullptr) return;
    keep.push_back(op);
    Qs8RowGroupFullyConnected* p = op.get();
    cands.push_back({name, op->kernel_name(),
                     [&, p] { p->Run(1, x.data(), y.data(), nullptr); }, {}});
  };
  auto add_bsr = [&](const char* name, Isa isa, bool dot) {
    if (!IsaSupported(isa)) return;
    Qs8BsrFullyConnected::Options o;
    o.isa = static_cast<int>(isa);
    o.use_dot_product = dot;
    std::shared_ptr<Qs8BsrFullyConnected> op(
        Qs8BsrFullyConnected::Create(w.data(), l.out, l.in, bias.data(), q, o,
                                     &error)
            .release());
    if (op == nullptr) return;
    keep.push_back(op);
    Qs8BsrFullyConnected* p = op.get();
    cands.push_back({name, op->kernel_name(),
                     [&, p] { p->Run(1, x.data(), y.data(), nullptr); }, {}});
  };
#if defined(__x86_64__)
  add_row_group("rowgroup", Isa::kAvx512, true, Layout::kNm4);
  add_row_group("rowgroup", Isa::kAvx512, true, Layout::kWindows);
  add_row_group("rowgroup", Isa::kAvx2, true, Layout::kWindows);
  add_bsr("bsr1x4", Isa::kAvx512, true);
  add_bsr("bsr1x4", Isa::kAvx2, true);
#elif defined(__aarch64__)
  add_row_group("rowgroup", Isa::kNeon, true, Layout::kWindows);
  add_row_group("rowgroup", Isa::kNeon, false, Layout::kWindows);
  add_bsr("bsr1x4", Isa::kNeon, true);
#endif
  add_row_group("rowgroup", Isa::kScalar, true, Layout::kWindows);

  // Calls per repetition: about 1 ms of each candidate.
  std::vector<int> calls(cands.size());
  for (size_t i = 0; i < cands.size(); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    int n = 0;
    while (std::chrono::steady_clock::now() - t0 <
           std::chrono::milliseconds(1)) {
      cands[i].run();
      ++n;
    }
    calls[i] = std::max(n, 1);
  }
  for (int r = 0; r < repetitions; ++r) {
    for (size_t i = 0; i < cands.size(); ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int n = 0; n < calls[i]; ++n) cands[i].run();
      const auto t1 = std::chrono::steady_clock::now();
      cands[i].us.push_back(
          std::chrono::duration<double, std::micro>(t1 - t0).count() /
          calls[i]);
    }
  }
  const int64_t slices = CountQs8RowGroupSlices(w.data(), l.out, l.in);
  int64_t nnz = 0;
  for (int8_t e : w) nnz += e != 0;
  std::printf("\nFC %d->%d, %s (nnz %lld, row-group slices %lld, fill %.2f)\n",
              l.in, l.out, l.pattern, static_cast<long long>(nnz),
              static_cast<long long>(slices),
              static_cast<double>(nnz) / (64.0 * static_cast<double>(slices)));
  std::printf("| %-9s | %-40s | %10s | %8s | %9s |\n", "operator",
              "kernel", "median us", "min us", "vs dense");
  std::printf("|---|---|---:|---:|---:|\n");
  const bool has_dense = !cands.empty() && cands[0].name == "dense";
  for (const Candidate& c : cands) {
    // Speedup: the median over repetitions of dense time / this time in
    // the same repetition (paired, so slow phases of the machine cancel).
    std::vector<double> ratio;
    for (size_t r = 0; r < c.us.size() && has_dense; ++r) {
      ratio.push_back(cands[0].us[r] / c.us[r]);
    }
    std::printf("| %-9s | %-40s | %10.2f | %8.2f | %8.2fx |\n",
                c.name.c_str(), c.kernel.c_str(), Median(c.us),
                *std::min_element(c.us.begin(), c.us.end()),
                ratio.empty() ? 0.0 : Median(ratio));
  }
}

}  // namespace
}  // namespace tf_sparse

int main(int argc, char** argv) {
  const int repetitions = argc > 1 ? std::atoi(argv[1]) : 31;
  std::printf("CPU: %s; 1 thread, batch 1, medians of %d repetitions\n",
              tf_sparse::CpuModel().c_str(), repetitions);
  const tf_sparse::Layer layers[] = {{1024, 1024, "90%"},
                                     {1024, 4096, "90%"},
                                     {1024, 1024, "2:4"},
                                     {1024, 4096, "2:4"}};
  for (const auto& l : layers) tf_sparse::Bench(l, repetitions);
  return 0;
}
