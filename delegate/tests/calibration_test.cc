// The per-CPU calibration: measurement, cache file round trip, and every
// way a cache file can be wrong (each is measured again, never trusted).
#include "delegate/calibration.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <string>

#include "cc/kernels/dispatch.h"
#include "cc/util/throughput_probe.h"

namespace tf_sparse {
namespace {

std::string TempDir() {
  const char* t = std::getenv("TEST_TMPDIR");
  std::string dir = t ? t : "/tmp";
  return dir + "/calibration_test_" + std::to_string(getpid());
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

TEST(ThroughputProbe, RatesArePositiveAndFinite) {
  const double fma = ProbeFmaNsPerLane();
  const double stream = ProbeStreamNsPerFloat(1 << 16);
  EXPECT_TRUE(std::isfinite(fma));
  EXPECT_GT(fma, 0.0);
  // No core does 1e4 float FMAs per ns, or reads a float slower than 1 us.
  EXPECT_GT(fma, 1e-4);
  EXPECT_TRUE(std::isfinite(stream));
  EXPECT_GT(stream, 0.0);
  EXPECT_LT(stream, 1000.0);
  EXPECT_FALSE(CpuModelKey().empty());
}

TEST(Calibration, MeasuresEveryFamily) {
  const Calibration c = MeasureCalibration(ActiveIsa());
  EXPECT_EQ(c.source, "measured");
  EXPECT_EQ(c.cpu, CpuModelKey());
  for (int i = 0; i < kNumCostFamilies; ++i) {
    SCOPED_TRACE(CostFamilyName(static_cast<CostFamily>(i)));
    EXPECT_GT(c.ratio[i], 0.0);
    EXPECT_GE(c.factor[i], kMinFactor);
    EXPECT_LE(c.factor[i], kMaxFactor);
  }
  // The JSON names every family.
  const std::string json = c.Json();
  for (int i = 0; i < kNumCostFamilies; ++i) {
    EXPECT_NE(json.find(CostFamilyName(static_cast<CostFamily>(i))),
              std::string::npos);
  }
}

TEST(Calibration, CacheRoundTrip) {
  const std::string dir = TempDir() + "/a/b";  // Created on save.
  Calibration c;
  c.cpu = "Test CPU 1/2/3";
  c.isa = Isa::kAvx2;
  c.source = "measured";
  for (int i = 0; i < kNumCostFamilies; ++i) {
    c.factor[i] = 1.0 + 0.25 * i;
    c.ratio[i] = 0.01 * (i + 1);
  }
  const std::string path = CalibrationPath(dir, c.cpu, c.isa);
  EXPECT_NE(path.find("Test_CPU_1_2_3"), std::string::npos) << path;
  std::string error;
  ASSERT_TRUE(SaveCalibration(c, path, &error)) << error;
  Calibration back;
  ASSERT_TRUE(LoadCalibration(path, c.cpu, c.isa, &back, &error)) << error;
  EXPECT_EQ(back.source, "cache");
  EXPECT_EQ(back.path, path);
  for (int i = 0; i < kNumCostFamilies; ++i) {
    EXPECT_DOUBLE_EQ(back.factor[i], c.factor[i]);
    EXPECT_DOUBLE_EQ(back.ratio[i], c.ratio[i]);
  }
  // Another CPU or ISA does not read it.
  EXPECT_FALSE(LoadCalibration(path, "Other CPU", c.isa, &back, &error));
  EXPECT_NE(error.find("another CPU"), std::string::npos) << error;
  EXPECT_FALSE(LoadCalibration(path, c.cpu, Isa::kAvx512, &back, &error));
  EXPECT_NE(error.find("ISA"), std::string::npos) << error;
}

TEST(Calibration, RejectsDamagedFiles) {
  const std::string dir = TempDir();
  std::string error;
  Calibration c;
  c.cpu = "Test CPU";
  c.isa = Isa::kScalar;
  const std::string path = CalibrationPath(dir, c.cpu, c.isa);
  ASSERT_TRUE(SaveCalibration(c, path, &error)) << error;
  std::ifstream in(path);
  const std::string good((std::istreambuf_iterator<char>(in)),
                         std::istreambuf_iterator<char>());
  Calibration out;
  ASSERT_TRUE(LoadCalibration(path, c.cpu, c.isa, &out, &error)) << error;

  struct Case {
    const char* what;
    std::string text;
  };
  const size_t fc_bsr = good.find("fc_bsr");
  const size_t fc_bsr_end = good.find('\n', fc_bsr);
  const Case cases[] = {
      {"empty", ""},
      {"other header", "tf_sparse calibration v0\n" + good.substr(good.find('\n') + 1)},
      {"truncated", good.substr(0, fc_bsr)},
      {"family missing", good.substr(0, fc_bsr) + good.substr(fc_bsr_end + 1)},
      {"nan", good.substr(0, fc_bsr) + "fc_bsr nan 1\n" + good.substr(fc_bsr_end + 1)},
      {"factor too small", good.substr(0, fc_bsr) + "fc_bsr 0.1 1\n" + good.substr(fc_bsr_end + 1)},
      {"factor too large", good.substr(0, fc_bsr) + "fc_bsr 100 1\n" + good.substr(fc_bsr_end + 1)},
      {"negative ratio", good.substr(0, fc_bsr) + "fc_bsr 1 -1\n" + good.substr(fc_bsr_end + 1)},
      {"trailing junk", good.substr(0, fc_bsr) + "fc_bsr 1 1 x\n" + good.substr(fc_bsr_end + 1)},
      {"unknown family", good + "fc_xyz 1 1\n"},
      {"no space", good + "garbage\n"},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.what);
    WriteFile(path, k.text);
    error.clear();
    EXPECT_FALSE(LoadCalibration(path, c.cpu, c.isa, &out, &error));
    EXPECT_FALSE(error.empty());
  }
  EXPECT_FALSE(LoadCalibration(dir + "/missing.txt", c.cpu, c.isa, &out, &error));
}

// Under emulation (cc/tests/arm/run.sh) one measurement is checked
// (MeasuresEveryFamily); the tests that measure again skip.
bool Emulated() {
  const char* e = std::getenv("TF_SPARSE_EMULATED");
  return e != nullptr && e[0] == '1';
}

TEST(Calibration, GetUsesAndRefreshesTheCache) {
  if (Emulated()) GTEST_SKIP() << "timings under emulation";
  const std::string dir = TempDir() + "/get";
  const Calibration& off = GetCalibration(CalibrationMode::kOff, dir);
  EXPECT_EQ(off.source, "off");
  for (int i = 0; i < kNumCostFamilies; ++i) EXPECT_EQ(off.factor[i], 1.0);

  const Calibration& first = GetCalibration(CalibrationMode::kAuto, dir);
  EXPECT_EQ(first.source, "measured");
  const std::string path = CalibrationPath(dir, CpuModelKey(), ActiveIsa());
  EXPECT_EQ(first.path, path);
  // Once per process: the same object.
  EXPECT_EQ(&first, &GetCalibration(CalibrationMode::kAuto, dir));
  // A file written by another process is read, not measured.
  Calibration planted = first;
  planted.factor[0] = 2.5;
  std::string error;
  ASSERT_TRUE(SaveCalibration(planted, path, &error)) << error;
  Calibration loaded;
  ASSERT_TRUE(LoadCalibration(path, CpuModelKey(), ActiveIsa(), &loaded, &error));
  EXPECT_EQ(loaded.factor[0], 2.5);
  // force measures again (and rewrites the file).
  const Calibration& forced = GetCalibration(CalibrationMode::kForce, dir);
  EXPECT_EQ(forced.source, "measured");
  ASSERT_TRUE(LoadCalibration(path, CpuModelKey(), ActiveIsa(), &loaded, &error));
  // Written with 9 significant digits.
  EXPECT_NEAR(loaded.factor[0], forced.factor[0], 1e-7 * forced.factor[0]);
}

TEST(Calibration, UnwritableDirectoryStillCalibrates) {
  if (Emulated()) GTEST_SKIP() << "timings under emulation";
  const Calibration& c = GetCalibration(CalibrationMode::kAuto,
                                        "/proc/self/no/such/dir");
  EXPECT_EQ(c.source, "measured");
  EXPECT_TRUE(c.path.empty());
}

}  // namespace
}  // namespace tf_sparse
