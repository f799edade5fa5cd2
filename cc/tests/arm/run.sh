#!/usr/bin/env bash
# Cross-compiles the C++ kernel, format, utility and TFLite-sparsity tests for
# aarch64 and runs them under qemu-aarch64, so the NEON kernels are checked
# against the scalar reference on an x86-64 host (the same gtest sources and
# edge shapes as `bazel test //cc/tests:... //delegate/tests:...`).
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

CXXFLAGS=(-O2 -std=c++17 -pthread -Wall -Wextra -Wno-unused-parameter
          -fno-strict-aliasing -I. -isystem "$GTEST_SRC/include")

# The library code under test: everything cc/kernels/dispatch links on
# aarch64, plus the operator, the reference and the utilities.
LIB_SRCS=(
  cc/formats/bsr.cc
  cc/kernels/dispatch.cc
  cc/kernels/f32_bsr_scalar.cc
  cc/kernels/f32_bsr_neon.cc
  cc/kernels/f32_bsr_sve.cc
  cc/kernels/f32_bsr_fully_connected.cc
  cc/kernels/f32_dense_reference.cc
  cc/util/cpu_features.cc
  cc/util/thread_pool.cc
  delegate/tflite_sparsity.cc
)
TESTS=(
  cc/tests/f32_bsr_kernels_test.cc
  cc/tests/bsr_test.cc
  cc/tests/util_test.cc
  delegate/tests/tflite_sparsity_test.cc
)

mkdir -p "$OUT/obj"

# A header of this tree changed since the last successful build: rebuild
# every project object (a coarse but safe rule for a handful of files).
headers_changed=yes
if [ -f "$OUT/.stamp" ] &&
   [ -z "$(find cc delegate -name '*.h' -newer "$OUT/.stamp" | head -1)" ]; then
  headers_changed=no
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
for src in "${LIB_SRCS[@]}" "${TESTS[@]}"; do
  obj="$OUT/obj/$(echo "${src%.cc}" | tr / _).o"
  objs+=("$obj")
  extra=()
  case "$src" in *_sve.cc) extra=(-march=armv8-a+sve) ;; esac
  start_job "$src" "$obj" yes -Werror "${extra[@]}"
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
if [ "$status" -ne 0 ]; then
  echo "test-arm: FAIL: compilation failed" >&2
  exit 1
fi
touch "$OUT/.stamp"

lib_objs=()
for src in "${LIB_SRCS[@]}"; do
  lib_objs+=("$OUT/obj/$(echo "${src%.cc}" | tr / _).o")
done

failed=()
for src in "${TESTS[@]}"; do
  name="$(basename "${src%.cc}")"
  obj="$OUT/obj/$(echo "${src%.cc}" | tr / _).o"
  bin="$OUT/$name"
  # The static link warns about gtest's unused network streaming code; show
  # the linker's output only when it fails.
  if ! "$CXX" -static -pthread -o "$bin" "$obj" "${lib_objs[@]}" \
      "$gtest_main_obj" "$gtest_obj" >"$OUT/$name.link.log" 2>&1; then
    cat "$OUT/$name.link.log" >&2
    echo "test-arm: FAIL: linking $name failed" >&2
    exit 1
  fi
  echo "test-arm: $name (aarch64, $QEMU)"
  log="$OUT/$name.log"
  # TF_SPARSE_ISA would cap the dispatcher: the tests choose ISAs themselves.
  if env -u TF_SPARSE_ISA "$QEMU" "$bin" --gtest_brief=1 "$@" >"$log" 2>&1; then
    tail -n 2 "$log"
  else
    cat "$log"
    failed+=("$name")
  fi
done

# A silently skipped NEON suite must not pass as a success.
if [ "$#" -eq 0 ] && ! grep -q "PASSED" "$OUT/f32_bsr_kernels_test.log"; then
  failed+=("f32_bsr_kernels_test (no PASSED line)")
fi
# NEON is architectural; SVE is required only of qemu's "max" CPU (the
# default here): with another QEMU_CPU its tests may skip.
required=(neon)
if [ "$QEMU_CPU" = max ]; then required+=(sve); fi
if [ "$#" -eq 0 ]; then
  for isa in "${required[@]}"; do
    skipped="$(env -u TF_SPARSE_ISA "$QEMU" "$OUT/f32_bsr_kernels_test" \
      --gtest_filter="*${isa}_*" --gtest_brief=1 2>&1 | grep -c SKIPPED || true)"
    if [ "$skipped" != "0" ]; then
      failed+=("the $isa kernel tests were skipped: dispatch does not see $isa under $QEMU (QEMU_CPU=$QEMU_CPU)")
    fi
  done
fi

if [ "${#failed[@]}" -ne 0 ]; then
  echo "test-arm: FAIL: ${failed[*]}" >&2
  exit 1
fi
echo "test-arm: all aarch64 tests passed under $QEMU"
