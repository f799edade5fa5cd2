"""Batch-1 LSTM speed: tf_sparse's UNIDIRECTIONAL_SEQUENCE_LSTM kernel (sparse gate weights, the
input products of all steps as one sparse GEMM before the recurrence) vs TFLite's own LSTM
kernel (the stock interpreter's built-in kernels; XNNPACK does not run LSTM).

One LSTM layer of 1024 units on 1024 inputs over 50 steps, return_sequences, batch 1, float32.
Each of the eight gate matrices ([1024, 1024] in TFLite's layout) is pruned to 90% in 16x1
blocks (16 units of one gate on one input), in 1x4 blocks, unstructured, or left dense (where the
delegate must decline). The models are built with tf_keras in a subprocess (tests/lstm_models.py).
Every timed model is first checked against the stock interpreter over several invokes (the
state carries over). Our delegate runs with its cost model ("auto"): the decision column says
what it claimed and its estimate of its cost against TFLite's kernel.

    python benchmarks/lstm_speed.py [--runs 20] [--threads 1] [--json F] [--md F]

writes benchmarks/results/lstm_speed.{json,md} unless --json / --md say otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402

import tf_sparse as tfs  # noqa: E402
from tf_sparse.runtime import make_interpreter  # noqa: E402
from tf_sparse.runtime.interpreter import interleaved_times_us  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from lstm_models import build_lstm_models  # noqa: E402

UNITS, INPUTS, STEPS = 1024, 1024, 50
ROWS = [
    ("90% in 16x1 blocks", dict(sparsity=0.9, block=(16, 1))),
    ("90% in 1x4 blocks", dict(sparsity=0.9, block=(1, 4))),
    ("90% unstructured", dict(sparsity=0.9, block=None)),
    ("dense", dict(sparsity=0.0)),
]


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def check_against_stock(ours, stock, shape, invokes=3):
    rng = np.random.default_rng(7)
    for _ in range(invokes):
        x = rng.standard_normal(shape).astype(np.float32)
        got = []
        for it in (ours, stock):
            it.set_tensor(it.get_input_details()[0]["index"], x)
            it.invoke()
            got.append(it.get_tensor(it.get_output_details()[0]["index"]))
        np.testing.assert_allclose(got[0], got[1], rtol=1e-4, atol=1e-5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    results = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    ap.add_argument("--json", default=os.path.join(results, "lstm_speed.json"), help="rows written here")
    ap.add_argument("--md", default=os.path.join(results, "lstm_speed.md"), help="table written here")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="tf_sparse_lstm_bench_")
    specs = [
        dict(name=f"row{i}", units=UNITS, inputs=INPUTS, steps=STEPS, batch=1, seed=i, **kw)
        for i, (_, kw) in enumerate(ROWS)
    ]
    paths = build_lstm_models(specs, tmp, timeout=1800)
    load = os.getloadavg()
    header = (
        f"CPU: {cpu_name()} ({os.cpu_count()} cores); delegate ISA: {tfs.delegate_isa()}; "
        f"{args.threads} thread(s); LSTM {UNITS} units, {INPUTS} inputs, {STEPS} steps, batch 1, float32; "
        f"medians of {args.runs} invokes per backend, interleaved in 5 rounds; load average "
        f"{load[0]:.2f} at start"
    )
    print(header)
    lines = [
        "| gate weights | tf_sparse ms | TFLite LSTM ms | speed-up | decision (estimate vs TFLite) | formats |",
        "|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    rows = []
    for i, (label, _) in enumerate(ROWS):
        path = paths[f"row{i}"]
        ours, delegate = make_interpreter(path, backend="tf_sparse", num_threads=args.threads)
        stock, _ = make_interpreter(path, backend="builtin", num_threads=args.threads)
        shape = list(stock.get_input_details()[0]["shape"])
        check_against_stock(ours, stock, shape)
        (entry,) = [r for r in tfs.delegate_report(delegate) if r["op"] == "UNIDIRECTIONAL_SEQUENCE_LSTM"]
        x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
        times = interleaved_times_us([ours, stock], x, runs=args.runs, warmup=1, rounds=5)
        t_ours, t_stock = (float(np.median(t)) / 1e3 for t in times)
        estimate = entry["cost_vs_dense"]
        decision = ("claimed" if entry["claimed"] else "declined") + (
            f" ({estimate:.2f})" if estimate is not None else f" ({entry['reason']})"
        )
        formats = (
            f"{entry['input_format']} + {entry['recurrent_format']}"
            if entry["input_format"] is not None
            else "-"
        )
        line = (
            f"| {label} | {t_ours:.2f} | {t_stock:.2f} | {t_stock / t_ours:.2f}x | {decision} | {formats} |"
        )
        print(line, flush=True)
        lines.append(line)
        rows.append(
            dict(
                weights=label,
                tf_sparse_ms=t_ours,
                tflite_lstm_ms=t_stock,
                speedup=t_stock / t_ours,
                claimed=entry["claimed"],
                estimate=estimate,
                input_format=entry["input_format"],
                recurrent_format=entry["recurrent_format"],
                kernel=entry["kernel"],
                sparsity=entry["sparsity"],
            )
        )
    print(f"load average {os.getloadavg()[0]:.2f} at end")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                dict(cpu=cpu_name(), threads=args.threads, units=UNITS, inputs=INPUTS, steps=STEPS, batch=1,
                     runs=args.runs, load_start=load[0], rows=rows),
                f,
                indent=1,
            )
    if args.md:
        with open(args.md, "w") as f:
            f.write("# benchmarks/lstm_speed.py, one run\n\n" + header + "\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
