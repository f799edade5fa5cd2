# Two commands: `make demo` and `make test`. Each installs what is missing (Debian packages,
# a project-local virtual environment with pinned Python packages), builds the delegate with
# Bazel, then runs. A second run skips what is already installed.

SHELL := /bin/bash
.DEFAULT_GOAL := demo

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .make
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
APT_PACKAGES := bazel-bootstrap bazel-platforms g++ libgtest-dev libbenchmark-dev \
	g++-aarch64-linux-gnu qemu-user gdb
BAZEL := bazel
BAZEL_FLAGS ?=
DELEGATE_SO := bazel-bin/delegate/libtf_sparse_delegate.so
# The Python tests run on two worker processes (pytest-xdist): most of their
# time is single-threaded Keras/TFLite work.
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=
# The sanitized delegate (--config=asan in .bazelrc) and gcc's sanitizer
# runtimes, which must be the first libraries a Python process loads.
ASAN_DELEGATE_SO := bazel-asan-bin/delegate/libtf_sparse_delegate.so
ASAN_RUNTIMES = $(shell g++ -print-file-name=libasan.so) $(shell g++ -print-file-name=libubsan.so)
ASAN_PYTESTS ?= tests/test_delegate*.py
SOAK_CYCLES ?= 1000

.PHONY: demo test deps apt venv delegate test-cc test-arm test-py test-asan soak bench bench-accuracy fuzz fuzz-native clean

demo: deps delegate
	$(PY) examples/demo.py

test: deps delegate test-cc test-arm test-py test-asan

deps: apt venv

# Debian packages: installed only when one is missing.
apt:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	$(PYTHON) -c "import ensurepip, venv" 2>/dev/null || missing="$$missing python3-venv python3-pip"; \
	if [ -n "$$missing" ]; then \
	  echo "apt: installing$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# The virtual environment is rebuilt when requirements.txt or setup.py change.
venv: $(STAMPS)/venv

$(STAMPS)/venv: requirements.txt setup.py
	@mkdir -p $(STAMPS)
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	@touch $@

delegate:
	$(BAZEL) build $(BAZEL_FLAGS) //delegate:libtf_sparse_delegate.so

test-cc:
	$(BAZEL) test $(BAZEL_FLAGS) //...

# The kernel tests cross-compiled for aarch64 and run under qemu-aarch64 (NEON
# kernels vs the scalar reference); skips with a message without the tools.
test-arm:
	cc/tests/arm/run.sh

test-py:
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) tests $(PYTEST_ARGS)

# The C++ tests under AddressSanitizer + UBSan, then the delegate's Python
# tests once more with the sanitized library inside the ordinary Python.
# Leak checking is on for the C++ tests and off in Python (the interpreter
# itself leaks at exit); any UBSan report aborts. --capture=sys leaves file
# descriptor 2 alone, so that a sanitizer's report reaches the log.
test-asan:
	$(BAZEL) test $(BAZEL_FLAGS) --config=asan //...
	LD_PRELOAD="$(ASAN_RUNTIMES)" ASAN_OPTIONS=detect_leaks=0 \
	  UBSAN_OPTIONS=print_stacktrace=1 TF_SPARSE_DELEGATE=$(CURDIR)/$(ASAN_DELEGATE_SO) \
	  $(PY) -m pytest -q -n $(PYTEST_WORKERS) -p no:cacheprovider --capture=sys $(ASAN_PYTESTS)

# Create and destroy interpreter + delegate SOAK_CYCLES times: resident
# memory must stay flat (tests/test_delegate_concurrency.py runs 300).
soak: deps delegate
	$(PY) benchmarks/delegate_soak.py --cycles $(SOAK_CYCLES)

bench: deps delegate
	$(PY) benchmarks/fc_speed.py
	$(PY) benchmarks/fc_rows_speed.py
	$(PY) benchmarks/conv_speed.py
	$(PY) benchmarks/dwconv_speed.py
	$(PY) benchmarks/structures_speed.py
	$(PY) benchmarks/fine_grained_speed.py
	$(PY) benchmarks/int8_speed.py
	$(PY) benchmarks/lstm_speed.py

# Accuracy benchmarks on scikit-learn's digits (training; tens of minutes on 2 cores), and the
# super-resolution one (training on bundled photographs, PSNR and 720p frame latency).
bench-accuracy: deps delegate
	$(PY) benchmarks/accuracy_digits.py
	$(PY) benchmarks/quantization_digits.py
	$(PY) benchmarks/sr_realtime.py --structures

# Model-file fuzzer (tests/fuzz/): FUZZ_CASES mutants of exported models on the stock
# interpreter and with the delegate; prints the outcome table and keeps crashing inputs in
# tests/fuzz/corpus/. Fails when a crash, wrong output or hang is the delegate's.
FUZZ_CASES ?= 5000
FUZZ_SEED ?= 1
fuzz: deps delegate
	$(PY) tests/fuzz/run_fuzz.py --cases $(FUZZ_CASES) --seed $(FUZZ_SEED) --save-corpus

# libFuzzer target for the TFLite sparse-encoding validator and decoder
# (delegate/tflite_sparsity.cc), built with clang; runs FUZZ_NATIVE_SECONDS.
FUZZ_NATIVE_SECONDS ?= 60
FUZZ_NATIVE_BIN := .fuzz_native/tflite_sparsity_fuzzer
FUZZ_APT_PACKAGES := clang libclang-rt-14-dev
fuzz-native:
	$(MAKE) apt APT_PACKAGES="$(FUZZ_APT_PACKAGES)"
	mkdir -p .fuzz_native/corpus
	clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
	  delegate/tests/tflite_sparsity_fuzzer.cc delegate/tflite_sparsity.cc cc/formats/bsr.cc \
	  -o $(FUZZ_NATIVE_BIN)
	$(FUZZ_NATIVE_BIN) -max_total_time=$(FUZZ_NATIVE_SECONDS) -max_len=512 \
	  -artifact_prefix=.fuzz_native/ .fuzz_native/corpus

clean:
	$(BAZEL) clean
	rm -rf $(STAMPS) .pytest_cache .hypothesis .fuzz_seeds .fuzz_native
