// CSR, N:M and GS: packers round-trip, and every kernel of every supported
// ISA matches the scalar reference and a dense product on edge shapes.
#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "cc/formats/csr.h"
#include "cc/formats/gs.h"
#include "cc/formats/nm.h"
#include "cc/kernels/dispatch.h"
#include "cc/kernels/f32_csr_fully_connected.h"
#include "cc/kernels/f32_gs_fully_connected.h"
#include "cc/kernels/f32_nm_fully_connected.h"
#include "cc/tests/sparse_fc_tester.h"
#include "cc/tests/special_values.h"
#include "gtest/gtest.h"

namespace tf_sparse {
namespace {

// Every ISA of this build's architecture that the CPU has: x86-64 tests
// AVX2/AVX-512, aarch64 NEON and SVE (whose selection falls back to the
// NEON kernels of these formats).
std::vector<Isa> SupportedIsas() {
  std::vector<Isa> out;
  for (Isa isa :
       {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon, Isa::kSve}) {
    if (IsaSupported(isa)) out.push_back(isa);
  }
  return out;
}

float NonzeroValue(std::mt19937& rng) {
  std::uniform_real_distribution<float> v(0.1f, 1.0f);
  return (rng() & 1) ? v(rng) : -v(rng);
}

std::vector<float> Unstructured(int out, int in, double sparsity,
                                uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  std::vector<float> w(static_cast<size_t>(out) * in, 0.0f);
  for (float& v : w) {
    if (coin(rng) >= sparsity) v = NonzeroValue(rng);
  }
  return w;
}

// At most n nonzeros in every m consecutive inputs; some groups hold fewer.
std::vector<float> NmPattern(int out, int in, int n, int m, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> w(static_cast<size_t>(out) * in, 0.0f);
  std::vector<int> perm(m);
  for (int o = 0; o < out; ++o) {
    for (int j0 = 0; j0 < in; j0 += m) {
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), rng);
      const int keep = static_cast<int>(rng() % (n + 1)) == 0 ? n - 1 : n;
      for (int s = 0; s < keep; ++s) {
        if (j0 + perm[s] < in) {
          w[static_cast<size_t>(o) * in + j0 + perm[s]] = NonzeroValue(rng);
        }
      }
    }
  }
  return w;
}

// A valid GS pattern: per group of R rows, `packs` packs, each assigning
// the B banks to the R rows e at a time at random columns of the bank
// (cells hit twice merge, which the packer absorbs as padding).
std::vector<float> GsPattern(int out, int in, int B, int e, int packs,
                             uint32_t seed) {
  std::mt19937 rng(seed);
  const int R = B / e;
  std::vector<float> w(static_cast<size_t>(out) * in, 0.0f);
  std::vector<int> banks(B);
  for (int g = 0; g < out / R; ++g) {
    for (int p = 0; p < packs; ++p) {
      std::iota(banks.begin(), banks.end(), 0);
      std::shuffle(banks.begin(), banks.end(), rng);
      for (int l = 0; l < B; ++l) {
        const int row = g * R + l / e;
        const int col = banks[l] + B * static_cast<int>(rng() % (in / B));
        w[static_cast<size_t>(row) * in + col] = NonzeroValue(rng);
      }
    }
  }
  return w;
}

TEST(CsrFormat, RoundTrip) {
  for (int cols : {1, 7, 300}) {
    const std::vector<float> w = Unstructured(5, cols, 0.7, 3);
    const CsrMatrix m = PackCsr(w.data(), 5, cols);
    EXPECT_EQ(m.index_bytes, 2);
    std::vector<float> back(w.size());
    UnpackCsr(m, back.data());
    EXPECT_EQ(back, w);
  }
  const std::vector<float> w = Unstructured(2, 70000, 0.99, 4);
  const CsrMatrix m = PackCsr(w.data(), 2, 70000);
  EXPECT_EQ(m.index_bytes, 4);
  std::vector<float> back(w.size());
  UnpackCsr(m, back.data());
  EXPECT_EQ(back, w);
}

