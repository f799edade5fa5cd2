#!/usr/bin/env bash
# Cross-compiles the C++ library (kernels, formats, utilities, delegate: every
# source an aarch64 build compiles) and all its gtests for aarch64, checks
# that the delegate's shared library links, and runs the tests under
# qemu-aarch64, so the NEON (and SVE) kernels and the scalar fallbacks are
# checked against the scalar reference on an x86-64 host (the same gtest
# sources and edge shapes as `bazel test //cc/tests/... //delegate/tests/...`).
#
# GoogleTest itself is compiled from Debian's sources (/usr/src/googletest,
# package googletest, pulled in by libgtest-dev): the installed libgtest.a is
# for the host only. Objects are cached in build/arm and rebuilt when their
# sources change.
#
# Exit status: 0 when every test passed, or when the cross compiler or
# qemu-aarch64 is missing (a SKIP line says which); non-zero on any failure.
#
# Usage: cc/tests/arm/run.sh [extra gtest flags, e.g. --gtest_filter=...]
# Environment: CXX_AARCH64 (default aarch64-linux-gnu-g++), QEMU_AARCH64
# (default qemu-aarch64), QEMU_CPU (default max: NEON and SVE; with a CPU
# without SVE the SVE tests skip), GTEST_SRC (default
# /usr/src/googletest/googletest), ARM_BUILD_DIR (default build/arm), JOBS
# (default: nproc).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$ROOT"

CXX="${CXX_AARCH64:-aarch64-linux-gnu-g++}"
QEMU="${QEMU_AARCH64:-qemu-aarch64}"
# An emulated CPU with every extension qemu has, SVE included.
export QEMU_CPU="${QEMU_CPU:-max}"
# Tests that time things (the cost-model calibration) measure once and skip
# their repeated measurements under emulation, where timings mean nothing
# and run ~50x slower.
export TF_SPARSE_EMULATED=1
# Which nodes the delegate claims must not depend on timings (and emulated
# ones would make every kernel look slow): the static cost models, as in
# the host tests (.bazelrc); calibration_test sets its modes explicitly.
export TF_SPARSE_CALIBRATION=off
GTEST_SRC="${GTEST_SRC:-/usr/src/googletest/googletest}"
OUT="${ARM_BUILD_DIR:-build/arm}"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"

if ! command -v "$CXX" >/dev/null 2>&1; then
  echo "test-arm: SKIP: cross compiler '$CXX' not found (apt-get install g++-aarch64-linux-gnu)"
  exit 0
fi
if ! command -v "$QEMU" >/dev/null 2>&1; then
  echo "test-arm: SKIP: '$QEMU' not found (apt-get install qemu-user)"
  exit 0
fi
if [ ! -f "$GTEST_SRC/src/gtest-all.cc" ]; then
  echo "test-arm: ERROR: GoogleTest sources not found in $GTEST_SRC" \
       "(apt-get install googletest, or set GTEST_SRC)" >&2
  exit 1
fi

# -fPIC: the same objects also link the delegate's shared library.
CXXFLAGS=(-O2 -std=c++17 -pthread -fPIC -Wall -Wextra -Wno-unused-parameter
          -fno-strict-aliasing -I. -isystem "$GTEST_SRC/include")

