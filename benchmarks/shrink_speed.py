"""Filter pruning that shrinks the model: XNNPACK latency of the masked model vs ``tfs.shrink``.

For each model (keras.applications, random weights with random batch-norm statistics and biases
so that pruned channels are non-zero constants to fold), ``tfs.prune_filter_groups`` zeroes the
weakest filters of every coupled group (the same indices across residual branches), giving the
*masked* model: same shapes, zero filters. ``tfs.shrink`` then removes them. Both are exported to
float32 TFLite and timed on the stock interpreter with XNNPACK (1 thread unless asked), medians
of interleaved invokes in this one process; the shrunk model's outputs are checked against the
masked model's (Keras and TFLite) before timing.

    python benchmarks/shrink_speed.py [--runs 30] [--threads 1] [--models resnet50,mobilenetv2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import tf_sparse as tfs  # noqa: E402
from fc_speed import cpu_name  # noqa: E402
from tf_sparse.runtime import interleaved_latency_us, make_interpreter, run  # noqa: E402

# name: (constructor, input size, fraction of filters removed per coupled group, target speed-up)
MODELS = {
    "resnet50": (keras.applications.ResNet50, 224, 0.5, 1.7),
    "mobilenetv2": (keras.applications.MobileNetV2, 224, 0.3, 1.3),
}


def randomize(model, size, seed=0):
    """Random biases, gamma and beta; batch-norm statistics of a random batch (so that the
    outputs depend on the input and the equality check means something)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for v in layer.weights:
            leaf = v.path.split("/")[-1]
            if leaf in ("bias", "beta"):
                v.assign(rng.uniform(-0.1, 0.1, v.shape).astype("float32"))
            elif leaf == "gamma":
                v.assign(rng.uniform(0.5, 1.5, v.shape).astype("float32"))
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.momentum = 0.0
    model(rng.uniform(-1, 1, (4, size, size, 3)).astype("float32"), training=True)
    for bn, m in zip(bns, momenta):
        bn.momentum = m


def load():
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
    except OSError:
        return "?"


def bench(key, runs, threads, tmp):
    ctor, size, ratio, target = MODELS[key]
    keras.utils.set_random_seed(0)
    model = ctor(weights=None, input_shape=(size, size, 3), classifier_activation=None)
    randomize(model, size)
    pruned = tfs.prune_filter_groups(model, ratio)
    t0 = time.time()
    small, report = tfs.shrink(model, report=True)
    shrink_s = time.time() - t0
    xs = np.random.default_rng(1).uniform(-1, 1, (2, size, size, 3)).astype("float32")
    x = xs[:1]
    y_masked = np.asarray(model(xs, training=False))
    y_small = np.asarray(small(xs, training=False))
    # Errors relative to the part of the output that depends on the input.
    scale = float(np.abs(y_masked[0] - y_masked[1]).max())
    keras_err = float(np.abs(y_masked - y_small).max()) / scale
    paths = {}
    for name, m in (("masked", model), ("shrunk", small)):
        paths[name] = os.path.join(tmp, f"{key}_{name}.tflite")
        tfs.export_tflite(m, paths[name])
    interps = [make_interpreter(paths[n], backend="xnnpack", num_threads=threads)[0] for n in ("masked", "shrunk")]
    outs = [run(i, x) for i in interps]
    tflite_err = float(np.abs(outs[0] - outs[1]).max()) / scale
    if keras_err > 1e-3 or tflite_err > 1e-3:
        raise SystemExit(f"{key}: the shrunk model's outputs differ (Keras {keras_err:.2e}, TFLite {tflite_err:.2e})")
    load_before = load()
    t_masked, t_small = interleaved_latency_us(interps, x, runs=runs, warmup=2, rounds=5)
    return {
        "model": key, "input": size, "filters_removed_per_group": ratio, "groups_pruned": len(pruned),
        "params_masked": report.params_before, "params_shrunk": report.params_after,
        "macs_masked": report.macs_before, "macs_shrunk": report.macs_after,
        "tflite_mb_masked": os.path.getsize(paths["masked"]) / 1e6,
        "tflite_mb_shrunk": os.path.getsize(paths["shrunk"]) / 1e6,
        "latency_us_masked": t_masked, "latency_us_shrunk": t_small, "speedup": t_masked / t_small,
        "target_speedup": target, "max_rel_err_keras": keras_err, "max_rel_err_tflite": tflite_err,
        "shrink_seconds": shrink_s, "threads": threads, "runs": runs, "load_avg_1min": load_before,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = ap.parse_args()
    keys = [k.strip() for k in args.models.split(",") if k.strip()]
    for k in keys:
        if k not in MODELS:
            raise SystemExit(f"--models: unknown model {k!r}; choose from {sorted(MODELS)}")
    cpu = cpu_name()
    print(f"CPU: {cpu}; {args.threads} thread(s); XNNPACK (stock ai_edge_litert interpreter); float32; batch 1; "
          f"medians of {args.runs} interleaved invokes; load average {load()}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in keys:
            r = bench(k, args.runs, args.threads, tmp)
            rows.append(r)
            print(f"{k} {r['input']}x{r['input']}, {r['filters_removed_per_group']:.0%} of filters per group: "
                  f"params {r['params_masked']:,} -> {r['params_shrunk']:,}, MACs {r['macs_masked']:,} -> "
                  f"{r['macs_shrunk']:,}, XNNPACK {r['latency_us_masked'] / 1e3:.1f} ms -> "
                  f"{r['latency_us_shrunk'] / 1e3:.1f} ms = {r['speedup']:.2f}x (target {r['target_speedup']}x), "
                  f"max rel. error TFLite {r['max_rel_err_tflite']:.1e}, Keras {r['max_rel_err_keras']:.1e}",
                  flush=True)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "shrink_speed.json"), "w") as f:
        json.dump({"cpu": cpu, "threads": args.threads, "runs": args.runs, "rows": rows}, f, indent=1)
    lines = [
        "# benchmarks/shrink_speed.py, one run", "",
        f"CPU model: {cpu}; {args.threads} thread(s); stock ai_edge_litert interpreter with XNNPACK, float32, "
        f"batch 1; medians of {args.runs} interleaved invokes per model (masked and shrunk alternated). "
        "Masked = `tfs.prune_filter_groups` (zero filters, same shapes); shrunk = `tfs.shrink` of it. Outputs "
        "checked equal before timing (max error relative to the output's input-dependent part, "
        "TFLite masked vs shrunk, Keras masked vs shrunk; 0 in TFLite: removing exact-zero terms leaves "
        "XNNPACK's sums bit-identical when no constant had to be folded). Random weights and batch-norm "
        "statistics (keras.applications, weights=None).", "",
        "| model | input | filters removed per group | params masked | params shrunk | MACs masked | MACs shrunk "
        "| XNNPACK masked ms | XNNPACK shrunk ms | speed-up | target | max rel. err TFLite | max rel. err Keras "
        "| load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['input']} | {r['filters_removed_per_group']:.0%} | {r['params_masked']:,} | "
            f"{r['params_shrunk']:,} | {r['macs_masked'] / 1e6:,.0f}M | {r['macs_shrunk'] / 1e6:,.0f}M | "
            f"{r['latency_us_masked'] / 1e3:.1f} | {r['latency_us_shrunk'] / 1e3:.1f} | {r['speedup']:.2f}x | "
            f"{r['target_speedup']}x | {r['max_rel_err_tflite']:.1e} | {r['max_rel_err_keras']:.1e} | "
            f"{r['load_avg_1min']} |")
    with open(os.path.join(args.out, "shrink_speed.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
