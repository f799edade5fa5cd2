#include "delegate/calibration.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "cc/kernels/dispatch.h"
#include "cc/kernels/f32_bsr_fully_connected.h"
#include "cc/kernels/f32_conv3x3_vtaps.h"
#include "cc/kernels/f32_conv_patdnn.h"
#include "cc/kernels/f32_conv_pixvec.h"
#include "cc/kernels/f32_csr_fully_connected.h"
#include "cc/kernels/f32_dwconv3x3_sparse.h"
#include "cc/kernels/f32_gs_fully_connected.h"
#include "cc/kernels/f32_nm_fully_connected.h"
#include "cc/kernels/qs8_row_group_fully_connected.h"
#include "cc/util/aligned_buffer.h"
#include "cc/util/throughput_probe.h"

namespace tf_sparse {
namespace {

constexpr const char* kFamilyNames[kNumCostFamilies] = {
    "fc_bsr", "fc_csr", "fc_nm", "fc_gs", "conv_fkw", "conv_vt", "dw_taps",
    "conv_pv", "fc_qs8"};

// t_kernel / t_standin per family, measured with MeasureCalibration on the
// reference CPU (Intel Xeon, family 6 model 167; medians of 7 runs of
// //delegate/tools:calibrate): per ISA the sparse kernels ran on, the stand-ins
// always on AVX-512. Other architectures use the AVX2 row (the nearest
// vector width).
struct ReferenceRow {
  Isa isa;
  double ratio[kNumCostFamilies];
};
constexpr ReferenceRow kReference[] = {
    {Isa::kAvx512,
     {0.0707, 0.0701, 0.1087, 0.1511, 0.6707, 0.3706, 3.7738, 0.3724,
      0.0987}},
    {Isa::kAvx2,
     {0.0627, 0.1605, 0.4241, 0.1541, 1.1641, 0.5627, 5.6915, 0.4787,
      0.3652}},
    {Isa::kScalar,
     {0.221, 0.2837, 2.0108, 0.2722, 1.9336, 9.8139, 20.8474, 3.5739,
      3.3181}},
};

const ReferenceRow& ReferenceFor(Isa isa) {
  for (const ReferenceRow& row : kReference) {
    if (row.isa == isa) return row;
  }
  return kReference[1];  // NEON, SVE: the AVX2 row.
}

// Deterministic pseudo-random weights (the same on every CPU).
class Lcg {
 public:
  explicit Lcg(uint32_t seed) : s_(seed) {}
  uint32_t Next() {
    s_ = s_ * 1664525u + 1013904223u;
    return s_ >> 8;
  }
  bool Chance(int percent) { return static_cast<int>(Next() % 100) < percent; }
  // A nonzero value in (-1, 1).
  float Value() { return (static_cast<int>(Next() % 1999) - 999) / 1000.0f + 0.0005f; }

