// Deciding whether the delegate runs a float UNIDIRECTIONAL_SEQUENCE_LSTM
// node on sparse gate weights (cc/kernels/f32_sparse_lstm.h).
//
// A node is claimed when all of these hold:
//  - float32 input [batch, time, n_input] (time_major: [time, batch,
//    n_input]) and output;
//  - all eight input-to-gate and recurrent-to-gate weights present (no
//    CIFG), constant float32 stored dense, [n_cell, n_input] and
//    [n_cell, n_cell]; gate biases constant float32 [n_cell] (or absent);
//  - no peephole, projection or layer-normalisation tensors, no diagonal
//    recurrent weights; cell and output activation TANH (any cell_clip);
//  - output-state and cell-state variable float32 tensors [batch, n_cell];
//  - at least min_sparsity of the eight matrices' weights exactly zero;
//  - the stacked input matrix [4 n_cell, n_input] and the stacked recurrent
//    matrix [4 n_cell, n_cell] are each packed in the format with the
//    lowest estimated cost (the FULLY_CONNECTED formats and their estimates,
//    fc_formats.h; the input one for the call's batch x time rows, the
//    recurrent one for the batch's rows), and with format "auto" the
//    sequence's estimated cost is at most 0.8 of TFLite's own LSTM kernel's
//    (EstimateStockLstmCost). A forced FULLY_CONNECTED format packs both
//    matrices in it whenever they fit it.
// Otherwise TFLite runs the node.
#ifndef TF_SPARSE_DELEGATE_LSTM_ANALYSIS_H_
#define TF_SPARSE_DELEGATE_LSTM_ANALYSIS_H_

#include <string>

#include "delegate/fc_analysis.h"
#include "delegate/node_util.h"
#include "delegate/op_handler.h"
#include "delegate/options.h"
#include "delegate/tflite_abi.h"

namespace tf_sparse {

// What an UNIDIRECTIONAL_SEQUENCE_LSTM node is made of, read from the
// graph. WeightedNodeInfo's input and output are the sequences; its
// weights is the input-to-forget matrix (for the report only).
struct LstmNodeInfo : WeightedNodeInfo {
  int input_weights[4] = {-1, -1, -1, -1};  // Gates i, f, c, o.
  int recurrent_weights[4] = {-1, -1, -1, -1};
  int biases[4] = {-1, -1, -1, -1};  // -1: zeros.
  int output_state = -1;  // Variable [batch, n_cell].
  int cell_state = -1;    // Variable [batch, n_cell].
  int n_input = 0;
  int n_cell = 0;
  int batch = 0;  // The state tensors' batch.
  int steps = 0;  // From the input's shape; 0 when unknown.
  bool time_major = false;
  float cell_clip = 0.0f;
};

// Reads and checks a node's structure (everything but its weights' values).
// Returns an empty string if the node can run on this delegate, else why not.
std::string ReadLstmNode(const tflite_abi::TfLiteContext* context,
                         const tflite_abi::TfLiteNode* node,
                         LstmNodeInfo* info);

// TFLite's float LSTM kernel on dense weights, per (batch, step) row, in
// the units of the FULLY_CONNECTED estimates (one weight of XNNPACK's dense
// matrix-vector product): it runs a dense matrix-vector product per gate,
// step and batch item over all 4 n_cell (n_input + n_cell) weights, plus
// its element-wise gate and state updates. Calibrated with
// benchmarks/lstm_speed.py (see the constants in the .cc).
double EstimateStockLstmCost(int n_input, int n_cell);

// The decision about one considered node, as reported to the user.
struct LstmDecision : NodeDecision {
  LstmNodeInfo info;
  bool has_shape = false;
  double sparsity = -1.0;  // Of all eight matrices; < 0: unknown.
  long long rows = 1;      // batch x time rows of one call.
  // The chosen formats of the stacked input and recurrent matrices
  // (FcDecision carries a format's parameters; its info the matrix shape).
  FcDecision input_format;
  FcDecision recurrent_format;
  bool has_formats = false;
  double cost_ratio = -1.0;  // Estimated cost / TFLite's; < 0: none.
  WeightedNodeInfo& weighted_info() override { return info; }
};

LstmDecision AnalyzeLstmNode(const tflite_abi::TfLiteContext* context,
                             int node_index,
                             const tflite_abi::TfLiteNode* node,
                             const DelegateOptions& options,
                             const DensifySource* densify = nullptr);

// The decision as a JSON object (one entry of tfs.delegate_report()).
std::string LstmDecisionJson(const LstmDecision& d);

// One line (verbose >= 1) or more (verbose 2) on stderr.
void LogLstmDecision(const LstmDecision& d, int verbose);

}  // namespace tf_sparse

#endif  // TF_SPARSE_DELEGATE_LSTM_ANALYSIS_H_
