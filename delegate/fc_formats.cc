#include "delegate/fc_formats.h"

#include <cmath>
#include <limits>
#include <utility>

#include "cc/formats/bsr.h"
#include "cc/formats/csr.h"
#include "cc/formats/gs.h"
#include "cc/formats/nm.h"
#include "cc/kernels/f32_bsr_fully_connected.h"
#include "cc/kernels/f32_conv3x3_vtaps.h"
#include "cc/kernels/f32_conv_pixvec.h"
#include "cc/kernels/f32_csr_fully_connected.h"
#include "cc/kernels/f32_gs_fully_connected.h"
#include "cc/kernels/f32_nm_fully_connected.h"
#include "cc/kernels/qs8_bsr_fully_connected.h"
#include "cc/kernels/qs8_row_group_fully_connected.h"
#include "cc/formats/qs8_row_group.h"
#include "delegate/conv_analysis.h"

namespace tf_sparse {
namespace {

// ---- BSR r x c.

// Candidate shapes for format "auto", in order of preference on ties.
constexpr int kBsrShapes[][2] = {{1, 4}, {1, 8}, {4, 1}, {8, 1},
                                 {16, 1}, {4, 4}, {1, 1}};

void AddBsr(const FcWeights& w, int r, int c, std::vector<FcCandidate>* out) {
  const FcNodeInfo& info = *w.info;
  BlockCandidate cand;
  cand.r = r;
  cand.c = c;
  const BlockDensity bd = MeasureBlockDensity(w.w, info.out, info.in, r, c);
  cand.density = bd.density();
  cand.cost = EstimateBsrCost(info.out, info.in, r, c, bd.nonzero_blocks,
                              HasSpecializedF32BsrUkernel(r, c, w.isa));
  w.decision->candidates.push_back(cand);
  out->push_back(FcCandidate{
      "bsr:" + std::to_string(r) + "x" + std::to_string(c), cand.cost, r, c});
}

void BsrAuto(const FcWeights& w, std::vector<FcCandidate>* out) {
  for (const auto& rc : kBsrShapes) {
    if (!CheckBsrShape(w.info->out, w.info->in, rc[0], rc[1]).empty()) {
      continue;
    }
    AddBsr(w, rc[0], rc[1], out);
  }
}

std::string BsrForced(const FcWeights& w, const DelegateOptions& options,
                      std::vector<FcCandidate>* out) {
  const std::string problem = CheckBsrShape(
      w.info->out, w.info->in, options.block_height, options.block_width);
  if (problem.empty()) {
    AddBsr(w, options.block_height, options.block_width, out);
  }
  return problem;
}

void BsrChoose(const FcCandidate& ch, FcDecision* d) {
  d->block_height = ch.a;
  d->block_width = ch.b;
  for (const BlockCandidate& c : d->candidates) {
    if (c.r == ch.a && c.c == ch.b) d->block_density = c.density;
  }
}

std::unique_ptr<SparseOperator> BsrCreate(const float* w,
                                          const FcNodeInfo& info,
                                          const float* bias,
                                          const FcDecision& d,
                                          std::string* error) {
  F32BsrFullyConnected::Options options;
  options.block_height = d.block_height;
  options.block_width = d.block_width;
  return MakeFcOperator(F32BsrFullyConnected::Create(
      w, info.out, info.in, bias, info.output_min, info.output_max, options,
      error));
}

const char* BsrKernel(const FcDecision& d, Isa isa) {
  return SelectF32BsrUkernel(d.block_height, d.block_width, isa).name;
}

// Int8: 1 x 4 blocks only (the shape of the dot-product kernels; the
// others would run the scalar loop).
void AddQs8Bsr(const FcWeights& w, std::vector<FcCandidate>* out) {
  const FcNodeInfo& info = *w.info;
  if (!CheckBsrShape(info.out, info.in, 1, 4).empty()) return;
  BlockCandidate cand;
  cand.r = 1;
  cand.c = 4;
  const BlockDensity bd = MeasureBlockDensity(w.w8, info.out, info.in, 1, 4);
  cand.density = bd.density();
  // Fitted on the AVX-512 VNNI kernel; the AVX2 one ran 1.6-1.9x slower
  // (cc/bench/qs8_sparse_fc_bench), NEON's is unmeasured on its hardware
  // and taken as AVX2, scalar a plain loop.
  const double factor = KernelVariantFactor(
      SelectQs8BsrUkernel(1, 4, w.isa, /*use_dot_product=*/true).name,
      "avx512vnni", 1.9, 10.0);
  cand.cost = EstimateQs8BsrCost(info.out, info.in, bd.nonzero_blocks) * factor;
  w.decision->candidates.push_back(cand);
  out->push_back(FcCandidate{"bsr:1x4", cand.cost, 1, 4});
}

std::string Qs8BsrForced(const FcWeights& w, const DelegateOptions& options,
                         std::vector<FcCandidate>* out) {
  if (options.block_height != 1 || options.block_width != 4) {
    return "int8 BSR runs 1x4 blocks only";
  }
  const std::string problem = CheckBsrShape(w.info->out, w.info->in, 1, 4);
  if (problem.empty()) AddQs8Bsr(w, out);
  return problem;
}

std::unique_ptr<Qs8SparseOperator> Qs8BsrCreate(const int8_t* w,
                                                const FcNodeInfo& info,
                                                const int32_t* bias,
                                                const FcDecision& d,
                                                std::string* error) {
  Qs8BsrFullyConnected::Options options;
  options.block_height = d.block_height;
  options.block_width = d.block_width;
  return MakeQs8FcOperator(Qs8BsrFullyConnected::Create(
      w, info.out, info.in, bias, KernelQuantization(info.qs8), options,
      error));
}

const char* Qs8BsrKernel(const FcDecision& d, Isa isa) {
  return SelectQs8BsrUkernel(d.block_height, d.block_width, isa,
                             /*use_dot_product=*/true)
      .name;
}

// ---- CSR row-group quads.

void AddCsr(const FcWeights& w, std::vector<FcCandidate>* out) {
  const FcNodeInfo& info = *w.info;
  out->push_back(FcCandidate{
      "csr",
      EstimateCsrCost(info.out, info.in,
                      CountCsrPanelSlices(w.w, info.out, info.in)),
      0, 0});
}

void CsrAuto(const FcWeights& w, std::vector<FcCandidate>* out) {
  AddCsr(w, out);
}

std::string CsrForced(const FcWeights& w, const DelegateOptions&,
                      std::vector<FcCandidate>* out) {
  const std::string problem = CheckCsrShape(w.info->out, w.info->in);
  if (problem.empty()) AddCsr(w, out);
  return problem;
}

void NoParameters(const FcCandidate&, FcDecision*) {}

std::unique_ptr<SparseOperator> CsrCreate(const float* w,
                                          const FcNodeInfo& info,
                                          const float* bias,
                                          const FcDecision&,
                                          std::string* error) {
  return MakeFcOperator(F32CsrFullyConnected::Create(
      w, info.out, info.in, bias, info.output_min, info.output_max, {},
      error));
}

const char* CsrKernel(const FcDecision&, Isa isa) {
  return SelectF32CsrUkernel(isa).panel_name;
}

// Int8: the row-group windows (Qs8RowGroupFullyConnected), sliding
// 64-column windows of 16 rows, any pattern.
Qs8RowGroupFullyConnected::Options RowGroupOptions(bool nm4) {
  Qs8RowGroupFullyConnected::Options o;
  o.layout = nm4 ? Qs8RowGroupFullyConnected::Layout::kNm4
                 : Qs8RowGroupFullyConnected::Layout::kWindows;
  return o;
}

// The row-group kernels' time against the AVX-512 VBMI one the cost model
// was fitted on (delegate/calibration.cc's fc_qs8 reference ratios, one
// CPU): AVX2 (also AVX-512 CPUs without VBMI) builds each 64-byte lookup
// from four vpshufb, 3.7x; scalar is a plain loop, 33.6x. NEON is taken as
// AVX2 (its 64-byte table lookup is one instruction, so this is the
// cautious side).
double RowGroupKernelFactor(const char* kernel) {
  return KernelVariantFactor(kernel, "avx512vbmi", 3.7, 33.6);
}

void AddQs8RowGroups(const FcWeights& w, bool nm4, const std::string& name,
                     int a, int b, std::vector<FcCandidate>* out) {
  const FcNodeInfo& info = *w.info;
  const Qs8RowGroupFullyConnected::Plan plan =
      Qs8RowGroupFullyConnected::PlanLayout(w.w8, info.out, info.in,
                                            RowGroupOptions(nm4));
  if (plan.slices < 0) return;
  const Qs8Nm4RowGroupUkernel* nm4_kernel =
      plan.nm4 ? SelectQs8Nm4RowGroupUkernel(w.isa) : nullptr;
  const char* kernel = nm4_kernel != nullptr
                           ? nm4_kernel->name
                           : SelectQs8RowGroupUkernel(w.isa).name;
  out->push_back(FcCandidate{
      name,
      EstimateQs8RowGroupCost(info.out, info.in, plan.slices, plan.bytes,
                              plan.nm4) *
          RowGroupKernelFactor(kernel),
      a, b});
}

void Qs8CsrAuto(const FcWeights& w, std::vector<FcCandidate>* out) {
  AddQs8RowGroups(w, false, "csr", 0, 0, out);
}

std::string Qs8CsrForced(const FcWeights& w, const DelegateOptions&,
                         std::vector<FcCandidate>* out) {
  AddQs8RowGroups(w, false, "csr", 0, 0, out);
  return out->empty() ? "the int8 row-group operator refuses the weights" : "";
}

std::unique_ptr<Qs8SparseOperator> CreateQs8RowGroups(
    const int8_t* w, const FcNodeInfo& info, const int32_t* bias, bool nm4,
    std::string* error) {
  return MakeQs8FcOperator(Qs8RowGroupFullyConnected::Create(
      w, info.out, info.in, bias, KernelQuantization(info.qs8),
      RowGroupOptions(nm4), error));
}

std::unique_ptr<Qs8SparseOperator> Qs8CsrCreate(const int8_t* w,
                                                const FcNodeInfo& info,
                                                const int32_t* bias,
                                                const FcDecision&,
                                                std::string* error) {
  return CreateQs8RowGroups(w, info, bias, false, error);
}

const char* Qs8CsrKernel(const FcDecision&, Isa isa) {
  return SelectQs8RowGroupUkernel(isa).name;
}

// ---- N:M.

constexpr int kNmGroups[] = {4, 8, 16, 2};

// The tightest n for group size m, or 0 when none fits.
int NmFor(const FcWeights& w, int m) {
  const int most = MaxNonzerosPerGroup(w.w, w.info->out, w.info->in, m);
  for (int n : {1, 2, 4, 8, 16}) {
    if (n >= most && n < m) return n;
  }
  return 0;
}

void AddNm(const FcWeights& w, int n, int m, std::vector<FcCandidate>* out) {
  out->push_back(FcCandidate{
      "nm:" + std::to_string(n) + ":" + std::to_string(m),
      EstimateNmCost(w.info->out, w.info->in, n, m), n, m});
}

// The cheapest pattern the weights satisfy, per group size.
void NmAuto(const FcWeights& w, std::vector<FcCandidate>* out) {
  for (int m : kNmGroups) {
    const int n = NmFor(w, m);
    if (n > 0 && CheckNmShape(w.info->out, w.info->in, n, m).empty()) {
      AddNm(w, n, m, out);
    }
  }
}

std::string NmForced(const FcWeights& w, const DelegateOptions& options,
                     std::vector<FcCandidate>* out) {
  const FcNodeInfo& info = *w.info;
  std::vector<std::pair<int, int>> tries;
  if (options.nm_n > 0) {
    tries.push_back({options.nm_n, options.nm_m});
  } else {
    for (int m : kNmGroups) tries.push_back({NmFor(w, m), m});
  }
  std::string problem;
  const size_t before = out->size();
  for (const auto& nm : tries) {
    if (nm.first == 0) continue;
    const std::string p = CheckNmShape(info.out, info.in, nm.first, nm.second);
    if (!p.empty()) {
      problem = p;
    } else if (MaxNonzerosPerGroup(w.w, info.out, info.in, nm.second) >
               nm.first) {
      problem = "some group of " + std::to_string(nm.second) +
                " inputs holds more than " + std::to_string(nm.first) +
                " nonzeros";
    } else {
      AddNm(w, nm.first, nm.second, out);
    }
  }
  if (out->size() == before && problem.empty()) {
    problem = "the weights fit no N:M pattern with m in 2, 4, 8, 16";
  }
  return problem;
}

void NmChoose(const FcCandidate& ch, FcDecision* d) {
  d->nm_n = ch.a;
  d->nm_m = ch.b;
}

std::unique_ptr<SparseOperator> NmCreate(const float* w,
                                         const FcNodeInfo& info,
                                         const float* bias,
                                         const FcDecision& d,
                                         std::string* error) {
  F32NmFullyConnected::Options options;
  options.n = d.nm_n;
  options.m = d.nm_m;
  return MakeFcOperator(F32NmFullyConnected::Create(
      w, info.out, info.in, bias, info.output_min, info.output_max, options,
      error));
}

const char* NmKernel(const FcDecision&, Isa isa) {
  return SelectF32NmUkernel(isa).name;
}

// Int8: N:4 weights (1:4, 2:4) in the row groups' 2-bit position layout,
// where the ISA has its kernel.
void Qs8NmAuto(const FcWeights& w, std::vector<FcCandidate>* out) {
  const int n = Qs8NmDegreeOf4(w.w8, w.info->out, w.info->in);
  if (n != 1 && n != 2) return;
  AddQs8RowGroups(w, true, "nm:" + std::to_string(n) + ":4", n, 4, out);
}

std::string Qs8NmForced(const FcWeights& w, const DelegateOptions& options,
                        std::vector<FcCandidate>* out) {
  if (options.nm_n > 0 && options.nm_m != 4) {
    return "int8 N:M runs m = 4 only";
  }
  const int n = Qs8NmDegreeOf4(w.w8, w.info->out, w.info->in);
  if (n != 1 && n != 2) {
    return "some group of 4 inputs holds more than 2 nonzeros";
  }
  if (options.nm_n > 0 && n > options.nm_n) {
    return "some group of 4 inputs holds more than " +
           std::to_string(options.nm_n) + " nonzeros";
  }
  Qs8NmAuto(w, out);
  return out->empty() ? "no int8 N:4 kernel for this instruction set" : "";
}

std::unique_ptr<Qs8SparseOperator> Qs8NmCreate(const int8_t* w,
                                               const FcNodeInfo& info,
                                               const int32_t* bias,
                                               const FcDecision&,
                                               std::string* error) {
  return CreateQs8RowGroups(w, info, bias, true, error);
}

const char* Qs8NmKernel(const FcDecision&, Isa isa) {
  const Qs8Nm4RowGroupUkernel* k = SelectQs8Nm4RowGroupUkernel(isa);
  return k != nullptr ? k->name : "";
}

// ---- GS.

void AddGs(const FcWeights& w, int banks, int e,
           std::vector<FcCandidate>* out) {
  const FcNodeInfo& info = *w.info;
  const GsStats st = MeasureGs(w.w, info.out, info.in, banks, e);
  out->push_back(FcCandidate{
      "gs:" + std::to_string(banks) + ":" + std::to_string(e),
      EstimateGsCost(info.out, info.in, banks, e, st.packs), banks, e});
}

void GsAuto(const FcWeights& w, std::vector<FcCandidate>* out) {
  for (int banks : {16, 8, 32}) {
    if (CheckGsShape(w.info->out, w.info->in, banks, 1).empty()) {
      AddGs(w, banks, 1, out);
    }
  }
}

std::string GsForced(const FcWeights& w, const DelegateOptions& options,
                     std::vector<FcCandidate>* out) {
  const std::string problem =
      CheckGsShape(w.info->out, w.info->in, options.gs_banks,
                   options.gs_elements_per_row);
  if (problem.empty()) {
    AddGs(w, options.gs_banks, options.gs_elements_per_row, out);
  }
  return problem;
}

void GsChoose(const FcCandidate& ch, FcDecision* d) {
  d->gs_banks = ch.a;
  d->gs_elements_per_row = ch.b;
}

std::unique_ptr<SparseOperator> GsCreate(const float* w,
                                         const FcNodeInfo& info,
                                         const float* bias,
                                         const FcDecision& d,
                                         std::string* error) {
  F32GsFullyConnected::Options options;
  options.banks = d.gs_banks;
  options.elements_per_row = d.gs_elements_per_row;
  return MakeFcOperator(F32GsFullyConnected::Create(
      w, info.out, info.in, bias, info.output_min, info.output_max, options,
      error));
}

const char* GsKernel(const FcDecision&, Isa isa) {
  return SelectF32GsUkernel(isa).name;
}

// ---- Filter-vector taps over the rows of a call.

// A call of several rows: the rows as the pixels of a 1x1 convolution on
// filter-vector taps (the weights [out][in] are its OHWI filter), which
// reuses every kept 16-unit weight vector across a tile of rows the way
// XNNPACK's GEMM does. The estimate pays for whole tiles, so a few rows
// stay on the matrix-vector kernels (measured: BSR 16x1 wins at 2 and 4
// rows, VT from about 8).
void VtapsAuto(const FcWeights& w, std::vector<FcCandidate>* out) {
  if (w.batch_rows < 2) return;
  const VtapsStats st = MeasureVtaps(w.w, w.info->out, w.info->in, 1, 1);
  out->push_back(FcCandidate{
      "vtaps",
      EstimateVtapsFcCost(w.info->in, st.pairs, w.batch_rows,
                          F32VtapsUkernelFor(w.isa).tile),
      0, 0});
}

// Never parsed into a forced FULLY_CONNECTED format (format=vtaps forces
// CONV_2D); chosen by "auto" on calls of many rows.
std::string VtapsForced(const FcWeights&, const DelegateOptions&,
                        std::vector<FcCandidate>*) {
  return "vtaps is chosen by format=auto only";
}

std::unique_ptr<SparseOperator> VtapsCreate(const float* w,
                                            const FcNodeInfo& info,
                                            const float* bias,
                                            const FcDecision&,
                                            std::string* error) {
  F32Conv3x3Vtaps::Params params;
  params.kernel_h = params.kernel_w = 1;
  params.output_min = info.output_min;
  params.output_max = info.output_max;
  return RowsAsImage(
      F32Conv3x3Vtaps::Create(w, info.out, info.in, bias, params, error));
}

const char* VtapsKernel(const FcDecision&, Isa isa) {
  return F32VtapsUkernelFor(isa).name;
}

// ---- Pixel-vector nonzeros over the rows of a call.

// Fewer rows than one vector tile leave most lanes empty: the matrix-vector
// formats run those.
constexpr long long kPixvecMinRows = 8;

// A call of many rows as a 1x1 convolution on a 1 x rows image, one
// broadcast weight times a vector of rows per nonzero: fine-grained
// sparsity (unstructured, 1x4 blocks, N:M) at XNNPACK's GEMM reuse.
void PixvecAuto(const FcWeights& w, std::vector<FcCandidate>* out) {
  if (w.batch_rows < kPixvecMinRows ||
      w.batch_rows > std::numeric_limits<int>::max()) {
    return;
  }
  const FcNodeInfo& info = *w.info;
  const PixvecStats st = MeasurePixvec(w.w, info.out, info.in, 1, 1);
  ConvShape shape;
  shape.in_h = shape.out_h = 1;
  shape.in_w = shape.out_w = static_cast<int>(w.batch_rows);
  shape.in_c = info.in;
  shape.out_c = info.out;
  shape.kernel_h = shape.kernel_w = 1;
  const double dense_macs =
      static_cast<double>(w.batch_rows) * info.out * info.in;
  const double ratio = PixvecCostRatio(st, shape, dense_macs, w.isa);
  // In the units of the other candidates: the dense row's cost times
  // XNNPACK's per-row factor at this many rows, times the ratio.
  const double dense_cost = static_cast<double>(info.out) * info.in *
                            XnnpackRowFactor(w.batch_rows);
  out->push_back(FcCandidate{"pixvec", ratio * dense_cost, 0, 0});
}

std::string PixvecForced(const FcWeights&, const DelegateOptions&,
                         std::vector<FcCandidate>*) {
  return "pixvec is chosen by format=auto only";
}

std::unique_ptr<SparseOperator> PixvecCreate(const float* w,
                                             const FcNodeInfo& info,
                                             const float* bias,
                                             const FcDecision&,
                                             std::string* error) {
  F32ConvPixvec::Params params;
  params.output_min = info.output_min;
  params.output_max = info.output_max;
  return RowsAsImage(
      F32ConvPixvec::Create(w, info.out, info.in, bias, params, error));
}

const char* PixvecKernel(const FcDecision&, Isa isa) {
  return F32PixvecUkernelFor(isa).name;
}

}  // namespace

const std::vector<FcFormatDescriptor>& FcFormats() {
  static const std::vector<FcFormatDescriptor>* formats =
      new std::vector<FcFormatDescriptor>{
          {FcFormat::kBsr, &BsrAuto, &BsrForced, &BsrChoose, &BsrCreate,
           &BsrKernel, CostFamily::kFcBsr, &AddQs8Bsr, &Qs8BsrForced,
           &Qs8BsrCreate, &Qs8BsrKernel, CostFamily::kFcQs8},
          {FcFormat::kCsr, &CsrAuto, &CsrForced, &NoParameters, &CsrCreate,
           &CsrKernel, CostFamily::kFcCsr, &Qs8CsrAuto, &Qs8CsrForced,
           &Qs8CsrCreate, &Qs8CsrKernel, CostFamily::kFcQs8},
          {FcFormat::kNm, &NmAuto, &NmForced, &NmChoose, &NmCreate,
           &NmKernel, CostFamily::kFcNm, &Qs8NmAuto, &Qs8NmForced,
           &Qs8NmCreate, &Qs8NmKernel, CostFamily::kFcQs8},
          {FcFormat::kGs, &GsAuto, &GsForced, &GsChoose, &GsCreate,
           &GsKernel,
           CostFamily::kFcGs},
          {FcFormat::kVtaps, &VtapsAuto, &VtapsForced, &NoParameters,
           &VtapsCreate, &VtapsKernel,
           CostFamily::kConvVt},
          {FcFormat::kPixvec, &PixvecAuto, &PixvecForced, &NoParameters,
           &PixvecCreate, &PixvecKernel,
           CostFamily::kConvPv},
      };
  return *formats;
}

const FcFormatDescriptor* FindFcFormat(FcFormat format) {
  for (const FcFormatDescriptor& f : FcFormats()) {
    if (f.format == format) return &f;
  }
  return nullptr;
}

}  // namespace tf_sparse
