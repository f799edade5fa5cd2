#include "delegate/fc_analysis.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include <algorithm>

#include "cc/formats/bsr.h"
#include "cc/formats/csr.h"
#include "cc/formats/gs.h"
#include "cc/formats/nm.h"
#include "cc/kernels/dispatch.h"
#include "cc/kernels/f32_conv3x3_vtaps.h"
#include "cc/kernels/f32_csr_fully_connected.h"
#include "cc/kernels/f32_gs_fully_connected.h"
#include "cc/kernels/f32_nm_fully_connected.h"
#include "delegate/fc_formats.h"
#include "delegate/calibration.h"
#include "delegate/node_util.h"
#include "delegate/tflite_sparsity.h"

namespace tf_sparse {
namespace {

using namespace tflite_abi;  // NOLINT: the ABI names are prefixed already.

// Cost model, in units of one dense weight's multiply-add in a dense
// matrix-vector product (so a dense layer costs out * in). A kept block of
// a specialised kernel costs what was measured for its shape with
// cc/bench on layers that stay in cache: 6.4 (1x4; 5.9 measured through
// the delegate on a 1024x1024 layer at 75%, where the CSR quads' 0.42
// estimate came within 3% and the choice between them hinges on it, so
// 6.0), 7.1 (1x1), 7.0 (4x1), 7.5 (8x1), 9.6 (16x1), 9.8 (1x8), 11.5 (4x4).
struct BlockCost {
  int r, c;
  double cost;
};
constexpr BlockCost kSpecializedBlockCost[] = {
    {1, 4, 6.0}, {1, 1, 7.1},  {4, 1, 7.0}, {8, 1, 7.5},
    {16, 1, 9.6}, {1, 8, 9.8}, {4, 4, 11.5}};
// Specialised shapes not in the table: a fixed decoding share plus a share
// per entry (the fit of the table).
constexpr double kBlockBase = 5.5;
constexpr double kBlockPerEntry = 0.35;
// Shapes without a specialised kernel run a plain loop nest.
constexpr double kGenericBlockBase = 12.0;
constexpr double kGenericBlockPerEntry = 3.0;
// Finishing one output row: reduction, bias, clamp, store.
constexpr double kRowOverhead = 2.0;
// The other formats, per stored entry (CSR panel slot, N:M kept value, GS
// lane) and per output row or group, measured with
// cc/bench/f32_csr_nm_gs_bench against a dense matrix-vector product that
// stays in cache (AMD Zen 5 core, AVX-512): a CSR quad slot (byte index,
// two register permutes and a blend, the window loaded once a quad) costs
// about 0.9 of a dense weight (256x256 at 90%: 0.47 us for 9.3k slots
// against 2.2 us dense), an N:M value two, a
// gathered GS lane about ten (vgatherdps moves about one element a cycle).
// Large layers are bound by the bytes instead (the memory term).
constexpr double kCsrPerSlot = 0.9;
constexpr double kCsrPerRow = 1.0;
constexpr double kNmPerValueRowGroups = 1.0;  // 16 rows a step, m <= 32.
constexpr double kNmPerValue = 2.0;           // One row a step, permutes.
constexpr double kNmPerValueGather = 12.0;  // Chunks wider than 64 inputs.
constexpr double kNmPerRow = 1.0;
constexpr double kGsPerLane = 11.0;
// Filter-vector taps on a call of many rows (FcFormat::kVtaps), per row
// (rows rounded up to whole tiles), in the units above (one weight of a
// one-row dense product): per kept (16-unit block, input) vector and per
// input value. Least-squares fit on 768->3072, 3072->768 and 768->768 at 14,
// 32 and 128 rows, 75% and 90% of the 16x1 blocks removed (4.25 and 27.8,
// predictions 0.78-1.85 of the measured times), raised by 15% so that the
// estimate stays at or above ~0.9 of every measured time.
constexpr double kVtFcPerPair = 4.9;
constexpr double kVtFcPerInput = 32.0;
constexpr double kGsPerGroup = 8.0;
// Int8, in units of one weight of XNNPACK's dense int8 matrix-vector
// product on a layer that stays in L2 (its QS8 kernels multiply-add 64
// weights an instruction with AVX-512 VNNI; layers larger than L2 run
// several times slower a weight, bound by memory, so the estimate is on the
// safe side there). Measured through the delegate (benchmarks/
// int8_speed.py) on an Intel Xeon (family 6 model 167, AVX-512 VNNI), one
// thread: XNNPACK int8 FULLY_CONNECTED 1024 -> 1024 in 9.4 us;
// Qs8BsrFullyConnected 1x4 with 26.2k kept blocks in 9.3 us and with 5.2k
// in 5.6 us: about 19 units a kept block and 490 a row (the kernel reduces
// and requantizes one row at a time).
constexpr double kQs8BsrPerBlock = 19.0;
constexpr double kQs8BsrPerRow = 490.0;
// Row groups: per slice (16 rows x 4 inputs: a byte permute, or for N:4 a
// position decode, and one vpdpbusd), per group of 16 rows (requantization
// and store), per input value (the offset copy of x) and per call. Measured
// on the same CPU: cc/bench/qs8_sparse_fc_bench, 1024 -> 1024 at 90%
// unstructured (2437 window slices, 0.67 full) in 3.4 us and at 2:4 (8192
// N:4 slices) in 6.6 us, i.e. about 145 and 85 units a slice; through the
// delegate 0.9 us more a call, of which about 0.45 us TFLite's own invoke
// (which XNNPACK pays as well). Estimates against XNNPACK measured
// (benchmarks/int8_speed.py): 90% unstructured 0.45 (measured 0.46), 2:4
// 0.79 (0.80); 4096 -> 1024 runs 2-3x below the estimate (XNNPACK is bound
// by memory there, the packed weights stay in L2).
constexpr double kQs8RgPerSlice = 145.0;
constexpr double kQs8Nm4PerSlice = 85.0;
constexpr double kQs8RgPerGroup = 100.0;
constexpr double kQs8RgPerInput = 1.0;
constexpr double kQs8RgPerCall = 90000.0;
// Claim only when the sparse estimate is below this fraction of dense.
constexpr double kDenseMargin = 0.8;

// ---- Weights in TFLite's own sparse encoding (delegate/tflite_sparsity.h).
//
// The stored block shape is used as it is (packed without a dense copy);
// a forced format repacks through a dense copy. Without us TFLite would run
// its own sparse kernel on these weights, so a shape we have a specialised
// kernel for is claimed whatever the cost estimate says of dense.
void AnalyzeTfLiteSparseFc(const TfLiteContext* context,
                           const DelegateOptions& options, FcDecision* d);

}  // namespace

std::string ReadFcNode(const TfLiteContext* context, const TfLiteNode* node,
                       FcNodeInfo* info, const DensifySource* densify) {
  std::string problem =
      ReadWeightedNode(context, node, densify, info, /*allow_int8=*/true);
  if (!problem.empty()) return problem;
  const TfLiteTensor& input = context->tensors[info->input];
  const TfLiteTensor& weights = context->tensors[info->weights];
  const size_t element_bytes = info->int8 ? 1 : 4;
  if (info->densify_node < 0) {
    info->tflite_sparse = weights.sparsity != nullptr;
    if (weights.allocation_type != kTfLiteMmapRo || weights.data == nullptr) {
      return "weights are not constant";
    }
  }
  if (weights.dims == nullptr || weights.dims->size != 2) {
    return "weights are not 2-D";
  }
  info->out = weights.dims->data[0];
  info->in = weights.dims->data[1];
  if (info->out < 1 || info->in < 1) return "weights have an empty dimension";
  if (info->tflite_sparse) {
    problem = ReadTfLiteSparsity(weights, nullptr);
    if (!problem.empty()) return "TFLite sparse encoding: " + problem;
  } else if (info->densify_input < 0 &&
             weights.bytes !=
                 static_cast<size_t>(info->out) * info->in * element_bytes) {
    return "weights byte size does not match their shape";
  }
  if (info->bias != kTfLiteOptionalTensor && !info->int8) {
    const TfLiteTensor& bias = context->tensors[info->bias];
    if (!IsConstFloat(bias)) return "bias is not a constant float32 tensor";
    if (bias.dims == nullptr || bias.dims->size != 1 ||
        bias.dims->data[0] != info->out) {
      return "bias shape is not [out]";
    }
  }
  const auto* params =
      static_cast<const TfLiteFullyConnectedParams*>(node->builtin_data);
  if (params == nullptr) return "node has no parameters";
  if (params->weights_format != kTfLiteFullyConnectedWeightsFormatDefault) {
    return "weights format is not the default";
  }
  problem = info->int8 ? ReadQs8Quantization(context, *info, 0, info->out,
                                              params->activation, &info->qs8)
                       : ActivationClamp(params->activation, &info->output_min,
                                         &info->output_max);
  if (!problem.empty()) return problem;
  info->keep_num_dims = params->keep_num_dims;
  if (input.dims == nullptr || input.dims->size < 1) {
    return "input has no shape";
  }
  // A dynamic input's dims are placeholders until the first allocation; the
  // kernel's prepare checks the real shape on every resize.
  bool dynamic = false;
  if (input.dims_signature != nullptr) {
    for (int i = 0; i < input.dims_signature->size; ++i) {
      dynamic = dynamic || input.dims_signature->data[i] < 0;
    }
  }
  if (dynamic) {
    // Nothing to check yet.
  } else if (info->keep_num_dims) {
    if (input.dims->data[input.dims->size - 1] != info->in) {
      return "input's last dimension is not the weights' in";
    }
  } else {
    long long elements = 1;
    for (int i = 0; i < input.dims->size; ++i) {
      elements *= input.dims->data[i];
    }
    if (elements % info->in != 0) {
      return "input size is not a multiple of the weights' in";
    }
  }
  return "";
}

double EstimateBsrCost(int out, int in, int r, int c, long long kept_blocks,
                       bool specialized) {
  const double entries = static_cast<double>(r) * c;
  double per_block = specialized
                         ? kBlockBase + kBlockPerEntry * entries
                         : kGenericBlockBase + kGenericBlockPerEntry * entries;
  if (specialized) {
    for (const BlockCost& b : kSpecializedBlockCost) {
      if (b.r == r && b.c == c) per_block = b.cost;
    }
  }
  const double padded_rows = static_cast<double>((out + r - 1) / r) * r;
  const double compute = kept_blocks * per_block + padded_rows * kRowOverhead;
  // Layers that do not stay in cache are bound by the bytes streamed: a
  // dense weight is 4 bytes, a kept block its values plus its index.
  const double bytes =
      static_cast<double>(kept_blocks) *
      (4.0 * entries + BsrAutoIndexBytes(in, c));
  const double memory = bytes / 4.0;
  return compute > memory ? compute : memory;
}

double EstimateQs8BsrCost(int out, int in, long long kept_blocks) {
  const double compute =
      kept_blocks * kQs8BsrPerBlock + static_cast<double>(out) * kQs8BsrPerRow;
  const double bytes =
      static_cast<double>(kept_blocks) * (4.0 + BsrAutoIndexBytes(in, 4));
  return std::max(compute, bytes);
}

double EstimateQs8RowGroupCost(int out, int in, long long slices,
                               long long bytes, bool nm4) {
  const double groups = (out + 15) / 16;
  const double compute = static_cast<double>(slices) *
                             (nm4 ? kQs8Nm4PerSlice : kQs8RgPerSlice) +
                         groups * kQs8RgPerGroup + in * kQs8RgPerInput +
                         kQs8RgPerCall;
  return std::max(compute, static_cast<double>(bytes));
}

double EstimateCsrCost(int out, int in, long long slices) {
  (void)in;
  const double slots = static_cast<double>(slices) * kCsrPanelRows;
  const double compute = slots * kCsrPerSlot + out * kCsrPerRow;
  // Per slice 16 values, 16 one-byte offsets and a quarter of its quad's
  // window base.
  const double groups = (out + kCsrPanelRows - 1) / kCsrPanelRows;
  const double bytes = 4.0 * (groups + 1) + slices * (5.0 * 16 + 1.0);
  return std::max(compute, bytes / 4.0);
}

double EstimateNmCost(int out, int in, int n, int m) {
  const double kept =
      static_cast<double>(NmPackedBytes(out, in, n, m)) /
      (4.0 + NmIndexBits(m) / 8.0);
  const double per_value = NmRowGroupsSupported(m) ? kNmPerValueRowGroups
                           : 16 / n * m <= 64   ? kNmPerValue
                                                : kNmPerValueGather;
  const double compute = kept * per_value + out * kNmPerRow;
  return std::max(compute, NmPackedBytes(out, in, n, m) / 4.0);
}

double EstimateGsCost(int out, int in, int banks, int elements_per_row,
                      long long packs) {
  // Lanes of a partial 16-lane step cost as much as full ones.
  const double lanes = static_cast<double>(packs) * ((banks + 15) / 16 * 16);
  const double groups =
      static_cast<double>(out) / (banks / elements_per_row);
  const double compute = lanes * kGsPerLane + groups * kGsPerGroup;
  const double bytes =
      4.0 * (groups + 1) +
      static_cast<double>(packs) * banks * (4.0 + (in <= 65536 ? 2 : 4));
  return std::max(compute, bytes / 4.0);
}

double EstimateVtapsFcCost(int in, long long pairs, long long rows,
                           int tile) {
  const double tiles_rows = std::ceil(double(rows) / tile) * tile;
  return (kVtFcPerPair * pairs + kVtFcPerInput * in) * tiles_rows / rows;
}

double XnnpackRowFactor(long long rows) {
  // Measured (1 thread, AMD Zen 5, 768->3072 float32): 89 us for 1 row, 138
  // for 4, 383 for 16, 719 for 32, 2647 for 128; per row 1, 0.39, 0.27,
  // 0.25, 0.23 of one row. Our kernels' cost per row stays within 0.78-1.05
  // of one row's (BSR 1x4 and CSR a little cheaper, BSR 16x1 not), so the
  // sparse estimates stay per row (the safe side). Interpolated in
  // log2(rows), held beyond the ends.
  static constexpr Log2Point kPoints[] = {
      {1, 1.0}, {4, 0.39}, {16, 0.27}, {32, 0.25}, {128, 0.23}};
  return InterpolateLog2(kPoints, static_cast<double>(rows));
}

double XnnpackQs8RowFactor(long long rows) {
  // Measured through ai_edge_litert's XNNPACK (1 thread, Intel Xeon family
  // 6 model 167, AVX-512 VNNI), int8 1024 -> 1024: 9.6 us for 1 row, 12.6
  // for 4, 24.4 for 16, 51.9 for 32, 195 for 128; per row 1, 0.33, 0.16,
  // 0.17, 0.16 of one row. 768 -> 3072 (larger than L2, so one row is bound
  // by memory at 100 us) gives 0.155 of the in-cache row cost at 128 rows.
  // int8 GEMM gains much more from rows than float (0.23 at 128).
  static constexpr Log2Point kPoints[] = {
      {1, 1.0}, {4, 0.33}, {16, 0.16}, {128, 0.155}};
  return InterpolateLog2(kPoints, static_cast<double>(rows));
}

namespace {

// Elements of a tensor whose dims the graph gives, else -1.
long long ElementCount(const TfLiteTensor& t) {
  if (t.dims == nullptr || t.dims->size < 1) return -1;
  long long n = 1;
  for (int i = 0; i < t.dims->size; ++i) {
    if (t.dims->data[i] < 1) return -1;
    n *= t.dims->data[i];
  }
  return n;
}

}  // namespace

long long FcBatchRows(const TfLiteContext* context, const FcNodeInfo& info) {
  if (info.input < 0 || info.in < 1) return 1;
  int tensor = info.input;
  for (int step = 0; step < 4; ++step) {
    const long long n = ElementCount(context->tensors[tensor]);
    if (n >= info.in && n % info.in == 0) return n / info.in;
    TfLiteIntArray* plan = nullptr;
    if (context->GetExecutionPlan(const_cast<TfLiteContext*>(context),
                                  &plan) != kTfLiteOk ||
        plan == nullptr) {
      return 1;
    }
    int from = -1;
    for (int i = 0; i < plan->size && from < 0; ++i) {
      TfLiteNode* node = nullptr;
      TfLiteRegistration* reg = nullptr;
      if (context->GetNodeAndRegistration(const_cast<TfLiteContext*>(context),
                                          plan->data[i], &node,
                                          &reg) != kTfLiteOk ||
          node == nullptr || reg == nullptr ||
          reg->builtin_code != kTfLiteBuiltinReshape ||
          node->outputs == nullptr || node->inputs == nullptr ||
          node->inputs->size < 1) {
        continue;
      }
      for (int j = 0; j < node->outputs->size; ++j) {
        if (node->outputs->data[j] == tensor) from = node->inputs->data[0];
      }
    }
    if (from < 0) return 1;
    tensor = from;
  }
  return 1;
}

FcDecision AnalyzeFcNode(const TfLiteContext* context, int node_index,
                         const TfLiteNode* node,
                         const DelegateOptions& options,
                         const DensifySource* densify) {
  FcDecision d;
  d.node_index = node_index;
  d.reason = ReadFcNode(context, node, &d.info, densify);
  if (d.info.out > 0 && d.info.in > 0) d.has_shape = true;
  if (!d.reason.empty()) return d;
  d.batch_rows = FcBatchRows(context, d.info);
  d.dense_row_factor = d.info.int8 ? XnnpackQs8RowFactor(d.batch_rows)
                                   : XnnpackRowFactor(d.batch_rows);
  if (d.info.tflite_sparse && !d.info.int8) {
    AnalyzeTfLiteSparseFc(context, options, &d);
    return d;
  }

  const FcNodeInfo& info = d.info;
  // Int8 weights in TFLite's sparse encoding (with or without DENSIFY) are
  // decoded to a dense copy and analysed as dense ones.
  std::vector<float> decoded;
  std::vector<int8_t> decoded8;
  const float* w = nullptr;
  const int8_t* w8 = nullptr;
  if (info.int8) {
    w8 = DenseInt8Weights(context, info.weights, info.densify_input,
                          &decoded8, &d.reason);
    if (w8 == nullptr) return d;
  } else {
    w = DenseWeights(context, info.weights, info.densify_input, &decoded,
                     &d.reason);
    if (w == nullptr) return d;
  }
  ChooseFcFormat(w, w8, options, &d);
  return d;
}

void ChooseFcFormat(const float* w, const int8_t* w8,
                    const DelegateOptions& options, FcDecision* decision) {
  FcDecision& d = *decision;
  const FcNodeInfo& info = d.info;
  const bool int8 = info.int8;
  const double total = static_cast<double>(info.out) * info.in;
  const Isa isa = ActiveIsa();
  // Per row: a dense row costs `total`, times XNNPACK's batching gain.
  const double dense_cost = total * d.dense_row_factor;
  long long nonzeros = 0;
  if (int8) {
    for (long long i = 0; i < static_cast<long long>(total); ++i) {
      nonzeros += w8[i] != 0;
    }
  } else {
    for (long long i = 0; i < static_cast<long long>(total); ++i) {
      nonzeros += w[i] != 0.0f;
    }
  }
  d.sparsity = 1.0 - nonzeros / total;
  if (d.sparsity < options.min_sparsity) {
    d.reason = Fmt("sparsity %.3f is below min_sparsity %.3f", d.sparsity,
                   options.min_sparsity);
    return;
  }

  // Each candidate: its report entry, its format and parameters.
  struct Choice {
    FormatCandidate report;
    const FcFormatDescriptor* format;
    FcCandidate candidate;
  };
  std::vector<Choice> choices;
  std::string problem;  // Why a forced format does not fit.
  const FcWeights weights{w, &info, isa, d.batch_rows, &d, w8};
  const Calibration& calibration = GetCalibration(options);
  for (const FcFormatDescriptor& f : FcFormats()) {
    if (!options.auto_format() && f.format != options.format) continue;
    std::vector<FcCandidate> found;
    if (int8 && f.auto_candidates_qs8 == nullptr) {
      problem = "format " + options.FormatName() + " has no int8 kernels";
    } else if (int8) {
      if (options.auto_format()) {
        f.auto_candidates_qs8(weights, &found);
      } else {
        problem = f.forced_candidates_qs8(weights, options, &found);
      }
    } else if (options.auto_format()) {
      f.auto_candidates(weights, &found);
    } else {
      problem = f.forced_candidates(weights, options, &found);
    }
    const double factor =
        calibration.Factor(int8 ? f.family_qs8 : f.family);
    for (const FcCandidate& c : found) {
      Choice ch;
      ch.report.name = c.name;
      ch.report.cost_ratio = c.cost * factor / dense_cost;
      ch.format = &f;
      ch.candidate = c;
      choices.push_back(ch);
    }
  }
  for (const Choice& ch : choices) d.formats.push_back(ch.report);
  if (choices.empty()) {
    d.reason = "cannot pack as " + options.FormatName() + ": " +
               (problem.empty() ? "no format fits" : problem);
    return;
  }
  const Choice* best = &choices[0];
  for (const Choice& ch : choices) {
    if (ch.report.cost_ratio < best->report.cost_ratio) best = &ch;
  }
  d.format = best->format->format;
  d.format_name = best->report.name;
  d.cost_ratio = best->report.cost_ratio;
  best->format->choose(best->candidate, &d);

  // The runners-up, for the report.
  std::string others;
  for (const Choice& ch : choices) {
    if (&ch == best) continue;
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%s%s %.2f", others.empty() ? "" : ", ",
                  ch.report.name.c_str(), ch.report.cost_ratio);
    others += buf;
  }
  if (!others.empty()) others = "; others: " + others;
  if (d.batch_rows > 1) {
    others += "; " + std::to_string(d.batch_rows) +
              Fmt(" rows a call: dense costs %.2f of one row's per row", d.dense_row_factor, 0);
  }
  char buf[200];
  if (options.auto_format() && d.cost_ratio > kDenseMargin) {
    std::snprintf(buf, sizeof(buf),
                  "%ssparsity %.3f; cheapest format %s has estimated cost "
                  "%.2f of dense (needs <= %.2f)",
                  int8 ? "int8; " : "", d.sparsity, d.format_name.c_str(),
                  d.cost_ratio,
                  kDenseMargin);
    d.reason = buf + others;
    return;
  }
  d.claimed = true;
  std::snprintf(buf, sizeof(buf),
                "%ssparsity %.3f; %s %s: estimated cost %.2f of dense",
                int8 ? "int8; " : "", d.sparsity, d.format_name.c_str(),
                options.auto_format() ? "is the cheapest format" : "forced",
                d.cost_ratio);
  d.reason = buf + others;
}

