// Options of the tf_sparse delegate, as passed by TFLite's external delegate
// loader: string keys and values.
//
//   num_threads   int >= 1, default 1. Threads per kernel call (the calling
//                 thread plus num_threads - 1 workers).
//   min_sparsity  float in [0, 1), default 0.5. A FULLY_CONNECTED node is
//                 considered only if at least this fraction of its weights
//                 is exactly zero.
//   format        "auto" (default): pick the block shape with the lowest
//                 estimated cost, and claim only if it beats dense; or
//                 "bsr:RxC" (e.g. "bsr:1x4") to force R x C blocks.
//   verbose       0 (default), 1: one line per considered node on stderr
//                 (claimed or declined, and why), 2: also the candidate
//                 costs and the kernel chosen.
#ifndef TF_SPARSE_DELEGATE_OPTIONS_H_
#define TF_SPARSE_DELEGATE_OPTIONS_H_

#include <cstddef>
#include <string>

namespace tf_sparse {

struct DelegateOptions {
  int num_threads = 1;
  double min_sparsity = 0.5;
  // Forced block shape; 0 x 0 means "auto".
  int block_height = 0;
  int block_width = 0;
  int verbose = 0;

  bool auto_format() const { return block_height == 0; }
  std::string FormatName() const;  // "auto" or "bsr:RxC".
};

// Parses n key/value pairs. Returns an empty string on success, else a
// message naming the option and its allowed values.
std::string ParseDelegateOptions(const char* const* keys,
                                 const char* const* values, size_t n,
                                 DelegateOptions* options);

}  // namespace tf_sparse

#endif  // TF_SPARSE_DELEGATE_OPTIONS_H_
