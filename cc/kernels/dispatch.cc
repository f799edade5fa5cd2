#include "cc/kernels/dispatch.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "cc/util/cpu_features.h"

namespace tf_sparse {
namespace {

constexpr int kNoOverride = -1;
std::atomic<int> g_override{kNoOverride};

// The cap from TF_SPARSE_ISA, read once; kNoOverride when unset or unknown.
int EnvironmentCap() {
  static const int cap = [] {
    const char* env = std::getenv("TF_SPARSE_ISA");
    Isa isa = Isa::kScalar;
    if (env != nullptr && *env != '\0' && ParseIsa(env, &isa)) {
      return static_cast<int>(isa);
    }
    return kNoOverride;
  }();
  return cap;
}

// The BSR kernel tables per ISA (isa.h); a table's last entry is its
// generic kernel.
const F32BsrUkernel* Table(Isa isa, size_t* count) {
  static const IsaKernels<const F32BsrUkernel* (*)(size_t*)> kTables = {
      &F32BsrUkernelsScalar, TF_SPARSE_X86_ONLY(F32BsrUkernelsAvx2),
      TF_SPARSE_X86_ONLY(F32BsrUkernelsAvx512),
      TF_SPARSE_ARM_ONLY(F32BsrUkernelsNeon),
      TF_SPARSE_ARM_ONLY(F32BsrUkernelsSve)};
  return kTables.For(isa)(count);
}

// Preference within an architecture's family: 0 scalar, 1 the baseline
// vector ISA (AVX2, NEON), 2 the wider one (AVX-512, SVE).
int Level(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return 0;
    case Isa::kAvx2:
    case Isa::kNeon:
      return 1;
    case Isa::kAvx512:
    case Isa::kSve:
      return 2;
  }
  return 0;
}

// `best` capped by `cap` (an Isa value or kNoOverride). A supported cap is of
// this CPU's family and lowers the level; an unsupported one (above what the
// CPU has, or another architecture's) has no effect.
Isa Cap(Isa best, int cap) {
  if (cap == kNoOverride) return best;
  const Isa c = static_cast<Isa>(cap);
  if (c == Isa::kScalar) return Isa::kScalar;
  if (!IsaSupported(c)) return best;
  return Level(c) < Level(best) ? c : best;
}

}  // namespace

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
    case Isa::kNeon:
      return "neon";
    case Isa::kSve:
      return "sve";
  }
  return "unknown";
}

bool ParseIsa(const char* name, Isa* isa) {
  if (std::strcmp(name, "scalar") == 0) {
    *isa = Isa::kScalar;
  } else if (std::strcmp(name, "avx2") == 0) {
    *isa = Isa::kAvx2;
  } else if (std::strcmp(name, "avx512") == 0) {
    *isa = Isa::kAvx512;
  } else if (std::strcmp(name, "neon") == 0) {
    *isa = Isa::kNeon;
  } else if (std::strcmp(name, "sve") == 0) {
    *isa = Isa::kSve;
  } else {
    return false;
  }
  return true;
}

bool IsaSupported(Isa isa) {
  const CpuFeatures& f = GetCpuFeatures();
  switch (isa) {
    case Isa::kScalar:
      return true;
#if defined(__x86_64__)
    case Isa::kAvx2:
      return f.HasAvx2Fma();
    case Isa::kAvx512:
      return f.HasAvx512();
#endif
#if defined(__aarch64__)
    case Isa::kNeon:
      return f.HasNeonFma();
    case Isa::kSve:
      return f.HasNeonFma() && f.sve;
#endif
    default:
      return false;
  }
}

Isa BestSupportedIsa() {
  if (IsaSupported(Isa::kAvx512)) return Isa::kAvx512;
  if (IsaSupported(Isa::kAvx2)) return Isa::kAvx2;
  if (IsaSupported(Isa::kSve)) return Isa::kSve;
  if (IsaSupported(Isa::kNeon)) return Isa::kNeon;
  return Isa::kScalar;
}

void SetIsaOverride(Isa isa) { g_override.store(static_cast<int>(isa)); }

