// Per-CPU calibration of the delegate's cost models.
//
// Every cost model (fc_analysis.h, conv_analysis.h, dwconv_analysis.h)
// estimates a sparse kernel's time against XNNPACK's dense kernel with
// constants fitted on one CPU each (named beside them), and checked
// against XNNPACK on the reference CPU of the calibration (Intel Xeon,
// family 6 model 167, AVX-512: benchmarks/fine_grained_speed.py claims no
// layer there that runs slower). On another core the sparse kernels and XNNPACK do not
// speed up or slow down together (a gather-heavy kernel loses more on a
// core with fewer load ports than a dense GEMM does), so the same model
// would claim nodes that run slower there.
//
// Calibration measures, once per CPU model and instruction set, each family
// of kernels on a reference layer together with a stand-in for XNNPACK's
// dense kernel on the same core (cc/util/throughput_probe.h: the FMA peak
// for convolutions, the read bandwidth of the weights for matrix-vector
// products), and compares their ratio with the one measured on the
// reference CPU:
//
//   factor(family) = (t_kernel / t_standin)_here / (t_kernel / t_standin)_ref
//
// A family's estimated cost ratios are multiplied by its factor (1 up to
// kNoiseBand, else kept in [kMinFactor, kMaxFactor]), so a kernel that is
// relatively slower here needs a larger saving to be claimed. On the
// reference CPU the factors are 1.
//
// The measurement takes about 0.2 s and is cached on disk in
// the calibration directory, one file per CPU model and ISA; a missing,
// foreign or damaged file is measured again and rewritten. Options
// (delegate/options.h): calibration=auto (default: cache, else measure),
// force (measure and rewrite), off (factors 1: the static models);
// calibration_dir. The environment variable TF_SPARSE_CALIBRATION gives
// the default of `calibration`, TF_SPARSE_CACHE_DIR that of the directory
// (else $XDG_CACHE_HOME/tf_sparse, else $HOME/.cache/tf_sparse). Without a
// writable directory every process measures once.
#ifndef TF_SPARSE_DELEGATE_CALIBRATION_H_
#define TF_SPARSE_DELEGATE_CALIBRATION_H_

#include <string>

#include "cc/kernels/isa.h"
#include "delegate/options.h"               // CalibrationMode.

namespace tf_sparse {

// The kernel families the cost models distinguish.
enum class CostFamily {
  kFcBsr,     // FULLY_CONNECTED, BSR blocks.
  kFcCsr,     // FULLY_CONNECTED, CSR row-group quads.
  kFcNm,      // FULLY_CONNECTED, N:M.
  kFcGs,      // FULLY_CONNECTED, gather-scatter.
  kConvFkw,   // CONV_2D, PatDNN per-kernel patterns.
  kConvVt,    // CONV_2D (and FC on many rows), filter-vector taps.
  kDwTaps,    // DEPTHWISE_CONV_2D, tap-sparse.
  kConvPv,    // CONV_2D (and FC on many rows), pixel-vector nonzeros.
  kFcQs8,     // FULLY_CONNECTED int8, row groups (and int8 BSR, N:4).
  kCount
};
constexpr int kNumCostFamilies = static_cast<int>(CostFamily::kCount);
// "fc_bsr", "fc_csr", ... (the names in the cache file and the report).
const char* CostFamilyName(CostFamily family);

// Factors below 1 (kernels relatively faster here than on the reference
// CPU) are not used: calibration only ever makes claiming more cautious,
// so measurement noise cannot make the delegate claim a node the static
// model, validated on the reference CPU, would decline.
constexpr double kMinFactor = 1.0;
constexpr double kMaxFactor = 8.0;
// Ratios within this factor of the reference count as the same: repeated
// calibrations on the reference CPU (2 vCPUs, shared) spread up to ~15%.
constexpr double kNoiseBand = 1.15;

struct Calibration {
  std::string cpu;     // CpuModelKey().
  Isa isa = Isa::kScalar;
  // "off" (factors 1), "measured" or "cache" (read from `path`).
  std::string source = "off";
  std::string path;    // The cache file, if any.
  double factor[kNumCostFamilies];
  // What was measured here: t_kernel / t_standin per family (0 when off).
  double ratio[kNumCostFamilies];
  double fma_ns_per_lane = 0.0;      // Stand-ins, as measured (0: cached
  double stream_ns_per_float = 0.0;  // or off).
  Calibration() {
    for (int i = 0; i < kNumCostFamilies; ++i) factor[i] = 1.0, ratio[i] = 0;
  }
  double Factor(CostFamily f) const { return factor[static_cast<int>(f)]; }
  std::string Json() const;
};

// t_kernel / t_standin on the reference CPU.
double ReferenceRatio(CostFamily family);

// Runs every family's reference layer on `isa` and the stand-ins; fills
// ratio, factor, fma_ns_per_lane, stream_ns_per_float (cpu, isa, source
// "measured").
Calibration MeasureCalibration(Isa isa);

// The calibration for the active ISA under `mode` and `dir` (empty: the
// default directory), measured at most once per process for each
// (mode, dir, ISA); thread-safe. Never fails: a directory that cannot be
// written only loses the cache.
const Calibration& GetCalibration(CalibrationMode mode, const std::string& dir);

// The calibration the options ask for.
inline const Calibration& GetCalibration(const DelegateOptions& options) {
  return GetCalibration(options.calibration, options.calibration_dir);
}

// The default directory (see above); empty when no variable names one.
std::string DefaultCalibrationDir();

// Cache file I/O (exposed for tests). Load returns false with *error for a
// missing, foreign (other CPU or ISA) or malformed file.
bool SaveCalibration(const Calibration& c, const std::string& path,
                     std::string* error);
bool LoadCalibration(const std::string& path, const std::string& cpu, Isa isa,
                     Calibration* c, std::string* error);
// The file name for a CPU model and ISA inside a directory.
std::string CalibrationPath(const std::string& dir, const std::string& cpu,
                            Isa isa);

}  // namespace tf_sparse

#endif  // TF_SPARSE_DELEGATE_CALIBRATION_H_