# The library: every source of the kernels, formats, utilities and the
# delegate that an aarch64 build compiles, i.e. all but the x86-64 ISA files
# (*_avx2.cc, *_avx512.cc). Globbing keeps the arm build honest: a new
# source that does not compile for aarch64 fails here.
LIB_SRCS=()
for src in cc/formats/*.cc cc/kernels/*.cc cc/util/*.cc delegate/*.cc; do
  case "$src" in *_avx2.cc | *_avx512*.cc) continue ;; esac
  LIB_SRCS+=("$src")
done
# Test support linked into every test.
SUPPORT_SRCS=(delegate/tests/fake_graph.cc)
TESTS=(cc/tests/*_test.cc delegate/tests/*_test.cc)
# Tests that run once per ISA: the NEON (and, on qemu's max CPU, SVE) cases
# must run, not skip or vanish.
ISA_TESTS=(f32_bsr_kernels_test f32_csr_nm_gs_test f32_conv_patdnn_test
           f32_dwconv3x3_sparse_test f32_conv3x3_vtaps_test
           f32_conv_pixvec_test qs8_bsr_kernels_test qs8_row_group_test
           qs8_conv_pixvec_test qs8_conv3x3_pattern_test)

mkdir -p "$OUT/obj"

# A header of this tree changed since the last successful build: rebuild
# every project object (a coarse but safe rule for a handful of files).
headers_changed=yes
if [ -f "$OUT/.stamp" ] &&
   [ -z "$(find cc delegate -name '*.h' -newer "$OUT/.stamp" | head -1)" ]; then
  headers_changed=no
fi
# Other compiler or flags than the cached objects were built with: rebuild
# them all.
flags="$("$CXX" --version | head -1) ${CXXFLAGS[*]}"
if [ ! -f "$OUT/.flags" ] || [ "$(cat "$OUT/.flags")" != "$flags" ]; then
  rm -f "$OUT"/obj/*.o
  echo "$flags" >"$OUT/.flags"
fi

# compile SRC OBJ USES_PROJECT_HEADERS [flags...]: skipped when OBJ is newer
# than SRC (and, for project sources, no header changed).
compile() {
  local src="$1" obj="$2" project="$3"; shift 3
  if [ -f "$obj" ] && [ "$obj" -nt "$src" ] &&
     { [ "$project" = no ] || [ "$headers_changed" = no ]; }; then
    return 0
  fi
  "$CXX" "${CXXFLAGS[@]}" "$@" -c "$src" -o "$obj"
}

pids=()
objs=()
status=0
start_job() {
  compile "$@" &
  pids+=($!)
  if [ "${#pids[@]}" -ge "$JOBS" ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
}

gtest_obj="$OUT/obj/gtest-all.o"
gtest_main_obj="$OUT/obj/gtest_main.o"
start_job "$GTEST_SRC/src/gtest-all.cc" "$gtest_obj" no -I"$GTEST_SRC"
start_job "$GTEST_SRC/src/gtest_main.cc" "$gtest_main_obj" no -I"$GTEST_SRC"
for src in "${LIB_SRCS[@]}" "${SUPPORT_SRCS[@]}" "${TESTS[@]}"; do
  obj="$OUT/obj/$(echo "${src%.cc}" | tr / _).o"
  objs+=("$obj")
  extra=()
  case "$src" in
    *_sve.cc) extra=(-march=armv8-a+sve) ;;
    *_neondot.cc) extra=(-march=armv8.2-a+dotprod) ;;
  esac
  start_job "$src" "$obj" yes -Werror "${extra[@]}"
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
if [ "$status" -ne 0 ]; then
  echo "test-arm: FAIL: compilation failed" >&2
  exit 1
fi
touch "$OUT/.stamp"

obj_of() { echo "$OUT/obj/$(echo "${1%.cc}" | tr / _).o"; }
lib_objs=()
for src in "${LIB_SRCS[@]}"; do lib_objs+=("$(obj_of "$src")"); done
support_objs=()
for src in "${SUPPORT_SRCS[@]}"; do support_objs+=("$(obj_of "$src")"); done

# The delegate library links for aarch64 with nothing undefined (what
# `bazel build //delegate:libtf_sparse_delegate.so` checks on an arm host).
so="$OUT/libtf_sparse_delegate.so"
if ! "$CXX" -shared -pthread -o "$so" "${lib_objs[@]}" \
    -Wl,--version-script=delegate/exports.lds -Wl,--no-undefined \
    >"$OUT/libtf_sparse_delegate.link.log" 2>&1; then
  cat "$OUT/libtf_sparse_delegate.link.log" >&2
  echo "test-arm: FAIL: linking the aarch64 delegate library failed" >&2
  exit 1
fi
echo "test-arm: $(basename "$so") links for aarch64 (${#lib_objs[@]} sources)"

failed=()
for src in "${TESTS[@]}"; do
  name="$(basename "${src%.cc}")"
  obj="$(obj_of "$src")"
  bin="$OUT/$name"
  # The static link warns about gtest's unused network streaming code; show
  # the linker's output only when it fails.
  if ! "$CXX" -static -pthread -o "$bin" "$obj" "${lib_objs[@]}" \
      "${support_objs[@]}" "$gtest_main_obj" "$gtest_obj" >"$OUT/$name.link.log" 2>&1; then
    cat "$OUT/$name.link.log" >&2
    echo "test-arm: FAIL: linking $name failed" >&2
    exit 1
  fi
  echo "test-arm: $name (aarch64, $QEMU)"
  log="$OUT/$name.log"
  # TF_SPARSE_ISA would cap the dispatcher: the tests choose ISAs themselves.
  # The full log names every case that ran: the ISA check below reads it.
  if env -u TF_SPARSE_ISA "$QEMU" "$bin" "$@" >"$log" 2>&1; then
    grep -E '^\[==========\] [0-9]+ tests? from .* ran|^\[  (PASSED  |SKIPPED )\] [0-9]+ test' \
      "$log" | sed 's/, listed below://'
  else
    cat "$log"
    failed+=("$name")
  fi
done

# A silently skipped NEON suite must not pass as a success: each per-ISA
# suite must list and run (not skip) cases of every required ISA.
# NEON is architectural; SVE is required only of qemu's "max" CPU (the
# default here): with another QEMU_CPU its tests may skip.
required=(neon)
if [ "$QEMU_CPU" = max ]; then required+=(sve); fi
if [ "$#" -eq 0 ]; then
  for name in "${ISA_TESTS[@]}"; do
    if ! grep -q "PASSED" "$OUT/$name.log"; then
      failed+=("$name (no PASSED line)")
      continue
    fi
    for isa in "${required[@]}"; do
      # Parameterised names end in /<isa> or /<isa>_<shape>.
      listed="$(grep -cE "^\[       OK \] [^ ]*/${isa}(_[^ ]*)? \(" \
        "$OUT/$name.log" || true)"
      skipped="$(grep -cE "^\[  SKIPPED \] [^ ]*/${isa}(_[^ ]*)? " \
        "$OUT/$name.log" || true)"
      if [ "$listed" = "0" ] || [ "$skipped" != "0" ]; then
        failed+=("the $isa cases of $name did not all run ($listed passed, $skipped skipped; QEMU_CPU=$QEMU_CPU)")
      fi
    done
  done
fi

# SVE kernels are vector-length agnostic: run their cases again at the
# shortest length (128 bits; "max" defaults to 512), where B lanes span
# several vectors and predicates cut the last one.
if [ "$#" -eq 0 ] && [ "$QEMU_CPU" = max ]; then
  for name in "${ISA_TESTS[@]}"; do
    log="$OUT/$name.sve128.log"
    if env -u TF_SPARSE_ISA QEMU_CPU=max,sve-default-vector-length=16 \
        "$QEMU" "$OUT/$name" --gtest_filter='*/sve:*/sve_*' \
        --gtest_brief=1 >"$log" 2>&1; then
      echo "test-arm: $name, SVE cases at 128-bit vectors:" \
        "$(grep -E '^\[  PASSED  \]' "$log")"
    else
      cat "$log"
      failed+=("$name (SVE at 128-bit vectors)")
    fi
  done
fi

if [ "${#failed[@]}" -ne 0 ]; then
  echo "test-arm: FAIL: ${failed[*]}" >&2
  exit 1
fi
echo "test-arm: all aarch64 tests passed under $QEMU"