TEST(CsrFormat, PanelsRoundTrip) {
  for (int rows : {1, 16, 37}) {
    for (int cols : {1, 32, 45, 300}) {
      const std::vector<float> w = Unstructured(rows, cols, 0.8, 6);
      const CsrPanelMatrix m = PackCsrPanels(w.data(), rows, cols);
      EXPECT_EQ(m.num_slices(), CountCsrPanelSlices(w.data(), rows, cols));
      std::vector<float> back(w.size());
      UnpackCsrPanels(m, back.data());
      EXPECT_EQ(back, w) << rows << "x" << cols;
      // Every window lies inside x (or starts at 0 when x is shorter).
      EXPECT_EQ(m.num_slices() % kCsrPanelQuad, 0);
      for (int64_t s = 0; s < m.num_slices(); ++s) {
        const int base = m.base[s / kCsrPanelQuad];
        EXPECT_GE(base, 0);
        EXPECT_LE(base, std::max(0, cols - kCsrPanelCols));
        for (int l = 0; l < kCsrPanelRows; ++l) {
          const int off = m.offsets[CsrPanelOffsetAt(s, l)];
          EXPECT_LT(off, kCsrPanelCols);
          EXPECT_LT(base + off, cols);
        }
      }
    }
  }
}

// The sliding window's point: at 90% random sparsity a fixed 32-column
// panel needs as many slices as its fullest row (~2 slots a nonzero); the
// 64-column window that follows the lagging row needs far fewer (~1.3).
TEST(CsrFormat, SlidingWindowsPadLittle) {
  const int rows = 64, cols = 1024;
  const std::vector<float> w = Unstructured(rows, cols, 0.9, 8);
  int64_t nnz = 0;
  for (float v : w) nnz += v != 0.0f;
  const CsrPanelMatrix m = PackCsrPanels(w.data(), rows, cols);
  const double slots_per_nonzero =
      static_cast<double>(m.num_slices()) * kCsrPanelRows / nnz;
  EXPECT_LT(slots_per_nonzero, 1.45);
  // Dense rows: 4 nonzeros a row per quad, no fillers.
  const std::vector<float> dense(16 * 128, 1.0f);
  EXPECT_EQ(PackCsrPanels(dense.data(), 16, 128).num_slices(), 128);
}

TEST(NmFormat, RoundTripAndLayout) {
  for (auto nm : {std::pair<int, int>{2, 4}, {1, 4}, {4, 8}, {1, 8}, {2, 32}}) {
    for (int cols : {3, 64, 100}) {
      const std::vector<float> w = NmPattern(3, cols, nm.first, nm.second, 5);
      const NmMatrix p = PackNm(w.data(), 3, cols, nm.first, nm.second);
      EXPECT_EQ(p.kept_per_row % kNmChunk, 0);
      EXPECT_GE(p.padded_cols, cols);
      std::vector<float> back(w.size());
      UnpackNm(p, back.data());
      EXPECT_EQ(back, w) << nm.first << ":" << nm.second << " cols " << cols;
    }
  }
  // 2:4, one row, columns 0..31: the nonzero at column 5 is group 1,
  // position 1, stored after the filler at position 0: value slot 3.
  std::vector<float> w(32, 0.0f);
  w[5] = 2.0f;
  const NmMatrix p = PackNm(w.data(), 1, 32, 2, 4);
  EXPECT_EQ(p.index_bits, 2);
  EXPECT_EQ(p.kept_per_row, 16);
  EXPECT_EQ(p.values[3], 2.0f);
  EXPECT_EQ(p.positions[0], (1u << 2) | (0u << 4) | (1u << 6) | (1u << 10) |
                                (1u << 14) | (1u << 18) | (1u << 22) |
                                (1u << 26) | (1u << 30));
}

