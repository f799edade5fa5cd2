// Whether an int8 kernel variant can run on this CPU, for the int8 kernel
// tests (each lists its variants and skips those the CPU lacks, naming why).
#ifndef TF_SPARSE_CC_TESTS_QS8_VARIANTS_H_
#define TF_SPARSE_CC_TESTS_QS8_VARIANTS_H_

#include <string>

#include "cc/kernels/dispatch.h"
#include "cc/util/cpu_features.h"

namespace tf_sparse {

// True when the variant of instruction set `isa` with (dot) or without the
// dot-product instructions runs here; else false and *why says what the CPU
// lacks. avx512_needs_vbmi: the family's AVX-512 kernel needs VBMI besides
// VNNI.
inline bool Qs8VariantRuns(Isa isa, bool dot, std::string* why,
                           bool avx512_needs_vbmi = false) {
  if (!IsaSupported(isa)) {
    *why = std::string("this CPU lacks ") + IsaName(isa);
    return false;
  }
  const CpuFeatures& f = GetCpuFeatures();
  if (dot && isa == Isa::kAvx512 &&
      !(f.avx512vnni && (!avx512_needs_vbmi || f.avx512vbmi))) {
    *why = avx512_needs_vbmi ? "this CPU lacks AVX-512 VNNI or VBMI"
                             : "this CPU lacks AVX-512 VNNI";
    return false;
  }
  if (dot && (isa == Isa::kNeon || isa == Isa::kSve) && !f.neon_dot) {
    *why = "this CPU lacks the dot product extension";
    return false;
  }
  return true;
}

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_TESTS_QS8_VARIANTS_H_