 private:
  uint32_t s_;
};

// 4-of-9 tap patterns (row-major tap indices), PatDNN-like: the centre and
// three neighbours.
constexpr int kPatterns[8][4] = {{0, 1, 3, 4}, {1, 2, 4, 5}, {3, 4, 6, 7},
                                 {4, 5, 7, 8}, {1, 3, 4, 5}, {1, 4, 5, 7},
                                 {3, 4, 5, 7}, {1, 3, 4, 7}};

template <class F>
double BestSeconds(F&& run, int repetitions) {
  run();  // Warm up: caches, page faults, frequency.
  double best = 1e30;
  for (int r = 0; r < repetitions; ++r) {
    const double t0 = MonotonicSeconds();
    run();
    best = std::min(best, MonotonicSeconds() - t0);
  }
  return best;
}

constexpr int kRepetitions = 9;

// FULLY_CONNECTED reference layer: 1024 x 1024, one row.
constexpr int kFcOut = 1024, kFcIn = 1024;

std::vector<float> FcWeights(CostFamily family) {
  std::vector<float> w(static_cast<size_t>(kFcOut) * kFcIn, 0.0f);
  Lcg rng(17 + static_cast<int>(family));
  for (int o = 0; o < kFcOut; ++o) {
    float* row = &w[static_cast<size_t>(o) * kFcIn];
    if (family == CostFamily::kFcBsr) {  // 90% in 1x4 blocks.
      for (int i = 0; i < kFcIn; i += 4) {
        if (rng.Chance(10)) {
          for (int k = 0; k < 4; ++k) row[i + k] = rng.Value();
        }
      }
    } else if (family == CostFamily::kFcNm) {  // 2:8.
      for (int i = 0; i < kFcIn; i += 8) {
        const int a = rng.Next() % 8;
        const int b = (a + 1 + rng.Next() % 7) % 8;
        row[i + a] = rng.Value();
        row[i + b] = rng.Value();
      }
    } else {  // 90% unstructured.
      for (int i = 0; i < kFcIn; ++i) {
        if (rng.Chance(10)) row[i] = rng.Value();
      }
    }
  }
  return w;
}

// Runs a FULLY_CONNECTED operator on one row; returns the best seconds, or
// a negative value if it could not be built.
template <class Op>
double TimeFc(std::unique_ptr<Op> op) {
  if (!op) return -1.0;
  AlignedBuffer<float> x(kFcIn), y(kFcOut);
  for (int i = 0; i < kFcIn; ++i) x.data()[i] = 0.01f * (i % 97);
  return BestSeconds([&] { op->Run(1, x.data(), y.data(), nullptr); },
                     kRepetitions);
}

double TimeFcFamily(CostFamily family, Isa isa) {
  const std::vector<float> w = FcWeights(family);
  const float lo = -INFINITY, hi = INFINITY;
  std::string error;
  switch (family) {
    case CostFamily::kFcBsr: {
      F32BsrFullyConnected::Options o;
      o.block_height = 1;
      o.block_width = 4;
      o.isa = static_cast<int>(isa);
      return TimeFc(F32BsrFullyConnected::Create(w.data(), kFcOut, kFcIn,
                                                 nullptr, lo, hi, o, &error));
    }
    case CostFamily::kFcCsr: {
      F32CsrFullyConnected::Options o;
      o.isa = static_cast<int>(isa);
      return TimeFc(F32CsrFullyConnected::Create(w.data(), kFcOut, kFcIn,
                                                 nullptr, lo, hi, o, &error));
    }
    case CostFamily::kFcNm: {
      F32NmFullyConnected::Options o;
      o.n = 2;
      o.m = 8;
      o.isa = static_cast<int>(isa);
      return TimeFc(F32NmFullyConnected::Create(w.data(), kFcOut, kFcIn,
                                                nullptr, lo, hi, o, &error));
    }
    case CostFamily::kFcGs: {
      F32GsFullyConnected::Options o;
      o.banks = 16;
      o.elements_per_row = 1;
      o.isa = static_cast<int>(isa);
      return TimeFc(F32GsFullyConnected::Create(w.data(), kFcOut, kFcIn,
                                                nullptr, lo, hi, o, &error));
    }
    case CostFamily::kFcQs8: {
      // The same 90% unstructured pattern in int8, on row groups.
      std::vector<int8_t> w8(w.size());
      for (size_t i = 0; i < w.size(); ++i) {
        w8[i] = static_cast<int8_t>(std::lround(w[i] * 127.0f));
      }
      const float filter_scale = 0.01f;
      Qs8FcQuantization q;
      q.input_scale = 0.05f;
      q.filter_scales = &filter_scale;
      q.output_scale = 0.5f;
      Qs8RowGroupFullyConnected::Options o;
      o.isa = static_cast<int>(isa);
      auto op = Qs8RowGroupFullyConnected::Create(w8.data(), kFcOut, kFcIn,
                                                  nullptr, q, o, &error);
      if (!op) return -1.0;
      AlignedBuffer<int8_t> x(kFcIn), y(kFcOut);
      for (int i = 0; i < kFcIn; ++i) x.data()[i] = static_cast<int8_t>(i % 97);
      return BestSeconds([&] { op->Run(1, x.data(), y.data(), nullptr); },
                         kRepetitions);
    }
    default:
      return -1.0;
  }
}

// Runs a convolution operator (Reshape + Run) on an NHWC image; returns the
// best seconds, or a negative value.
template <class Op>
double TimeConv(std::unique_ptr<Op> op, int h, int w, int in_c, int out_c) {
  if (!op) return -1.0;
  std::string error;
  int oh = 0, ow = 0;
  if (!op->Reshape(1, h, w, &oh, &ow, &error)) return -1.0;
  AlignedBuffer<float> x(static_cast<size_t>(h) * w * in_c);
  AlignedBuffer<float> y(static_cast<size_t>(oh) * ow * out_c);
  for (size_t i = 0; i < x.size(); ++i) x.data()[i] = 0.01f * (i % 89);
  return BestSeconds([&] { op->Run(x.data(), y.data(), nullptr); },
                     kRepetitions);
}

// OHWI [out][3][3][in] weights: per kernel (or per block of `block`
// filters and channel) one of kPatterns, half the kernels removed.
std::vector<float> PatternWeights(int out, int in, int block, uint32_t seed) {
  std::vector<float> w(static_cast<size_t>(out) * 9 * in, 0.0f);
  Lcg rng(seed);
  for (int o0 = 0; o0 < out; o0 += block) {
    for (int c = 0; c < in; ++c) {
      if (!rng.Chance(50)) continue;
      const int* p = kPatterns[rng.Next() % 8];
      for (int o = o0; o < std::min(out, o0 + block); ++o) {
        for (int k = 0; k < 4; ++k) {
          w[(static_cast<size_t>(o) * 9 + p[k]) * in + c] = rng.Value();
        }
      }
    }
  }
  return w;
}

// Dense multiply-adds of a 3x3 SAME convolution at stride 1.
double ConvMacs(int h, int w, int in_c, int out_c) {
  return static_cast<double>(h) * w * in_c * out_c * 9;
}

constexpr int kFkwSize = 28, kFkwC = 64;    // 28x28x64 -> 64.
constexpr int kVtSize = 28, kVtC = 128;     // 28x28x128 -> 128.
constexpr int kDwSize = 56, kDwC = 128;     // 56x56x128 depthwise.
constexpr int kPvSize = 28, kPvC = 256;     // 1x1 28x28x256 -> 256.

double TimeConvFamily(CostFamily family, Isa isa) {
  std::string error;
  switch (family) {
    case CostFamily::kConvFkw: {
      const std::vector<float> w = PatternWeights(kFkwC, kFkwC, 1, 31);
      F32PatdnnConv2D::Params p;
      return TimeConv(
          F32PatdnnConv2D::Create(w.data(), kFkwC, kFkwC, nullptr, p, isa,
                                  &error),
          kFkwSize, kFkwSize, kFkwC, kFkwC);
    }
    case CostFamily::kConvVt: {
      const std::vector<float> w = PatternWeights(kVtC, kVtC, 16, 37);
      F32Conv3x3Vtaps::Params p;
      return TimeConv(F32Conv3x3Vtaps::Create(w.data(), kVtC, kVtC, nullptr,
                                              p, isa, &error),
                      kVtSize, kVtSize, kVtC, kVtC);
    }
    case CostFamily::kDwTaps: {
      // [3][3][C]: every 16 channels share one 4-tap pattern.
      std::vector<float> w(9 * kDwC, 0.0f);
      Lcg rng(41);
      for (int c0 = 0; c0 < kDwC; c0 += 16) {
        const int* p = kPatterns[rng.Next() % 8];
        for (int c = c0; c < c0 + 16; ++c) {
          for (int k = 0; k < 4; ++k) w[p[k] * kDwC + c] = rng.Value();
        }
      }
      F32SparseDepthwiseConv3x3::Params p;
      return TimeConv(F32SparseDepthwiseConv3x3::Create(w.data(), kDwC,
                                                        nullptr, p, isa,
                                                        &error),
                      kDwSize, kDwSize, kDwC, kDwC);
    }
    case CostFamily::kConvPv: {
      // 1x1, 90% unstructured.
      std::vector<float> w(static_cast<size_t>(kPvC) * kPvC, 0.0f);
      Lcg rng(43);
      for (float& v : w) {
        if (rng.Chance(10)) v = rng.Value();
      }
      F32ConvPixvec::Params p;
      return TimeConv(F32ConvPixvec::Create(w.data(), kPvC, kPvC, nullptr, p,
                                            isa, &error),
                      kPvSize, kPvSize, kPvC, kPvC);
    }
    default:
      return -1.0;
  }
}

// The stand-in's seconds for a family's reference layer.
double StandinSeconds(CostFamily family, double fma_ns, double stream_ns) {
  switch (family) {
    case CostFamily::kFcBsr:
    case CostFamily::kFcCsr:
    case CostFamily::kFcNm:
    case CostFamily::kFcGs:
      return stream_ns * kFcOut * kFcIn * 1e-9;
    case CostFamily::kFcQs8:  // One byte a dense weight.
      return stream_ns * kFcOut * kFcIn / 4 * 1e-9;
    case CostFamily::kConvFkw:
      return fma_ns * ConvMacs(kFkwSize, kFkwSize, kFkwC, kFkwC) * 1e-9;
    case CostFamily::kConvVt:
      return fma_ns * ConvMacs(kVtSize, kVtSize, kVtC, kVtC) * 1e-9;
    case CostFamily::kDwTaps:
      return fma_ns * static_cast<double>(kDwSize) * kDwSize * kDwC * 9 *
             1e-9;
    case CostFamily::kConvPv:
      return fma_ns * static_cast<double>(kPvSize) * kPvSize * kPvC * kPvC *
             1e-9;
    default:
      return 1.0;
  }
}

bool IsFc(CostFamily f) {
  return f == CostFamily::kFcBsr || f == CostFamily::kFcCsr ||
         f == CostFamily::kFcNm || f == CostFamily::kFcGs ||
         f == CostFamily::kFcQs8;
}

std::string JsonNumber(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      out += ' ';
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

bool MakeDirs(const std::string& dir) {
  if (dir.empty()) return false;
  std::string partial;
  std::stringstream ss(dir);
  std::string part;
  if (dir[0] == '/') partial = "/";
  while (std::getline(ss, part, '/')) {
    if (part.empty()) continue;
    partial += part + "/";
    if (mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) return false;
  }
  struct stat st;
  return stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string Getenv(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

constexpr const char* kHeader = "tf_sparse calibration v1";

}  // namespace

const char* CostFamilyName(CostFamily family) {
  const int i = static_cast<int>(family);
  return i >= 0 && i < kNumCostFamilies ? kFamilyNames[i] : "unknown";
}

double ReferenceRatio(CostFamily family) {
  return ReferenceFor(ActiveIsa()).ratio[static_cast<int>(family)];
}

Calibration MeasureCalibration(Isa isa) {
  Calibration c;
  c.cpu = CpuModelKey();
  c.isa = isa;
  c.source = "measured";
  c.fma_ns_per_lane = ProbeFmaNsPerLane();
  c.stream_ns_per_float =
      ProbeStreamNsPerFloat(static_cast<size_t>(kFcOut) * kFcIn);
  const ReferenceRow& ref = ReferenceFor(isa);
  for (int i = 0; i < kNumCostFamilies; ++i) {
    const CostFamily f = static_cast<CostFamily>(i);
    const double t = IsFc(f) ? TimeFcFamily(f, isa) : TimeConvFamily(f, isa);
    const double standin =
        StandinSeconds(f, c.fma_ns_per_lane, c.stream_ns_per_float);
    c.ratio[i] = t > 0 && standin > 0 ? t / standin : 0.0;
    // A family that could not be measured, or has no reference, keeps the
    // static model.
    const double factor =
        c.ratio[i] > 0 && ref.ratio[i] > 0 ? c.ratio[i] / ref.ratio[i] : 1.0;
    c.factor[i] = factor <= kNoiseBand
                      ? 1.0
                      : std::min(kMaxFactor, std::max(kMinFactor, factor));
  }
  return c;
}

std::string Calibration::Json() const {
  std::string s = "{\"cpu\": " + JsonString(cpu) + ", \"isa\": " +
                  JsonString(IsaName(isa)) + ", \"source\": " +
                  JsonString(source) + ", \"path\": " + JsonString(path) +
                  ", \"fma_ns_per_lane\": " + JsonNumber(fma_ns_per_lane) +
                  ", \"stream_ns_per_float\": " +
                  JsonNumber(stream_ns_per_float) + ", \"families\": {";
  const ReferenceRow& ref = ReferenceFor(isa);
  for (int i = 0; i < kNumCostFamilies; ++i) {
    if (i) s += ", ";
    s += JsonString(kFamilyNames[i]) + ": {\"factor\": " +
         JsonNumber(factor[i]) + ", \"ratio\": " + JsonNumber(ratio[i]) +
         ", \"reference\": " + JsonNumber(ref.ratio[i]) + "}";
  }
  return s + "}}";
}

std::string CalibrationPath(const std::string& dir, const std::string& cpu,
                            Isa isa) {
  if (dir.empty()) return "";
  std::string name;
  for (char ch : cpu) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-';
    name += ok ? ch : '_';
  }
  return dir + "/calibration-v1-" + name + "-" + IsaName(isa) + ".txt";
}

std::string DefaultCalibrationDir() {
  std::string dir = Getenv("TF_SPARSE_CACHE_DIR");
  if (!dir.empty()) return dir;
  dir = Getenv("XDG_CACHE_HOME");
  if (!dir.empty()) return dir + "/tf_sparse";
  dir = Getenv("HOME");
  if (!dir.empty()) return dir + "/.cache/tf_sparse";
  return "";
}

bool SaveCalibration(const Calibration& c, const std::string& path,
                     std::string* error) {
  const size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0 &&
      !MakeDirs(path.substr(0, slash))) {
    *error = "cannot create the directory of " + path;
    return false;
  }
  // Written to a temporary file and renamed: a reader never sees half.
  const std::string tmp = path + ".tmp" + std::to_string(getpid());
  {
    std::ofstream out(tmp);
    if (!out) {
      *error = "cannot write " + tmp;
      return false;
    }
    out << kHeader << "\n";
    out << "cpu " << c.cpu << "\n";
    out << "isa " << IsaName(c.isa) << "\n";
    char buf[64];
    for (int i = 0; i < kNumCostFamilies; ++i) {
      std::snprintf(buf, sizeof(buf), " %.9g %.9g", c.factor[i], c.ratio[i]);
      out << kFamilyNames[i] << buf << "\n";
    }
    if (!out) {
      *error = "cannot write " + tmp;
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    *error = "cannot rename " + tmp + " to " + path;
    return false;
  }
  return true;
}

bool LoadCalibration(const std::string& path, const std::string& cpu, Isa isa,
                     Calibration* c, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "no calibration file " + path;
    return false;
  }
  std::string line;
  if (!std::getline(in, line) || line != kHeader) {
    *error = path + ": not a calibration file of this version";
    return false;
  }
  Calibration loaded;
  loaded.isa = isa;
  bool seen[kNumCostFamilies] = {};
  bool have_cpu = false, have_isa = false;
  while (std::getline(in, line)) {
    const size_t space = line.find(' ');
    if (space == std::string::npos) {
      *error = path + ": malformed line '" + line + "'";
      return false;
    }
    const std::string key = line.substr(0, space);
    const std::string rest = line.substr(space + 1);
    if (key == "cpu") {
      if (rest != cpu) {
        *error = path + ": made on another CPU (" + rest + ")";
        return false;
      }
      loaded.cpu = rest;
      have_cpu = true;
      continue;
    }
    if (key == "isa") {
      if (rest != IsaName(isa)) {
        *error = path + ": made for ISA " + rest;
        return false;
      }
      have_isa = true;
      continue;
    }
    int family = -1;
    for (int i = 0; i < kNumCostFamilies; ++i) {
      if (key == kFamilyNames[i]) family = i;
    }
    if (family < 0) {
      *error = path + ": unknown family '" + key + "'";
      return false;
    }
    double factor = 0.0, ratio = 0.0;
    char tail = 0;
    if (std::sscanf(rest.c_str(), "%lf %lf %c", &factor, &ratio, &tail) != 2 ||
        !std::isfinite(factor) || !std::isfinite(ratio) ||
        factor < kMinFactor || factor > kMaxFactor || ratio < 0) {
      *error = path + ": bad values for " + key;
      return false;
    }
    loaded.factor[family] = factor;
    loaded.ratio[family] = ratio;
    seen[family] = true;
  }
  if (!have_cpu || !have_isa) {
    *error = path + ": missing cpu or isa line";
    return false;
  }
  for (int i = 0; i < kNumCostFamilies; ++i) {
    if (!seen[i]) {
      *error = path + ": missing family " + kFamilyNames[i];
      return false;
    }
  }
  loaded.source = "cache";
  loaded.path = path;
  *c = loaded;
  return true;
}

const Calibration& GetCalibration(CalibrationMode mode,
                                  const std::string& dir) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<Calibration>>* cache =
      new std::map<std::string, std::unique_ptr<Calibration>>();
  const Isa isa = ActiveIsa();
  const std::string key = std::to_string(static_cast<int>(mode)) + "|" +
                          IsaName(isa) + "|" + dir;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache->find(key);
  if (it != cache->end()) return *it->second;
  auto c = std::make_unique<Calibration>();
  c->isa = isa;
  if (mode != CalibrationMode::kOff) {
    const std::string cpu = CpuModelKey();
    const std::string path =
        CalibrationPath(dir.empty() ? DefaultCalibrationDir() : dir, cpu, isa);
    std::string error;
    if (mode == CalibrationMode::kAuto && !path.empty() &&
        LoadCalibration(path, cpu, isa, c.get(), &error)) {
      c->isa = isa;
    } else {
      *c = MeasureCalibration(isa);
      if (!path.empty() && SaveCalibration(*c, path, &error)) c->path = path;
    }
  } else {
    c->cpu = CpuModelKey();
  }
  const Calibration& ref = *c;
  (*cache)[key] = std::move(c);
  return ref;
}

}  // namespace tf_sparse