void ClearIsaOverride() { g_override.store(kNoOverride); }

Isa ActiveIsa() {
  return Cap(Cap(BestSupportedIsa(), EnvironmentCap()), g_override.load());
}

const F32BsrUkernel& SelectF32BsrUkernel(int r, int c, Isa isa) {
  size_t count = 0;
  const F32BsrUkernel* table = Table(isa, &count);
  for (size_t i = 0; i + 1 < count; ++i) {
    if (table[i].r == r && table[i].c == c) return table[i];
  }
  // SVE has kernels only for the shapes where its gathers help; NEON
  // covers the rest (per shape, beyond isa.h's per-family rule).
  if (isa == Isa::kSve) return SelectF32BsrUkernel(r, c, Isa::kNeon);
  return table[count - 1];
}

const F32BsrUkernel& SelectF32BsrUkernel(int r, int c) {
  return SelectF32BsrUkernel(r, c, ActiveIsa());
}

bool HasSpecializedF32BsrUkernel(int r, int c, Isa isa) {
  return SelectF32BsrUkernel(r, c, isa).r != 0;
}

const Qs8BsrUkernel& SelectQs8BsrUkernel(int r, int c, Isa isa,
                                         bool use_dot_product) {
  const auto getter = SelectQs8Variant(
      isa, use_dot_product, GetCpuFeatures().avx512vnni,
      TF_SPARSE_X86_ONLY(Qs8BsrUkernelsAvx512Vnni),
      TF_SPARSE_X86_ONLY(Qs8BsrUkernelsAvx2),
      TF_SPARSE_ARM_ONLY(Qs8BsrUkernelsNeon),
      TF_SPARSE_ARM_ONLY(Qs8BsrUkernelsNeonDot), &Qs8BsrUkernelsScalar);
  size_t count = 0;
  const Qs8BsrUkernel* table = getter(&count);
  for (size_t i = 0; i < count; ++i) {
    if (table[i].r == r && table[i].c == c) return table[i];
  }
  if (table[count - 1].r == 0) return table[count - 1];
  const Qs8BsrUkernel* scalar = Qs8BsrUkernelsScalar(&count);
  return scalar[count - 1];
}

const Qs8RowGroupUkernel& SelectQs8RowGroupUkernel(Isa isa,
                                                   bool use_dot_product) {
  const CpuFeatures& f = GetCpuFeatures();
  return SelectQs8Variant(isa, use_dot_product,
                          f.avx512vnni && f.avx512vbmi,
                          TF_SPARSE_X86_ONLY(Qs8RowGroupUkernelAvx512Vbmi),
                          TF_SPARSE_X86_ONLY(Qs8RowGroupUkernelAvx2),
                          TF_SPARSE_ARM_ONLY(Qs8RowGroupUkernelNeon),
                          TF_SPARSE_ARM_ONLY(Qs8RowGroupUkernelNeonDot),
                          &Qs8RowGroupUkernelScalar)();
}

const Qs8Nm4RowGroupUkernel* SelectQs8Nm4RowGroupUkernel(
    Isa isa, bool use_dot_product) {
  if (isa == Isa::kScalar) return &Qs8Nm4RowGroupUkernelScalar();
#if defined(__x86_64__)
  const CpuFeatures& f = GetCpuFeatures();
  if (isa == Isa::kAvx512 && use_dot_product && f.avx512vnni &&
      f.avx512vbmi) {
    return &Qs8Nm4RowGroupUkernelAvx512Vbmi();
  }
#endif
  return nullptr;
}

std::string CheckClampAndIsa(float output_min, float output_max,
                             int requested_isa, Isa* isa) {
  if (!(output_min <= output_max)) {
    return "output_min must not exceed output_max";
  }
  *isa = requested_isa < 0 ? ActiveIsa() : static_cast<Isa>(requested_isa);
  if (!IsaSupported(*isa)) {
    return std::string("ISA ") + IsaName(*isa) + " is not supported here";
  }
  return "";
}

}  // namespace tf_sparse
