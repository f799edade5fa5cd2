"""Compact files of keras.applications models with the delegate: load, claims, outputs, speed.

Each model is pruned as examples/imagenet_cnn.py prunes it (3x3 convolutions with
tfs.KernelPattern(8, 0.5, filter_block=16), 1x1 convolutions with Block(0.75, (16, 1)), the
classifier unstructured 90%), hardened, and written two ways that put every weight behind a DENSIFY
node: `tfs.export_tflite(..., compact=True)` and the stock converter with
`Optimize.EXPERIMENTAL_SPARSITY`. Each file runs on the stock interpreter (XNNPACK) and with our
delegate in the same process; prints claimed layers, DENSIFY nodes taken over, the largest output
difference relative to the output's magnitude, median latencies and the ratio.

    python benchmarks/compact_applications.py [--size 224] [--runs 20] [--models resnet50 mobilenet_v2]
"""

from __future__ import annotations

import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tf_sparse as tfs  # noqa: E402
from tf_sparse.runtime import delegate_report, make_interpreter, median_latency_us  # noqa: E402

ARCHS = {
    "resnet50": keras.applications.ResNet50,
    "mobilenet_v2": keras.applications.MobileNetV2,
}


def cpu_name():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "?"


def structure_for(layer):
    if isinstance(layer, keras.layers.Conv2D) and not isinstance(layer, keras.layers.DepthwiseConv2D):
        if layer.kernel_size == (3, 3) and layer.kernel.shape[2] >= 16:
            return tfs.KernelPattern(8, 0.5, filter_block=16)
        if layer.kernel_size == (1, 1):
            return tfs.Block(0.75, block=(16, 1))
    if isinstance(layer, keras.layers.Dense):
        return tfs.Unstructured(0.9)
    return None


def pruned(arch, size, classes):
    keras.utils.set_random_seed(0)
    model = ARCHS[arch](weights=None, input_shape=(size, size, 3), classes=classes)
    sparse = tfs.sparsify(model, structure_for)
    tfs.harden(sparse)
    return tfs.strip(sparse)


def run(path, sample, runs):
    stock, _ = make_interpreter(path, backend="xnnpack")
    ours, delegate = make_interpreter(path, backend="tf_sparse")
    outs = []
    for interpreter in (stock, ours):
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], sample)
        interpreter.invoke()
        outs.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy())
    report = delegate_report(delegate)
    claimed = [r for r in report if r["claimed"]]
    diff = float(np.max(np.abs(outs[0] - outs[1]))) / max(1e-30, float(np.max(np.abs(outs[0]))))
    t_stock = median_latency_us(stock, sample, runs=runs, warmup=3)
    t_ours = median_latency_us(ours, sample, runs=runs, warmup=3)
    densify = sum(1 for op in stock._get_ops_details() if op["op_name"] == "DENSIFY")
    return {
        "claimed": f"{len(claimed)}/{len(report)}",
        "densify": f"{sum(r.get('densify_claimed', False) for r in claimed)}/{densify}",
        "rel_diff": diff,
        "stock_ms": t_stock / 1e3,
        "ours_ms": t_ours / 1e3,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--models", nargs="+", default=list(ARCHS), choices=list(ARCHS))
    args = ap.parse_args()
    out = tempfile.mkdtemp(prefix="tf_sparse_compact_")
    print(f"CPU: {cpu_name()}; 1 thread, batch 1, {args.size}x{args.size}, median of {args.runs}")
    print("| model | file | claimed / considered | DENSIFY taken over / in file | max rel diff | XNNPACK ms | tf_sparse ms | speedup |")
    print("|---|---|---|---|---|---|---|---|")
    sample = np.random.default_rng(0).standard_normal((1, args.size, args.size, 3)).astype(np.float32)
    for arch in args.models:
        model = pruned(arch, args.size, 1000)
        files = {}
        files["tfs compact"] = os.path.join(out, f"{arch}_compact.tflite")
        tfs.export_tflite(model, files["tfs compact"], compact=True)
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        converter.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
        files["stock EXPERIMENTAL_SPARSITY"] = os.path.join(out, f"{arch}_stock_sparse.tflite")
        with open(files["stock EXPERIMENTAL_SPARSITY"], "wb") as f:
            f.write(converter.convert())
        for kind, path in files.items():
            r = run(path, sample, args.runs)
            print(f"| {arch} | {kind} ({os.path.getsize(path) / 1e6:.1f} MB) | {r['claimed']} | {r['densify']} | "
                  f"{r['rel_diff']:.1e} | {r['stock_ms']:.2f} | {r['ours_ms']:.2f} | {r['stock_ms'] / r['ours_ms']:.2f}x |",
                  flush=True)


if __name__ == "__main__":
    main()
