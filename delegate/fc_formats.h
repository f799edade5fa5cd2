// The packed formats a FULLY_CONNECTED node can run on, one descriptor each
// (FcFormats(), in the order format "auto" evaluates them and reports its
// candidates): BSR r x c, CSR row-group quads, N:M, GS, and filter-vector
// taps and pixel-vector nonzeros for calls of many rows. AnalyzeFcNode (fc_analysis.h) asks every
// descriptor for its candidates and their estimated costs and keeps the
// cheapest; FcPartitionKernel packs the chosen one through its descriptor
// and holds it as one SparseOperator (cc/kernels/sparse_operator.h).
//
// Adding a format: an FcFormat value and its option parsing (options.h),
// its operator class (cc/kernels/), its cost estimate (fc_analysis.h) and
// one descriptor in fc_formats.cc.
#ifndef TF_SPARSE_DELEGATE_FC_FORMATS_H_
#define TF_SPARSE_DELEGATE_FC_FORMATS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cc/kernels/dispatch.h"
#include "cc/kernels/sparse_operator.h"
#include "delegate/fc_analysis.h"
#include "delegate/options.h"

namespace tf_sparse {

// The weights of a node being analysed.
struct FcWeights {
  const float* w;  // Dense [out][in] (float nodes; null for int8 ones).
  const FcNodeInfo* info;
  Isa isa;                // The active ISA.
  long long batch_rows;   // FcDecision::batch_rows.
  FcDecision* decision;   // BSR records its block candidates here.
  const int8_t* w8 = nullptr;  // Dense [out][in] (int8 nodes, w null).
};

// One candidate: its report name, estimated cost (units of
// EstimateBsrCost) and parameters (r x c, n:m, banks:e; unused: 0).
struct FcCandidate {
  std::string name;
  double cost = 0.0;
  int a = 0, b = 0;
};

struct FcFormatDescriptor {
  FcFormat format;
  // Adds the candidates format "auto" evaluates.
  void (*auto_candidates)(const FcWeights& w, std::vector<FcCandidate>* out);
  // Adds the candidates of this format forced by `options`; returns why
  // the weights do not fit it (only read when nothing was added).
  std::string (*forced_candidates)(const FcWeights& w,
                                   const DelegateOptions& options,
                                   std::vector<FcCandidate>* out);
  // Writes the chosen candidate's parameters into *d.
  void (*choose)(const FcCandidate& c, FcDecision* d);
  // Packs dense weights [out][in] as *d says; null and *error on failure.
  std::unique_ptr<SparseOperator> (*create)(const float* w,
                                            const FcNodeInfo& info,
                                            const float* bias,
                                            const FcDecision& d,
                                            std::string* error);
  // The micro-kernel that runs decision `d` on `isa`.
  const char* (*kernel_name)(const FcDecision& d, Isa isa);
  // Whose calibration factor scales every candidate's estimate
  // (delegate/calibration.h).
  CostFamily family;
  // Full-integer int8 nodes (FcNodeInfo::int8): the same three steps on
  // int8 weights, with estimates in units of one weight of XNNPACK's dense
  // int8 product; all null when the format has no int8 kernels. A forced
  // format's candidates are auto_candidates_qs8's with its parameters.
  void (*auto_candidates_qs8)(const FcWeights& w,
                              std::vector<FcCandidate>* out) = nullptr;
  std::string (*forced_candidates_qs8)(const FcWeights& w,
                                       const DelegateOptions& options,
                                       std::vector<FcCandidate>* out) = nullptr;
  std::unique_ptr<Qs8SparseOperator> (*create_qs8)(
      const int8_t* w, const FcNodeInfo& info, const int32_t* bias,
      const FcDecision& d, std::string* error) = nullptr;
  const char* (*kernel_name_qs8)(const FcDecision& d, Isa isa) = nullptr;
  CostFamily family_qs8 = CostFamily::kFcBsr;
};

const std::vector<FcFormatDescriptor>& FcFormats();
// The descriptor of `format` (null for kAuto).
const FcFormatDescriptor* FindFcFormat(FcFormat format);

}  // namespace tf_sparse

#endif  // TF_SPARSE_DELEGATE_FC_FORMATS_H_
