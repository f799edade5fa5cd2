// Deciding whether the delegate runs a CONV_2D node, and on which of its
// sparse formats (ConvFormats(), one descriptor each): PatDNN FKW
// (cc/kernels/f32_conv_patdnn.h: 3x3 kernels, dilation 1, every kernel on
// one 4-tap pattern, a vector across output pixels), filter-vector taps,
// VT (cc/kernels/f32_conv3x3_vtaps.h: any weights and kernel of at most 64
// taps, any dilation, a vector across 16 consecutive filters, paying one
// vector FMA per pixel for every (block of 16 filters, input channel, tap)
// with a nonzero weight), or pixel-vector nonzeros, PV
// (cc/kernels/f32_conv_pixvec.h: any weights, kernel, stride and dilation,
// one broadcast weight times a vector of output pixels per nonzero: the
// format of fine-grained sparsity, unstructured, 1xK blocks, N:M or
// per-kernel patterns).
//
// A node is considered when all of these hold:
//  - float32 input, weights, output (and bias, if any), or full-integer
//    int8 as fc_analysis.h describes it (ReadQs8Quantization; then only the
//    formats with int8 kernels are candidates);
//  - weights constant (kTfLiteMmapRo), 4-D [out, kh, kw, in] with
//    kh * kw <= kVtapsMaxTaps, stored dense (no TfLiteSparsity), or
//    produced by a DENSIFY node from a constant in TFLite's sparse encoding
//    that nothing else reads (decoded and decided as dense weights; the
//    DENSIFY node is taken over with the node); input 4-D NHWC with `in`
//    channels (a grouped input met later, at prepare, runs group by group:
//    conv_kernel.h);
//  - bias absent or constant 1-D [out];
//  - any dilation >= 1; padding SAME or VALID, any stride; fused activation
//    NONE, RELU, RELU_N1_TO_1 or RELU6;
//  - at least min_sparsity of the weights are exactly zero (whatever the
//    format, forced or not).
// Each format then says whether it can run the node (`problem`) and at what
// estimated cost against XNNPACK's dense convolution
// (EstimatePatdnnCostRatio, EstimateVtapsCostRatio, EstimatePixvecCostRatio),
// each multiplied by its kernel family's calibration factor on this CPU
// (delegate/calibration.h). FKW is a candidate
// only for 3x3 kernels of dilation 1 where every kernel has at most 4
// nonzero taps (all-zero kernels are simply absent); VT runs any weights,
// but only pays when blocks of 16 filters share their zeros (KernelPattern
// with filter_block=16, block-punched or channel-pruned weights).
//  - format "auto": the cheapest candidate (the first in ConvFormats() on a
//    tie) is claimed when its estimate is at most 0.9 of dense;
//  - format "patdnn": FKW whatever the estimate (declined when it cannot
//    run the node); "vtaps": VT whatever the estimate; "pixvec": PV
//    whatever the estimate;
//  - any other forced format is a FULLY_CONNECTED format and declines the
//    node.
#ifndef TF_SPARSE_DELEGATE_CONV_ANALYSIS_H_
#define TF_SPARSE_DELEGATE_CONV_ANALYSIS_H_

#include <memory>
#include <string>
#include <vector>

#include "cc/formats/patdnn.h"
#include "cc/kernels/f32_conv3x3_vtaps.h"
#include "cc/kernels/f32_conv_pixvec.h"
#include "cc/kernels/f32_conv_reference.h"
#include "cc/kernels/sparse_operator.h"
#include "delegate/calibration.h"
#include "delegate/node_util.h"
#include "delegate/op_handler.h"
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
  int dilation_h = 1;  // FKW runs 1 only; VT any.
  int dilation_w = 1;
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
// XNNPACK runs it, with its filters rounded up to XNNPACK's tile of output
// channels (32 on AVX-512). The sparse side pays per multiply-add of the
// padded output grid (tiles of tile_rows x tile_cols), per input value
// transposed and per output value stored; calibrated with cc/bench and
// benchmarks/conv_speed.py on 56x56x64 and 28x28x128 layers. `isa`: the
// kernels' instruction set (scalar ones cost more).
double EstimatePatdnnCostRatio(const ConvNodeInfo& info, long long kernels,
                               int tile_rows, int tile_cols, Isa isa);

// Estimated cost of the filter-vector tap (VT) convolution over the dense
// one, in the same units. The sparse side pays per kept (block, channel,
// tap) pair and output pixel of the grid padded to whole tiles of `tile`
// pixels (one 16-filter vector FMA), per input value transposed and per
// output value stored (16 per block); calibrated against XNNPACK on
// ResNet-sized layers (see conv_analysis.cc).
double EstimateVtapsCostRatio(const ConvNodeInfo& info, const VtapsStats& stats,
                              int tile, Isa isa);

