// Non-finite and edge values for the kernel testers: NaN/Inf/denormal
// inputs, a NaN bias or weight, all-zero weights; and the comparison that
// states what a sparse kernel must give for them.
//
// The contract: a NaN or Inf reaches an output through every stored
// (nonzero) weight that reads it, exactly as in a dense product over the
// nonzero weights only (`stored` below). A weight that is zero in the dense
// matrix may be pruned (never multiplied, so 0 * NaN is not formed) or kept
// as an explicit zero inside a block or padding (0 * NaN = NaN, as in the
// dense product over all weights, `dense` below); either is accepted.
#ifndef TF_SPARSE_CC_TESTS_SPECIAL_VALUES_H_
#define TF_SPARSE_CC_TESTS_SPECIAL_VALUES_H_

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace tf_sparse {

enum class Special {
  kNone,
  kNanInput,       // A few input elements are NaN.
  kAllNanInput,    // Every input element is NaN.
  kNanBias,        // Some bias entries are NaN.
  kNanWeight,      // One stored (nonzero) weight is NaN.
  kInfInput,       // A few input elements are +Inf or -Inf.
  kDenormalInput,  // Every input element is denormal (or zero).
  kZeroWeights,    // Every weight is zero (all blocks, rows pruned).
};

constexpr Special kAllSpecials[] = {
    Special::kNanInput,  Special::kAllNanInput,    Special::kNanBias,
    Special::kNanWeight, Special::kInfInput,       Special::kDenormalInput,
    Special::kZeroWeights};

inline const char* SpecialName(Special s) {
  switch (s) {
    case Special::kNone: return "none";
    case Special::kNanInput: return "nan_input";
    case Special::kAllNanInput: return "all_nan_input";
    case Special::kNanBias: return "nan_bias";
    case Special::kNanWeight: return "nan_weight";
    case Special::kInfInput: return "inf_input";
    case Special::kDenormalInput: return "denormal_input";
    case Special::kZeroWeights: return "zero_weights";
  }
  return "?";
}

// The fused activations: none, ReLU, ReLU6.
struct Activation {
  const char* name;
  float lo, hi;
};
constexpr Activation kActivations[] = {
    {"none", -std::numeric_limits<float>::infinity(),
     std::numeric_limits<float>::infinity()},
    {"relu", 0.0f, std::numeric_limits<float>::infinity()},
    {"relu6", 0.0f, 6.0f}};

// Applies `s` to the weights, bias and input in place (deterministic).
inline void ApplySpecial(Special s, std::vector<float>* w,
                         std::vector<float>* bias, std::vector<float>* x) {
  constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
  constexpr float kInf = std::numeric_limits<float>::infinity();
  std::mt19937 rng(1234);
  switch (s) {
    case Special::kNone:
      break;
    case Special::kNanInput:
      for (size_t i = 0; i < x->size(); i += 7 + rng() % 23) (*x)[i] = kNan;
      break;
    case Special::kAllNanInput:
      for (float& v : *x) v = kNan;
      break;
    case Special::kNanBias:
      for (size_t i = 0; i < bias->size(); i += 3) (*bias)[i] = kNan;
      break;
    case Special::kNanWeight: {
      std::vector<size_t> nonzero;
      for (size_t i = 0; i < w->size(); ++i) {
        if ((*w)[i] != 0.0f) nonzero.push_back(i);
      }
      if (!nonzero.empty()) (*w)[nonzero[rng() % nonzero.size()]] = kNan;
      break;
    }
    case Special::kInfInput: {
      bool positive = true;
      for (size_t i = 0; i < x->size(); i += 5 + rng() % 29) {
        (*x)[i] = positive ? kInf : -kInf;
        positive = !positive;
      }
      break;
    }
    case Special::kDenormalInput:
      for (float& v : *x) {
        v *= std::numeric_limits<float>::denorm_min() * 1000.0f;
      }
      break;
    case Special::kZeroWeights:
      for (float& v : *w) v = 0.0f;
      break;
  }
}

// Sum of |term| over the finite terms of a dot product, for the tolerance.
inline void AddScale(double* scale, double term) {
  if (std::isfinite(term)) *scale += std::fabs(term);
}

// `got` against `stored` (the dense product over the nonzero weights only)
// and `dense` (over all weights); see the contract at the top.
inline ::testing::AssertionResult MatchesSpecial(float got, float stored,
                                                 float dense, double tol) {
  if (std::isnan(stored)) {
    if (std::isnan(got)) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "got " << got << ", want NaN (stored weights give NaN)";
  }
  if (std::isnan(got)) {
    if (std::isnan(dense)) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "got NaN, want " << stored << " (dense " << dense << ")";
  }
  if (std::isinf(stored) || std::isinf(got)) {
    if (got == stored) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "got " << got << ", want " << stored;
  }
  if (std::fabs(static_cast<double>(got) - stored) <= tol) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "got " << got << ", want " << stored << " (tolerance " << tol
         << ")";
}

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_TESTS_SPECIAL_VALUES_H_
