// Options of the tf_sparse delegate, as passed by TFLite's external delegate
// loader: string keys and values.
//
// Values are strict: plain decimal digits (no sign, spaces, hex or
// exponent-only forms; min_sparsity may have a fraction and an exponent),
// format names exactly as listed.
//
//   num_threads   int >= 1, default 1. Threads per kernel call (the calling
//                 thread plus num_threads - 1 workers).
//   min_sparsity  float in [0, 1), default 0.5. A FULLY_CONNECTED node is
//                 considered only if at least this fraction of its weights
//                 is exactly zero.
//   format        "auto" (default): detect which packed format (BSR block
//                 shapes, N:M, GS, CSR) has the lowest estimated cost, and
//                 claim only if it beats dense; or force one: "bsr:RxC"
//                 (e.g. "bsr:1x4"), "csr", "nm" (the tightest N:M pattern
//                 the weights satisfy) or "nm:N:M" (e.g. "nm:2:4"), "gs"
//                 (16 banks) or "gs:B" or "gs:B:E" (B banks, E elements per
//                 row and pack); or "patdnn": claim every pattern-structured
//                 3x3 CONV_2D on the PatDNN FKW kernels whatever the cost
//                 estimate (other ops as with "auto"); or "vtaps": claim
//                 every supported 3x3 CONV_2D on the filter-vector tap (VT)
//                 kernels whatever the cost estimate (other ops as with
//                 "auto"); or "pixvec": claim every supported CONV_2D on
//                 the pixel-vector (PV) kernels whatever the cost estimate
//                 (other ops as with "auto"); or "dwtaps": claim every supported 3x3
//                 DEPTHWISE_CONV_2D whatever the cost estimate (other ops
//                 as with "auto"). Forced N:M takes N in 1, 2, 4, 8, 16
//                 and M in 2, 4, 8, 16, 32 (N < M); forced GS takes B a
//                 power of two from 2 to 256 and E dividing B (what the
//                 kernels run). With a forced FULLY_CONNECTED format,
//                 CONV_2D and DEPTHWISE_CONV_2D nodes are declined, and
//                 UNIDIRECTIONAL_SEQUENCE_LSTM nodes pack both of their
//                 stacked gate matrices in it whatever the cost estimate.
//   corrupt_sparsity  "error" (default) or "decline". A constant tensor in
//                 TFLite's sparse encoding whose encoding is inconsistent
//                 (traversal_order not a permutation, segments or indices
//                 out of range, byte size not matching, ...; see
//                 CheckSparseTensors in node_util.h), or that its reader
//                 cannot decode, fails the load: the delegate's Prepare
//                 returns an error naming the node, the tensor and the
//                 problem, and the interpreter's construction raises.
//                 "decline" only leaves such nodes to TFLite, whose own
//                 DENSIFY and sparse FULLY_CONNECTED kernels do not check
//                 the encoding (they may crash).
//   calibration   "auto" (default, or the environment variable
//                 TF_SPARSE_CALIBRATION): scale the cost models by factors
//                 measured on this CPU model (delegate/calibration.h;
//                 cached on disk, measured the first time, ~0.1 s);
//                 "force": measure again and rewrite the cache; "off": the
//                 static models as fitted on the reference CPU.
//   calibration_dir  directory of the calibration cache (default
//                 $TF_SPARSE_CACHE_DIR, else $XDG_CACHE_HOME/tf_sparse, else
//                 $HOME/.cache/tf_sparse).
//   verbose       0 (default), 1: one line per considered node on stderr
//                 (claimed or declined, and why), 2: also the candidate
//                 costs and the kernel chosen.
#ifndef TF_SPARSE_DELEGATE_OPTIONS_H_
#define TF_SPARSE_DELEGATE_OPTIONS_H_

#include <cstddef>
#include <string>

namespace tf_sparse {

// The packed format a forced `format` option names.
// kVtaps: filter-vector taps on a call of many rows (16 output units a
// vector, the rows as pixels; chosen by "auto" only, format=vtaps forces
// CONV_2D). kPixvec: pixel-vector nonzeros on a call of many rows (the
// rows as pixels of a 1x1 convolution; chosen by "auto" only).
enum class FcFormat { kAuto, kBsr, kCsr, kNm, kGs, kVtaps, kPixvec };

// How the cost models are calibrated (delegate/calibration.h).
enum class CalibrationMode { kAuto, kForce, kOff };

// What the delegate does with a corrupt TFLite sparse encoding.
enum class CorruptSparsity { kError, kDecline };

struct DelegateOptions {
  int num_threads = 1;
  double min_sparsity = 0.5;
  // Forced block shape; 0 x 0 means "auto".
  int block_height = 0;
  int block_width = 0;
  int verbose = 0;
  FcFormat format = FcFormat::kAuto;
  int nm_n = 0;  // Forced N:M pattern; 0: detect from the weights.
  int nm_m = 0;
  int gs_banks = 16;  // Forced GS banks and elements per row.
  int gs_elements_per_row = 1;
  bool force_patdnn = false;  // format=patdnn (CONV_2D).
  bool force_vtaps = false;   // format=vtaps (CONV_2D).
  bool force_pixvec = false;  // format=pixvec (CONV_2D).
  bool force_dwtaps = false;  // format=dwtaps (DEPTHWISE_CONV_2D).
  CorruptSparsity corrupt_sparsity = CorruptSparsity::kError;
  CalibrationMode calibration = CalibrationMode::kAuto;
  std::string calibration_dir;  // Empty: the default directory.

  bool auto_format() const { return format == FcFormat::kAuto; }
  std::string FormatName() const;  // "auto", "bsr:RxC", "csr", "nm:N:M"...
};

// Parses n key/value pairs. Returns an empty string on success, else a
// message naming the option and its allowed values.
std::string ParseDelegateOptions(const char* const* keys,
                                 const char* const* values, size_t n,
                                 DelegateOptions* options);

}  // namespace tf_sparse

#endif  // TF_SPARSE_DELEGATE_OPTIONS_H_