namespace {

void AnalyzeTfLiteSparseFc(const TfLiteContext* context,
                           const DelegateOptions& options, FcDecision* d) {
  const FcNodeInfo& info = d->info;
  const TfLiteTensor& weights = context->tensors[info.weights];
  if (!options.auto_format() && options.format != FcFormat::kBsr) {
    d->reason = "TFLite sparse encoding: forced format " +
                options.FormatName() + " is not offered for it (bsr:RxC is)";
    return;
  }
  TfLiteSparseLayout layout;
  d->reason = ReadTfLiteSparsity(weights, &layout);
  if (!d->reason.empty()) return;
  if (options.auto_format() && !layout.direct_bsr) {
    d->reason =
        "TFLite sparse encoding is not block sparse rows (traversal order "
        "or dimension formats)";
    return;
  }
  const double total = static_cast<double>(info.out) * info.in;
  d->sparsity = 1.0 - static_cast<double>(layout.stored_nonzeros) / total;
  BlockCandidate cand;
  cand.r = options.auto_format() ? layout.block_size[0] : options.block_height;
  cand.c = options.auto_format() ? layout.block_size[1] : options.block_width;
  const std::string problem = CheckBsrShape(info.out, info.in, cand.r, cand.c);
  if (!problem.empty()) {
    d->reason = "cannot pack as " + options.FormatName() + ": " + problem;
    return;
  }
  // The stored shape converts directly (delegate/tflite_sparsity.h); any
  // other is measured and packed on a dense copy.
  const bool direct = layout.direct_bsr && cand.r == layout.block_size[0] &&
                      cand.c == layout.block_size[1];
  long long kept_blocks = 0;
  if (direct) {
    kept_blocks = layout.num_blocks;
    const double blocks = static_cast<double>((info.out + cand.r - 1) / cand.r) *
                          static_cast<double>((info.in + cand.c - 1) / cand.c);
    cand.density = kept_blocks / blocks;
  } else {
    std::vector<float> dense;
    d->reason = DecodeTfLiteSparsityToDense(weights, &dense);
    if (!d->reason.empty()) return;
    const BlockDensity bd =
        MeasureBlockDensity(dense.data(), info.out, info.in, cand.r, cand.c);
    kept_blocks = bd.nonzero_blocks;
    cand.density = bd.density();
  }
  const Isa isa = ActiveIsa();
  const bool specialized = HasSpecializedF32BsrUkernel(cand.r, cand.c, isa);
  cand.cost = EstimateBsrCost(info.out, info.in, cand.r, cand.c, kept_blocks,
                              specialized);
  d->candidates.push_back(cand);
  d->format = FcFormat::kBsr;
  d->block_height = cand.r;
  d->block_width = cand.c;
  d->block_density = cand.density;
  d->cost_ratio = cand.cost / (total * d->dense_row_factor);
  if (d->sparsity < options.min_sparsity) {
    d->reason = Fmt("sparsity %.3f is below min_sparsity %.3f", d->sparsity,
                    options.min_sparsity);
    return;
  }
  if (options.auto_format() && !specialized && d->cost_ratio > kDenseMargin) {
    d->reason = Fmt(
        "TFLite sparse encoding: estimated cost is %.2f of dense (needs <= "
        "%.2f) and no specialised kernel",
        d->cost_ratio, kDenseMargin);
    return;
  }
  d->claimed = true;
  char buf[200];
  std::snprintf(buf, sizeof(buf),
                "TFLite sparse encoding %dx%d%s: sparsity %.3f, block density "
                "%.3f, estimated cost %.2f of dense",
                cand.r, cand.c, direct ? " packed directly" : " repacked",
                d->sparsity, d->block_density, d->cost_ratio);
  d->reason = buf;
}

}  // namespace
namespace {

std::string BlockName(int r, int c) {
  return "bsr:" + std::to_string(r) + "x" + std::to_string(c);
}

// The kernel that runs a claimed node on `isa`.
const char* KernelName(const FcDecision& d, Isa isa) {
  const FcFormatDescriptor* f = FindFcFormat(d.format);
  return d.info.int8 ? f->kernel_name_qs8(d, isa) : f->kernel_name(d, isa);
}

}  // namespace

