"""Batch-1 3x3 DEPTHWISE_CONV_2D speed: tf_sparse (channel-vector taps, DWT) vs XNNPACK dense vs
TFLite's built-in kernels.

Every number comes from this one process and run. Layers are MobileNet's depthwise shapes at
strides 1 and 2. Every kept 3x3 kernel keeps 4 taps (the centre and 3 others) from a library of 8
patterns, assigned two ways:

- per channel: each channel takes its own best pattern (what KernelPattern does on a depthwise
  layer). Neighbouring channels differ, so a vector of 16 (AVX-512) channels keeps the union of
  their taps, close to all 9;
- per vector: each block of 16 consecutive channels shares the pattern of largest summed energy,
  so each vector keeps exactly 4 taps.

and 0% or 50% of the channels pruned (whole 3x3 kernels, by L2 norm; per vector: whole blocks of
16). Our delegate runs with format=dwtaps (claimed whatever its cost model says, so every row is
timed); the "auto" column says what the cost model decides. The model is exported with zeros:
our delegate and XNNPACK run it from the same file, TFLite's built-in kernels without XNNPACK.

    python benchmarks/dwconv_speed.py [--runs 200] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import tf_sparse as tfs  # noqa: E402
from tf_sparse.runtime import make_interpreter, median_latency_us  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from test_delegate_depthwise import prune_depthwise  # noqa: E402

# (input size, channels): MobileNet v1/v2 depthwise layers.
LAYERS = [(112, 32), (56, 128), (28, 256), (14, 512)]
STRUCTURES = [("per channel", 0.0), ("per channel", 0.5), ("per vector", 0.0), ("per vector", 0.5)]


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def one_dwconv(size, channels, stride, grouping, pruned, seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.Input((size, size, channels)), keras.layers.DepthwiseConv2D(3, strides=stride, padding="same")]
    )
    rng = np.random.default_rng(seed)
    kernel = rng.standard_normal((3, 3, channels, 1)).astype(np.float32)
    kernel = prune_depthwise(kernel, rng, group=16 if grouping == "per vector" else 1, channel_prune=pruned)
    model.layers[0].set_weights([kernel, rng.standard_normal(channels).astype(np.float32)])
    return model, kernel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--threads", type=int, nargs="+", default=[1])
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="tf_sparse_dwconv_bench_")
    print(f"CPU: {cpu_name()} ({os.cpu_count()} cores); delegate ISA: {tfs.delegate_isa()}; batch 1; "
          f"float32; median of {args.runs} invokes after warm-up, backends interleaved")
    print()
    print("| layer | stride | patterns | channels pruned | threads | executed taps / 9 | tf_sparse us "
          "| XNNPACK dense us | TFLite builtin us | vs XNNPACK | vs builtin | auto decision |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for size, channels in LAYERS:
        for stride in (1, 2):
            for grouping, pruned in STRUCTURES:
                model, kernel = one_dwconv(size, channels, stride, grouping, pruned)
                path = os.path.join(tmp, "dw.tflite")
                tfs.export_tflite(model, path)
                x = np.random.default_rng(1).standard_normal((1, size, size, channels)).astype(np.float32)
                for threads in args.threads:
                    ours, delegate = make_interpreter(path, backend="tf_sparse", num_threads=threads,
                                                      format="dwtaps")
                    _, auto = make_interpreter(path, backend="tf_sparse", num_threads=threads)
                    xnn, _ = make_interpreter(path, backend="xnnpack", num_threads=threads)
                    builtin, _ = make_interpreter(path, backend="builtin", num_threads=threads)
                    t_ours, t_xnn, t_bi = [], [], []
                    for _ in range(3):
                        t_ours.append(median_latency_us(ours, x, runs=args.runs // 3 + 1))
                        t_xnn.append(median_latency_us(xnn, x, runs=args.runs // 3 + 1))
                        t_bi.append(median_latency_us(builtin, x, runs=max(args.runs // 10, 5)))
                    a, b, c = np.median(t_ours), np.median(t_xnn), np.median(t_bi)
                    (entry,) = [r for r in tfs.delegate_report(delegate) if r["op"] == "DEPTHWISE_CONV_2D"]
                    (decision,) = [r for r in tfs.delegate_report(auto) if r["op"] == "DEPTHWISE_CONV_2D"]
                    verdict = (f"claimed ({decision['cost_vs_dense']:.2f})" if decision["claimed"]
                               else f"declined ({decision['cost_vs_dense']:.2f})")
                    print(f"| {size}x{size}x{channels} | {stride} | 4-of-9 {grouping} | {pruned:.0%} | {threads} "
                          f"| {9 * entry['executed_tap_fraction']:.2f} | {a:.1f} | {b:.1f} | {c:.1f} "
                          f"| {b / a:.2f}x | {c / a:.2f}x | {verdict} |", flush=True)


if __name__ == "__main__":
    main()
