"""Batch-1 FULLY_CONNECTED speed: tf_sparse delegate vs XNNPACK dense vs TFLite's sparse kernel.

Every number comes from this one process and run: for each layer shape and structure it builds
a one-layer model, exports it with zeros (our delegate, XNNPACK) and in TFLite's compact sparse
encoding (TFLite's built-in sparse FC, no XNNPACK), and prints median invoke times and ratios.
Block structures come from ``tfs.Block``; unstructured, 2:4 and gather-scatter weights are built
with NumPy here (magnitude top 10%, the 2 largest |w| of every 4 inputs, a valid 16-bank GS
pattern). A structure may force a delegate format (e.g. the GS packs, ``format=gs``).

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


def unstructured(kernel, sparsity=0.9):
    """Keeps the largest (1 - sparsity) of |w|."""
    k = int(round(kernel.size * (1 - sparsity)))
    threshold = np.partition(np.abs(kernel).ravel(), kernel.size - k)[kernel.size - k]
    return np.where(np.abs(kernel) >= threshold, kernel, 0.0).astype(np.float32)


def two_of_four(kernel):
    """Keeps the 2 largest |w| of every 4 consecutive inputs of each output (kernel is [in, out])."""
    w2 = kernel.T
    groups = w2.reshape(w2.shape[0], -1, 4)
    order = np.argsort(-np.abs(groups), axis=-1)
    mask = np.zeros(groups.shape, bool)
    np.put_along_axis(mask, order[..., :2], True, axis=-1)
    return np.where(mask, groups, 0.0).reshape(w2.shape).T.astype(np.float32)


def gather_scatter(kernel, banks=16, sparsity=0.9, seed=0):
    """A valid GS pattern (e = 1) with random columns: every group of `banks` outputs gets
    P = (1 - sparsity) * in packs; each pack assigns the banks to the group's outputs by a random
    permutation, and each (output, bank) cell takes its columns in a random order, so every
    output has P non-zeros and every bank is used P times per group."""
    rng = np.random.default_rng(seed)
    w2 = kernel.T
    out_dim, in_dim = w2.shape
    slots = in_dim // banks
    packs = int(round((1 - sparsity) * in_dim))
    mask = np.zeros(w2.shape, bool)
    lanes = np.arange(banks)
    for g in range(out_dim // banks):
        order = rng.permuted(np.tile(np.arange(slots), (banks, banks, 1)), axis=-1)  # [row, bank]
        used = np.zeros((banks, banks), int)
        for _ in range(packs):
            bank = rng.permutation(banks)
            slot = order[lanes, bank, used[lanes, bank]]
            used[lanes, bank] += 1
            mask[g * banks + lanes, bank + banks * slot] = True
    return np.where(mask, w2, 0.0).T.astype(np.float32)


# name: (kernel projection, delegate options)
STRUCTURES = {
    "90% 1x4 blocks": (tfs.Block(0.9, block=(1, 4)).project, {}),
    "75% 1x4 blocks": (tfs.Block(0.75, block=(1, 4)).project, {}),
    "90% 4x1 blocks": (tfs.Block(0.9, block=(4, 1)).project, {}),
    "90% 8x1 blocks": (tfs.Block(0.9, block=(8, 1)).project, {}),
    "90% unstructured": (unstructured, {}),
    "GS 16 banks 90%": (gather_scatter, {}),
    "GS 16 banks 90%, format=gs": (gather_scatter, {"format": "gs"}),
    "N:M 2:4": (two_of_four, {}),
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


def one_layer(in_dim, out_dim, project, seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((in_dim,)), keras.layers.Dense(out_dim)])
    rng = np.random.default_rng(seed)
    kernel = project(rng.standard_normal((in_dim, out_dim)).astype(np.float32))
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
            project, options = STRUCTURES[name]
            model = one_layer(in_dim, out_dim, project)
            zeros = os.path.join(tmp, "zeros.tflite")
            compact = os.path.join(tmp, "compact.tflite")
            tfs.export_tflite(model, zeros)
            tfs.export_tflite(model, compact, compact=True)
            x = np.random.default_rng(1).standard_normal((1, in_dim)).astype(np.float32)
            for threads in args.threads:
                ours, delegate = make_interpreter(zeros, backend="tf_sparse", num_threads=threads, **options)
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
