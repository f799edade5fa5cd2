"""Per-ISA kernel targets: the compiler flags and the architecture of each ISA
in one place (the C++ side of the same rule is cc/kernels/isa.h).

isa_kernel_library(name, isa, srcs, deps) is a cc_library compiled for `isa`
("scalar", "avx2", "avx512", "avx512vnni", "avx512vbmi", "neon", "neondot",
"sve"), skipped by `bazel build //...` on the other architecture
(target_compatible_with).
isa_kernel_deps(prefix, isas) selects the targets prefix + "_" + isa of the
build's architecture among `isas`.

cc/tests/arm/run.sh does not read these files: it compiles every source but
*_avx2.cc and *_avx512*.cc for aarch64, and sets -march=armv8-a+sve for the
SVE files and -march=armv8.2-a+dotprod for the dot product ones through the
same file-name convention (*_sve.cc, *_neondot.cc).
"""

# GCC's own intrinsics headers trip -Wmaybe-uninitialized when widening
# registers.
_X86_WARNINGS = ["-Wno-maybe-uninitialized"]

ISA_COPTS = {
    "scalar": [],
    "avx2": ["-mavx2", "-mfma"] + _X86_WARNINGS,
    "avx512": [
        "-mavx512f",
        "-mavx512vl",
        "-mavx512dq",
        "-mavx512bw",
        "-mfma",
    ] + _X86_WARNINGS,
    # AVX-512 plus VNNI (vpdpbusd): selected only when cpuid reports it.
    "avx512vnni": [
        "-mavx512f",
        "-mavx512vl",
        "-mavx512dq",
        "-mavx512bw",
        "-mavx512vnni",
        "-mfma",
    ] + _X86_WARNINGS,
    # AVX-512 VNNI plus VBMI (vpermb): selected only when cpuid reports both.
    "avx512vbmi": [
        "-mavx512f",
        "-mavx512vl",
        "-mavx512dq",
        "-mavx512bw",
        "-mavx512vnni",
        "-mavx512vbmi",
        "-mfma",
    ] + _X86_WARNINGS,
    # Advanced SIMD is baseline on aarch64: no extra flags.
    "neon": [],
    # Dot product extension (sdot): selected only with HWCAP_ASIMDDP.
    "neondot": ["-march=armv8.2-a+dotprod"],
    "sve": ["-march=armv8-a+sve"],
}

_ISA_CPU = {
    "scalar": None,
    "avx2": "@platforms//cpu:x86_64",
    "avx512": "@platforms//cpu:x86_64",
    "avx512vnni": "@platforms//cpu:x86_64",
    "avx512vbmi": "@platforms//cpu:x86_64",
    "neon": "@platforms//cpu:aarch64",
    "neondot": "@platforms//cpu:aarch64",
    "sve": "@platforms//cpu:aarch64",
}

def isa_kernel_library(name, isa, srcs, deps = [], **kwargs):
    if isa not in ISA_COPTS:
        fail("isa_kernel_library %s: isa must be one of %s, not %r" %
             (name, ", ".join(ISA_COPTS.keys()), isa))
    cpu = _ISA_CPU[isa]
    native.cc_library(
        name = name,
        srcs = srcs,
        copts = ISA_COPTS[isa] + kwargs.pop("copts", []),
        target_compatible_with = [cpu] if cpu else [],
        deps = deps,
        **kwargs
    )

def isa_kernel_deps(prefix, isas):
    """The targets prefix_<isa> of this build's architecture among `isas`."""
    arm = [prefix + "_" + i for i in isas if _ISA_CPU.get(i) == "@platforms//cpu:aarch64"]
    x86 = [prefix + "_" + i for i in isas if _ISA_CPU.get(i) == "@platforms//cpu:x86_64"]
    return select({
        ":aarch64": arm,
        "//conditions:default": x86,
    })
