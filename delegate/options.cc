#include "delegate/options.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cc/formats/bsr.h"

namespace tf_sparse {
namespace {

constexpr int kMaxThreads = 256;

// Strict decimal forms: ASCII digits only (no sign, spaces, hex or other
// characters strtol/strtod would take), at most kMaxDigits of them.
constexpr int kMaxDigits = 9;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Digits at *p (1 to kMaxDigits) as a value; advances *p past them.
bool ParseDigits(const char** p, long* out) {
  long v = 0;
  int n = 0;
  while (IsDigit(**p)) {
    if (++n > kMaxDigits) return false;
    v = v * 10 + (**p - '0');
    ++*p;
  }
  if (n == 0) return false;
  *out = v;
  return true;
}

// A whole string of digits.
bool ParseInt(const char* s, long* out) {
  if (s == nullptr) return false;
  const char* p = s;
  return ParseDigits(&p, out) && *p == '\0';
}

// DIGITS[.DIGITS] or .DIGITS, optionally followed by e[-+]DIGITS: a plain
// decimal number without sign (every numeric option is non-negative).
bool ParseDouble(const char* s, double* out) {
  if (s == nullptr) return false;
  const char* p = s;
  int mantissa_digits = 0;
  while (IsDigit(*p)) ++p, ++mantissa_digits;
  if (*p == '.') {
    ++p;
    while (IsDigit(*p)) ++p, ++mantissa_digits;
  }
  if (mantissa_digits == 0 || mantissa_digits > 32) return false;
  if (*p == 'e' || *p == 'E') {
    ++p;
    if (*p == '+' || *p == '-') ++p;
    int exp_digits = 0;
    while (IsDigit(*p)) ++p, ++exp_digits;
    if (exp_digits == 0 || exp_digits > 3) return false;
  }
  if (*p != '\0') return false;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  if (errno != 0 || end != p || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

// "bsr:RxC" with 1 <= R, C and R * C within the format's limit.
bool ParseBsrFormat(const char* s, int* r, int* c) {
  if (std::strncmp(s, "bsr:", 4) != 0) return false;
  const char* p = s + 4;
  long rv = 0, cv = 0;
  if (!ParseDigits(&p, &rv) || *p != 'x') return false;
  ++p;
  if (!ParseDigits(&p, &cv) || *p != '\0') return false;
  if (rv < 1 || cv < 1 || rv > 1024 || cv > 1024) return false;
  if (!CheckBsrShape(rv, cv, rv, cv).empty()) return false;
  *r = static_cast<int>(rv);
  *c = static_cast<int>(cv);
  return true;
}

// "nm", "nm:N:M", "gs", "gs:B", "gs:B:E": strict integers after the prefix,
// separated by ':'. Returns false on anything else.
bool ParseColonInts(const char* s, const char* prefix, int max_count,
                    int* values, int* count) {
  const size_t len = std::strlen(prefix);
  if (std::strncmp(s, prefix, len) != 0) return false;
  const char* p = s + len;
  *count = 0;
  if (*p == '\0') return true;
  while (*p == ':' && *count < max_count) {
    ++p;
    long v = 0;
    if (!ParseDigits(&p, &v) || v < 1 || v > 256) return false;
    values[(*count)++] = static_cast<int>(v);
  }
  return *p == '\0';
}

bool IsPowerOfTwo(int v) { return v > 0 && (v & (v - 1)) == 0; }

// N:M patterns the kernels run: N in 1, 2, 4, 8, 16 (a 16-lane chunk holds
// whole groups) and M in 2, 4, 8, 16, 32 (the row-group layout's index
// widths), N < M. GS: B banks a power of two from 2 to 256 (whole vector
// steps and masked tails), E dividing B.
bool NmSupported(int n, int m) {
  return IsPowerOfTwo(n) && n <= 16 && IsPowerOfTwo(m) && m >= 2 && m <= 32 &&
         n < m;
}
bool GsSupported(int banks, int e) {
  return IsPowerOfTwo(banks) && banks >= 2 && banks <= 256 && e >= 1 &&
         banks % e == 0;
}

bool ParseOtherFormat(const char* s, DelegateOptions* o) {
  int v[2] = {0, 0};
  int count = 0;
  if (std::strcmp(s, "csr") == 0) {
    o->format = FcFormat::kCsr;
    return true;
  }
  if (ParseColonInts(s, "nm", 2, v, &count) && (count == 0 || count == 2)) {
    if (count == 2 && !NmSupported(v[0], v[1])) return false;
    o->format = FcFormat::kNm;
    o->nm_n = count == 2 ? v[0] : 0;
    o->nm_m = count == 2 ? v[1] : 0;
    return true;
  }
  if (ParseColonInts(s, "gs", 2, v, &count)) {
    const int banks = count >= 1 ? v[0] : 16;
    const int e = count >= 2 ? v[1] : 1;
    if (!GsSupported(banks, e)) return false;
    o->format = FcFormat::kGs;
    o->gs_banks = banks;
    o->gs_elements_per_row = e;
    return true;
  }
  return false;
}

// The value as given, quoted, non-printable bytes as \xHH, at most 80.
std::string Quote(const char* s) {
  if (s == nullptr) return "(null)";
  std::string out = "'";
  for (int i = 0; s[i] != '\0'; ++i) {
    if (i == 80) {
      out += "...";
      break;
    }
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  return out + "'";
}

}  // namespace

std::string DelegateOptions::FormatName() const {
  switch (format) {
    case FcFormat::kAuto:
      return "auto";
    case FcFormat::kCsr:
      return "csr";
    case FcFormat::kNm:
      return nm_n == 0 ? "nm"
                       : "nm:" + std::to_string(nm_n) + ":" +
                             std::to_string(nm_m);
    case FcFormat::kGs:
      return "gs:" + std::to_string(gs_banks) + ":" +
             std::to_string(gs_elements_per_row);
    case FcFormat::kVtaps:
      return "vtaps";
    case FcFormat::kPixvec:
      return "pixvec";
    case FcFormat::kBsr:
      break;
  }
  return "bsr:" + std::to_string(block_height) + "x" +
         std::to_string(block_width);
}

namespace {

constexpr const char* kCalibrationAllowed =
    "allowed: 'auto' (default: the cached per-CPU calibration, measured "
    "the first time), 'force' (measure again) or 'off' (the static cost "
    "models)";

bool ParseCalibrationMode(const char* value, CalibrationMode* mode) {
  if (value == nullptr) return false;
  if (std::strcmp(value, "auto") == 0) {
    *mode = CalibrationMode::kAuto;
  } else if (std::strcmp(value, "force") == 0) {
    *mode = CalibrationMode::kForce;
  } else if (std::strcmp(value, "off") == 0) {
    *mode = CalibrationMode::kOff;
  } else {
    return false;
  }
  return true;
}

}  // namespace

std::string ParseDelegateOptions(const char* const* keys,
                                 const char* const* values, size_t n,
                                 DelegateOptions* options) {
  DelegateOptions o;
  const char* env_calibration = std::getenv("TF_SPARSE_CALIBRATION");
  if (env_calibration != nullptr && env_calibration[0] != '\0' &&
      !ParseCalibrationMode(env_calibration, &o.calibration)) {
    return "tf_sparse delegate: environment variable TF_SPARSE_CALIBRATION=" +
           Quote(env_calibration) + " is invalid; " + kCalibrationAllowed;
  }
  for (size_t i = 0; i < n; ++i) {
    const char* key = keys[i];
    const char* value = values == nullptr ? nullptr : values[i];
    if (key == nullptr) return "tf_sparse delegate: null option key";
    if (std::strcmp(key, "num_threads") == 0) {
      long v = 0;
      if (!ParseInt(value, &v) || v < 1 || v > kMaxThreads) {
        return "tf_sparse delegate: option num_threads=" + Quote(value) +
               " is invalid; allowed: an integer from 1 to " +
               std::to_string(kMaxThreads);
      }
      o.num_threads = static_cast<int>(v);
    } else if (std::strcmp(key, "min_sparsity") == 0) {
      double v = 0;
      if (!ParseDouble(value, &v) || v < 0.0 || v >= 1.0) {
        return "tf_sparse delegate: option min_sparsity=" + Quote(value) +
               " is invalid; allowed: a number in [0, 1)";
      }
      o.min_sparsity = v;
    } else if (std::strcmp(key, "format") == 0) {
      o.format = FcFormat::kAuto;
      o.block_height = 0;
      o.block_width = 0;
      o.force_patdnn = false;
      o.force_vtaps = false;
      o.force_pixvec = false;
      o.force_dwtaps = false;
      if (value != nullptr && std::strcmp(value, "auto") == 0) {
        // Detect.
      } else if (value != nullptr && std::strcmp(value, "patdnn") == 0) {
        o.force_patdnn = true;  // CONV_2D only; other ops stay on "auto".
      } else if (value != nullptr && std::strcmp(value, "vtaps") == 0) {
        o.force_vtaps = true;  // CONV_2D only; other ops stay on "auto".
      } else if (value != nullptr && std::strcmp(value, "pixvec") == 0) {
        o.force_pixvec = true;  // CONV_2D only; other ops stay on "auto".
      } else if (value != nullptr && std::strcmp(value, "dwtaps") == 0) {
        // DEPTHWISE_CONV_2D only; other ops stay on "auto".
        o.force_dwtaps = true;
      } else if (value != nullptr &&
                 ParseBsrFormat(value, &o.block_height, &o.block_width)) {
        o.format = FcFormat::kBsr;
      } else if (value == nullptr || !ParseOtherFormat(value, &o)) {
        return "tf_sparse delegate: option format=" + Quote(value) +
               " is invalid; allowed: 'auto', 'bsr:RxC' with block "
               "height R and width C >= 1 and R*C <= 1024 (e.g. 'bsr:1x4'), "
               "'csr', 'nm' or 'nm:N:M' (N in 1, 2, 4, 8, 16 and M in 2, 4, "
               "8, 16, 32 with N < M, e.g. 'nm:2:4'), 'gs', 'gs:B' or 'gs:B:E' "
               "(B banks a power of two from 2 to 256, E dividing B; e.g. "
               "'gs:16'), 'patdnn' (3x3 CONV_2D), 'vtaps' or 'pixvec' (CONV_2D), "
               "'dwtaps' (3x3 DEPTHWISE_CONV_2D)";
      }
    } else if (std::strcmp(key, "corrupt_sparsity") == 0) {
      if (value != nullptr && std::strcmp(value, "error") == 0) {
        o.corrupt_sparsity = CorruptSparsity::kError;
      } else if (value != nullptr && std::strcmp(value, "decline") == 0) {
        o.corrupt_sparsity = CorruptSparsity::kDecline;
      } else {
        return "tf_sparse delegate: option corrupt_sparsity=" + Quote(value) +
               " is invalid; allowed: 'error' (default: a corrupt TFLite "
               "sparse encoding fails the load) or 'decline' (leave its "
               "readers to TFLite)";
      }
    } else if (std::strcmp(key, "calibration") == 0) {
      if (!ParseCalibrationMode(value, &o.calibration)) {
        return "tf_sparse delegate: option calibration=" + Quote(value) +
               " is invalid; " + kCalibrationAllowed;
      }
    } else if (std::strcmp(key, "calibration_dir") == 0) {
      if (value == nullptr || value[0] == '\0') {
        return "tf_sparse delegate: option calibration_dir=" + Quote(value) +
               " is invalid; allowed: a directory path";
      }
      o.calibration_dir = value;
    } else if (std::strcmp(key, "verbose") == 0) {
      long v = 0;
      if (!ParseInt(value, &v) || v < 0 || v > 2) {
        return "tf_sparse delegate: option verbose=" + Quote(value) +
               " is invalid; allowed: 0, 1 or 2";
      }
      o.verbose = static_cast<int>(v);
    } else {
      return "tf_sparse delegate: unknown option " + Quote(key) +
             "; allowed options: num_threads, min_sparsity, format, "
             "corrupt_sparsity, calibration, calibration_dir, verbose";
    }
  }
  *options = o;
  return "";
}

}  // namespace tf_sparse
