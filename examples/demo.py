"""End-to-end demo: train an MLP on scikit-learn's digits, prune it to 90% with 1x4 blocks,
export it to TFLite and run it with the tf_sparse delegate.

Prints dense vs sparse accuracy, the sparsity of each layer, the `.tflite` sizes and the median
batch-1 latency of the pruned model with our delegate, with XNNPACK (dense kernels) and with
TFLite's built-in sparse FULLY_CONNECTED kernel, all measured in this run; then the same pruned
model as a full-integer int8 file, with our delegate and with XNNPACK's int8 kernels.

    python examples/demo.py [--epochs 20] [--sparsity 0.9] [--threads 1] [--runs 300]
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
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import tf_sparse as tfs  # noqa: E402
from tf_sparse.runtime import make_interpreter, median_latency_us, predict  # noqa: E402


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def build_mlp(hidden):
    inp = keras.Input((64,), name="pixels")
    x = inp
    for i, units in enumerate(hidden):
        x = keras.layers.Dense(units, activation="relu", name=f"hidden{i + 1}")(x)
    out = keras.layers.Dense(10, name="logits")(x)
    return keras.Model(inp, out, name="digits_mlp")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=20, help="dense training epochs")
    ap.add_argument("--prune-epochs", type=int, default=20, help="pruning + fine-tuning epochs")
    ap.add_argument("--sparsity", type=float, default=0.9)
    ap.add_argument("--hidden", type=int, nargs="+", default=[1024, 1024])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="directory for the .tflite files")
    args = ap.parse_args()

    keras.utils.set_random_seed(args.seed)
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)

    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    print(f"digits: {len(x_train)} train / {len(x_test)} test images; MLP 64-{'-'.join(map(str, args.hidden))}-10")
    model = build_mlp(args.hidden)
    model.compile(keras.optimizers.Adam(1e-3), loss, metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=args.epochs, verbose=0)
    dense_acc = model.evaluate(x_test, y_test, verbose=0)[1]

    # Gradual pruning of the hidden layers (the classifier stays dense) with the cubic schedule.
    steps_per_epoch = int(np.ceil(len(x_train) / 32))
    end = steps_per_epoch * max(1, args.prune_epochs * 2 // 3)
    schedule = tfs.PolynomialDecay(0.0, args.sparsity, begin_step=0, end_step=end, frequency=steps_per_epoch // 3)
    structure = tfs.Block(args.sparsity, block=(1, 4))
    sparse = tfs.sparsify(model, {"default": structure, "logits": None}, schedule=schedule)
    sparse.compile(keras.optimizers.Adam(5e-4), loss, metrics=["accuracy"])
    sparse.fit(x_train, y_train, batch_size=32, epochs=args.prune_epochs, callbacks=[tfs.UpdateMasks()], verbose=0)
    sparse_acc = sparse.evaluate(x_test, y_test, verbose=0)[1]
    deploy = tfs.strip(sparse)

    out_dir = args.out or tempfile.mkdtemp(prefix="tf_sparse_demo_")
    paths = {
        k: os.path.join(out_dir, f"{k}.tflite")
        for k in ("dense", "pruned", "pruned_compact", "pruned_int8", "pruned_int8_compact")
    }
    sizes = {
        "dense": tfs.export_tflite(model, paths["dense"]),
        "pruned": tfs.export_tflite(deploy, paths["pruned"]),
        "pruned_compact": tfs.export_tflite(deploy, paths["pruned_compact"], compact=True),
        # Full-integer int8 (activations calibrated on training digits; float input and output).
        "pruned_int8": tfs.export_tflite(deploy, paths["pruned_int8"], int8=True, representative_data=x_train[:256]),
        "pruned_int8_compact": tfs.export_tflite(
            deploy, paths["pruned_int8_compact"], compact=True, int8=True, representative_data=x_train[:256]
        ),
    }

    ours, delegate = make_interpreter(paths["pruned"], backend="tf_sparse", num_threads=args.threads)
    ours_compact, _ = make_interpreter(paths["pruned_compact"], backend="tf_sparse", num_threads=args.threads)
    xnn, _ = make_interpreter(paths["pruned"], backend="xnnpack", num_threads=args.threads)
    builtin, _ = make_interpreter(paths["pruned_compact"], backend="builtin", num_threads=args.threads)
    xnn_dense, _ = make_interpreter(paths["dense"], backend="xnnpack", num_threads=args.threads)

    logits_ours = predict(ours, x_test, batch_size=len(x_test))
    logits_ref = predict(xnn, x_test, batch_size=len(x_test))
    tflite_acc = float(np.mean(np.argmax(logits_ours, 1) == y_test))
    max_diff = float(np.max(np.abs(logits_ours - logits_ref)))
    compact_acc = float(np.mean(np.argmax(predict(ours_compact, x_test, batch_size=len(x_test)), 1) == y_test))

    ours_int8, delegate_int8 = make_interpreter(paths["pruned_int8"], backend="tf_sparse", num_threads=args.threads)
    xnn_int8, _ = make_interpreter(paths["pruned_int8"], backend="xnnpack", num_threads=args.threads)
    builtin_int8, _ = make_interpreter(paths["pruned_int8_compact"], backend="builtin", num_threads=args.threads)
    int8_acc = float(np.mean(np.argmax(predict(ours_int8, x_test, batch_size=len(x_test)), 1) == y_test))
    xnn_int8_acc = float(np.mean(np.argmax(predict(xnn_int8, x_test, batch_size=len(x_test)), 1) == y_test))

    sample = x_test[:1]
    lat = {
        "tf_sparse delegate (pruned)": median_latency_us(ours, sample, runs=args.runs),
        "tf_sparse delegate (compact file)": median_latency_us(ours_compact, sample, runs=args.runs),
        "XNNPACK dense kernels (pruned)": median_latency_us(xnn, sample, runs=args.runs),
        "TFLite built-in sparse FC (compact)": median_latency_us(builtin, sample, runs=args.runs),
        "XNNPACK (unpruned model)": median_latency_us(xnn_dense, sample, runs=args.runs),
    }
    lat_int8 = {
        "tf_sparse delegate (pruned, int8)": median_latency_us(ours_int8, sample, runs=args.runs),
        "XNNPACK int8 kernels (pruned, int8)": median_latency_us(xnn_int8, sample, runs=args.runs),
        "TFLite built-in int8 kernels (compact int8)": median_latency_us(builtin_int8, sample, runs=args.runs),
    }
    stats = tfs.delegate_stats(delegate)
    report = tfs.delegate_report(delegate)

    print()
    print("## Accuracy (digits test set)")
    print("| model | accuracy |")
    print("|---|---|")
    print(f"| dense Keras | {dense_acc:.4f} |")
    print(f"| pruned Keras ({args.sparsity:.0%} 1x4 blocks) | {sparse_acc:.4f} |")
    print(f"| pruned .tflite with tf_sparse delegate | {tflite_acc:.4f} (max abs logit diff vs stock {max_diff:.2e}) |")
    print(f"| compact .tflite with tf_sparse delegate | {compact_acc:.4f} |")
    print(f"| int8 .tflite with tf_sparse delegate | {int8_acc:.4f} (stock XNNPACK int8: {xnn_int8_acc:.4f}) |")
    print()
    print("## Sparsity per layer")
    print("| layer | kernel | sparsity |")
    print("|---|---|---|")
    for layer in deploy.layers[1:]:
        kernel = layer.get_weights()[0]
        print(f"| {layer.name} | {kernel.shape[0]}x{kernel.shape[1]} | {tfs.kernel_sparsity(kernel):.4f} |")
    print()
    print("## .tflite size")
    print("| file | bytes |")
    print("|---|---|")
    for k, v in sizes.items():
        print(f"| {k} | {v:,} |")
    print()
    print(f"## Latency, batch 1, {args.threads} thread(s), median of {args.runs} invokes")
    print(f"CPU: {cpu_name()}; delegate ISA: {tfs.delegate_isa()}; "
          f"delegate claimed {stats['nodes_claimed']} node(s): "
          + ", ".join(f"{r['shape'][0]}x{r['shape'][1]} {r.get('format', '')}" for r in report if r["claimed"]))
    base = lat["XNNPACK dense kernels (pruned)"]
    print("| backend | median us | speedup vs XNNPACK |")
    print("|---|---|---|")
    for k, v in lat.items():
        print(f"| {k} | {v:.1f} | {base / v:.2f}x |")
    print()
    claimed8 = [r for r in tfs.delegate_report(delegate_int8) if r["claimed"]]
    print("int8 file: delegate claimed " + (", ".join(f"{r['shape'][0]}x{r['shape'][1]} {r['format']}" for r in claimed8)
                                             or "nothing (XNNPACK's int8 kernels are estimated faster)"))
    base8 = lat_int8["XNNPACK int8 kernels (pruned, int8)"]
    print("| backend (int8 file) | median us | speedup vs XNNPACK int8 | speedup vs XNNPACK float |")
    print("|---|---|---|---|")
    for k, v in lat_int8.items():
        print(f"| {k} | {v:.1f} | {base8 / v:.2f}x | {base / v:.2f}x |")


if __name__ == "__main__":
    main()
