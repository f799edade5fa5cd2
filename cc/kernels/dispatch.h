// The one place that chooses the ISA by CPU; isa.h maps an ISA to each
// family's micro-kernel.
//
// The active ISA is the best one the CPU (and OS) supports, capped by the
// environment variable TF_SPARSE_ISA (scalar, avx2, avx512, neon or sve; read
// once) and by SetIsaOverride (for tests). A cap above what the CPU supports,
// or of another architecture, has no effect: an unsupported kernel is never
// selected. x86-64 builds link the AVX2/AVX-512 kernels, aarch64 builds the
// NEON and SVE ones.
#ifndef TF_SPARSE_CC_KERNELS_DISPATCH_H_
#define TF_SPARSE_CC_KERNELS_DISPATCH_H_

#include <string>

#include "cc/kernels/f32_bsr_ukernel.h"
#include "cc/kernels/qs8_bsr_ukernel.h"
#include "cc/kernels/qs8_row_group_ukernel.h"
#include "cc/util/cpu_features.h"

namespace tf_sparse {

const char* IsaName(Isa isa);
// Parses "scalar", "avx2", "avx512", "neon" or "sve"; returns false
// otherwise.
bool ParseIsa(const char* name, Isa* isa);

// Whether this CPU/OS can run kernels of `isa`.
bool IsaSupported(Isa isa);
// The best supported ISA, ignoring caps.
Isa BestSupportedIsa();

// Caps the ISA for subsequent selections; ClearIsaOverride removes the cap.
void SetIsaOverride(Isa isa);
void ClearIsaOverride();
// The ISA kernels are selected for now: min(best supported, caps).
Isa ActiveIsa();

// What every sparse operator's Create checks besides its shape: the clamp
// is ordered and `requested_isa` (an Isa value, or negative for the active
// ISA) runs here. Returns an empty string and sets *isa, or what is wrong.
std::string CheckClampAndIsa(float output_min, float output_max,
                             int requested_isa, Isa* isa);

// The kernel for r x c blocks on `isa` (which must be supported): the
// specialised one if the table has it, else the generic one.
const F32BsrUkernel& SelectF32BsrUkernel(int r, int c, Isa isa);
// Same for the active ISA.
const F32BsrUkernel& SelectF32BsrUkernel(int r, int c);
// Whether `isa` has a kernel specialised for r x c blocks.
bool HasSpecializedF32BsrUkernel(int r, int c, Isa isa);

// The int8 kernel for r x c blocks on `isa` (which must be supported). On
// AVX-512 it is the VNNI kernel when the CPU has VNNI, else AVX2's; on NEON
// (and SVE) the sdot kernel when the CPU has the dot product extension.
// use_dot_product = false forces the kernels without dot product
// instructions (AVX2's, plain NEON), for tests and comparisons. Shapes
// without a vector kernel get the scalar generic one.
const Qs8BsrUkernel& SelectQs8BsrUkernel(int r, int c, Isa isa,
                                         bool use_dot_product = true);

// The variant of an int8 kernel family for `isa` (which must be supported),
// the rule every int8 family follows: on AVX-512 its AVX-512 variant when
// `avx512_usable` (the CPU features that variant needs) and
// use_dot_product, else AVX2's; on NEON (and SVE) the dot-product variant
// when the CPU has the extension and use_dot_product, else plain NEON's;
// `scalar` for kScalar and wherever the variant is absent (null: the other
// architecture's, written TF_SPARSE_X86_ONLY / TF_SPARSE_ARM_ONLY). Getter
// is whatever the family's variants are reached through.
// Getter is deduced from `scalar` only: the other variants may be null.
template <class Getter>
struct Qs8VariantOf {
  using type = Getter;
};
template <class Getter>
Getter SelectQs8Variant(Isa isa, bool use_dot_product, bool avx512_usable,
                        typename Qs8VariantOf<Getter>::type avx512,
                        typename Qs8VariantOf<Getter>::type avx2,
                        typename Qs8VariantOf<Getter>::type neon,
                        typename Qs8VariantOf<Getter>::type neon_dot,
                        Getter scalar) {
  Getter getter = nullptr;
  switch (isa) {
    case Isa::kScalar:
      break;
    case Isa::kAvx512:
      if (use_dot_product && avx512_usable) {
        getter = avx512;
        break;
      }
      [[fallthrough]];
    case Isa::kAvx2:
      getter = avx2;
      break;
    case Isa::kNeon:
    case Isa::kSve:
      getter = use_dot_product && GetCpuFeatures().neon_dot ? neon_dot : neon;
      break;
  }
  return getter != nullptr ? getter : scalar;
}

// The int8 row-group kernel for `isa` (which must be supported): on AVX-512
// the VBMI + VNNI kernel when the CPU has both, else AVX2's (vpermb has no
// cheap stand-in on AVX-512 without VBMI); on NEON (and SVE) the sdot
// kernel when the CPU has the dot product extension. use_dot_product =
// false forces AVX2's and plain NEON's, as for SelectQs8BsrUkernel.
const Qs8RowGroupUkernel& SelectQs8RowGroupUkernel(Isa isa,
                                                   bool use_dot_product = true);
// The kernel of the N:4 layout (Qs8Nm4RowGroupMatrix) for `isa`, or null
// when `isa` has none (only AVX-512 VBMI + VNNI and scalar have one; the
// others run N:4 weights in the windows layout).
const Qs8Nm4RowGroupUkernel* SelectQs8Nm4RowGroupUkernel(
    Isa isa, bool use_dot_product = true);

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_DISPATCH_H_
