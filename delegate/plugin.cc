// The library's exported C API: TFLite's external delegate entry points and
// introspection for Python (which loads this same library with ctypes, so
// both see the same delegates).
//
//   TfLiteDelegate* tflite_plugin_create_delegate(char** keys, char** values,
//                                                 size_t n,
//                                                 void (*report_error)(const char*))
//       Options: see delegate/options.h. On a bad option, reports a message
//       naming the option and its allowed values and returns NULL.
//   void tflite_plugin_destroy_delegate(TfLiteDelegate* delegate)
//   int tf_sparse_delegate_stats(void* delegate, int64_t* nodes_claimed,
//                                int64_t* invocations)
//       nodes_claimed: FULLY_CONNECTED and CONV_2D nodes this delegate runs
//       (DENSIFY nodes taken over with them not counted; over all
//       graphs it prepared); invocations: node computations done by this
//       library for it (a partition of k nodes adds k per Invoke). Either
//       pointer may be NULL. Returns 0, or -1 if `delegate` is not a live
//       delegate of this library.
//   int tf_sparse_delegate_kernel_time(void* delegate, int64_t* ns)
//       *ns: wall time spent inside this delegate's partition kernels so far
//       (summed over their invocations; the rest of a model's invoke is
//       TFLite's and XNNPACK's). Returns 0, or -1 if `delegate` is unknown.
//   int tf_sparse_delegate_report(void* delegate, char* buf, size_t n)
//       Writes a NUL-terminated JSON array (truncated to n - 1 characters),
//       one object per considered node:
//         {"node": 3, "op": "FULLY_CONNECTED", "claimed": true,
//          "reason": "...", "format": "bsr:1x4", "shape": [1024, 1024],
//          "sparsity": 0.9, "block_density": 0.1, "cost_vs_dense": 0.13,
//          "kernel": "f32_bsr_minmax_1x4__avx512", "densify_node": null}
//       ("format" and "kernel" are null for declined nodes; "shape" and
//       "sparsity" null when unknown; "densify_node" is the DENSIFY node
//       whose output the node reads as weights, handed over with it when
//       the node is claimed, else null). Returns the full length without the
//       NUL (call again with a larger buffer if it is >= n), or -1 if
//       `delegate` is unknown.
//   int tf_sparse_delegate_calibration(void* delegate, char* buf, size_t n)
//       Writes the cost-model calibration this delegate uses as a JSON
//       object (delegate/calibration.h: cpu, isa, source "measured", "cache"
//       or "off", path, and per family its factor, the ratio measured here
//       and the reference CPU's), measuring it first if no call has; same
//       buffer and return contract as tf_sparse_delegate_report.
//   const char* tf_sparse_delegate_isa(void)
//       The instruction set the kernels run with: "avx512", "avx2" or
//       "scalar" (TF_SPARSE_ISA caps it).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>

#include "cc/kernels/dispatch.h"
#include "delegate/calibration.h"
#include "delegate/options.h"
#include "delegate/sparse_delegate.h"
#include "delegate/tflite_abi.h"

#define TF_SPARSE_EXPORT extern "C" __attribute__((visibility("default")))

using tf_sparse::SparseDelegate;
using tf_sparse::tflite_abi::TfLiteDelegate;

TF_SPARSE_EXPORT TfLiteDelegate* tflite_plugin_create_delegate(
    char** keys, char** values, size_t n, void (*report_error)(const char*)) {
  // Python passes the count as a C int: only the low 32 bits are meaningful.
  const size_t count = static_cast<size_t>(static_cast<uint32_t>(n));
  tf_sparse::DelegateOptions options;
  const std::string error =
      tf_sparse::ParseDelegateOptions(keys, values, count, &options);
  if (!error.empty()) {
    if (report_error != nullptr) report_error(error.c_str());
    return nullptr;
  }
  SparseDelegate* d = new (std::nothrow) SparseDelegate(options);
  if (d == nullptr) {
    if (report_error != nullptr) {
      report_error("tf_sparse delegate: out of memory");
    }
    return nullptr;
  }
  return d->tflite_delegate();
}

TF_SPARSE_EXPORT void tflite_plugin_destroy_delegate(TfLiteDelegate* delegate) {
  delete SparseDelegate::FromHandle(delegate);
}

TF_SPARSE_EXPORT int tf_sparse_delegate_stats(void* delegate,
                                              int64_t* nodes_claimed,
                                              int64_t* invocations) {
  SparseDelegate* d = SparseDelegate::FromHandle(delegate);
  if (d == nullptr) return -1;
  if (nodes_claimed != nullptr) *nodes_claimed = d->nodes_claimed();
  if (invocations != nullptr) *invocations = d->invocations();
  return 0;
}

TF_SPARSE_EXPORT int tf_sparse_delegate_kernel_time(void* delegate,
                                                    int64_t* ns) {
  SparseDelegate* d = SparseDelegate::FromHandle(delegate);
  if (d == nullptr || ns == nullptr) return -1;
  *ns = d->kernel_ns();
  return 0;
}

TF_SPARSE_EXPORT int tf_sparse_delegate_report(void* delegate, char* buf,
                                               size_t n) {
  SparseDelegate* d = SparseDelegate::FromHandle(delegate);
  if (d == nullptr) return -1;
  const std::string json = d->ReportJson();
  if (buf != nullptr && n > 0) {
    const size_t len = json.size() < n - 1 ? json.size() : n - 1;
    std::memcpy(buf, json.data(), len);
    buf[len] = '\0';
  }
  return static_cast<int>(json.size());
}

TF_SPARSE_EXPORT int tf_sparse_delegate_calibration(void* delegate, char* buf,
                                                    size_t n) {
  SparseDelegate* d = SparseDelegate::FromHandle(delegate);
  if (d == nullptr) return -1;
  const std::string json = tf_sparse::GetCalibration(d->options()).Json();
  if (buf != nullptr && n > 0) {
    const size_t len = json.size() < n - 1 ? json.size() : n - 1;
    std::memcpy(buf, json.data(), len);
    buf[len] = '\0';
  }
  return static_cast<int>(json.size());
}

TF_SPARSE_EXPORT const char* tf_sparse_delegate_isa(void) {
  return tf_sparse::IsaName(tf_sparse::ActiveIsa());
}
