// Deciding whether the delegate runs a FULLY_CONNECTED node, and in which
// packed format (fc_formats.h: one descriptor per format, which this
// analysis iterates; the costs below are the descriptors' estimates).
//
// A node is claimed when all of these hold:
//  - float32 input, weights, output (and bias, if any); or full-integer
//    int8: int8 input and output quantized per tensor, int8 symmetric
//    weights per tensor or per output channel, int32 bias
//    (ReadQs8Quantization), run by the formats with int8 kernels
//    (FcFormatDescriptor::create_qs8) against XNNPACK's dense int8 cost;
//  - weights constant (kTfLiteMmapRo), 2-D [out, in], stored dense or in
//    TFLite's own sparse encoding (TfLiteSparsity, read by
//    delegate/tflite_sparsity.h), or produced by a DENSIFY node from such a
//    constant that nothing else reads (then decided as dense weights, and
//    the DENSIFY node is taken over with the node);
//  - bias absent or constant 1-D [out];
//  - fused activation NONE, RELU, RELU_N1_TO_1 or RELU6, default weights
//    format;
//  - the input holds whole rows of `in` values (its last dimension is `in`
//    when keep_num_dims is set);
//  - at least min_sparsity of the weights are exactly zero;
//  - with format "auto": the cheapest candidate's estimated cost is at most
//    0.8 of the dense layer's (XnnpackRowFactor of the call's rows). The
//    candidates, in FcFormats() order (the earlier wins ties): BSR block
//    shapes (EstimateBsrCost), CSR (EstimateCsrCost), the tightest N:M
//    pattern the weights satisfy (m = 4, 8, 16, 2; EstimateNmCost), GS with
//    16, 8 or 32 banks and one element per row and pack (EstimateGsCost;
//    the weights need not be GS-balanced, imbalance costs padding lanes)
//    and, for calls of two rows or more, filter-vector taps over the rows
//    (EstimateVtapsFcCost).
//    A forced format is used whenever the weights fit it.
// Weights in TFLite's sparse encoding take BSR only (AnalyzeFcNode's
// TFLite-sparse path: the stored block shape packed directly).
#ifndef TF_SPARSE_DELEGATE_FC_ANALYSIS_H_
#define TF_SPARSE_DELEGATE_FC_ANALYSIS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "delegate/calibration.h"
#include "delegate/node_util.h"
#include "delegate/op_handler.h"
#include "delegate/options.h"
#include "delegate/tflite_abi.h"

