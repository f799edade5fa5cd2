// A delegate made through the library's exported C API, as TFLite and
// Python make it, owned for the length of a test: string options in, the
// claimed-node and invocation counters and the JSON report out, and the
// last error the plugin reported.
#ifndef TF_SPARSE_DELEGATE_TESTS_PLUGIN_DELEGATE_H_
#define TF_SPARSE_DELEGATE_TESTS_PLUGIN_DELEGATE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "delegate/tflite_abi.h"
#include "gtest/gtest.h"

extern "C" {
tf_sparse::tflite_abi::TfLiteDelegate* tflite_plugin_create_delegate(
    char** keys, char** values, size_t n, void (*report_error)(const char*));
void tflite_plugin_destroy_delegate(
    tf_sparse::tflite_abi::TfLiteDelegate* delegate);
int tf_sparse_delegate_stats(void* delegate, int64_t* nodes_claimed,
                             int64_t* invocations);
int tf_sparse_delegate_report(void* delegate, char* buf, size_t n);
const char* tf_sparse_delegate_isa(void);
}

namespace tf_sparse {
namespace testing {

using Opts = std::vector<std::pair<std::string, std::string>>;

// The message of the plugin's last report_error call (cleared by each
// Delegate constructor).
inline std::string& LastPluginError() {
  static std::string error;
  return error;
}

class Delegate {
 public:
  // `count_high_bits` is or-ed into the option count the plugin receives
  // (to check that it rejects a corrupt count).
  explicit Delegate(const Opts& opts, size_t count_high_bits = 0) {
    for (const auto& kv : opts) {
      keys_.push_back(kv.first);
      values_.push_back(kv.second);
    }
    std::vector<char*> k, v;
    for (size_t i = 0; i < keys_.size(); ++i) {
      k.push_back(&keys_[i][0]);
      v.push_back(&values_[i][0]);
    }
    LastPluginError().clear();
    d_ = tflite_plugin_create_delegate(
        k.data(), v.data(), keys_.size() | count_high_bits,
        [](const char* msg) { LastPluginError() = msg; });
  }
  ~Delegate() {
    if (d_ != nullptr) tflite_plugin_destroy_delegate(d_);
  }
  Delegate(const Delegate&) = delete;
  Delegate& operator=(const Delegate&) = delete;

  tflite_abi::TfLiteDelegate* get() { return d_; }
  int64_t claimed() {
    int64_t c = -1, i = -1;
    EXPECT_EQ(tf_sparse_delegate_stats(d_, &c, &i), 0);
    return c;
  }
  int64_t invocations() {
    int64_t c = -1, i = -1;
    EXPECT_EQ(tf_sparse_delegate_stats(d_, &c, &i), 0);
    return i;
  }
  std::string report() {
    const int n = tf_sparse_delegate_report(d_, nullptr, 0);
    EXPECT_GE(n, 2);
    std::string s(n + 1, '\0');
    EXPECT_EQ(tf_sparse_delegate_report(d_, &s[0], s.size()), n);
    s.resize(n);
    return s;
  }

 private:
  std::vector<std::string> keys_, values_;
  tflite_abi::TfLiteDelegate* d_ = nullptr;
};

}  // namespace testing
}  // namespace tf_sparse

#endif  // TF_SPARSE_DELEGATE_TESTS_PLUGIN_DELEGATE_H_