std::string FcFormatName(const FcDecision& d) {
  return d.format_name.empty() ? BlockName(d.block_height, d.block_width)
                               : d.format_name;
}

std::string FcDecisionJson(const FcDecision& d) {
  return FcDecisionJsonAs(d, "FULLY_CONNECTED", "");
}

std::string FcDecisionJsonAs(const FcDecision& d, const char* op,
                             const std::string& extra) {
  const Isa isa = ActiveIsa();
  std::string out = "{\"node\": " + std::to_string(d.node_index);
  out += std::string(", \"op\": \"") + op + "\"";
  out += extra;
  out += std::string(", \"dtype\": ") +
         (d.info.int8 ? "\"int8\"" : "\"float32\"");
  out += std::string(", \"claimed\": ") + (d.claimed ? "true" : "false");
  out += ", \"reason\": " + JsonString(d.reason);
  out += ", \"format\": ";
  out += d.claimed ? JsonString(FcFormatName(d)) : "null";
  out += ", \"shape\": ";
  out += d.has_shape ? "[" + std::to_string(d.info.out) + ", " +
                           std::to_string(d.info.in) + "]"
                     : "null";
  out += ", \"sparsity\": ";
  out += d.sparsity >= 0 ? JsonNumber(d.sparsity) : "null";
  out += ", \"block_density\": ";
  out += d.block_height > 0 && d.format == FcFormat::kBsr
             ? JsonNumber(d.block_density)
             : "null";
  out += ", \"cost_vs_dense\": ";
  out += d.block_height > 0 || !d.format_name.empty()
             ? JsonNumber(d.cost_ratio)
             : "null";
  out += ", \"batch_rows\": " + std::to_string(d.batch_rows);
  out += ", \"kernel\": ";
  out += d.claimed ? JsonString(KernelName(d, isa)) : "null";
  out += ", \"candidates\": {";
  for (size_t i = 0; i < d.formats.size(); ++i) {
    out += (i ? ", " : "") + JsonString(d.formats[i].name) + ": " +
           JsonNumber(d.formats[i].cost_ratio);
  }
  out += "}";
  out += ", \"densify_node\": ";
  out += d.info.densify_node >= 0 ? std::to_string(d.info.densify_node)
                                  : "null";
  out += std::string(", \"densify_claimed\": ") +
         (d.info.densify_claimed ? "true" : "false");
  out += "}";
  return out;
}

