"""Crossbar-aware pruning + device-level quantization of an MLP on scikit-learn's digits, mapped onto
memristor crossbars: mapping report and accuracy under device variation, with and without
noise-aware retraining.

    python benchmarks/memristor_digits.py [--seeds 0 1 2] [--draws 50] [--noise-sigma 0.1] [--out benchmarks/results]
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


def run(seed, args):
    """Dense training, ADMM (crossbar pruning + device levels), hardening, retraining, then two
    copies retrained 15 more epochs, without and with device noise; Monte Carlo of both."""
    keras.utils.set_random_seed(seed)
    x_tr, x_te, y_tr, y_te = data()
    acc = {}
    dense = mlp()
    compile_(dense, 1e-2)
    dense.fit(x_tr, y_tr, epochs=30, batch_size=32, verbose=0)
    acc["dense"] = accuracy(dense, x_te, y_te)

    device = Device(levels=args.levels, tile=(32, 32))
    sparse = tfs.sparsify(dense, tfs.Crossbar(args.sparsity, tile=(32, 32), single_sign=args.single_sign), quantize=device.quantizer())
    compile_(sparse, 1e-2)
    sparse.fit(x_tr, y_tr, epochs=30, batch_size=32, verbose=0,
               callbacks=[tfs.ADMM(rho=1e-3, rho_factor=1.5, rho_max=1.0)])
    acc["admm"] = accuracy(sparse, x_te, y_te)
    tfs.harden(sparse)
    acc["hardened"] = accuracy(sparse, x_te, y_te)
    compile_(sparse, 1e-3)
    sparse.fit(x_tr, y_tr, epochs=15, batch_size=32, verbose=0)
    acc["retrained"] = accuracy(sparse, x_te, y_te)
    report = map_model(sparse, device)

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "sparse.keras")
        sparse.save(path)
        clean, noisy = keras.models.load_model(path), keras.models.load_model(path)
    compile_(clean, 1e-3)
    clean.fit(x_tr, y_tr, epochs=15, batch_size=32, verbose=0)
    acc["clean"] = accuracy(clean, x_te, y_te)
    compile_(noisy, 1e-3)
    train_device = dataclasses.replace(device, sigma=args.noise_sigma)
    noisy.fit(x_tr, y_tr, epochs=15, batch_size=32, verbose=0,
              callbacks=[NoiseAwareTraining(train_device, seed=seed)])
    acc["noise_aware"] = accuracy(noisy, x_te, y_te)

    def moved(model):  # fraction of programmed weights whose level the extra epochs changed
        changed = total = 0
        for a, b in zip(tfs.sparse_layers(sparse), tfs.sparse_layers(model)):
            ca, cb = a.quantized_codes()[0], b.quantized_codes()[0]
            keep = keras.ops.convert_to_numpy(a.mask) != 0
            changed += int(np.count_nonzero((ca != cb) & keep))
            total += int(np.count_nonzero(keep))
        return changed / total

    acc["levels_moved_clean"], acc["levels_moved_noise_aware"] = moved(clean), moved(noisy)
    mc = []
    for sigma in args.sigmas:
        d = dataclasses.replace(device, sigma=sigma)
        mc.append((sigma, monte_carlo(clean, x_te, y_te, d, draws=args.draws, seed=100 + seed),
                   monte_carlo(noisy, x_te, y_te, d, draws=args.draws, seed=100 + seed)))
    return acc, report, mc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=50)
    ap.add_argument("--levels", type=int, default=16)
    ap.add_argument("--sparsity", type=float, default=0.5)
    ap.add_argument("--noise-sigma", type=float, default=0.1, help="sigma of noise-aware retraining")
    ap.add_argument("--sigmas", type=float, nargs="+", default=[0.0, 0.05, 0.1, 0.2, 0.3])
    ap.add_argument("--single-sign", action="store_true", help="one weight sign per tile (one crossbar)")
    ap.add_argument("--tag", default="", help="suffix of the result files")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    t0 = time.time()
    runs = {seed: run(seed, args) for seed in args.seeds}

    lines = [
        f"CPU: {cpu_model()} (2 cores, shared); MLP 64-128-128-10 on digits (1347 train / 450 test, fixed "
        f"split), Crossbar({args.sparsity}, tile=(32, 32), single_sign={args.single_sign}) on every layer, DeviceLevels({args.levels}); seeds "
        f"{args.seeds}; {args.draws} device draws per sigma; noise-aware retraining at sigma {args.noise_sigma:g}",
        "",
        "| seed | dense | after ADMM | hardened | retrained | +15 clean | +15 noise-aware | levels moved (clean / noise-aware) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for seed, (acc, _, _) in runs.items():
        lines.append(
            f"| {seed} | {acc['dense']:.4f} | {acc['admm']:.4f} | {acc['hardened']:.4f} | {acc['retrained']:.4f} "
            f"| {acc['clean']:.4f} | {acc['noise_aware']:.4f} "
            f"| {100 * acc['levels_moved_clean']:.1f}% / {100 * acc['levels_moved_noise_aware']:.1f}% |")
    first = args.seeds[0]
    lines += ["", f"Mapping (seed {first}, device tile 32x32):", "", runs[first][1].table(), ""]
    lines.append("| seed | sigma | +15 clean: mean +- std (min) | +15 noise-aware: mean +- std (min) |")
    lines.append("|---|---|---|---|")
    for seed, (_, _, mc) in runs.items():
        for sigma, plain, aware in mc:
            lines.append(f"| {seed} | {sigma:g} | {plain.mean:.4f} +- {plain.std:.4f} ({plain.accuracies.min():.4f}) "
                         f"| {aware.mean:.4f} +- {aware.std:.4f} ({aware.accuracies.min():.4f}) |")
    if len(runs) > 1:
        lines += ["", "| sigma | +15 clean: mean over seeds | +15 noise-aware: mean over seeds |", "|---|---|---|"]
        for i, sigma in enumerate(args.sigmas):
            p = np.mean([mc[i][1].mean for _, _, mc in runs.values()])
            a = np.mean([mc[i][2].mean for _, _, mc in runs.values()])
            lines.append(f"| {sigma:g} | {p:.4f} | {a:.4f} |")
    lines += ["", f"total {time.time() - t0:.0f} s"]
    text = "\n".join(lines)
    print(text)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, f"memristor_digits{args.tag}.md"), "w") as f:
            f.write(text + "\n")
        with open(os.path.join(args.out, f"memristor_digits{args.tag}.json"), "w") as f:
            json.dump({str(seed): {"accuracy": acc, "report": report.to_dict(),
                                   "monte_carlo": [{"sigma": s, "clean": p.to_dict(), "noise_aware": a.to_dict()}
                                                   for s, p, a in mc]}
                       for seed, (acc, report, mc) in runs.items()}, f, indent=1, default=float)


if __name__ == "__main__":
    main()
