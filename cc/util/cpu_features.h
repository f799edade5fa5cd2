// CPU feature detection for run-time kernel dispatch.
//
// A feature counts as present only when the CPU reports it (cpuid) AND the
// operating system saves the register state it needs (xgetbv): AVX needs the
// YMM state enabled in XCR0, AVX-512 additionally the opmask and ZMM states.
// Without the OS check a kernel could fault on a CPU that has the instructions
// but runs under an OS (or hypervisor) that does not preserve the registers.
// On aarch64, Advanced SIMD (with FMA) is architectural: always present; SVE
// is what the kernel reports in the auxiliary vector (it enables SVE state).
#ifndef TF_SPARSE_CC_UTIL_CPU_FEATURES_H_
#define TF_SPARSE_CC_UTIL_CPU_FEATURES_H_

namespace tf_sparse {

struct CpuFeatures {
  bool avx2 = false;     // AVX2 and OS-enabled YMM state.
  bool fma = false;      // FMA3.
  bool avx512f = false;  // AVX-512 F with OS-enabled opmask/ZMM state.
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512bw = false;
  bool avx512vnni = false;  // AVX-512 VNNI (vpdpbusd), with the ZMM state.
  bool avx512vbmi = false;  // AVX-512 VBMI (vpermb), with the ZMM state.
  // AMX-INT8 tile multiplies with the tile state enabled (the delegate runs
  // none; XNNPACK's int8 GEMMs do, which the cost models must know).
  bool amx_int8 = false;
  bool neon = false;  // AArch64 Advanced SIMD (FMA included).
  bool sve = false;   // SVE, as the kernel reports it (HWCAP_SVE).
  bool neon_dot = false;  // Int8 dot product (sdot/udot, HWCAP_ASIMDDP).

  // Convenience: everything the AVX2 kernels are compiled for.
  bool HasAvx2Fma() const { return avx2 && fma; }
  // Everything the AVX-512 kernels are compiled for.
  bool HasAvx512() const {
    return avx512f && avx512vl && avx512dq && avx512bw && fma;
  }
  // Everything the NEON kernels are compiled for.
  bool HasNeonFma() const { return neon; }
};

// Detects the features once and caches the answer (thread-safe).
const CpuFeatures& GetCpuFeatures();

}  // namespace tf_sparse

#endif  // TF_SPARSE_CC_UTIL_CPU_FEATURES_H_
