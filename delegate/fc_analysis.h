// Deciding whether the delegate runs a FULLY_CONNECTED node, and with which
// block shape.
//
// A node is claimed when all of these hold:
//  - float32 input, weights, output (and bias, if any);
//  - weights constant (kTfLiteMmapRo), 2-D [out, in], stored dense (no
//    TfLiteSparsity: TFLite's own compressed encoding is declined);
//  - bias absent or constant 1-D [out];
//  - fused activation NONE, RELU, RELU_N1_TO_1 or RELU6, default weights
//    format;
//  - the input holds whole rows of `in` values (its last dimension is `in`
//    when keep_num_dims is set);
//  - at least min_sparsity of the weights are exactly zero;
//  - with format "auto": the cheapest block shape's estimated cost beats the
//    dense layer's (see EstimateBsrCost).
#ifndef TF_SPARSE_DELEGATE_FC_ANALYSIS_H_
#define TF_SPARSE_DELEGATE_FC_ANALYSIS_H_

#include <string>
#include <vector>

#include "delegate/options.h"
#include "delegate/tflite_abi.h"

namespace tf_sparse {

// What a FULLY_CONNECTED node is made of, read from the graph.
struct FcNodeInfo {
  int input = -1;  // Tensor indices; bias is -1 when absent.
  int weights = -1;
  int bias = -1;
  int output = -1;
  int out = 0;  // Weights [out, in].
  int in = 0;
  bool keep_num_dims = false;
  float output_min = 0.0f;  // The fused activation as a clamp.
  float output_max = 0.0f;
};

// Reads and checks a node's structure (everything but its weights' values).
// Returns an empty string if the node can run on this delegate, else why not.
std::string ReadFcNode(const tflite_abi::TfLiteContext* context,
                       const tflite_abi::TfLiteNode* node, FcNodeInfo* info);

// The estimated cost of one candidate block shape, in units of one weight
// of a dense matrix-vector product (a dense layer costs out * in).
struct BlockCandidate {
  int r = 0;
  int c = 0;
  double density = 0.0;  // Kept blocks / all blocks.
  double cost = 0.0;
};

// The larger of two estimates: compute (per kept block a fixed decoding
// share plus a share per entry, both larger for shapes without a
// specialised kernel; per output row the reduction and store; calibrated
// with cc/bench, see fc_analysis.cc) and memory (bytes of values and
// indices against 4 bytes per dense weight).
double EstimateBsrCost(int out, int in, int r, int c, long long kept_blocks,
                       bool specialized);

// The decision about one considered node, as reported to the user.
struct FcDecision {
  int node_index = -1;
  bool claimed = false;
  std::string reason;
  FcNodeInfo info;
  bool has_shape = false;
  double sparsity = -1.0;  // Fraction of exactly-zero weights; < 0: unknown.
  int block_height = 0;    // Chosen (or best) block shape; 0: none.
  int block_width = 0;
  double block_density = 0.0;
  double cost_ratio = 0.0;  // Estimated cost / dense cost of that shape.
  std::vector<BlockCandidate> candidates;
};

// Analyses the FULLY_CONNECTED node `node_index`.
FcDecision AnalyzeFcNode(const tflite_abi::TfLiteContext* context,
                         int node_index, const tflite_abi::TfLiteNode* node,
                         const DelegateOptions& options);

}  // namespace tf_sparse

#endif  // TF_SPARSE_DELEGATE_FC_ANALYSIS_H_
