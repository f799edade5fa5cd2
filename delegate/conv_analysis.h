// Deciding whether the delegate runs a CONV_2D node on pattern-sparse
// (PatDNN FKW) weights.
//
// A node is claimed when all of these hold:
//  - float32 input, weights, output (and bias, if any);
//  - weights constant (kTfLiteMmapRo), 4-D [out, 3, 3, in], stored dense (no
//    TfLiteSparsity), or produced by a DENSIFY node from a constant in
//    TFLite's sparse encoding that nothing else reads (decoded and decided
//    as dense weights; the DENSIFY node is taken over with the node);
//    input 4-D NHWC with `in` channels (no grouped conv);
//  - bias absent or constant 1-D [out];
//  - dilation 1x1; padding SAME or VALID, any stride; fused activation NONE,
//    RELU, RELU_N1_TO_1 or RELU6;
//  - every 3x3 kernel has at most 4 nonzero taps (pattern-structured;
//    all-zero kernels are simply absent);
//  - at least min_sparsity of the weights are exactly zero;
//  - format "auto": the estimated cost (EstimatePatdnnCostRatio) is at most
//    0.9 of the dense convolution's; format "patdnn" skips this test; any other
//    forced format is a FULLY_CONNECTED format and declines the node.
#ifndef TF_SPARSE_DELEGATE_CONV_ANALYSIS_H_
#define TF_SPARSE_DELEGATE_CONV_ANALYSIS_H_

#include <string>

#include "cc/formats/patdnn.h"
#include "cc/kernels/f32_conv_reference.h"
#include "delegate/node_util.h"
#include "delegate/options.h"
#include "delegate/tflite_abi.h"

namespace tf_sparse {

// What a CONV_2D node is made of, read from the graph.
struct ConvNodeInfo : WeightedNodeInfo {
  int out = 0;  // Weights [out, kh, kw, in].
  int kernel_h = 0;
  int kernel_w = 0;
  int in = 0;
  int stride_h = 1;
  int stride_w = 1;
  ConvPadding padding = ConvPadding::kSame;
  // Input spatial size when the graph knows it (else 0).
  int in_h = 0;
  int in_w = 0;
};

// Reads and checks a node's structure (everything but its weights' values).
// Returns an empty string if the node can run on this delegate, else why not.
// `densify`, when given, says the weights come from that DENSIFY node.
std::string ReadConvNode(const tflite_abi::TfLiteContext* context,
                         const tflite_abi::TfLiteNode* node,
                         ConvNodeInfo* info,
                         const DensifySource* densify = nullptr);

// Estimated cost of the pattern-sparse convolution over the dense one (both
// per batch item). Units: one multiply-add of a dense 3x3 convolution as
// XNNPACK runs it. The sparse side pays per multiply-add of the padded
// output grid (tiles of tile_rows x tile_cols), per input value transposed
// and per output value stored; calibrated with cc/bench and
// benchmarks/conv_speed.py on 56x56x64 and 28x28x128 layers.
double EstimatePatdnnCostRatio(const ConvNodeInfo& info, long long kernels,
                               int tile_rows, int tile_cols, bool vector_isa);

// The decision about one considered node, as reported to the user.
struct ConvDecision {
  int node_index = -1;
  bool claimed = false;
  std::string reason;
  ConvNodeInfo info;
  bool has_shape = false;
  PatternStats stats;
  bool has_stats = false;
  double cost_ratio = -1.0;  // < 0: not estimated.
};

ConvDecision AnalyzeConvNode(const tflite_abi::TfLiteContext* context,
                             int node_index, const tflite_abi::TfLiteNode* node,
                             const DelegateOptions& options,
                             const DensifySource* densify = nullptr);

// The decision as a JSON object (one entry of tfs.delegate_report()).
std::string ConvDecisionJson(const ConvDecision& d);

// One line (verbose >= 1) or more (verbose 2) on stderr.
void LogConvDecision(const ConvDecision& d, int verbose);

}  // namespace tf_sparse

#endif  // TF_SPARSE_DELEGATE_CONV_ANALYSIS_H_
