// One interface over the packed sparse operators, so that the delegate (and
// anything else that picks a format at run time) holds one pointer per node
// whatever the format.
//
// SparseOperator: a FULLY_CONNECTED operator y[rows][out] = clamp(x[rows][in]
// * W^T + b); Qs8SparseOperator its full-integer int8 form
// (Qs8BsrFullyConnected). FcOperator<Op> wraps any operator with the batched API
// `Run(size_t rows, const float* x, float* y, ThreadPool*)`
// (F32BsrFullyConnected, F32CsrFullyConnected, F32NmFullyConnected,
// F32GsFullyConnected); RowsAsImageOperator<Op> runs a 1x1 convolution
// operator with the image API below on the rows as a 1 x rows image
// (F32Conv3x3Vtaps, F32ConvPixvec on calls of many rows).
//
// ConvOperator: a CONV_2D operator over NHWC tensors (Qs8ConvOperator:
// int8). ConvOperatorOf<Op>
// wraps any operator with the image API `Reshape(batch, in_h, in_w, &out_h,
// &out_w, &error)` and `Run(x, y, pool)` (F32PatdnnConv2D, F32Conv3x3Vtaps,
// F32ConvPixvec).
//
// The wrapped classes keep their own Create/Reshape/Run API; the interfaces
// only forward to it. As theirs, Run is not reentrant (one call at a time
// per operator) and reads its tensor pointers anew on every call.
#ifndef TF_SPARSE_CC_KERNELS_SPARSE_OPERATOR_H_
#define TF_SPARSE_CC_KERNELS_SPARSE_OPERATOR_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "cc/util/thread_pool.h"

namespace tf_sparse {

// T: float for float32 operators, int8_t for full-integer int8 ones
// (Qs8SparseOperator: int8 x and y, requantized as TFLite's int8 kernels).
template <typename T>
class TypedSparseOperator {
 public:
  virtual ~TypedSparseOperator() = default;
  // Sizes the operator for calls of `rows` rows (0 allowed: Run then does
  // nothing). Returns an empty string or what is wrong; runs at prepare
  // time, before any Run with that row count.
  virtual std::string Reshape(size_t rows) = 0;
  // x: [rows][in], y: [rows][out] for the rows of the last Reshape. pool
  // may be null (one thread).
  virtual void Run(const T* x, T* y, ThreadPool* pool) = 0;
  // The micro-kernel the operator runs.
  virtual const char* kernel_name() const = 0;
  // Bytes of the packed weights (indices and values, without padding).
  virtual int64_t PackedBytes() const = 0;
};
using SparseOperator = TypedSparseOperator<float>;
using Qs8SparseOperator = TypedSparseOperator<int8_t>;

// A batched FULLY_CONNECTED operator behind TypedSparseOperator<T>.
template <class Op, typename T = float>
class FcOperator : public TypedSparseOperator<T> {
 public:
  explicit FcOperator(std::unique_ptr<Op> op) : op_(std::move(op)) {}
  std::string Reshape(size_t rows) override {
    rows_ = rows;
    return "";
  }
  void Run(const T* x, T* y, ThreadPool* pool) override {
    op_->Run(rows_, x, y, pool);
  }
  const char* kernel_name() const override { return op_->kernel_name(); }
  int64_t PackedBytes() const override { return op_->PackedBytes(); }
  Op& op() { return *op_; }

 private:
  std::unique_ptr<Op> op_;
  size_t rows_ = 0;
};

// Wraps `op` (null stays null).
template <class Op>
std::unique_ptr<SparseOperator> MakeFcOperator(std::unique_ptr<Op> op) {
  if (op == nullptr) return nullptr;
  return std::unique_ptr<SparseOperator>(new FcOperator<Op>(std::move(op)));
}
template <class Op>
std::unique_ptr<Qs8SparseOperator> MakeQs8FcOperator(std::unique_ptr<Op> op) {
  if (op == nullptr) return nullptr;
  return std::unique_ptr<Qs8SparseOperator>(
      new FcOperator<Op, int8_t>(std::move(op)));
}

// The rows of each call are the pixels of a 1 x rows image of a 1x1
// convolution operator (VT or PV).
template <typename Op>
class RowsAsImageOperator : public SparseOperator {
 public:
  explicit RowsAsImageOperator(std::unique_ptr<Op> op) : op_(std::move(op)) {}
  std::string Reshape(size_t rows) override {
    rows_ = rows;
    if (rows == 0) return "";
    if (rows > static_cast<size_t>(std::numeric_limits<int>::max())) {
      return "too many rows";
    }
    int out_h = 0, out_w = 0;
    std::string error;
    if (!op_->Reshape(1, 1, static_cast<int>(rows), &out_h, &out_w, &error)) {
      return error;
    }
    return "";
  }
  void Run(const float* x, float* y, ThreadPool* pool) override {
    if (rows_ > 0) op_->Run(x, y, pool);
  }
  const char* kernel_name() const override { return op_->kernel_name(); }
  int64_t PackedBytes() const override { return op_->PackedBytes(); }

 private:
  std::unique_ptr<Op> op_;
  size_t rows_ = 0;
};

// Wraps `op` (null stays null).
template <typename Op>
std::unique_ptr<SparseOperator> RowsAsImage(std::unique_ptr<Op> op) {
  if (op == nullptr) return nullptr;
  return std::unique_ptr<SparseOperator>(
      new RowsAsImageOperator<Op>(std::move(op)));
}

template <typename T>
class TypedConvOperator {
 public:
  virtual ~TypedConvOperator() = default;
  // Sizes the operator for an input [batch, in_h, in_w, in]; sets the
  // output's spatial size. Returns false and sets *error when the input
  // does not fit.
  virtual bool Reshape(int batch, int in_h, int in_w, int* out_h, int* out_w,
                       std::string* error) = 0;
  // x, y: NHWC tensors of the last Reshape. pool may be null.
  virtual void Run(const T* x, T* y, ThreadPool* pool) = 0;
  virtual const char* kernel_name() const = 0;
  virtual int64_t PackedBytes() const = 0;
};
using ConvOperator = TypedConvOperator<float>;
using Qs8ConvOperator = TypedConvOperator<int8_t>;

template <class Op, typename T = float>
class ConvOperatorOf : public TypedConvOperator<T> {
 public:
  explicit ConvOperatorOf(std::unique_ptr<Op> op) : op_(std::move(op)) {}
  bool Reshape(int batch, int in_h, int in_w, int* out_h, int* out_w,
               std::string* error) override {
    return op_->Reshape(batch, in_h, in_w, out_h, out_w, error);
  }
  void Run(const T* x, T* y, ThreadPool* pool) override {
    op_->Run(x, y, pool);
  }
  const char* kernel_name() const override { return op_->kernel_name(); }
  int64_t PackedBytes() const override { return op_->PackedBytes(); }

 private:
  std::unique_ptr<Op> op_;
};

template <class Op>
std::unique_ptr<ConvOperator> MakeConvOperator(std::unique_ptr<Op> op) {
  if (op == nullptr) return nullptr;
  return std::unique_ptr<ConvOperator>(new ConvOperatorOf<Op>(std::move(op)));
}
template <class Op>
std::unique_ptr<Qs8ConvOperator> MakeQs8ConvOperator(std::unique_ptr<Op> op) {
  if (op == nullptr) return nullptr;
  return std::unique_ptr<Qs8ConvOperator>(
      new ConvOperatorOf<Op, int8_t>(std::move(op)));
}

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_SPARSE_OPERATOR_H_
