#include "cc/util/cpu_features.h"

#include <cstdint>

#if defined(__aarch64__)
#include <sys/auxv.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define TF_SPARSE_X86 1
#endif

namespace tf_sparse {
namespace {

#if TF_SPARSE_X86
// XCR0 read without requiring -mxsave on this translation unit.
uint64_t ReadXcr0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}
#endif

CpuFeatures Detect() {
  CpuFeatures f;
#if TF_SPARSE_X86
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return f;
  const unsigned max_leaf = eax;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool osxsave = (ecx >> 27) & 1;
  const bool avx = (ecx >> 28) & 1;
  const bool fma = (ecx >> 12) & 1;
  if (!osxsave || !avx) return f;
  const uint64_t xcr0 = ReadXcr0();
  // Bits 1 (SSE) and 2 (AVX/YMM high halves).
  const bool os_ymm = (xcr0 & 0x6) == 0x6;
  // Bits 5, 6, 7: opmask, ZMM0-15 upper halves, ZMM16-31.
  const bool os_zmm = os_ymm && (xcr0 & 0xE0) == 0xE0;
  if (!os_ymm || max_leaf < 7) return f;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  f.fma = fma;
  f.avx2 = (ebx >> 5) & 1;
  if (os_zmm) {
    f.avx512f = (ebx >> 16) & 1;
    f.avx512dq = (ebx >> 17) & 1;
    f.avx512bw = (ebx >> 30) & 1;
    f.avx512vl = (ebx >> 31) & 1;
    f.avx512vnni = (ecx >> 11) & 1;
    f.avx512vbmi = (ecx >> 1) & 1;
  }
  // AMX-INT8 (leaf 7 EDX bit 25) with the tile state enabled by the OS
  // (XCR0 bits 17 and 18).
  f.amx_int8 = ((edx >> 25) & 1) && (xcr0 & 0x60000) == 0x60000;
#endif
#if defined(__aarch64__)
  f.neon = true;
  // HWCAP_SVE, spelled out for older headers.
  constexpr unsigned long kHwcapSve = 1UL << 22;
  f.sve = (getauxval(AT_HWCAP) & kHwcapSve) != 0;
  // HWCAP_ASIMDDP, spelled out for older headers.
  constexpr unsigned long kHwcapAsimdDp = 1UL << 20;
  f.neon_dot = (getauxval(AT_HWCAP) & kHwcapAsimdDp) != 0;
#endif
  return f;
}

}  // namespace

const CpuFeatures& GetCpuFeatures() {
  static const CpuFeatures features = Detect();
  return features;
}

}  // namespace tf_sparse