void LogFcDecision(const FcDecision& d, int verbose) {
  LogFcDecisionAs(d, "FULLY_CONNECTED", verbose);
}

void LogFcDecisionAs(const FcDecision& d, const char* op, int verbose) {
  if (verbose < 1) return;
  std::string shape =
      d.has_shape
          ? "[" + std::to_string(d.info.out) + "x" + std::to_string(d.info.in) +
                "]"
          : "[?]";
  if (d.claimed) {
    std::fprintf(stderr, "tf_sparse: node %d %s %s: claimed as %s (%s)\n",
                 d.node_index, op, shape.c_str(), FcFormatName(d).c_str(),
                 d.reason.c_str());
  } else {
    std::fprintf(stderr, "tf_sparse: node %d %s %s: declined (%s)\n",
                 d.node_index, op, shape.c_str(), d.reason.c_str());
  }
  if (verbose >= 2) {
    for (const BlockCandidate& c : d.candidates) {
      std::fprintf(stderr,
                   "tf_sparse:   candidate %s: block density %.3f, estimated "
                   "cost %.3f of dense\n",
                   BlockName(c.r, c.c).c_str(), c.density,
                   c.cost / (static_cast<double>(d.info.out) * d.info.in));
    }
    if (d.claimed) {
      std::fprintf(stderr, "tf_sparse:   kernel %s\n",
                   KernelName(d, ActiveIsa()));
    }
  }
}

}  // namespace tf_sparse
