"""Batch-1 3x3 CONV_2D speed: tf_sparse (PatDNN FKW or filter-vector taps, as the delegate picks)
vs XNNPACK dense vs TFLite's built-in kernels.

Every number comes from this one process and run. Each layer is pruned two ways, both to a density
of 4/9 * 1/2 = 0.22:
  - per kernel, like PatDNN: every 3x3 kernel keeps the centre and 3 of its other 8 taps, chosen
    from a library of 8 patterns, and the weaker half of the kernels (by L2 norm) is removed (the
    delegate picks FKW: 16-filter blocks keep most taps, so VT would run nearly dense);
  - per block of 16 filters: tfs.KernelPattern(8, connectivity=0.5, filter_block=16), the 16
    kernels of a block at one input channel share one pattern or are removed together (the
    delegate picks VT: one vector FMA per kept (block, channel, tap) and pixel).
The model is exported with zeros (our delegate, format=auto; XNNPACK runs it dense) and in TFLite's
compact sparse encoding (TFLite's built-in kernels, which densify it, no XNNPACK). Prints median
invoke times, ratios, the format the delegate claimed the layer with, and the roofline: useful
flops per second against this core's AVX-512 FMA peak.

    python benchmarks/conv_speed.py [--runs 300] [--threads 1 2] [--ghz 2.6]
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
from test_delegate_conv import pattern_prune  # noqa: E402

# (kernel, size, in, out, structures)
LAYERS = [
    (3, 56, 64, 64, ("kernel", "block16")),
    (3, 28, 128, 128, ("kernel", "block16")),
    # ResNet-50 bottleneck 1x1 convolutions.
    (1, 56, 64, 256, ("pointwise75",)),
    (1, 56, 256, 64, ("pointwise75",)),
    (1, 28, 512, 128, ("pointwise75",)),
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


STRUCTURES = {
    "kernel": "4-of-9 patterns (8) + half the kernels",
    "block16": "4-of-9 patterns (8) per 16-filter block + half the kernels (KernelPattern filter_block=16)",
    "pointwise75": "75% of the (16 filters x 1 channel) blocks removed (Block(0.75, block=(16, 1)))",
}


def one_conv(size, cin, cout, structure, seed=0, k=3):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((size, size, cin)), keras.layers.Conv2D(cout, k, padding="same")])
    rng = np.random.default_rng(seed)
    kernel = rng.standard_normal((k, k, cin, cout)).astype(np.float32)
    if structure == "kernel":
        kernel = pattern_prune(kernel, rng)
    elif structure == "pointwise75":
        kernel = np.asarray(tfs.Block(0.75, block=(16, 1)).project(kernel), np.float32)
    else:
        pattern = tfs.KernelPattern(num_patterns=8, connectivity=0.5, filter_block=16).fit_library([kernel])
        kernel = np.asarray(pattern.project(kernel), np.float32)
    model.layers[0].set_weights([kernel, rng.standard_normal(cout).astype(np.float32)])
    return model, kernel


def packed_kb(kernel, fmt):
    """Bytes of the packed weights the delegate runs (FKW: cc/formats/patdnn.h; VT: 16 weights, an
    int32 offset and a tap byte per kept (16-filter block, channel, tap), f32_conv3x3_vtaps.h)."""
    cin, cout = kernel.shape[2], kernel.shape[3]
    if fmt == "vtaps":
        blocks = -(-cout // 16)
        taps = kernel.shape[0] * kernel.shape[1]
        padded = np.zeros((taps, cin, blocks * 16), bool)
        padded[:, :, :cout] = kernel.reshape(taps, cin, cout) != 0
        pairs = int(np.count_nonzero(padded.reshape(taps, cin, blocks, 16).any(axis=3)))
        return (pairs * (4 * 16 + 4 + 1) + 4 * (blocks + 1) + 4 * 16 * blocks) / 1024
    nnzk = int(np.count_nonzero(np.abs(kernel).sum(axis=(0, 1))))
    return (4 * (cout + cout + 1 + nnzk + cout * 9) + 16 * nnzk) / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--ghz", type=float, default=None, help="core clock for the roofline (default: /proc)")
    args = ap.parse_args()
    ghz = args.ghz
    if ghz is None:
        with open("/proc/cpuinfo") as f:
            mhz = [float(line.split(":")[1]) for line in f if line.startswith("cpu MHz")]
        ghz = mhz[0] / 1000 if mhz else 2.6
    nominal_peak = 2 * 16 * 2 * ghz  # GFLOP/s: 2 FMA pipes x 16 float lanes x 2 flops, one core
    tmp = tempfile.mkdtemp(prefix="tf_sparse_conv_bench_")
    print(f"CPU: {cpu_name()} ({os.cpu_count()} cores, {ghz:.2f} GHz nominal); delegate ISA: "
          f"{tfs.delegate_isa()}; batch 1; float32; median of {args.runs} invokes after warm-up")
    print()
    print("| layer | structure | threads | format | tf_sparse us | XNNPACK dense us | TFLite builtin (compact) us "
          "| vs XNNPACK | vs builtin | useful GFLOP/s ours | dense GFLOP/s XNNPACK | estimated cost vs dense "
          "| kernel |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    notes = []
    best_xnn = 0.0
    for k, size, cin, cout, structures in LAYERS:
        for structure in structures:
            label = STRUCTURES[structure]
            model, kernel = one_conv(size, cin, cout, structure, k=k)
            density = np.count_nonzero(kernel) / kernel.size
            zeros = os.path.join(tmp, "zeros.tflite")
            compact = os.path.join(tmp, "compact.tflite")
            tfs.export_tflite(model, zeros)
            tfs.export_tflite(model, compact, compact=True)
            x = np.random.default_rng(1).standard_normal((1, size, size, cin)).astype(np.float32)
            dense_flops = 2.0 * size * size * cout * cin * k * k
            useful_flops = dense_flops * density
            fmt = None
            for threads in args.threads:
                ours, delegate = make_interpreter(zeros, backend="tf_sparse", num_threads=threads)
                xnn, _ = make_interpreter(zeros, backend="xnnpack", num_threads=threads)
                builtin, _ = make_interpreter(compact, backend="builtin", num_threads=threads)
                # Interleaved, so that drift and neighbours' load hit every backend alike.
                t_ours, t_xnn, t_bi = [], [], []
                for _ in range(3):
                    t_ours.append(median_latency_us(ours, x, runs=args.runs // 3 + 1))
                    t_xnn.append(median_latency_us(xnn, x, runs=args.runs // 3 + 1))
                    t_bi.append(median_latency_us(builtin, x, runs=max(args.runs // 15, 5)))
                a, b, c = np.median(t_ours), np.median(t_xnn), np.median(t_bi)
                report = [r for r in tfs.delegate_report(delegate) if r["op"] == "CONV_2D"]
                claimed = bool(report) and report[0]["claimed"]
                kern = report[0]["kernel"] if claimed else "declined"
                fmt = report[0]["format"] if claimed else "declined"
                est = report[0]["cost_vs_dense"] if report else None
                g_ours = useful_flops / a / 1e3
                g_xnn = dense_flops / b / 1e3
                if threads == 1:
                    best_xnn = max(best_xnn, g_xnn)
                est_text = f"{est:.2f}" if est is not None else "-"
                print(f"| Conv {k}x{k} {size}x{size}x{cin}->{cout} | {label}, density {density:.3f} | {threads} | "
                      f"{fmt} | {a:.0f} | {b:.0f} | {c:.0f} | {b / a:.2f}x | {c / a:.2f}x | "
                      f"{g_ours:.0f} | {g_xnn:.0f} | {est_text} | {kern} |")
            if fmt in ("patdnn", "vtaps"):
                notes.append(
                    f"- {size}x{size}x{cin}->{cout}, {structure}: {fmt} weights {packed_kb(kernel, fmt):.0f} KB "
                    f"(dense {kernel.nbytes / 1024:.0f} KB); input {x.nbytes / 1024:.0f} KB, output "
                    f"{4 * size * size * cout / 1024:.0f} KB; useful work {useful_flops / 1e6:.0f} MFLOP of "
                    f"{dense_flops / 1e6:.0f} dense")
    peak = max(nominal_peak, best_xnn)
    print()
    print(f"Roofline, one core: AVX-512 FMA peak {nominal_peak:.0f} GFLOP/s at the nominal {ghz:.2f} GHz; "
          f"XNNPACK's dense rate ({best_xnn:.0f} GFLOP/s) shows the core runs above it, so the peak is at "
          f"least {peak:.0f} GFLOP/s. Everything here fits in L2 (1 MiB/core) or L3; no layer is bound by DRAM.")
    for line in notes:
        print(line)


if __name__ == "__main__":
    main()