TEST(NmFormat, RowGroupsRoundTrip) {
  for (auto nm : {std::pair<int, int>{2, 4}, {1, 4}, {4, 8}, {1, 2}, {2, 32}}) {
    for (int rows : {1, 16, 21}) {
      for (int cols : {3, 64, 100}) {
        const std::vector<float> w =
            NmPattern(rows, cols, nm.first, nm.second, 8);
        const NmRowGroupMatrix p =
            PackNmRowGroups(w.data(), rows, cols, nm.first, nm.second);
        std::vector<float> back(w.size());
        UnpackNmRowGroups(p, back.data());
        EXPECT_EQ(back, w) << nm.first << ":" << nm.second << " " << rows << "x"
                           << cols;
      }
    }
  }
}

TEST(NmFormat, RejectsTooManyNonzeros) {
  std::vector<float> w(8, 1.0f);
  EXPECT_THROW(PackNm(w.data(), 1, 8, 2, 4), std::invalid_argument);
  EXPECT_EQ(MaxNonzerosPerGroup(w.data(), 1, 8, 4), 4);
  EXPECT_FALSE(CheckNmShape(1, 8, 3, 4).empty());
}

TEST(GsFormat, ValidPatternPacksWithoutPadding) {
  // Distinct columns per cell: packs of a permutation each, one column per
  // (row, bank) and pack.
  const int B = 16, rows = 32, cols = 64;
  for (int e : {1, 2, 4, 16}) {
    const int R = B / e;
    std::vector<float> w(static_cast<size_t>(rows) * cols, 0.0f);
    std::mt19937 rng(9);
    for (int g = 0; g < rows / R; ++g) {
      for (int p = 0; p < 3; ++p) {
        std::vector<int> banks(B);
        std::iota(banks.begin(), banks.end(), 0);
        std::shuffle(banks.begin(), banks.end(), rng);
        for (int l = 0; l < B; ++l) {
          w[static_cast<size_t>(g * R + l / e) * cols + banks[l] + B * p] =
              NonzeroValue(rng);
        }
      }
    }
    const GsStats s = MeasureGs(w.data(), rows, cols, B, e);
    EXPECT_TRUE(s.balanced);
    EXPECT_EQ(s.padding, 0);
    const GsMatrix m = PackGs(w.data(), rows, cols, B, e);
    EXPECT_EQ(m.num_packs(), 3 * rows / R);
    for (int64_t p = 0; p < m.num_packs(); ++p) {
      std::vector<int> seen(B, 0);
      for (int l = 0; l < B; ++l) {
        EXPECT_NE(m.values[p * B + l], 0.0f);
        ++seen[m.col_idx16[p * B + l] % B];
      }
      for (int b = 0; b < B; ++b) EXPECT_EQ(seen[b], 1) << "bank " << b;
    }
    std::vector<float> back(w.size());
    UnpackGs(m, back.data());
    EXPECT_EQ(back, w);
  }
}

TEST(GsFormat, AnyMatrixPacksWithPadding) {
  for (int e : {1, 4}) {
    const std::vector<float> w = Unstructured(32, 48, 0.8, 11);
    const GsStats s = MeasureGs(w.data(), 32, 48, 8, e);
    const GsMatrix m = PackGs(w.data(), 32, 48, 8, e);
    EXPECT_EQ(m.num_packs(), s.packs);
    std::vector<float> back(w.size());
    UnpackGs(m, back.data());
    EXPECT_EQ(back, w);
  }
  EXPECT_FALSE(CheckGsShape(32, 50, 16, 1).empty());
  EXPECT_FALSE(CheckGsShape(30, 48, 16, 1).empty());
}

