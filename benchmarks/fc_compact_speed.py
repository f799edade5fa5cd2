"""Compact (TFLite sparse encoding) FULLY_CONNECTED models: speed and file size.

For each layer shape, one Dense layer pruned to 1x4 blocks is exported twice: plainly (zeros
stored dense) and compactly (``compact=True``: TFLite's sparse encoding). In one process it
times, batch 1:

- tf_sparse on the compact file (the delegate reads TFLite's encoding directly),
- tf_sparse on the plain file (the delegate packs the zeros itself),
- TFLite's built-in sparse kernel on the compact file (no XNNPACK),
- XNNPACK dense on the plain file,

and prints medians, ratios and both file sizes.

    python benchmarks/fc_compact_speed.py [--runs 300] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import tf_sparse as tfs  # noqa: E402
from tf_sparse.runtime import make_interpreter, run  # noqa: E402

SHAPES = [(1024, 1024), (4096, 1024)]  # (in, out)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def invoke_times_us(interpreter, x, runs):
    """Wall times of `runs` invokes (input already set), in microseconds."""
    out = np.empty(runs)
    for i in range(runs):
        t0 = time.perf_counter()
        interpreter.invoke()
        out[i] = time.perf_counter() - t0
    return out * 1e6


def one_layer(in_dim, out_dim, sparsity, seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((in_dim,)), keras.layers.Dense(out_dim)])
    rng = np.random.default_rng(seed)
    kernel = rng.standard_normal((in_dim, out_dim)).astype(np.float32)
    kernel = tfs.Block(sparsity, block=(1, 4)).project(kernel)
    model.layers[0].set_weights([kernel, rng.standard_normal(out_dim).astype(np.float32)])
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--threads", type=int, nargs="+", default=[1])
    ap.add_argument("--sparsity", type=float, default=0.9)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="tf_sparse_compact_")
    print(
        f"CPU: {cpu_name()}; delegate ISA: {tfs.delegate_isa()}; batch 1; "
        f"{args.sparsity:.0%} 1x4 blocks; median of {args.runs} invokes (3 interleaved rounds)"
    )
    print(
        "| layer | threads | tf_sparse compact us | tf_sparse plain us | TFLite sparse us "
        "| XNNPACK dense us | vs TFLite sparse | vs XNNPACK | file plain -> compact KB |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for in_dim, out_dim in SHAPES:
        model = one_layer(in_dim, out_dim, args.sparsity)
        plain = os.path.join(tmp, "plain.tflite")
        compact = os.path.join(tmp, "compact.tflite")
        plain_bytes = tfs.export_tflite(model, plain)
        compact_bytes = tfs.export_tflite(model, compact, compact=True)
        x = np.random.default_rng(1).standard_normal((1, in_dim)).astype(np.float32)
        for threads in args.threads:
            ours_c, d_c = make_interpreter(compact, backend="tf_sparse", num_threads=threads)
            ours_p, d_p = make_interpreter(plain, backend="tf_sparse", num_threads=threads)
            builtin, _ = make_interpreter(compact, backend="builtin", num_threads=threads)
            xnn, _ = make_interpreter(plain, backend="xnnpack", num_threads=threads)
            assert tfs.delegate_stats(d_c)["nodes_claimed"] == 1, tfs.delegate_report(d_c)
            assert tfs.delegate_stats(d_p)["nodes_claimed"] == 1, tfs.delegate_report(d_p)
            interps = {"oc": ours_c, "op": ours_p, "bi": builtin, "xnn": xnn}
            for interp in interps.values():
                run(interp, x)  # sets the input
                invoke_times_us(interp, x, 30)  # warm-up
            # Three interleaved rounds so that drift hits every backend alike; the median is
            # over all `runs` invokes of a backend.
            times = {k: [] for k in interps}
            for r in range(3):
                n = args.runs // 3 + (1 if r < args.runs % 3 else 0)
                for k, interp in interps.items():
                    times[k].append(invoke_times_us(interp, x, n))
            t = {k: float(np.median(np.concatenate(v))) for k, v in times.items()}
            print(
                f"| FC {in_dim}->{out_dim} | {threads} | {t['oc']:.1f} | {t['op']:.1f} "
                f"| {t['bi']:.1f} | {t['xnn']:.1f} | {t['bi'] / t['oc']:.2f}x "
                f"| {t['xnn'] / t['oc']:.2f}x | {plain_bytes / 1024:.0f} -> {compact_bytes / 1024:.0f} |"
            )


if __name__ == "__main__":
    main()
