// Deciding whether the delegate runs a DEPTHWISE_CONV_2D node on tap-sparse
// weights (channel-vector tap lists, cc/kernels/f32_dwconv3x3_sparse.h).
//
// A node is claimed when all of these hold:
//  - float32 input, weights, output (and bias, if any);
//  - weights constant (kTfLiteMmapRo), 4-D [1, 3, 3, C], stored dense, or
//    produced by a DENSIFY node from a constant in TFLite's sparse encoding
//    that nothing else reads (decoded and decided as dense weights);
//  - input 4-D NHWC with C channels: depth multiplier 1 (read from the
//    shapes, as TFLite's own kernels do);
//  - bias absent or constant 1-D [C];
//  - dilation 1x1; padding SAME or VALID, any stride; fused activation NONE,
//    RELU, RELU_N1_TO_1 or RELU6;
//  - at least min_sparsity of the weights are exactly zero;
//  - format "auto" (or "patdnn", which only concerns CONV_2D): the
//    estimated cost (EstimateDwTapsCostRatio) is at most 0.9 of XNNPACK's
//    dense depthwise convolution; format "dwtaps" skips this test; a forced
//    FULLY_CONNECTED format declines the node.
// Any tap sparsity runs correctly (a dense kernel executes its 9 taps);
// what decides is how many taps the vectors of channels can skip.
#ifndef TF_SPARSE_DELEGATE_DWCONV_ANALYSIS_H_
#define TF_SPARSE_DELEGATE_DWCONV_ANALYSIS_H_

#include <string>

#include "cc/kernels/f32_conv_reference.h"
#include "cc/kernels/f32_dwconv3x3_sparse.h"
#include "delegate/node_util.h"
#include "delegate/op_handler.h"
#include "delegate/options.h"
#include "delegate/tflite_abi.h"

namespace tf_sparse {

// What a DEPTHWISE_CONV_2D node is made of, read from the graph.
struct DwConvNodeInfo : WeightedNodeInfo {
  int channels = 0;  // Weights [1, kh, kw, channels].
  int kernel_h = 0;
  int kernel_w = 0;
  int stride_h = 1;
  int stride_w = 1;
  ConvPadding padding = ConvPadding::kSame;
  // Input spatial size when the graph knows it (else 0).
  int in_h = 0;
  int in_w = 0;
};

// Reads and checks a node's structure (everything but its weights' values).
// Returns an empty string if the node can run on this delegate, else why not.
std::string ReadDwConvNode(const tflite_abi::TfLiteContext* context,
                           const tflite_abi::TfLiteNode* node,
                           DwConvNodeInfo* info,
                           const DensifySource* densify = nullptr);

// Estimated time of the tap-sparse kernel over XNNPACK's dense depthwise
// kernel, from the kept taps of each vector of channels (stats, packed for
// the kernel's lanes) and the channel count; both sides scale with the
// output pixels, which cancel (infinity when the input gives no output).
// Calibrated with benchmarks/dwconv_speed.py (see the constants in the
// .cc).
double EstimateDwTapsCostRatio(const DwConvNodeInfo& info,
                               const DwTapStats& stats, bool vector_isa);

// The decision about one considered node, as reported to the user.
struct DwConvDecision : NodeDecision {
  DwConvNodeInfo info;
  bool has_shape = false;
  DwTapStats stats;
  bool has_stats = false;
  double cost_ratio = -1.0;  // < 0: not estimated.
  WeightedNodeInfo& weighted_info() override { return info; }
};

DwConvDecision AnalyzeDwConvNode(const tflite_abi::TfLiteContext* context,
                                 int node_index,
                                 const tflite_abi::TfLiteNode* node,
                                 const DelegateOptions& options,
                                 const DensifySource* densify = nullptr);

// The decision as a JSON object (one entry of tfs.delegate_report()).
std::string DwConvDecisionJson(const DwConvDecision& d);

// One line (verbose >= 1) or more (verbose 2) on stderr.
void LogDwConvDecision(const DwConvDecision& d, int verbose);

}  // namespace tf_sparse

#endif  // TF_SPARSE_DELEGATE_DWCONV_ANALYSIS_H_
