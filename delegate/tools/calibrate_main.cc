// Measures the calibration (delegate/calibration.h) on this CPU and prints
// it as JSON, one object per ISA the CPU supports, each the median of
// --runs measurements (default 5): the numbers kReference in calibration.cc
// holds for the reference CPU, and a check of another one.
//
// Usage: bazel run //delegate/tools:calibrate -- [--runs N]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cc/kernels/dispatch.h"
#include "delegate/calibration.h"

int main(int argc, char** argv) {
  using namespace tf_sparse;
  int runs = 5;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--runs N]\n", argv[0]);
      return 2;
    }
  }
  if (runs < 1) runs = 1;
  std::printf("[\n");
  bool first = true;
  for (Isa isa : {Isa::kAvx512, Isa::kAvx2, Isa::kNeon, Isa::kSve,
                  Isa::kScalar}) {
    if (!IsaSupported(isa)) continue;
    std::vector<Calibration> all;
    for (int r = 0; r < runs; ++r) all.push_back(MeasureCalibration(isa));
    Calibration median = all[0];
    for (int f = 0; f < kNumCostFamilies; ++f) {
      std::vector<double> ratios, factors;
      for (const Calibration& c : all) {
        ratios.push_back(c.ratio[f]);
        factors.push_back(c.factor[f]);
      }
      std::sort(ratios.begin(), ratios.end());
      std::sort(factors.begin(), factors.end());
      median.ratio[f] = ratios[ratios.size() / 2];
      median.factor[f] = factors[factors.size() / 2];
    }
    std::printf("%s%s", first ? "" : ",\n", median.Json().c_str());
    first = false;
  }
  std::printf("\n]\n");
  return 0;
}
