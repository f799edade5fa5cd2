"""Whole-model batch-1 latency of a GNMT-style LSTM encoder-decoder with attention, block-pruned.

The architecture of examples/gnmt.py (a bidirectional first encoder layer, residual LSTM stacks,
additive attention from the bottom decoder layer, the context fed to the layers above, a softmax
projection) at ``--layers`` x ``--units`` (GNMT: 4 + 4 layers of 1024 units here), source and target
of ``--length`` tokens, teacher-forced. Every LSTM kernel (input and recurrent), the attention
projections and the softmax projection are pruned to ``--sparsity`` in blocks of 16 consecutive
output units (``tfs.Block(s, block=(16, 1))``) with ``tfs.sparsify`` + ``tfs.harden`` (magnitude,
no training: latency does not depend on the values), stripped and exported; then the same file
runs with the tf_sparse delegate (XNNPACK takes what it declines) and with the stock interpreter
(TFLite's own LSTM kernel; XNNPACK runs the rest), interleaved, on 1 thread. Outputs are checked
against each other first. A dense copy of the model shows that the delegate declines dense
weights (ratio ~1).

    python benchmarks/gnmt_speed.py [--layers 4] [--units 1024] [--vocab 8000] [--length 50] [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "examples"))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import tf_sparse as tfs  # noqa: E402
from fc_speed import cpu_name  # noqa: E402
from gnmt import gnmt, synthetic  # noqa: E402
from tf_sparse.runtime import delegate_vs_xnnpack  # noqa: E402


def measure(model, sample, tmp, name, threads, runs):
    path = os.path.join(tmp, f"{name}.tflite")
    t0 = time.time()
    tfs.export_tflite(model, path)
    export_s = time.time() - t0
    cmp = delegate_vs_xnnpack(path, sample, num_threads=threads, runs=runs)
    ops = {}
    for r in cmp["report"]:
        ops.setdefault(r.get("op", "?"), [0, 0])[0 if r["claimed"] else 1] += 1
    return {
        "case": name,
        "ours_ms": cmp["latency_ours_ms"],
        "stock_ms": cmp["latency_xnnpack_ms"],
        "speedup": cmp["speedup"],
        "claimed": cmp["claimed_nodes"],
        "considered": cmp["considered_nodes"],
        "claimed_declined_by_op": ops,
        "formats": cmp["formats"],
        "max_rel_diff": cmp["max_rel_diff"],
        "file_mb": os.path.getsize(path) / 1e6,
        "export_s": export_s,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--units", type=int, default=1024)
    ap.add_argument("--vocab", type=int, default=8000)
    ap.add_argument("--length", type=int, default=50)
    ap.add_argument("--sparsity", type=float, default=0.9)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args(argv)
    keras.utils.set_random_seed(0)
    model = gnmt(args.vocab, args.vocab, args.length, args.length, args.layers, args.units)
    source, target = synthetic(1, args.vocab, args.length, args.length, 0)
    sample = {"source": source, "target_in": target[:, :-1]}
    block = tfs.Block(args.sparsity, block=(16, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sparse = tfs.sparsify(model, {keras.layers.LSTM: block, "attention_*": block, "softmax_projection": block})
    tfs.harden(sparse)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(measure(tfs.strip(sparse), sample, tmp, f"{args.sparsity:.0%} 16x1 blocks", args.threads, args.runs))
        rows.append(measure(model, sample, tmp, "dense", args.threads, args.runs))
    cpu = cpu_name()
    lines = [
        f"# GNMT-style encoder-decoder, {args.layers}+{args.layers} LSTM layers x {args.units} units, "
        f"vocabulary {args.vocab}, source/target {args.length} tokens, batch 1",
        "",
        f"CPU: {cpu}; {args.threads} thread(s); medians of {args.runs} interleaved invokes. Baseline: the stock "
        "interpreter on the same file (TFLite's LSTM kernel, XNNPACK for the rest).",
        "",
        "| weights | tf_sparse delegate (ms) | stock (ms) | speedup | claimed / considered | formats | max rel diff |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['case']} | {r['ours_ms']:.1f} | {r['stock_ms']:.1f} | {r['speedup']:.2f}x | "
                     f"{r['claimed']} / {r['considered']} | {', '.join(r['formats']) or '-'} | {r['max_rel_diff']:.1e} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "gnmt_speed.md"), "w") as f:
            f.write(text + "\n")
        with open(os.path.join(args.out, "gnmt_speed.json"), "w") as f:
            json.dump({"cpu": cpu, "threads": args.threads, "args": vars(args), "rows": rows}, f, indent=1)
    return rows


if __name__ == "__main__":
    main()
