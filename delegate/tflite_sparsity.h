// Reading TFLite's own sparse tensor encoding (TfLiteSparsity), as written by
// the converter with Optimize.EXPERIMENTAL_SPARSITY, and turning it into our
// BSR format without a dense intermediate.
//
// The encoding (tensorflow/lite/schema/schema.fbs, SparsityParameters) views
// an n-D tensor with k blocked dimensions as an (n + k)-D tensor: expanded
// dimension d < n is original dimension d counted in blocks (size
// dims[d] / block_size, rounded down as TFLite does), expanded dimension
// n + m is the position inside a block along original dimension
// block_map[m]. traversal_order lists the expanded dimensions in storage
// order, and dim_metadata[i] describes the i-th of them:
//  - DENSE: dense_size entries, all present; position = parent * size + j.
//  - SPARSE_CSR: entries [segments[parent], segments[parent + 1]) are
//    present, with coordinates indices[p]; position = p.
// The tensor's data holds one value per position of the last level.
//
// For FULLY_CONNECTED float weights [out, in] the converter writes 1x4
// blocks as traversal_order {0, 1, 2}, block_map {1}, dim_metadata {DENSE
// out, SPARSE_CSR over in / 4 block columns, DENSE 4}: exactly BSR with
// r = 1, c = 4 (row_ptr = segments, starting column = 4 * index, values as
// stored). Other shapes it stores (1x1, or anything else it does not run
// itself) come with a DENSIFY op in front of the consumer; the delegate decodes
// those with DecodeTfLiteSparsityToDense and takes the DENSIFY over with its
// consumer (see docs/formats.md).
//
// Everything here distrusts the tensor: every array size, permutation,
// segment and index is checked before use.
#ifndef TF_SPARSE_DELEGATE_TFLITE_SPARSITY_H_
#define TF_SPARSE_DELEGATE_TFLITE_SPARSITY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cc/formats/bsr.h"
#include "cc/kernels/f32_bsr_fully_connected.h"
#include "delegate/tflite_abi.h"

namespace tf_sparse {

// What a checked TfLiteSparsity says about a tensor.
struct TfLiteSparseLayout {
  std::vector<int> dims;        // The dense shape.
  std::vector<int> block_size;  // Per original dimension (1: not blocked).
  int64_t num_values = 0;       // Stored values (positions of the last level).
  int64_t stored_nonzeros = 0;  // Stored values != 0.0f (float32 only).
  // Set for 2-D tensors stored as BSR with block_size[0] x block_size[1]
  // blocks (identity traversal, DENSE block rows, SPARSE_CSR block columns,
  // DENSE inside blocks): TfLiteSparseToBsr converts those directly.
  bool direct_bsr = false;
  int64_t num_blocks = 0;  // Stored blocks when direct_bsr.
};

// Checks `t.sparsity` against the tensor's shape, type (float32 or int8;
// stored_nonzeros counts either) and byte size. Returns an empty string and fills *layout (may be null) when the
// encoding is consistent, else what is wrong.
std::string ReadTfLiteSparsity(const tflite_abi::TfLiteTensor& t,
                               TfLiteSparseLayout* layout);

// Checks the whole encoding of `t`, whatever its value type (float32, int8,
// float16, ...): rank and shape (no empty dimension, no overflowing
// product), traversal_order a permutation of the n + k expanded dimensions,
// block_map distinct dimensions whose levels are DENSE with a positive
// block size, every DENSE level's dense_size, every SPARSE_CSR
// level's segments (one more than the positions above, from 0, never
// decreasing, the last equal to the indices count) and indices (in range),
// and the byte size of the values (stored count x element size). Returns
// an empty string when nothing reading the encoding can go out of bounds,
// else what is wrong.
std::string ValidateTfLiteSparsity(const tflite_abi::TfLiteTensor& t);

// Writes the dense tensor (row-major, product(dims) values) that `t`
// encodes; positions the encoding does not store are 0. The element type
// must be the tensor's (float32, int8).
std::string DecodeTfLiteSparsityToDense(const tflite_abi::TfLiteTensor& t,
                                        std::vector<float>* dense);
std::string DecodeTfLiteSparsityToDense(const tflite_abi::TfLiteTensor& t,
                                        std::vector<int8_t>* dense);

// Converts a 2-D float32 tensor whose layout is direct_bsr into a BsrMatrix with the
// encoding's block shape. Block rows the encoding leaves out (when
// out % r != 0) are empty.
std::string TfLiteSparsityToBsr(const tflite_abi::TfLiteTensor& t,
                                BsrIndexWidth width, BsrMatrix* m);

// A FULLY_CONNECTED operator over sparse-encoded weights [out, in]: packed
// directly when options' block shape is the encoding's, else through a
// dense copy repacked with options' shape. Null and *error on failure.
std::unique_ptr<F32BsrFullyConnected> CreateFcFromTfLiteSparsity(
    const tflite_abi::TfLiteTensor& weights, const float* bias,
    float output_min, float output_max,
    const F32BsrFullyConnected::Options& options, std::string* error);

}  // namespace tf_sparse

#endif  // TF_SPARSE_DELEGATE_TFLITE_SPARSITY_H_
