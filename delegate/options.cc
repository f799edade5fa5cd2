#include "delegate/options.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "cc/formats/bsr.h"

namespace tf_sparse {
namespace {

constexpr int kMaxThreads = 256;

bool ParseInt(const char* s, long* out) {
  if (s == nullptr || *s == '\0') return false;
  errno = 0;
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

bool ParseDouble(const char* s, double* out) {
  if (s == nullptr || *s == '\0') return false;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  if (errno != 0 || *end != '\0' || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

// "bsr:RxC" with 1 <= R, C and R * C within the format's limit.
bool ParseBsrFormat(const char* s, int* r, int* c) {
  if (std::strncmp(s, "bsr:", 4) != 0) return false;
  const char* p = s + 4;
  char* end = nullptr;
  errno = 0;
  const long rv = std::strtol(p, &end, 10);
  if (end == p || *end != 'x' || errno != 0) return false;
  p = end + 1;
  const long cv = std::strtol(p, &end, 10);
  if (end == p || *end != '\0' || errno != 0) return false;
  if (rv < 1 || cv < 1 || rv > 1024 || cv > 1024) return false;
  if (!CheckBsrShape(rv, cv, rv, cv).empty()) return false;
  *r = static_cast<int>(rv);
  *c = static_cast<int>(cv);
  return true;
}

// "nm", "nm:N:M", "gs", "gs:B", "gs:B:E": integers after the prefix,
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
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(p, &end, 10);
    if (end == p || errno != 0 || v < 1 || v > 256) return false;
    values[(*count)++] = static_cast<int>(v);
    p = end;
  }
  return *p == '\0';
}

bool ParseOtherFormat(const char* s, DelegateOptions* o) {
  int v[2] = {0, 0};
  int count = 0;
  if (std::strcmp(s, "csr") == 0) {
    o->format = FcFormat::kCsr;
    return true;
  }
  if (ParseColonInts(s, "nm", 2, v, &count) && (count == 0 || count == 2)) {
    if (count == 2 && (v[0] >= v[1] || 16 % v[0] != 0)) return false;
    o->format = FcFormat::kNm;
    o->nm_n = count == 2 ? v[0] : 0;
    o->nm_m = count == 2 ? v[1] : 0;
    return true;
  }
  if (ParseColonInts(s, "gs", 2, v, &count)) {
    const int banks = count >= 1 ? v[0] : 16;
    const int e = count >= 2 ? v[1] : 1;
    if (banks % e != 0) return false;
    o->format = FcFormat::kGs;
    o->gs_banks = banks;
    o->gs_elements_per_row = e;
    return true;
  }
  return false;
}

std::string Quote(const char* s) {
  return std::string("'") + (s == nullptr ? "(null)" : s) + "'";
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
    case FcFormat::kBsr:
      break;
  }
  return "bsr:" + std::to_string(block_height) + "x" +
         std::to_string(block_width);
}

std::string ParseDelegateOptions(const char* const* keys,
                                 const char* const* values, size_t n,
                                 DelegateOptions* options) {
  DelegateOptions o;
  for (size_t i = 0; i < n; ++i) {
    const char* key = keys[i];
    const char* value = values[i];
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
      o.force_dwtaps = false;
      if (value != nullptr && std::strcmp(value, "auto") == 0) {
        // Detect.
      } else if (value != nullptr && std::strcmp(value, "patdnn") == 0) {
        o.force_patdnn = true;  // CONV_2D only; other ops stay on "auto".
      } else if (value != nullptr && std::strcmp(value, "vtaps") == 0) {
        o.force_vtaps = true;  // CONV_2D only; other ops stay on "auto".
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
               "'csr', 'nm' or 'nm:N:M' (N in 1, 2, 4, 8, 16, N < M <= 256, "
               "e.g. 'nm:2:4'), 'gs', 'gs:B' or 'gs:B:E' (B <= 256 banks, E "
               "dividing B; e.g. 'gs:16'), 'patdnn' or 'vtaps' (3x3 CONV_2D), "
               "'dwtaps' (3x3 DEPTHWISE_CONV_2D)";
      }
    } else if (std::strcmp(key, "verbose") == 0) {
      long v = 0;
      if (!ParseInt(value, &v) || v < 0 || v > 2) {
        return "tf_sparse delegate: option verbose=" + Quote(value) +
               " is invalid; allowed: 0, 1 or 2";
      }
      o.verbose = static_cast<int>(v);
    } else {
      return "tf_sparse delegate: unknown option " + Quote(key) +
             "; allowed options: num_threads, min_sparsity, format, verbose";
    }
  }
  *options = o;
  return "";
}

}  // namespace tf_sparse
