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

std::string Quote(const char* s) {
  return std::string("'") + (s == nullptr ? "(null)" : s) + "'";
}

}  // namespace

std::string DelegateOptions::FormatName() const {
  if (auto_format()) return "auto";
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
      if (value != nullptr && std::strcmp(value, "auto") == 0) {
        o.block_height = 0;
        o.block_width = 0;
      } else if (value == nullptr ||
                 !ParseBsrFormat(value, &o.block_height, &o.block_width)) {
        return "tf_sparse delegate: option format=" + Quote(value) +
               " is invalid; allowed: 'auto' or 'bsr:RxC' with block "
               "height R and width C >= 1 and R*C <= 1024 (e.g. 'bsr:1x4')";
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
