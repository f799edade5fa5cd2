// Deciding whether the delegate runs a BATCH_MATMUL node whose right-hand
// side is a constant weight matrix, on the FULLY_CONNECTED formats.
//
// BATCH_MATMUL(x, W) with x [..., M, K] (adj_x false) and a constant W of
// [K, N] (adj_y false) or [N, K] (adj_y true), possibly with leading dims of
// 1, is a FULLY_CONNECTED over the rows of x: every one of the
// prod(...) * M rows of K values times the weights [out = N, in = K]. The
// output is [..., M, N], its leading dims broadcast against W's (all 1). So
// the node is analysed as such an FC (weights transposed into [N, K] when
// adj_y is false: the block structure is measured in that orientation) and
// claimed by the same rules (fc_analysis.h: min_sparsity, the cheapest
// format at most 0.8 of XNNPACK's dense cost for that many rows, or a
// forced format). Declined: a transposed left-hand side (adj_x), a constant
// left-hand side (weights times activations), a product of two activations
// (attention's Q K^T and softmax V), a right-hand side with a batch dim
// other than 1 (a weight matrix per batch), weights in TFLite's sparse
// encoding or behind DENSIFY, and anything not float32.
#ifndef TF_SPARSE_DELEGATE_BMM_ANALYSIS_H_
#define TF_SPARSE_DELEGATE_BMM_ANALYSIS_H_

#include <string>
#include <vector>

#include "delegate/fc_analysis.h"
#include "delegate/node_util.h"
#include "delegate/op_handler.h"
#include "delegate/options.h"
#include "delegate/tflite_abi.h"

namespace tf_sparse {

// What a BATCH_MATMUL node is made of, read from the graph: fc.input is the
// left-hand side, fc.weights the constant right-hand side, fc.out = N,
// fc.in = K, no bias, no activation.
struct BmmNodeInfo {
  FcNodeInfo fc;
  bool adj_y = false;  // W stored [N, K] (true) or [K, N] (false).
  int weights_rank = 2;  // W's rank (its leading dims are all 1).
};

// Reads and checks a node's structure. Returns an empty string if the node
// can run on this delegate, else why not. `densify`, when given, says the
// weights come from that DENSIFY node (declined).
std::string ReadBmmNode(const tflite_abi::TfLiteContext* context,
                        const tflite_abi::TfLiteNode* node, BmmNodeInfo* info,
                        const DensifySource* densify = nullptr);

// W as FULLY_CONNECTED weights [N][K]: its data when adj_y, else a
// transposed copy in *storage.
const float* BmmFcWeights(const tflite_abi::TfLiteContext* context,
                          const BmmNodeInfo& info, std::vector<float>* storage);

// The output shape TFLite's BATCH_MATMUL gives left-hand side `x_dims`
// against the weights of `info`: x's leading dims (left-padded with 1 to
// W's rank), then M and N. Returns an empty string or what is wrong (rank
// below 2, a last dim other than K, a negative dim); *rows is the number of
// FC rows.
std::string BmmOutputDims(const BmmNodeInfo& info,
                          const std::vector<int>& x_dims,
                          std::vector<int>* out_dims, size_t* rows);

struct BmmDecision : NodeDecision {
  BmmNodeInfo info;
  // The FC analysis of the node (fc.info is info.fc): format, estimates.
  FcDecision fc;
  WeightedNodeInfo& weighted_info() override { return info.fc; }
};

BmmDecision AnalyzeBmmNode(const tflite_abi::TfLiteContext* context,
                           int node_index, const tflite_abi::TfLiteNode* node,
                           const DelegateOptions& options,
                           const DensifySource* densify = nullptr);

// The decision as a JSON object (FcDecisionJson's fields with op
// "BATCH_MATMUL", plus "adj_y"); "shape" is [N, K].
std::string BmmDecisionJson(const BmmDecision& d);
void LogBmmDecision(const BmmDecision& d, int verbose);

}  // namespace tf_sparse

#endif  // TF_SPARSE_DELEGATE_BMM_ANALYSIS_H_
