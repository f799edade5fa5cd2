"""Crossbar-aware pruning + device-level quantization of an MLP on scikit-learn's digits, mapped onto
memristor crossbars: mapping report and accuracy under device variation, with and without
noise-aware retraining.

    python benchmarks/memristor_digits.py [--draws 50] [--levels 16] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import tf_sparse as tfs  # noqa: E402
from tf_sparse.quantization import Device, NoiseAwareTraining, map_model, monte_carlo  # noqa: E402

SIGMAS = (0.0, 0.05, 0.1, 0.2, 0.3)


def cpu_model():
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    return next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")), "?")


def data():
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    return train_test_split(x, d.target, test_size=0.25, random_state=0, stratify=d.target)


def mlp():
    inp = keras.Input((64,))
    x = keras.layers.Dense(128, activation="relu", name="fc1")(inp)
    x = keras.layers.Dense(128, activation="relu", name="fc2")(x)
    return keras.Model(inp, keras.layers.Dense(10, name="logits")(x), name="mlp")


def compile_(model, lr):
    model.compile(keras.optimizers.Adam(lr), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])


def accuracy(model, x, y):
    return float(np.mean(np.argmax(model.predict(x, verbose=0), -1) == y))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=50)
    ap.add_argument("--levels", type=int, default=16)
    ap.add_argument("--sparsity", type=float, default=0.5)
    ap.add_argument("--noise-sigma", type=float, default=0.1, help="sigma of noise-aware retraining")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    keras.utils.set_random_seed(0)
    x_tr, x_te, y_tr, y_te = data()
    t0 = time.time()

    dense = mlp()
    compile_(dense, 1e-2)
    dense.fit(x_tr, y_tr, epochs=30, batch_size=32, verbose=0)
    dense_acc = accuracy(dense, x_te, y_te)

    device = Device(levels=args.levels, tile=(32, 32))
    sparse = tfs.sparsify(dense, tfs.Crossbar(args.sparsity, tile=(32, 32)), quantize=device.quantizer())
    compile_(sparse, 1e-2)
    sparse.fit(x_tr, y_tr, epochs=30, batch_size=32, verbose=0,
               callbacks=[tfs.ADMM(rho=1e-3, rho_factor=1.5, rho_max=1.0)])
    admm_acc = accuracy(sparse, x_te, y_te)
    tfs.harden(sparse)
    hard_acc = accuracy(sparse, x_te, y_te)
    compile_(sparse, 1e-3)
    sparse.fit(x_tr, y_tr, epochs=15, batch_size=32, verbose=0)
    retrained_acc = accuracy(sparse, x_te, y_te)

    report = map_model(sparse, device)
    # Two copies of the retrained model, each retrained 15 more epochs: without and with noise.
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "sparse.keras")
        sparse.save(path)
        clean, noisy = keras.models.load_model(path), keras.models.load_model(path)
    compile_(clean, 1e-3)
    clean.fit(x_tr, y_tr, epochs=15, batch_size=32, verbose=0)
    clean_acc = accuracy(clean, x_te, y_te)
    compile_(noisy, 1e-3)
    train_device = dataclasses.replace(device, sigma=args.noise_sigma)
    noisy.fit(x_tr, y_tr, epochs=15, batch_size=32, verbose=0, callbacks=[NoiseAwareTraining(train_device, seed=0)])
    noisy_acc = accuracy(noisy, x_te, y_te)

    rows = []
    for sigma in SIGMAS:
        d = dataclasses.replace(device, sigma=sigma)
        t = time.time()
        plain = monte_carlo(clean, x_te, y_te, d, draws=args.draws, seed=1)
        aware = monte_carlo(noisy, x_te, y_te, d, draws=args.draws, seed=1)
        rows.append((sigma, plain, aware, time.time() - t))

    lines = [
        f"CPU: {cpu_model()}; MLP 64-128-128-10 on digits (1347 train / 450 test), Crossbar({args.sparsity}, "
        f"tile=(32, 32)) on every layer, DeviceLevels({args.levels}); {args.draws} draws per sigma",
        "",
        f"accuracy: dense {dense_acc:.4f}, after ADMM {admm_acc:.4f}, hardened {hard_acc:.4f}, "
        f"retrained {retrained_acc:.4f}; +15 epochs: clean {clean_acc:.4f}, noise-aware (sigma {args.noise_sigma:g}) {noisy_acc:.4f}",
        "",
        report.table(),
        "",
        "| sigma | +15 clean epochs: mean +- std (min) | +15 noise-aware epochs: mean +- std (min) | seconds |",
        "|---|---|---|---|",
    ]
    for sigma, plain, aware, sec in rows:
        lines.append(f"| {sigma:g} | {plain.mean:.4f} +- {plain.std:.4f} ({plain.accuracies.min():.4f}) "
                     f"| {aware.mean:.4f} +- {aware.std:.4f} ({aware.accuracies.min():.4f}) | {sec:.1f} |")
    lines.append("")
    lines.append(f"total {time.time() - t0:.0f} s")
    text = "\n".join(lines)
    print(text)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "memristor_digits.md"), "w") as f:
            f.write(text + "\n")
        with open(os.path.join(args.out, "memristor_digits.json"), "w") as f:
            json.dump({"report": report.to_dict(),
                       "monte_carlo": [{"sigma": s, "retrained": p.to_dict(), "noise_aware": a.to_dict()}
                                       for s, p, a, _ in rows]}, f, indent=1, default=float)


if __name__ == "__main__":
    main()