// Each ISA selects its own kernels: a vector ISA of this architecture never
// silently runs the scalar ones (SVE runs its own GS kernel and NEON's CSR
// and N:M kernels).
TEST(SparseKernelSelection, KernelsOfThisArchitecture) {
  struct Expected {
    Isa isa;
    std::string csr_nm;  // Name suffix of the CSR and N:M kernels.
    std::string gs;      // Of the GS kernel.
  };
  std::vector<Expected> cases = {{Isa::kScalar, "__scalar", "__scalar"}};
#if defined(__x86_64__)
  cases.push_back({Isa::kAvx2, "__avx2", "__avx2"});
  cases.push_back({Isa::kAvx512, "__avx512", "__avx512"});
#elif defined(__aarch64__)
  cases.push_back({Isa::kNeon, "__neonfma", "__neonfma"});
  cases.push_back({Isa::kSve, "__neonfma", "__sve"});
#endif
  for (const Expected& c : cases) {
    EXPECT_EQ(SelectF32CsrUkernel(c.isa).name, "f32_csr_minmax" + c.csr_nm);
    EXPECT_EQ(SelectF32CsrUkernel(c.isa).panel_name,
              "f32_csr_panel_minmax_16x64" + c.csr_nm);
    EXPECT_EQ(SelectF32NmUkernel(c.isa).name, "f32_nm_minmax" + c.csr_nm);
    EXPECT_EQ(SelectF32NmUkernel(c.isa).row_group_name,
              "f32_nm_rowgroup_minmax_16" + c.csr_nm);
    EXPECT_EQ(SelectF32GsUkernel(c.isa).name, "f32_gs_minmax" + c.gs);
  }
}

class SparseKernels : public ::testing::TestWithParam<Isa> {};

TEST_P(SparseKernels, Csr) {
  const Isa isa = GetParam();
  struct Shape {
    int out, in;
    double sparsity;
    int batch;
  };
  for (const Shape& s :
       {Shape{1, 1, 0.0, 1}, Shape{1, 37, 0.5, 1}, Shape{17, 13, 0.9, 3},
        Shape{33, 100, 0.0, 2}, Shape{20, 50, 1.0, 1}, Shape{64, 257, 0.9, 5},
        Shape{7, 70000, 0.999, 1}, Shape{16, 32, 0.7, 2},
        Shape{16, 31, 0.3, 1}, Shape{48, 33, 0.6, 2}, Shape{16, 64, 0.2, 1},
        Shape{20, 65, 0.5, 2}, Shape{16, 130, 0.95, 1}}) {
    SparseFcTester t;
    t.out(s.out).in(s.in).batch(s.batch);
    const std::vector<float> w = Unstructured(s.out, s.in, s.sparsity, 1);
    for (auto layout : {F32CsrFullyConnected::Layout::kPanels,
                        F32CsrFullyConnected::Layout::kRows}) {
      F32CsrFullyConnected::Options o;
      o.layout = layout;
      SparseFcTester u = t;
      u.Test<F32CsrFullyConnected>(w, o, isa);
      u.bias(false).clamp(-0.5f, 0.25f).threads(3);
      u.Test<F32CsrFullyConnected>(w, o, isa);
    }
  }
}

TEST_P(SparseKernels, Nm) {
  const Isa isa = GetParam();
  struct Case {
    int n, m, out, in, batch;
  };
  for (const Case& c :
       {Case{2, 4, 1, 4, 1}, Case{2, 4, 17, 13, 3}, Case{2, 4, 32, 128, 2},
        Case{1, 4, 9, 100, 1}, Case{4, 8, 5, 77, 2}, Case{1, 8, 6, 200, 1},
        Case{2, 8, 3, 64, 4}, Case{1, 2, 4, 33, 1}, Case{8, 16, 3, 50, 1},
        Case{2, 32, 3, 300, 2}}) {
    SparseFcTester t;
    t.out(c.out).in(c.in).batch(c.batch);
    F32NmFullyConnected::Options o;
    o.n = c.n;
    o.m = c.m;
    const std::vector<float> w = NmPattern(c.out, c.in, c.n, c.m, 2);
    for (auto layout : {F32NmFullyConnected::Layout::kAuto,
                        F32NmFullyConnected::Layout::kRows}) {
      o.layout = layout;
      SparseFcTester u = t;
      u.Test<F32NmFullyConnected>(w, o, isa);
      u.bias(false).clamp(0.0f, 0.5f).threads(2);
      u.Test<F32NmFullyConnected>(w, o, isa);
      // All zero.
      std::vector<float> zero(w.size(), 0.0f);
      u.Test<F32NmFullyConnected>(zero, o, isa);
    }
  }
}