// Estimated cost of the pixel-vector (PV) convolution over the dense one:
// EstimatePixvecCycles (cc/kernels/f32_conv_pixvec.h, fitted on this
// kernel) plus a fixed cost per claimed node (the boundary it makes in
// XNNPACK's graph, measured 15-55 us by benchmarks/fine_grained_speed.py),
// against XNNPACK's dense convolution at kXnnpackConvEfficiency of the FMA
// peak of the best ISA the CPU has.
double EstimatePixvecCostRatio(const ConvNodeInfo& info,
                               const PixvecStats& stats, Isa isa);

// The same ratio for any PV call: `shape` and `dense_macs` (what XNNPACK's
// dense kernel computes for it), e.g. a FULLY_CONNECTED of many rows as a
// 1 x rows image.
double PixvecCostRatio(const PixvecStats& stats, const ConvShape& shape,
                       double dense_macs, Isa isa);

// The sparse formats a CONV_2D node can run on.
enum class ConvFormat { kNone, kPatdnn, kVtaps, kPixvec };
// "patdnn", "vtaps", "pixvec" ("none" for kNone).
const char* ConvFormatName(ConvFormat format);

// The decision about one considered node, as reported to the user.
struct ConvDecision : NodeDecision {
  // The format claimed with (kNone when declined).
  ConvFormat format = ConvFormat::kNone;
  ConvNodeInfo info;
  bool has_shape = false;
  PatternStats stats;  // FKW's view of the weights.
  VtapsStats vt_stats;  // VT's view of the weights.
  PixvecStats pv_stats;  // PV's view of the weights.
  long long qs8_groups = 0;  // Int8 1x1: kept groups of 4 input channels.
  long long qs8_entries = 0;  // Int8 3x3: (channel, pattern, 16 filters).
  bool has_stats = false;  // Every format's stats are filled.
  // Estimates against dense; < 0: not estimated (FKW also when the weights
  // are not pattern-structured).
  double patdnn_cost = -1.0;
  double vtaps_cost = -1.0;
  double pixvec_cost = -1.0;
  // The claimed format's estimate, or the cheaper one when declined.
  double cost_ratio = -1.0;
  // The part of every estimate above that is the split of XNNPACK's graph
  // a node claimed alone makes (kPerClaimedNode over the dense cost).
  double boundary_cost = 0.0;
  WeightedNodeInfo& weighted_info() override { return info; }
};

// One sparse format of CONV_2D nodes. AnalyzeConvNode asks every format in
// ConvFormats() (in order: FKW first, which wins ties) whether it can run
// the node and at what estimated cost, and claims the cheapest;
// ConvPartitionKernel packs it through `create`. Adding a format: a
// ConvFormat value, its operator class (cc/kernels/, wrapped as a
// ConvOperator), one entry in ConvFormats() (conv_analysis.cc), its cost
// field in ConvDecision and report JSON, and its option in options.cc.
struct ConvFormatDescriptor {
  ConvFormat format;
  const char* name;  // As in the report and the option "format".
  // Why the format cannot run the node (empty when it can). Reads the
  // decision's info and stats.
  std::string (*problem)(const ConvDecision& d);
  // Estimated cost over dense; runs only when `problem` is empty.
  double (*estimate)(const ConvDecision& d);
  // Where the estimate is reported (< 0 when not estimated).
  double ConvDecision::*cost;
  // The estimate in the decision's reason ("0.412 of dense (...)").
  std::string (*describe)(const ConvDecision& d);
  // Packs dense OHWI weights for the node; null and *error on failure.
  std::unique_ptr<ConvOperator> (*create)(const float* w,
                                          const ConvNodeInfo& info,
                                          const float* bias,
                                          std::string* error);
  // The micro-kernel the format runs on `isa`.
  const char* (*kernel_name)(Isa isa);
  // Whose calibration factor scales the estimate (delegate/calibration.h).
  CostFamily family;
  // Full-integer int8 nodes (ConvNodeInfo::int8): the same on int8 weights,
  // estimates against XNNPACK's int8 convolution; all null when the format
  // has no int8 kernels (the node is then not a candidate for it).
  std::string (*problem_qs8)(const ConvDecision& d) = nullptr;
  double (*estimate_qs8)(const ConvDecision& d) = nullptr;
  std::unique_ptr<Qs8ConvOperator> (*create_qs8)(const int8_t* w,
                                                 const ConvNodeInfo& info,
                                                 const int32_t* bias,
                                                 std::string* error) = nullptr;
  const char* (*kernel_name_qs8)(Isa isa) = nullptr;
  CostFamily family_qs8 = CostFamily::kConvPv;
};

const std::vector<ConvFormatDescriptor>& ConvFormats();
// The descriptor of `format` (null for kNone).
const ConvFormatDescriptor* FindConvFormat(ConvFormat format);

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
