#include "delegate/conv_analysis.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "cc/kernels/dispatch.h"
#include "cc/kernels/f32_conv3x3_vtaps.h"
#include "cc/kernels/f32_conv_patdnn.h"
#include "cc/kernels/f32_conv_patdnn_ukernel.h"
#include "cc/kernels/f32_conv_pixvec.h"
#include "cc/kernels/qs8_conv3x3_pattern.h"
#include "cc/kernels/qs8_conv_pixvec.h"
#include "cc/util/cpu_features.h"
#include "delegate/calibration.h"
#include "delegate/node_util.h"

namespace tf_sparse {
namespace {

using namespace tflite_abi;  // NOLINT: the ABI names are prefixed already.

// Cost model (see EstimatePatdnnCostRatio), in dense-XNNPACK multiply-adds
// (XNNPACK's dense 3x3 convolution runs near FMA peak), measured with
// benchmarks/conv_speed.py on an AVX-512 x86-64 core. Per multiply-add of
// the padded grid the pattern kernels spend about 1.8 at stride 1 (one
// aligned L1 load per FMA; 56x56x64->64 and 28x28x128->128 measured at
// 0.55 and 0.48 of dense, estimated 0.54 and 0.50) and about 2.4 at larger
// strides (misaligned loads, scalar transpose). The scalar kernels take
// about three times the vector ones. Per value, the input transpose (three
// shifted copies at stride 1) and the output transpose with bias and clamp
// cost about 30 and 20. The dense side is DenseMacs (filters rounded up to
// XNNPACK's tile), which changes nothing at 64 and 128 filters and brings
// 28x28x96->72 (measured 0.36-0.38 of dense) from an estimate of 0.53 to
// 0.40.
constexpr double kVectorMacCostStride1 = 1.8;
constexpr double kVectorMacCost = 2.4;
constexpr double kScalarMacCost = 8.0;
constexpr double kPerInputValue = 30.0;
constexpr double kPerOutputValue = 20.0;
// Per node: fixed work of the pattern operator (bands, accumulator slots,
// per-filter calls) that the terms above leave out. Small layers (13x17x8
// ->16, 8x10x8->12 stride 2, 9x7x6->8, 6x6x5->8) took 1.2 to 2.4 us more
// than those terms give; 2e5 multiply-adds is about 1.5 us of XNNPACK's
// dense rate on this core (~127 G/s), 0.2% of the layers above.
constexpr double kPerNode = 2.0e5;
// Per claimed island of nodes, whatever their formats: the split it makes
// in XNNPACK's graph (charged to a node claimed alone; a node next to
// another claimed node is claimed without it, see ConvDecision). A node claimed inside a chain of XNNPACK convolutions cost 15-20
// us more than alone in a chain of 1x1 28x28x128 layers and 55 us in one of
// 3x3 28x28x32 layers (benchmarks/fine_grained_speed.py, "partition
// boundaries", Intel Xeon 6/167); 3e6 multiply-adds of XNNPACK's dense
// rate are 44 us there (~68 G/s) and 24 us on the Zen 5 the other constants
// were fitted on (~127 G/s).
constexpr double kPerClaimedNode = 3.0e6;
// Claim only when the cheaper format's estimate is below this fraction of
// dense (the estimates are within about 15% on the layers measured).
constexpr double kDenseMargin = 0.9;
// XNNPACK's int8 convolution against its float one on the same layer: the
// int8 estimates are ratios against it, and the split of XNNPACK's graph a
// claimed node makes weighs that much more. Measured with ai_edge_litert
// 2.3.0 (1 thread) on an Intel Xeon (family 6 model 167), where XNNPACK's
// int8 GEMMs run on AMX tiles: 3x3 56x56x64 and 28x28x128 12.6x and 12.8x,
// 1x1 56x56x64->256 4.1x (bound by its inputs and outputs), 28x28x512->128
// 12.9x, 14x14x1024->256 and 7x7x512->2048 10.3x. Without AMX its QS8
// kernels multiply-add 64 int8 pairs an AVX-512 VNNI instruction against 16
// float FMAs: at most 4x (the larger, cautious end).
double XnnpackQs8ConvSpeedup() {
  return GetCpuFeatures().amx_int8 ? 12.5 : 4.0;
}

// VT cost model (see EstimateVtapsCostRatio), in the same units, fitted
// (non-negative least squares on relative error) to 32 layers measured
// against XNNPACK, one thread, on this AVX-512 core (AMD EPYC, Zen 5):
// 56x56x64->64, 28x28x128->128, 14x14x256->256, 56x56x64->128 stride 2
// and 28x28x96->72, each at executed fractions 0.22 (KernelPattern
// filter_block=16, connectivity 0.5), 0.44 (the same without
// connectivity), ~0.5 (half the (block, channel) units, all 9 taps), ~0.9
// (per-kernel patterns) and 1.0 (dense), plus dense 28x28x96->24..96. The
// fit is within 7% on all of them (rms 6%) but the 24-filter dense layer
// (estimated 1.25, measured 0.99: XNNPACK is least efficient there).
// Per kept pair and padded output pixel (the micro-kernel always computes
// a whole tile; the pair's weight loads are spread over the tile): one
// 16-filter vector FMA and one broadcast load. XNNPACK would pay 16 for
// the same 16 multiply-adds, so the VT loop runs at 16/19.5 = 0.82 of
// XNNPACK's FMA rate: dense weights (fraction 1) measure 1.26-1.28 of
// dense at 32-multiple filter counts, and must be declined.
constexpr double kVtPerPairPixel = 19.5;
// Per input value: the transpose to X[row][channel][column] (one copy,
// through 16 x 16 register transposes; leftover pixels of a row in scalar).
constexpr double kVtPerInputValue = 24.0;
// Per output value of the padded grid, 16 per block (the last block
// zero-padded): bias, clamp and the NHWC store.
constexpr double kVtPerOutputValue = 6.0;
// The scalar VT kernel against XNNPACK's vector one (builds without AVX2
// or NEON only; not measured: 16 scalar FMAs where the vector kernel runs
// one, taken as the depthwise model's 8x).
constexpr double kVtScalarFactor = 8.0;

// The dense side of both models: XNNPACK computes whole tiles of output
// channels, so a layer costs as much as if its filters were rounded up to
// the tile. On this AVX-512 core the tile is 32: dense 28x28x96->N
// measured 223 us for N = 24, 338-345 us for N = 40..64 and 504-514 us for
// N = 72..96. AVX2 and NEON XNNPACK kernels use 16 and 8 (not measured
// here).
int XnnpackFilterTile(Isa isa) {
  return isa == Isa::kAvx512 ? 32 : isa == Isa::kAvx2 ? 16 : 8;
}

// Dense multiply-adds of the layer as XNNPACK computes them.
double DenseMacs(const ConvNodeInfo& info, int out_h, int out_w, Isa isa) {
  const int tile = XnnpackFilterTile(isa);
  const double filters = std::ceil(double(info.out) / tile) * tile;
  return double(info.kernel_h) * info.kernel_w * filters * info.in *
         double(out_h) * out_w;
}

// PV against XNNPACK, in cycles of this core (EstimatePixvecCostRatio).
// XNNPACK's dense convolutions ran at 0.41-0.60 of the FMA peak here
// (Intel Xeon 6/167, AVX-512, 1 thread, peak 198 GFLOP/s; 1x1
// 56x56x64->256 805 us: 0.60; 3x3 28x28x128 1975 us: 0.55; 3x3 14x14x256
// 2072 us: 0.53; 3x3 7x7x512 2667 us: 0.41; benchmarks/fine_grained_speed.py).
// Taking the highest makes XNNPACK look at least as fast as it is on every
// layer measured, so PV is claimed only with that margin.
constexpr double kXnnpackConvEfficiency = 0.60;

// FMA lanes XNNPACK runs per cycle on this CPU (two FMA pipes of its best
// ISA's vectors).
double XnnpackLanesPerCycle() {
  switch (BestSupportedIsa()) {
    case Isa::kAvx512:
      return 32.0;
    case Isa::kAvx2:
      return 16.0;
    case Isa::kNeon:
    case Isa::kSve:
      return 8.0;
    default:
      return 2.0;
  }
}

const F32PatdnnUkernel& ActivePatdnnUkernel() {
  return F32PatdnnUkernelFor(ActiveIsa());
}
const F32VtapsUkernel& ActiveVtapsUkernel() {
  return F32VtapsUkernelFor(ActiveIsa());
}

// The micro-kernel a claimed node runs on.
const char* KernelName(const ConvDecision& d) {
  const ConvFormatDescriptor* f = FindConvFormat(d.format);
  if (f == nullptr) return "";
  if (d.info.int8) {
    return f->kernel_name_qs8 != nullptr ? f->kernel_name_qs8(ActiveIsa())
                                         : "";
  }
  return f->kernel_name(ActiveIsa());
}

// Why VT cannot run the node at the input size the graph gives, or "".
// VT resolves every pair to an int32 offset into the transposed input
// X[rows][in][cols] (zero-bordered, columns padded to whole tiles), so X
// must hold at most 2^31 - 1 floats; F32Conv3x3Vtaps::Reshape checks the
// same (this mirrors its sizes), but a claimed node that then fails to
// reshape would fail the whole interpreter.
std::string VtapsShapeProblem(const ConvNodeInfo& info, int tile) {
  if (info.in_h <= 0 || info.in_w <= 0) return "";  // Known at run time only.
  if (info.kernel_h == 1 && info.kernel_w == 1) {  // NHWC input itself.
    return double(info.in_h) * info.in_w * info.in > 2147483647.0
               ? "the input does not fit int32 offsets"
               : "";
  }
  int out_h = 0, out_w = 0, pad_top = 0, pad_left = 0;
  const int eh = (info.kernel_h - 1) * info.dilation_h + 1;
  const int ew = (info.kernel_w - 1) * info.dilation_w + 1;
  if (!ConvOutputSize(info.padding, info.in_h, eh, info.stride_h, &out_h,
                      &pad_top) ||
      !ConvOutputSize(info.padding, info.in_w, ew, info.stride_w, &out_w,
                      &pad_left)) {
    return "";  // No output: the estimate is infinite, never claimed.
  }
  const double tiles = std::ceil(double(out_w) / tile);
  const double rows = double(out_h - 1) * info.stride_h + eh;
  const double cols = std::max(double(pad_left) + info.in_w,
                               (tiles * tile - 1) * info.stride_w + ew);
  if (rows * info.in * cols > 2147483647.0) {
    return "the transposed input of " + std::to_string(info.in_h) + "x" +
           std::to_string(info.in_w) + "x" + std::to_string(info.in) +
           " does not fit int32 offsets";
  }
  return "";
}

// Both formats' estimates for a reason text, e.g. "patdnn 0.512 of dense
// (kernel density 0.222), vtaps 0.305 of dense (executed fraction 0.222)".
// Every format's estimate, or why it cannot run the node ("patdnn 0.412 of
// dense (kernel density 0.310), vtaps n/a (...)"); problems[i] is format
// i's.
std::string EstimatesText(const ConvDecision& d,
                          const std::vector<std::string>& problems) {
  std::string out;
  const std::vector<ConvFormatDescriptor>& formats = ConvFormats();
  for (size_t i = 0; i < formats.size(); ++i) {
    out += i ? ", " : "";
    out += std::string(formats[i].name) + " ";
    out += problems[i].empty() ? formats[i].describe(d)
                               : "n/a (" + problems[i] + ")";
  }
  return out;
}

// ---- PatDNN FKW.

std::string PatdnnProblem(const ConvDecision& d) {
  const bool is_3x3 = d.info.kernel_h == 3 && d.info.kernel_w == 3;
  return !is_3x3 ? std::to_string(d.info.kernel_h) + "x" +
                       std::to_string(d.info.kernel_w) +
                       " kernel (FKW is for 3x3 kernels)"
         : d.info.dilation_h != 1 || d.info.dilation_w != 1
             ? std::string("dilation (FKW runs dilation 1)")
         : d.stats.pattern_structured()
             ? std::string()
             : "not pattern-structured: a 3x3 kernel has " +
                   std::to_string(d.stats.max_kernel_nonzeros) +
                   " nonzero taps (at most 4)";
}

double PatdnnEstimate(const ConvDecision& d) {
  const F32PatdnnUkernel& uk = ActivePatdnnUkernel();
  return EstimatePatdnnCostRatio(d.info, d.stats.nonzero_kernels,
                                 uk.tile_rows, uk.tile_cols, uk.isa);
}

std::string PatdnnDescribe(const ConvDecision& d) {
  return Fmt("%.3f of dense (kernel density %.3f)", d.patdnn_cost,
             d.stats.kernel_density());
}

// Either operator's Params (same fields) from the node.
template <typename Params>
Params ConvParams(const ConvNodeInfo& info) {
  Params p;
  p.stride_h = info.stride_h;
  p.stride_w = info.stride_w;
  p.padding = info.padding;
  p.output_min = info.output_min;
  p.output_max = info.output_max;
  return p;
}

std::unique_ptr<ConvOperator> PatdnnCreate(const float* w,
                                           const ConvNodeInfo& info,
                                           const float* bias,
                                           std::string* error) {
  return MakeConvOperator(F32PatdnnConv2D::Create(
      w, info.out, info.in, bias, ConvParams<F32PatdnnConv2D::Params>(info),
      error));
}

const char* PatdnnKernel(Isa isa) { return F32PatdnnUkernelFor(isa).name; }

bool PixvecShape(const ConvNodeInfo& info, ConvShape* s);

// Int8 pattern convolution (Qs8PatternConv3x3): 3x3, stride 1 or 2,
// dilation 1, at most 4 nonzero taps a kernel; one dot product of 16
// filters' 4 pattern weights per (channel, pattern) entry and output pixel.
std::string Qs8PatdnnProblem(const ConvDecision& d) {
  const std::string problem = PatdnnProblem(d);
  if (!problem.empty()) return problem;
  if (d.info.stride_h > 2 || d.info.stride_w > 2) {
    return "int8 pattern kernels run strides 1 and 2";
  }
  return "";
}

double Qs8PatdnnEstimate(const ConvDecision& d) {
  ConvShape shape;
  if (!PixvecShape(d.info, &shape)) {
    return std::numeric_limits<double>::infinity();
  }
  // Measured with cc/bench/qs8_conv3x3_pattern_bench (Xeon, AVX-512 VNNI,
  // 1 thread): 56x56x64 with 137 entries in 0.222 ms and 28x28x128 with 507
  // in 0.203 ms, i.e. 0.51 ns (about 1.7 cycles) an entry and output pixel,
  // input layout, tap gathering and requantization included; AVX2 ran 3.2x
  // slower, scalar 27x (NEON unmeasured on its hardware: taken as AVX2).
  const double pixels = double(shape.out_h) * shape.out_w;
  const double sparse = 1.7 * double(d.qs8_entries) * pixels;
  const double factor = KernelVariantFactor(
      SelectQs8PatConvUkernel(ActiveIsa(), /*use_dot_product=*/true).name,
      "avx512vnni", 3.2, 27.0);
  const double dense =
      DenseMacs(d.info, shape.out_h, shape.out_w, BestSupportedIsa()) /
      (XnnpackLanesPerCycle() * kXnnpackConvEfficiency) /
      XnnpackQs8ConvSpeedup();
  return dense > 0 ? sparse * factor / dense
                   : std::numeric_limits<double>::infinity();
}

std::unique_ptr<Qs8ConvOperator> Qs8PatdnnCreate(const int8_t* w,
                                                 const ConvNodeInfo& info,
                                                 const int32_t* bias,
                                                 std::string* error) {
  Qs8PatternConv3x3::Params params;
  params.stride_h = info.stride_h;
  params.stride_w = info.stride_w;
  params.padding = info.padding;
  return MakeQs8ConvOperator(Qs8PatternConv3x3::Create(
      w, info.out, info.in, bias, KernelQuantization(info.qs8), params,
      error));
}

const char* Qs8PatdnnKernel(Isa isa) {
  return SelectQs8PatConvUkernel(isa, /*use_dot_product=*/true).name;
}

// ---- Filter-vector taps.

std::string VtapsProblem(const ConvDecision& d) {
  return VtapsShapeProblem(d.info, ActiveVtapsUkernel().tile);
}

double VtapsEstimate(const ConvDecision& d) {
  const F32VtapsUkernel& uk = ActiveVtapsUkernel();
  return EstimateVtapsCostRatio(d.info, d.vt_stats, uk.tile, uk.isa);
}

std::string VtapsDescribe(const ConvDecision& d) {
  return Fmt("%.3f of dense (executed fraction %.3f)", d.vtaps_cost,
             d.vt_stats.executed_fraction());
}

std::unique_ptr<ConvOperator> VtapsCreate(const float* w,
                                          const ConvNodeInfo& info,
                                          const float* bias,
                                          std::string* error) {
  F32Conv3x3Vtaps::Params params = ConvParams<F32Conv3x3Vtaps::Params>(info);
  params.kernel_h = info.kernel_h;  // At most kVtapsMaxTaps taps (ReadConvNode).
  params.kernel_w = info.kernel_w;
  params.dilation_h = info.dilation_h;
  params.dilation_w = info.dilation_w;
  return MakeConvOperator(
      F32Conv3x3Vtaps::Create(w, info.out, info.in, bias, params, error));
}

const char* VtapsKernel(Isa isa) { return F32VtapsUkernelFor(isa).name; }

// ---- Pixel-vector nonzeros.

// The ConvShape of the node at the graph's input size (56x56 when unknown,
// like the other estimates); false when no output fits.
bool PixvecShape(const ConvNodeInfo& info, ConvShape* s) {
  s->in_h = info.in_h > 0 ? info.in_h : 56;
  s->in_w = info.in_w > 0 ? info.in_w : 56;
  s->in_c = info.in;
  s->out_c = info.out;
  s->kernel_h = info.kernel_h;
  s->kernel_w = info.kernel_w;
  s->stride_h = info.stride_h;
  s->stride_w = info.stride_w;
  s->dilation_h = info.dilation_h;
  s->dilation_w = info.dilation_w;
  return ConvOutputSize(info.padding, s->in_h,
                        (info.kernel_h - 1) * info.dilation_h + 1,
                        info.stride_h, &s->out_h, &s->pad_top) &&
         ConvOutputSize(info.padding, s->in_w,
                        (info.kernel_w - 1) * info.dilation_w + 1,
                        info.stride_w, &s->out_w, &s->pad_left);
}

// Why PV cannot run the node at the graph's input size, or "". Its
// offsets into the transposed input are int32: a bound above what
// F32ConvPixvec::Reshape accepts (every phase plane with a vector of
// padding on each row, three shifted copies), so that a claimed node never
// fails to reshape.
std::string PixvecProblem(const ConvDecision& d) {
  const ConvNodeInfo& i = d.info;
  if (i.in_h <= 0 || i.in_w <= 0) return "";  // Known at run time only.
  const double rows = double(i.in_h) + double(i.kernel_h) * i.dilation_h + 1;
  const double cols =
      double(i.in_w) + double(i.kernel_w) * i.dilation_w + 32 + i.stride_w;
  if (3.0 * i.in * rows * cols > 2147483647.0) {
    return "the transposed input of " + std::to_string(i.in_h) + "x" +
           std::to_string(i.in_w) + "x" + std::to_string(i.in) +
           " does not fit int32 offsets";
  }
  return "";
}

double PixvecEstimate(const ConvDecision& d) {
  return EstimatePixvecCostRatio(d.info, d.pv_stats, ActiveIsa());
}

std::string PixvecDescribe(const ConvDecision& d) {
  return Fmt("%.3f of dense (density %.3f)", d.pixvec_cost,
             1.0 - d.pv_stats.sparsity());
}

std::unique_ptr<ConvOperator> PixvecCreate(const float* w,
                                           const ConvNodeInfo& info,
                                           const float* bias,
                                           std::string* error) {
  F32ConvPixvec::Params params = ConvParams<F32ConvPixvec::Params>(info);
  params.kernel_h = info.kernel_h;
  params.kernel_w = info.kernel_w;
  params.dilation_h = info.dilation_h;
  params.dilation_w = info.dilation_w;
  return MakeConvOperator(
      F32ConvPixvec::Create(w, info.out, info.in, bias, params, error));
}

const char* PixvecKernel(Isa isa) { return F32PixvecUkernelFor(isa).name; }

// Int8 pixel vectors (Qs8ConvPixvec): 1x1 convolutions, any stride, one
// vpdpbusd (sdot) per kept group of 4 input channels and 16 pixels.
std::string Qs8PixvecProblem(const ConvDecision& d) {
  if (d.info.kernel_h != 1 || d.info.kernel_w != 1) {
    return "int8 pixel vectors run 1x1 convolutions only";
  }
  return "";
}

double Qs8PixvecEstimate(const ConvDecision& d) {
  ConvShape shape;
  if (!PixvecShape(d.info, &shape)) {
    return std::numeric_limits<double>::infinity();
  }
  // Qs8ConvPixvec's cycle model (cc/kernels/qs8_conv_pixvec.h, fitted on
  // the Xeon with AVX-512 VNNI), with the cautious inner-loop rate of
  // channels that do not share their groups (1.0 cycle a vpdpbusd) and
  // tiles of about Qs8ConvPixvec::kTileBytes of input.
  const double pixels = double(shape.out_h) * shape.out_w;
  const double tile =
      std::max(16.0, std::floor(double(Qs8ConvPixvec::kTileBytes) /
                                std::max(1, d.info.in) / 16) * 16);
  const double tiles = std::ceil(pixels / tile);
  const double sparse = double(d.qs8_groups) * tiles * tile / 16 +
                        9.0 * tiles * d.info.out +
                        0.55 * pixels * d.info.out +
                        0.07 * double(shape.in_h) * shape.in_w * d.info.in;
  // The AVX2 kernel (vpmaddwd) ran about 3x slower; NEON's is unmeasured on
  // its hardware (taken as AVX2's), scalar a plain loop.
  const double factor = KernelVariantFactor(
      SelectQs8PixvecUkernel(ActiveIsa()).name, "avx512vnni", 3.0, 30.0);
  const double dense =
      DenseMacs(d.info, shape.out_h, shape.out_w, BestSupportedIsa()) /
      (XnnpackLanesPerCycle() * kXnnpackConvEfficiency) /
      XnnpackQs8ConvSpeedup();
  return dense > 0 ? sparse * factor / dense
                   : std::numeric_limits<double>::infinity();
}

std::unique_ptr<Qs8ConvOperator> Qs8PixvecCreate(const int8_t* w,
                                                 const ConvNodeInfo& info,
                                                 const int32_t* bias,
                                                 std::string* error) {
  Qs8ConvPixvec::Options options;
  options.stride_h = info.stride_h;
  options.stride_w = info.stride_w;
  return MakeQs8ConvOperator(Qs8ConvPixvec::Create(
      w, info.out, info.in, bias, KernelQuantization(info.qs8), options,
      error));
}

const char* Qs8PixvecKernel(Isa isa) {
  return SelectQs8PixvecUkernel(isa).name;
}

std::string ShapeText(const ConvNodeInfo& i) {
  return "[" + std::to_string(i.out) + "x" + std::to_string(i.kernel_h) + "x" +
         std::to_string(i.kernel_w) + "x" + std::to_string(i.in) + "]";
}

}  // namespace

std::string ReadConvNode(const TfLiteContext* context, const TfLiteNode* node,
                         ConvNodeInfo* info, const DensifySource* densify) {
  const std::string problem =
      ReadWeightedNode(context, node, densify, info, /*allow_int8=*/true);
  if (!problem.empty()) return problem;
  const TfLiteTensor& input = context->tensors[info->input];
  const TfLiteTensor& weights = context->tensors[info->weights];
  if (info->densify_node < 0) {
    if (weights.sparsity != nullptr) {
      return "weights use TFLite's sparse encoding";
    }
    if (info->int8 ? weights.allocation_type != kTfLiteMmapRo ||
                         weights.data == nullptr
                   : !IsConstFloat(weights)) {
      return info->int8 ? "weights are not constant int8"
                        : "weights are not constant float32";
    }
  }
  if (weights.dims == nullptr || weights.dims->size != 4) {
    return "weights are not 4-D";
  }
  info->out = weights.dims->data[0];
  info->kernel_h = weights.dims->data[1];
  info->kernel_w = weights.dims->data[2];
  info->in = weights.dims->data[3];
  if (info->out < 1 || info->in < 1 || info->kernel_h < 1 ||
      info->kernel_w < 1) {
    return "weights have an empty dimension";
  }
  if (info->kernel_h * info->kernel_w > kVtapsMaxTaps) {
    return "kernel " + std::to_string(info->kernel_h) + "x" +
           std::to_string(info->kernel_w) + " has more than " +
           std::to_string(kVtapsMaxTaps) + " taps";
  }
  if (info->densify_node < 0 && info->int8 &&
      weights.bytes != static_cast<size_t>(info->out) * info->kernel_h *
                           info->kernel_w * info->in) {
    return "weights byte size does not match their shape";
  }
  if (info->bias != kTfLiteOptionalTensor && !info->int8) {
    const TfLiteTensor& bias = context->tensors[info->bias];
    if (!IsConstFloat(bias) || bias.dims == nullptr || bias.dims->size != 1 ||
        bias.dims->data[0] != info->out) {
      return "bias is not a constant float32 vector of " +
             std::to_string(info->out);
    }
  }
  if (input.dims == nullptr || input.dims->size != 4) {
    return "input is not 4-D NHWC";
  }
  if (input.dims->data[3] != info->in) {
    return "input has " + std::to_string(input.dims->data[3]) +
           " channels, the weights " + std::to_string(info->in) +
           " (grouped convolution)";
  }
  info->in_h = std::max(input.dims->data[1], 0);
  info->in_w = std::max(input.dims->data[2], 0);
  const auto* params =
      static_cast<const TfLiteConvParams*>(node->builtin_data);
  if (params == nullptr) return "no convolution parameters";
  if (params->dilation_width_factor < 1 ||
      params->dilation_height_factor < 1) {
    return "dilation below 1";
  }
  info->dilation_h = params->dilation_height_factor;
  info->dilation_w = params->dilation_width_factor;
  const std::string geometry = ReadConvGeometry(
      params->stride_height, params->stride_width, params->padding,
      params->activation, &info->stride_h, &info->stride_w, &info->padding,
      &info->output_min, &info->output_max);
  if (!geometry.empty() || !info->int8) return geometry;
  return ReadQs8Quantization(context, *info, 0, info->out, params->activation,
                             &info->qs8);
}

double EstimatePatdnnCostRatio(const ConvNodeInfo& info, long long kernels,
                               int tile_rows, int tile_cols, Isa isa) {
  const bool vector_isa = isa != Isa::kScalar;
  int out_h = 1, out_w = 1, pad = 0;
  const int in_h = info.in_h > 0 ? info.in_h : 56;
  const int in_w = info.in_w > 0 ? info.in_w : 56;
  if (!ConvOutputSize(info.padding, in_h, 3, info.stride_h, &out_h, &pad) ||
      !ConvOutputSize(info.padding, in_w, 3, info.stride_w, &out_w, &pad)) {
    return std::numeric_limits<double>::infinity();
  }
  const double padded_h = std::ceil(double(out_h) / tile_rows) * tile_rows;
  const double padded_w = std::ceil(double(out_w) / tile_cols) * tile_cols;
  const double sparse =
      (!vector_isa                                ? kScalarMacCost
       : info.stride_h == 1 && info.stride_w == 1 ? kVectorMacCostStride1
                                                  : kVectorMacCost) *
          4.0 * kernels *
          padded_h * padded_w +
      kPerInputValue * double(in_h) * in_w * info.in +
      kPerOutputValue * double(out_h) * out_w * info.out + kPerNode;
  return sparse / DenseMacs(info, out_h, out_w, isa);
}

double EstimateVtapsCostRatio(const ConvNodeInfo& info, const VtapsStats& stats,
                              int tile, Isa isa) {
  int out_h = 1, out_w = 1, pad = 0;
  const int in_h = info.in_h > 0 ? info.in_h : 56;
  const int in_w = info.in_w > 0 ? info.in_w : 56;
  const bool pointwise = info.kernel_h == 1 && info.kernel_w == 1;
  if (!ConvOutputSize(info.padding, in_h,
                      (info.kernel_h - 1) * info.dilation_h + 1, info.stride_h,
                      &out_h, &pad) ||
      !ConvOutputSize(info.padding, in_w,
                      (info.kernel_w - 1) * info.dilation_w + 1, info.stride_w,
                      &out_w, &pad) ||
      stats.blocks < 1 || tile < 1) {
    return std::numeric_limits<double>::infinity();
  }
  // Each output row runs in whole tiles of `tile` pixels.
  const double padded_pixels =
      double(out_h) * std::ceil(double(out_w) / tile) * tile;
  const double sparse =
      (isa != Isa::kScalar ? 1.0 : kVtScalarFactor) *
      (kVtPerPairPixel * double(stats.pairs) * padded_pixels +
       (pointwise ? 0.0 : kVtPerInputValue) * double(in_h) * in_w * info.in +
       kVtPerOutputValue * double(stats.blocks) * kVtapsBlock *
           padded_pixels);
  return sparse / DenseMacs(info, out_h, out_w, isa);
}

double EstimatePixvecCostRatio(const ConvNodeInfo& info,
                               const PixvecStats& stats, Isa isa) {
  ConvShape shape;
  if (!PixvecShape(info, &shape) || stats.out_channels < 1) {
    return std::numeric_limits<double>::infinity();
  }
  return PixvecCostRatio(
      stats, shape,
      DenseMacs(info, shape.out_h, shape.out_w, BestSupportedIsa()), isa);
}

double PixvecCostRatio(const PixvecStats& stats, const ConvShape& shape,
                       double dense_macs, Isa isa) {
  const double sparse = EstimatePixvecCycles(stats, shape, isa);
  const double dense =
      dense_macs / (XnnpackLanesPerCycle() * kXnnpackConvEfficiency);
  return dense > 0 ? sparse / dense : std::numeric_limits<double>::infinity();
}

const std::vector<ConvFormatDescriptor>& ConvFormats() {
  static const std::vector<ConvFormatDescriptor>* formats =
      new std::vector<ConvFormatDescriptor>{
          {ConvFormat::kPatdnn, "patdnn", &PatdnnProblem, &PatdnnEstimate,
           &ConvDecision::patdnn_cost, &PatdnnDescribe, &PatdnnCreate,
           &PatdnnKernel, CostFamily::kConvFkw, &Qs8PatdnnProblem,
           &Qs8PatdnnEstimate, &Qs8PatdnnCreate, &Qs8PatdnnKernel,
           CostFamily::kConvFkw},
          {ConvFormat::kVtaps, "vtaps", &VtapsProblem, &VtapsEstimate,
           &ConvDecision::vtaps_cost, &VtapsDescribe, &VtapsCreate,
           &VtapsKernel, CostFamily::kConvVt},
          {ConvFormat::kPixvec, "pixvec", &PixvecProblem, &PixvecEstimate,
           &ConvDecision::pixvec_cost, &PixvecDescribe, &PixvecCreate,
           &PixvecKernel, CostFamily::kConvPv, &Qs8PixvecProblem,
           &Qs8PixvecEstimate, &Qs8PixvecCreate, &Qs8PixvecKernel,
           CostFamily::kConvPv},
      };
  return *formats;
}

const ConvFormatDescriptor* FindConvFormat(ConvFormat format) {
  for (const ConvFormatDescriptor& f : ConvFormats()) {
    if (f.format == format) return &f;
  }
  return nullptr;
}

const char* ConvFormatName(ConvFormat format) {
  const ConvFormatDescriptor* f = FindConvFormat(format);
  return f != nullptr ? f->name : "none";
}

ConvDecision AnalyzeConvNode(const TfLiteContext* context, int node_index,
                             const TfLiteNode* node,
                             const DelegateOptions& options,
                             const DensifySource* densify) {
  ConvDecision d;
  d.node_index = node_index;
  d.reason = ReadConvNode(context, node, &d.info, densify);
  if (!d.reason.empty()) return d;
  d.has_shape = true;
  if (!options.force_patdnn && !options.force_vtaps &&
      !options.force_pixvec && !options.auto_format()) {
    d.reason = "format " + options.FormatName() +
               " is a FULLY_CONNECTED format";
    return d;
  }
  std::vector<float> decoded;
  const float* w = nullptr;
  if (d.info.int8) {
    // The stats read only which weights are zero: an exact float copy.
    std::vector<int8_t> w8;
    const int8_t* p = DenseInt8Weights(context, d.info.weights,
                                       d.info.densify_input, &w8, &d.reason);
    if (p == nullptr) return d;
    const size_t n = static_cast<size_t>(d.info.out) * d.info.kernel_h *
                     d.info.kernel_w * d.info.in;
    decoded.assign(p, p + n);
    w = decoded.data();
    if (d.info.kernel_h == 1 && d.info.kernel_w == 1) {
      d.qs8_groups = CountQs8PixvecGroups(p, d.info.out, d.info.in);
    } else if (d.info.kernel_h == 3 && d.info.kernel_w == 3) {
      d.qs8_entries =
          Qs8PatternConv3x3::Analyze(p, d.info.out, d.info.in).entries;
    }
  } else {
    w = DenseWeights(context, d.info.weights, d.info.densify_input, &decoded,
                     &d.reason);
  }
  if (w == nullptr) return d;
  const bool is_3x3 = d.info.kernel_h == 3 && d.info.kernel_w == 3;
  d.vt_stats = MeasureVtaps(w, d.info.out, d.info.in, d.info.kernel_h,
                            d.info.kernel_w);
  d.pv_stats = MeasurePixvec(w, d.info.out, d.info.in, d.info.kernel_h,
                             d.info.kernel_w);
  if (!is_3x3) {
    // FKW is for 3x3 kernels: only the counts VT and the report use.
    d.stats.out_channels = d.info.out;
    d.stats.in_channels = d.info.in;
    d.stats.weights = d.vt_stats.weights;
    d.stats.zero_weights = d.vt_stats.zero_weights;
  } else {
    d.stats = MeasurePatterns(w, d.info.out, d.info.in);
  }
  d.has_stats = true;

  // Every estimate first, so that every decline can name them.
  const std::vector<ConvFormatDescriptor>& formats = ConvFormats();
  std::vector<std::string> problems;
  const Calibration& calibration = GetCalibration(options);
  ConvShape shape;
  if (PixvecShape(d.info, &shape)) {
    d.boundary_cost =
        kPerClaimedNode / DenseMacs(d.info, shape.out_h, shape.out_w,
                                    ActiveIsa());
  }
  const bool int8 = d.info.int8;
  if (int8) d.boundary_cost *= XnnpackQs8ConvSpeedup();
  for (const ConvFormatDescriptor& f : formats) {
    if (int8) {
      problems.push_back(f.problem_qs8 == nullptr ? "no int8 kernels"
                                                  : f.problem_qs8(d));
    } else {
      problems.push_back(f.problem(d));
    }
    if (problems.back().empty()) {
      d.*f.cost =
          (int8 ? f.estimate_qs8(d) : f.estimate(d)) *
              calibration.Factor(int8 ? f.family_qs8 : f.family) +
          d.boundary_cost;
    }
  }
  const std::string estimates = EstimatesText(d, problems);
  // The cheapest candidate (the earlier format on a tie: FKW, the format
  // this delegate had first, measured on more layers).
  const ConvFormatDescriptor* best = nullptr;
  for (const ConvFormatDescriptor& f : formats) {
    if (d.*f.cost >= 0 && (best == nullptr || d.*f.cost < d.*best->cost)) {
      best = &f;
    }
  }
  d.cost_ratio = best != nullptr ? d.*best->cost : -1.0;

  if (d.stats.sparsity() < options.min_sparsity) {
    d.reason = Fmt("sparsity %.3f is below min_sparsity %.3f",
                   d.stats.sparsity(), options.min_sparsity) +
               " (" + estimates + ")";
    return d;
  }
  if (options.force_patdnn || options.force_vtaps || options.force_pixvec) {
    const ConvFormat forced = options.force_patdnn ? ConvFormat::kPatdnn
                              : options.force_vtaps ? ConvFormat::kVtaps
                                                    : ConvFormat::kPixvec;
    const ConvFormatDescriptor* f = FindConvFormat(forced);
    const std::string& problem = problems[f - formats.data()];
    if (!problem.empty()) {
      d.reason = "format " + std::string(f->name) + " forced, but " + problem;
      return d;
    }
    d.format = forced;
    d.cost_ratio = d.*f->cost;
    d.claimed = true;
    d.reason = "format " + std::string(f->name) + " forced (" + estimates + ")";
    return d;
  }
  if (best == nullptr) {
    // No format can run the node (for float nodes unreachable while VT
    // runs every shape ReadConvNode accepts).
    d.reason = int8 ? "int8; " : "";
    for (size_t i = 0; i < problems.size(); ++i) {
      d.reason += (i ? "; " : "") + std::string(formats[i].name) + ": " +
                  problems[i];
    }
    return d;
  }
  if (!(d.cost_ratio <= kDenseMargin)) {
    d.reason = Fmt("estimated cost above %.2f of dense: ", kDenseMargin, 0) +
               estimates;
    if (d.cost_ratio - d.boundary_cost <= kDenseMargin) {
      // Pays next to another claimed node, where the split is shared.
      d.format = best->format;
      d.claim_in_chain = true;
      d.reason += Fmt(" (each with %.3f for the split of XNNPACK's graph a "
                      "node claimed alone makes; claimed next to a claimed "
                      "node)",
                      d.boundary_cost, 0);
      d.chain_reason =
          "estimated cost: " + estimates + "; " + best->name +
          Fmt(" is the cheaper, and at most %.2f of dense without the ",
              kDenseMargin, 0) +
          Fmt("split of XNNPACK's graph (%.3f), which a node next to it "
              "already pays",
              d.boundary_cost, 0);
    }
    return d;
  }
  d.format = best->format;
  d.claimed = true;
  d.reason = "estimated cost: " + estimates + "; " + best->name +
             Fmt(" is the cheaper and at most %.2f of dense", kDenseMargin, 0);
  return d;
}

std::string ConvDecisionJson(const ConvDecision& d) {
  std::string out = "{\"node\": " + std::to_string(d.node_index);
  out += ", \"op\": \"CONV_2D\"";
  out += std::string(", \"dtype\": ") +
         (d.info.int8 ? "\"int8\"" : "\"float32\"");
  out += std::string(", \"claimed\": ") + (d.claimed ? "true" : "false");
  out += ", \"reason\": " + JsonString(d.reason);
  out += ", \"format\": ";
  out += d.claimed ? JsonString(ConvFormatName(d.format)) : "null";
  out += ", \"shape\": ";
  out += d.has_shape ? "[" + std::to_string(d.info.out) + ", " +
                           std::to_string(d.info.kernel_h) + ", " +
                           std::to_string(d.info.kernel_w) + ", " +
                           std::to_string(d.info.in) + "]"
                     : "null";
  out += ", \"stride\": ";
  out += d.has_shape ? "[" + std::to_string(d.info.stride_h) + ", " +
                           std::to_string(d.info.stride_w) + "]"
                     : "null";
  out += ", \"sparsity\": ";
  out += d.has_stats ? JsonNumber(d.stats.sparsity()) : "null";
  out += ", \"kernel_density\": ";
  out += d.has_stats ? JsonNumber(d.stats.kernel_density()) : "null";
  out += ", \"max_kernel_nonzeros\": ";
  out += d.has_stats ? std::to_string(d.stats.max_kernel_nonzeros) : "null";
  out += ", \"vtaps_executed_fraction\": ";
  out += d.has_stats ? JsonNumber(d.vt_stats.executed_fraction()) : "null";
  out += ", \"vtaps_zero_blocks\": ";
  out += d.has_stats ? std::to_string(d.vt_stats.zero_blocks) : "null";
  out += ", \"patdnn_cost_vs_dense\": ";
  out += d.patdnn_cost >= 0 ? JsonNumber(d.patdnn_cost) : "null";
  out += ", \"vtaps_cost_vs_dense\": ";
  out += d.vtaps_cost >= 0 ? JsonNumber(d.vtaps_cost) : "null";
  out += ", \"pixvec_cost_vs_dense\": ";
  out += d.pixvec_cost >= 0 ? JsonNumber(d.pixvec_cost) : "null";
  out += ", \"cost_vs_dense\": ";
  out += d.cost_ratio >= 0 ? JsonNumber(d.cost_ratio) : "null";
  out += ", \"boundary_cost_vs_dense\": ";
  out += d.has_stats ? JsonNumber(d.boundary_cost) : "null";
  out += ", \"kernel\": ";
  out += d.claimed ? JsonString(KernelName(d)) : "null";
  out += ", \"densify_node\": ";
  out += d.info.densify_node >= 0 ? std::to_string(d.info.densify_node)
                                  : "null";
  out += std::string(", \"densify_claimed\": ") +
         (d.info.densify_claimed ? "true" : "false");
  return out + "}";
}

void LogConvDecision(const ConvDecision& d, int verbose) {
  if (verbose < 1) return;
  const std::string shape = d.has_shape ? ShapeText(d.info) : "[?]";
  const std::string verdict =
      d.claimed ? std::string("claimed as ") + ConvFormatName(d.format)
                : std::string("declined");
  std::fprintf(stderr, "tf_sparse: node %d CONV_2D %s: %s (%s)\n",
               d.node_index, shape.c_str(), verdict.c_str(), d.reason.c_str());
  if (verbose >= 2 && d.has_stats) {
    std::fprintf(stderr,
                 "tf_sparse:   sparsity %.3f, kernel density %.3f, at most %d "
                 "taps a kernel; VT: %lld of %lld (block, channel, tap) "
                 "vectors kept (%.3f), %lld empty (block, channel)%s%s\n",
                 d.stats.sparsity(), d.stats.kernel_density(),
                 d.stats.max_kernel_nonzeros, d.vt_stats.pairs,
                 9LL * d.vt_stats.blocks * d.vt_stats.in_channels,
                 d.vt_stats.executed_fraction(), d.vt_stats.zero_blocks,
                 d.claimed ? ", kernel " : "", d.claimed ? KernelName(d) : "");
  }
}

}  // namespace tf_sparse
