// Instruction sets, and the one rule by which every kernel family maps an
// ISA to its micro-kernel.
//
// A family lists, per ISA, the function that returns its kernel (or its
// table of kernels), null where it has none; IsaKernels::For picks:
//  - the ISA's own entry when it has one;
//  - SVE without an entry: NEON's (every aarch64 CPU with SVE has NEON);
//  - anything else: scalar (which every family has).
// Only one architecture's vector kernels are linked into a build, so the
// entries of the other one are written TF_SPARSE_X86_ONLY(f) or
// TF_SPARSE_ARM_ONLY(f), which are null there: an x86-64 build selects
// scalar for NEON and SVE, an aarch64 build scalar for AVX2 and AVX-512.
// Whether the CPU can run the ISA is dispatch.h's business, not this one's.
#ifndef TF_SPARSE_CC_KERNELS_ISA_H_
#define TF_SPARSE_CC_KERNELS_ISA_H_

namespace tf_sparse {

// Instruction sets with kernels. Within one architecture's family the
// values increase with preference (x86-64: scalar < AVX2 < AVX-512;
// aarch64: scalar < NEON < SVE); dispatch.h compares levels, not raw
// values.
enum class Isa : int {
  kScalar = 0,
  kAvx2 = 1,    // AVX2 + FMA3.
  kAvx512 = 2,  // AVX-512 F, VL, DQ, BW (+ FMA3).
  kNeon = 3,    // AArch64 Advanced SIMD (always has FMA).
  kSve = 4,     // SVE (any vector length); families (and BSR shapes)
                // without an SVE kernel use the NEON ones.
};

#if defined(__x86_64__)
#define TF_SPARSE_X86_ONLY(f) (&f)
#else
#define TF_SPARSE_X86_ONLY(f) nullptr
#endif
#if defined(__aarch64__)
#define TF_SPARSE_ARM_ONLY(f) (&f)
#else
#define TF_SPARSE_ARM_ONLY(f) nullptr
#endif

// One family's kernel getters per ISA; Fn is a function pointer type.
template <class Fn>
struct IsaKernels {
  Fn scalar;
  Fn avx2;
  Fn avx512;
  Fn neon;
  Fn sve;

  // The getter for `isa` by the rule above (never null).
  Fn For(Isa isa) const {
    Fn fn = nullptr;
    switch (isa) {
      case Isa::kAvx2:
        fn = avx2;
        break;
      case Isa::kAvx512:
        fn = avx512;
        break;
      case Isa::kNeon:
        fn = neon;
        break;
      case Isa::kSve:
        fn = sve != nullptr ? sve : neon;
        break;
      case Isa::kScalar:
        break;
    }
    return fn != nullptr ? fn : scalar;
  }
};

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_KERNELS_ISA_H_
