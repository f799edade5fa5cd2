#include "cc/kernels/dispatch.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "cc/util/cpu_features.h"

namespace tf_sparse {
namespace {

constexpr int kNoOverride = -1;
std::atomic<int> g_override{kNoOverride};

// The cap from TF_SPARSE_ISA, read once; kAvx512 (no cap) when unset.
Isa EnvironmentCap() {
  static const Isa cap = [] {
    const char* env = std::getenv("TF_SPARSE_ISA");
    Isa isa = Isa::kAvx512;
    if (env != nullptr && *env != '\0' && !ParseIsa(env, &isa)) {
      isa = Isa::kAvx512;
    }
    return isa;
  }();
  return cap;
}

const F32BsrUkernel* Table(Isa isa, size_t* count) {
  switch (isa) {
    case Isa::kAvx512:
      return F32BsrUkernelsAvx512(count);
    case Isa::kAvx2:
      return F32BsrUkernelsAvx2(count);
    case Isa::kScalar:
    default:
      return F32BsrUkernelsScalar(count);
  }
}

Isa MinIsa(Isa a, Isa b) {
  return static_cast<int>(a) < static_cast<int>(b) ? a : b;
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
    case Isa::kAvx2:
      return f.HasAvx2Fma();
    case Isa::kAvx512:
      return f.HasAvx512();
  }
  return false;
}

Isa BestSupportedIsa() {
  if (IsaSupported(Isa::kAvx512)) return Isa::kAvx512;
  if (IsaSupported(Isa::kAvx2)) return Isa::kAvx2;
  return Isa::kScalar;
}

void SetIsaOverride(Isa isa) { g_override.store(static_cast<int>(isa)); }

void ClearIsaOverride() { g_override.store(kNoOverride); }

Isa ActiveIsa() {
  Isa isa = MinIsa(BestSupportedIsa(), EnvironmentCap());
  const int over = g_override.load();
  if (over != kNoOverride) isa = MinIsa(isa, static_cast<Isa>(over));
  return isa;
}

const F32BsrUkernel& SelectF32BsrUkernel(int r, int c, Isa isa) {
  size_t count = 0;
  const F32BsrUkernel* table = Table(isa, &count);
  for (size_t i = 0; i + 1 < count; ++i) {
    if (table[i].r == r && table[i].c == c) return table[i];
  }
  return table[count - 1];
}

const F32BsrUkernel& SelectF32BsrUkernel(int r, int c) {
  return SelectF32BsrUkernel(r, c, ActiveIsa());
}

bool HasSpecializedF32BsrUkernel(int r, int c, Isa isa) {
  return SelectF32BsrUkernel(r, c, isa).r != 0;
}

}  // namespace tf_sparse
