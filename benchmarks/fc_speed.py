"""Batch-1 FULLY_CONNECTED speed: tf_sparse delegate vs XNNPACK dense vs TFLite's sparse kernel.

Every number comes from this one process and run: for each layer shape and structure it builds
a one-layer model, exports it with zeros (our delegate, XNNPACK) and in TFLite's compact sparse
encoding (TFLite's built-in sparse FC, no XNNPACK), and prints median invoke times and ratios.

    python benchmarks/fc_speed.py [--runs 300] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import tf_sparse as tfs  # noqa: E402
from tf_sparse.runtime import make_interpreter, median_latency_us  # noqa: E402

SHAPES = [(1024, 1024), (4096, 1024)]  # (in, out)
STRUCTURES = {
    "90% 1x4 blocks": tfs.Block(0.9, block=(1, 4)),
    "75% 1x4 blocks": tfs.Block(0.75, block=(1, 4)),
    "90% 4x1 blocks": tfs.Block(0.9, block=(4, 1)),
    "90% 8x1 blocks": tfs.Block(0.9, block=(8, 1)),
}


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def one_layer(in_dim, out_dim, structure, seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((in_dim,)), keras.layers.Dense(out_dim)])
    rng = np.random.default_rng(seed)
    kernel = structure.project(rng.standard_normal((in_dim, out_dim)).astype(np.float32))
    model.layers[0].set_weights([kernel, rng.standard_normal(out_dim).astype(np.float32)])
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--structures", nargs="+", default=list(STRUCTURES))
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="tf_sparse_bench_")
    print(f"CPU: {cpu_name()}; delegate ISA: {tfs.delegate_isa()}; batch 1; median of {args.runs} invokes")
    print("| layer | structure | threads | tf_sparse us | XNNPACK dense us | TFLite sparse us | vs XNNPACK | vs TFLite sparse | format |")
    print("|---|---|---|---|---|---|---|---|---|")
    for in_dim, out_dim in SHAPES:
        for name in args.structures:
            model = one_layer(in_dim, out_dim, STRUCTURES[name])
            zeros = os.path.join(tmp, "zeros.tflite")
            compact = os.path.join(tmp, "compact.tflite")
            tfs.export_tflite(model, zeros)
            tfs.export_tflite(model, compact, compact=True)
            x = np.random.default_rng(1).standard_normal((1, in_dim)).astype(np.float32)
            for threads in args.threads:
                ours, delegate = make_interpreter(zeros, backend="tf_sparse", num_threads=threads)
                xnn, _ = make_interpreter(zeros, backend="xnnpack", num_threads=threads)
                builtin, _ = make_interpreter(compact, backend="builtin", num_threads=threads)
                # interleave the measurements so that drift hits every backend alike
                t_ours, t_xnn, t_bi = [], [], []
                for _ in range(3):
                    t_ours.append(median_latency_us(ours, x, runs=args.runs // 3 + 1))
                    t_xnn.append(median_latency_us(xnn, x, runs=args.runs // 3 + 1))
                    t_bi.append(median_latency_us(builtin, x, runs=args.runs // 3 + 1))
                a, b, c = np.median(t_ours), np.median(t_xnn), np.median(t_bi)
                report = [r for r in tfs.delegate_report(delegate) if r["claimed"]]
                fmt = report[0]["format"] if report else "declined"
                print(f"| FC {in_dim}->{out_dim} | {name} | {threads} | {a:.1f} | {b:.1f} | {c:.1f} | "
                      f"{b / a:.2f}x | {c / a:.2f}x | {fmt} |")


if __name__ == "__main__":
    main()
