// An LSTM layer over a whole sequence on sparse gate weights, with the
// semantics of TFLite's float UNIDIRECTIONAL_SEQUENCE_LSTM (no peepholes,
// projection, layer normalisation or CIFG; tanh cell activation; see
// f32_lstm_reference.h, its oracle).
//
// The four input-to-gate matrices are stacked into one [4 * n_cell][n_input]
// operator (gates i, f, c, o, the biases folded in) and the four
// recurrent ones into one [4 * n_cell][n_cell] operator, each packed in any
// sparse format behind SparseOperator (BSR for block-pruned weights, CSR
// for unstructured ones, ...). The input operator does not depend on the
// state, so Run applies it to every (batch, step) row of the sequence in
// one call before the recurrence: each packed weight is then read once per
// sequence instead of once per step. The recurrence is one call of the
// recurrent operator per step on the batch's h, followed by the gate
// nonlinearities and the state update (LstmCellUpdate).
#ifndef TF_SPARSE_CC_KERNELS_F32_SPARSE_LSTM_H_
#define TF_SPARSE_CC_KERNELS_F32_SPARSE_LSTM_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "cc/kernels/sparse_operator.h"
#include "cc/util/aligned_buffer.h"
#include "cc/util/thread_pool.h"

namespace tf_sparse {

// The four gate matrices `gates` ([rows][cols] each, row-major) stacked
// into one [4 * rows][cols] matrix, gate after gate.
std::vector<float> StackLstmGates(const float* const gates[4], int rows,
                                  int cols);
// The four gate biases (each `n` floats, or null for zeros) as one vector.
std::vector<float> StackLstmBiases(const float* const biases[4], int n);

// One step of the state update for one batch item: z = pre + rec (the
// stacked gate sums, 4 * n each), then
//   c = sigmoid(z_f) * c + sigmoid(z_i) * tanh(z_c)  (clipped if clip > 0)
//   h = sigmoid(z_o) * tanh(c);  y = h.
// The exponential is evaluated by a branch-free polynomial that the
// compiler vectorises (relative error below 2e-7 in float).
void LstmCellUpdate(const float* pre, const float* rec, int n, float cell_clip,
                    float* c, float* h, float* y);

class F32SparseLstm {
 public:
  // input_op: [4 * n_cell][n_input] with the stacked biases, no clamp;
  // recurrent_op: [4 * n_cell][n_cell], no bias, no clamp (the caller packs
  // both, e.g. with StackLstmGates). cell_clip: 0 for none. Returns null
  // and sets *error on invalid arguments.
  static std::unique_ptr<F32SparseLstm> Create(
      std::unique_ptr<SparseOperator> input_op,
      std::unique_ptr<SparseOperator> recurrent_op, int n_input, int n_cell,
      float cell_clip, std::string* error);

  // Sizes for sequences of `batch` items of `steps` steps (either may be
  // 0: Run then does nothing), laid out [batch][steps] or, time_major,
  // [steps][batch]. Returns an empty string or what is wrong.
  std::string Reshape(int batch, int steps, bool time_major);

  // x: [batch][steps][n_input] (or time-major), y: the same with n_cell;
  // h, c: [batch][n_cell] state, read as the initial state and left holding
  // the final one. pool may be null. One Run at a time.
  void Run(const float* x, float* y, float* h, float* c, ThreadPool* pool);

  int n_input() const { return n_input_; }
  int n_cell() const { return n_cell_; }
  const SparseOperator& input_op() const { return *input_op_; }
  const SparseOperator& recurrent_op() const { return *recurrent_op_; }

 private:
  F32SparseLstm() = default;

  std::unique_ptr<SparseOperator> input_op_;
  std::unique_ptr<SparseOperator> recurrent_op_;
  int n_input_ = 0;
  int n_cell_ = 0;
  float cell_clip_ = 0.0f;
  int batch_ = 0;
  int steps_ = 0;
  bool time_major_ = false;
  AlignedBuffer<float> pre_;  // [batch * steps][4 * n_cell], input order.
  AlignedBuffer<float> rec_;  // [batch][4 * n_cell].
};

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_F32_SPARSE_LSTM_H_
