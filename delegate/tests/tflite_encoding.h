// A 2-D float tensor in TFLite's sparse encoding, built for tests.
#ifndef TF_SPARSE_DELEGATE_TESTS_TFLITE_ENCODING_H_
#define TF_SPARSE_DELEGATE_TESTS_TFLITE_ENCODING_H_

#include <memory>
#include <vector>

#include "delegate/tflite_abi.h"

namespace tf_sparse {
namespace testing {

using namespace tflite_abi;  // NOLINT

// Owns the arrays of one encoded 2-D tensor, laid out as the converter
// writes them: identity traversal, DENSE block rows, SPARSE_CSR block
// columns, DENSE inside blocks (block_map lists the blocked dimensions).
class Encoded {
 public:
  // Encodes w (rows x cols) with r x c blocks; rows/cols beyond whole
  // blocks are dropped, as TFLite's converter does.
  Encoded(const std::vector<float>& w, int rows, int cols, int r, int c)
      : dims_{rows, cols} {
    const int br = rows / r;
    const int bc = cols / c;
    std::vector<int> seg{0};
    std::vector<int> idx;
    for (int i = 0; i < br; ++i) {
      for (int j = 0; j < bc; ++j) {
        bool nonzero = false;
        for (int u = 0; u < r; ++u) {
          for (int v = 0; v < c; ++v) {
            nonzero |= w[(i * r + u) * cols + j * c + v] != 0.0f;
          }
        }
        if (!nonzero) continue;
        idx.push_back(j);
        for (int u = 0; u < r; ++u) {
          for (int v = 0; v < c; ++v) {
            values_.push_back(w[(i * r + u) * cols + j * c + v]);
          }
        }
      }
      seg.push_back(static_cast<int>(idx.size()));
    }
    std::vector<int> block_map;
    std::vector<int> inner;
    if (r > 1) {
      block_map.push_back(0);
      inner.push_back(r);
    }
    if (c > 1) {
      block_map.push_back(1);
      inner.push_back(c);
    }
    const int levels = 2 + static_cast<int>(block_map.size());
    std::vector<int> order;
    for (int i = 0; i < levels; ++i) order.push_back(i);
    traversal_ = Array(order);
    block_map_ = Array(block_map);
    segments_ = Array(seg);
    indices_ = Array(idx);
    meta_.resize(levels);
    meta_[0] = {kTfLiteDimDense, br, nullptr, nullptr};
    meta_[1] = {kTfLiteDimSparseCSR, 0, segments_, indices_};
    for (size_t i = 0; i < inner.size(); ++i) {
      meta_[2 + i] = {kTfLiteDimDense, inner[i], nullptr, nullptr};
    }
    sparsity_.traversal_order = traversal_;
    sparsity_.block_map = block_map.empty() ? nullptr : block_map_;
    sparsity_.dim_metadata = meta_.data();
    sparsity_.dim_metadata_size = levels;
    dims_array_ = Array(dims_);
    tensor_ = {};
    tensor_.type = kTfLiteFloat32;
    tensor_.data = values_.data();
    tensor_.dims = dims_array_;
    tensor_.allocation_type = kTfLiteMmapRo;
    tensor_.bytes = values_.size() * sizeof(float);
    tensor_.sparsity = &sparsity_;
  }

  TfLiteTensor& tensor() { return tensor_; }
  TfLiteSparsity& sparsity() { return sparsity_; }
  std::vector<TfLiteDimensionMetadata>& meta() { return meta_; }
  TfLiteIntArray* segments() { return segments_; }
  TfLiteIntArray* indices() { return indices_; }
  TfLiteIntArray* traversal() { return traversal_; }

 private:
  TfLiteIntArray* Array(const std::vector<int>& v) {
    storage_.push_back(std::make_unique<std::vector<int>>(v.size() + 1));
    std::vector<int>& s = *storage_.back();
    s[0] = static_cast<int>(v.size());
    for (size_t i = 0; i < v.size(); ++i) s[i + 1] = v[i];
    return reinterpret_cast<TfLiteIntArray*>(s.data());
  }

  std::vector<int> dims_;
  std::vector<float> values_;
  std::vector<std::unique_ptr<std::vector<int>>> storage_;
  TfLiteIntArray* traversal_ = nullptr;
  TfLiteIntArray* block_map_ = nullptr;
  TfLiteIntArray* segments_ = nullptr;
  TfLiteIntArray* indices_ = nullptr;
  TfLiteIntArray* dims_array_ = nullptr;
  std::vector<TfLiteDimensionMetadata> meta_;
  TfLiteSparsity sparsity_{};
  TfLiteTensor tensor_{};
};

}  // namespace testing
}  // namespace tf_sparse

#endif  // TF_SPARSE_DELEGATE_TESTS_TFLITE_ENCODING_H_