TEST_P(SparseKernels, Gs) {
  const Isa isa = GetParam();
  struct Case {
    int B, e, out, in, packs, batch;
  };
  for (const Case& c : {Case{16, 1, 16, 16, 1, 1}, Case{16, 1, 64, 128, 3, 1},
                        Case{16, 1, 32, 64, 4, 3}, Case{8, 1, 24, 40, 2, 2},
                        Case{16, 4, 12, 32, 2, 1}, Case{16, 16, 3, 64, 2, 2},
                        Case{32, 1, 64, 96, 2, 1}, Case{4, 2, 6, 12, 1, 1},
                        // Lanes past the widest vector steps: 16 + 4, 4 + 2.
                        Case{20, 1, 40, 60, 2, 2}, Case{20, 5, 8, 40, 3, 1},
                        Case{6, 1, 12, 24, 2, 2}, Case{6, 3, 4, 18, 2, 1},
                        Case{16, 1, 16, 70016, 2, 1}}) {
    SparseFcTester t;
    t.out(c.out).in(c.in).batch(c.batch);
    F32GsFullyConnected::Options o;
    o.banks = c.B;
    o.elements_per_row = c.e;
    const std::vector<float> w = GsPattern(c.out, c.in, c.B, c.e, c.packs, 3);
    t.Test<F32GsFullyConnected>(w, o, isa);
    t.bias(false).clamp(-0.25f, 0.25f).threads(2);
    t.Test<F32GsFullyConnected>(w, o, isa);
    // Unstructured, all-zero and fully dense weights pack with padding
    // (the unstructured pack of the 32-bit-index shape is slow to build,
    // and that shape's kernel path is covered by the GS pattern above).
    if (c.in <= 4096) {
      t.Test<F32GsFullyConnected>(Unstructured(c.out, c.in, 0.7, 4), o, isa);
    }
    t.Test<F32GsFullyConnected>(std::vector<float>(w.size(), 0.0f), o, isa);
    if (c.in <= 128) {
      t.Test<F32GsFullyConnected>(Unstructured(c.out, c.in, 0.0, 5), o, isa);
    }
  }
}

// NaN, +-Inf and denormal inputs, a NaN bias or weight, all-zero weights,
// under no activation, ReLU and ReLU6, on the row and panel / row-group
// layouts (contract: special_values.h).
TEST_P(SparseKernels, SpecialValues) {
  const Isa isa = GetParam();
  for (Special sp : kAllSpecials) {
    for (const Activation& act : kActivations) {
      SparseFcTester t;
      t.clamp(act.lo, act.hi).special(sp);
      for (int batch : {1, 3}) {
        t.out(20).in(65).batch(batch);
        const std::vector<float> w = Unstructured(20, 65, 0.5, 6);
        for (auto layout : {F32CsrFullyConnected::Layout::kPanels,
                            F32CsrFullyConnected::Layout::kRows}) {
          F32CsrFullyConnected::Options o;
          o.layout = layout;
          t.Test<F32CsrFullyConnected>(w, o, isa);
        }
        t.out(17).in(40).batch(batch);
        F32NmFullyConnected::Options nm;
        nm.n = 2;
        nm.m = 4;
        const std::vector<float> wnm = NmPattern(17, 40, 2, 4, 7);
        for (auto layout : {F32NmFullyConnected::Layout::kAuto,
                            F32NmFullyConnected::Layout::kRows}) {
          nm.layout = layout;
          t.Test<F32NmFullyConnected>(wnm, nm, isa);
        }
        for (int e : {1, 4}) {
          t.out(e == 1 ? 32 : 12).in(64).batch(batch);
          F32GsFullyConnected::Options gs;
          gs.banks = 16;
          gs.elements_per_row = e;
          t.Test<F32GsFullyConnected>(GsPattern(t.out(), 64, 16, e, 3, 8), gs,
                                      isa);
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, SparseKernels,
                         ::testing::ValuesIn(SupportedIsas()),
                         [](const ::testing::TestParamInfo<Isa>& info) {
                           return std::string(IsaName(info.param));
                         });

}  // namespace
}  // namespace tf_sparse