namespace tf_sparse {

// What a FULLY_CONNECTED node is made of, read from the graph.
struct FcNodeInfo : WeightedNodeInfo {
  int out = 0;  // Weights [out, in].
  int in = 0;
  bool keep_num_dims = false;
  // Weights carry TfLiteSparsity (checked by ReadTfLiteSparsity): their data
  // is the compressed encoding, not out * in floats.
  bool tflite_sparse = false;
};

// Reads and checks a node's structure (everything but its weights' values).
// Returns an empty string if the node can run on this delegate, else why not.
// `densify`, when given, says the weights come from that DENSIFY node.
std::string ReadFcNode(const tflite_abi::TfLiteContext* context,
                       const tflite_abi::TfLiteNode* node, FcNodeInfo* info,
                       const DensifySource* densify = nullptr);

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

// Int8 BSR 1 x 4 (Qs8BsrFullyConnected), in units of one weight of
// XNNPACK's dense int8 matrix-vector product (a dense layer costs out * in):
// the larger of compute and memory (packed bytes against 1 byte per dense
// weight).
double EstimateQs8BsrCost(int out, int in, long long kept_blocks);
// Int8 row groups (Qs8RowGroupFullyConnected, windows or N:4 layout) with
// `slices` vector steps (its PlanLayout) and `bytes` packed, in the same
// units; nm4: the N:4 layout (cheaper slices).
double EstimateQs8RowGroupCost(int out, int in, long long slices,
                               long long bytes, bool nm4);

// Estimated costs of the other formats, in the same units as
// EstimateBsrCost (a dense layer costs out * in): the larger of compute
// (calibrated with cc/bench/f32_csr_nm_gs_bench, see fc_analysis.cc) and
// memory (packed bytes against 4 bytes per dense weight).
// CSR runs on row-group quads (cc/formats/csr.h): `slices` is
// CountCsrPanelSlices of the weights.
double EstimateCsrCost(int out, int in, long long slices);
double EstimateNmCost(int out, int in, int n, int m);
double EstimateGsCost(int out, int in, int banks, int elements_per_row,
                      long long packs);

// Filter-vector taps run over the rows of a call (FcFormat::kVtaps): the
// cost per row of `rows` rows in tiles of `tile`, for `pairs` kept
// (16-unit block, input) vectors (MeasureVtaps of the weights as a 1x1
// filter).
double EstimateVtapsFcCost(int in, long long pairs, long long rows, int tile);

// One evaluated candidate of any format, for the report.
struct FormatCandidate {
  std::string name;  // "bsr:1x4", "csr", "nm:2:4", "gs:16:1".
  double cost_ratio = 0.0;  // Estimated cost / dense cost.
};

// The decision about one considered node, as reported to the user.
struct FcDecision : NodeDecision {
  FcNodeInfo info;
  bool has_shape = false;
  double sparsity = -1.0;  // Fraction of exactly-zero weights; < 0: unknown.
  int block_height = 0;    // Chosen (or best) block shape; 0: none.
  int block_width = 0;
  double block_density = 0.0;
  double cost_ratio = 0.0;  // Estimated cost / dense cost of that shape.
  // Rows of one call (product of the input's dims but the last, as the
  // graph gives it at prepare time; 1 when unknown) and XNNPACK's cost per
  // row at that count against one row (XnnpackRowFactor): the dense cost
  // every estimate is compared with.
  long long batch_rows = 1;
  double dense_row_factor = 1.0;
  std::vector<BlockCandidate> candidates;
  // The chosen format: kBsr uses block_height x block_width; the others
  // their parameters below. format_name is empty for BSR chosen by code
  // that predates the other formats (then "bsr:RxC").
  FcFormat format = FcFormat::kBsr;
  std::string format_name;
  int nm_n = 0;
  int nm_m = 0;
  int gs_banks = 0;
  int gs_elements_per_row = 0;
  std::vector<FormatCandidate> formats;  // Every format evaluated.
  WeightedNodeInfo& weighted_info() override { return info; }
};

// XNNPACK's dense FULLY_CONNECTED cost per row of a call with `rows` rows,
// against a call with one row: its GEMM reuses every weight across the
// rows, while the sparse kernels run a matrix-vector product per row.
double XnnpackRowFactor(long long rows);
// The same for XNNPACK's int8 FULLY_CONNECTED (in units of its in-cache
// one-row cost a weight).
double XnnpackQs8RowFactor(long long rows);

// Analyses the FULLY_CONNECTED node `node_index`.
FcDecision AnalyzeFcNode(const tflite_abi::TfLiteContext* context,
                         int node_index, const tflite_abi::TfLiteNode* node,
                         const DelegateOptions& options,
                         const DensifySource* densify = nullptr);

// Rows of one call of node `info`: its input's element count over `in`
// (TFLite flattens every dim but the last). Keras's Dense on a [batch, seq,
// in] input exports as a RESHAPE whose target shape is computed at run time,
// so its output has placeholder dims until tensors are allocated: then the
// count of the tensor the RESHAPE (chain) reads, which is the same. 1 when
// unknown.
long long FcBatchRows(const tflite_abi::TfLiteContext* context,
                      const FcNodeInfo& info);

// Chooses the packed format of a node from its dense weights [out][in]: `w`
// for float nodes, `w8` for int8 ones (the other null). d->info,
// d->batch_rows and d->dense_row_factor must be set; fills the sparsity,
// every candidate's estimate, the chosen format and whether it is claimed
// (the rules above: min_sparsity, a forced format, or "auto" at most 0.8 of
// dense), with the reason.
void ChooseFcFormat(const float* w, const int8_t* w8,
                    const DelegateOptions& options, FcDecision* d);

// The chosen format's name ("bsr:1x4", "csr", "nm:2:4", "gs:16:1", "vtaps").
std::string FcFormatName(const FcDecision& d);

// The decision as a JSON object (one entry of tfs.delegate_report()).
std::string FcDecisionJson(const FcDecision& d);

// One line (verbose >= 1) or more (verbose 2) on stderr.
void LogFcDecision(const FcDecision& d, int verbose);

// The same for another op run on the FULLY_CONNECTED formats (e.g.
// BATCH_MATMUL with constant weights): `op` names it, and `extra` (", "
// followed by JSON members, or empty) adds its own fields to the object.
std::string FcDecisionJsonAs(const FcDecision& d, const char* op,
                             const std::string& extra);
void LogFcDecisionAs(const FcDecision& d, const char* op, int verbose);

}  // namespace tf_sparse

#endif  // TF_SPARSE_DELEGATE_FC_ANALYSIS_H_
