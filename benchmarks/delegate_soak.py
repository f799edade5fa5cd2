"""Create/destroy soak of the delegate: resident memory and thread count over many cycles.

Two loops over a small pattern-pruned CONV_2D model (two claimed nodes, patdnn):

- fresh: every cycle loads a new delegate (2 threads: its pool starts a worker), builds an
  interpreter on it, allocates, invokes once, and drops both;
- shared: one delegate for the whole run, a new interpreter on it every cycle (the delegate keeps
  a record of each graph it prepared).

VmRSS and Threads come from /proc/self/status after a warm-up of 50 cycles and at the end; the
run fails (exit 1) when RSS grows by more than --max-growth-kb or threads do not return.

    python benchmarks/delegate_soak.py [--cycles 1000] [--max-growth-kb 4096]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import tf_sparse as tfs  # noqa: E402
from tf_sparse.runtime import make_interpreter  # noqa: E402
from tf_sparse.runtime.delegate import load_delegate  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from delegate_check import proc_status  # noqa: E402
from test_delegate_conv import conv_model  # noqa: E402

WARMUP = 50


def _fresh(path):
    interp, delegate = make_interpreter(path, num_threads=2, format="patdnn")
    interp.invoke()
    assert tfs.delegate_stats(delegate)["nodes_claimed"] == 2


def _shared_cycle(delegate):
    from ai_edge_litert.interpreter import Interpreter

    def cycle(path):
        interp = Interpreter(model_path=path, experimental_delegates=[delegate])
        interp.allocate_tensors()
        interp.invoke()

    return cycle


def soak(name, cycle, path, cycles):
    for _ in range(WARMUP):
        cycle(path)
    gc.collect()
    rss0, threads0, t0 = proc_status("VmRSS"), proc_status("Threads"), time.perf_counter()
    for _ in range(cycles):
        cycle(path)
    gc.collect()
    rss1, threads1 = proc_status("VmRSS"), proc_status("Threads")
    per_cycle_ms = (time.perf_counter() - t0) / cycles * 1e3
    print(
        f"{name:6s} {cycles} cycles: VmRSS {rss0} -> {rss1} kB ({rss1 - rss0:+d}), "
        f"threads {threads0} -> {threads1}, {per_cycle_ms:.2f} ms a cycle"
    )
    return rss1 - rss0, threads1 - threads0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--max-growth-kb", type=int, default=4096)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "conv.tflite")
        model = conv_model([(16, 1, "same", "relu", True), (16, 2, "valid", None, True)], (12, 12, 8), seed=3)
        tfs.export_tflite(model, path)
        shared = load_delegate(num_threads=2, format="patdnn")
        ok = True
        for name, cycle in (("fresh", _fresh), ("shared", _shared_cycle(shared))):
            growth, threads = soak(name, cycle, path, args.cycles)
            ok &= growth <= args.max_growth_kb and threads <= 0
        stats = tfs.delegate_stats(shared)
        print(f"shared delegate after the run: {stats}")
    if not ok:
        print(f"FAILED: RSS grew more than {args.max_growth_kb} kB or threads did not return")
        sys.exit(1)


if __name__ == "__main__":
    main()
