"""ADMM with the README's recipe, as a first-time user runs it: old defaults against the
automatic rho schedule, at Adam learning rates 1e-3 and 1e-2, on scikit-learn's digits.

For the digits CNN (3x3 convs with the README's KernelPattern(8, connectivity=0.5)) and the
MLP (Block(0.9, block=(1, 4))): dense pretraining, 10 ADMM epochs, `tfs.harden`, 5 epochs of
masked retraining at 1e-3. Prints test accuracy after each phase, the primal residual
(sum over layers of ||W - Z||_F) at the first and last epoch, the relative residual
||W - Z|| / ||W|| of the worst layer at the end, and the warnings the callback raised.

    python benchmarks/admm_first_try.py [--seed 0] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import tf_sparse as tfs  # noqa: E402
from accuracy_digits import BATCH, cnn, compile_, data, mlp  # noqa: E402

SETTINGS = {
    "constant rho 1e-3 (before)": dict(rho=1e-3, rho_factor=1.0),
    "tfs.ADMM() (automatic rho)": dict(),
}


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def config(model_name):
    if model_name == "cnn":
        return {keras.layers.Conv2D: tfs.KernelPattern(num_patterns=8, connectivity=0.5), "default": None}
    return {"default": tfs.Block(0.9, block=(1, 4)), "logits": None}


def _warning_summary(messages):
    """Short labels of the callback's warnings: which kind, and the layers each names."""
    out = []
    for m in messages:
        layers = re.findall(r"(\w+) \((?:\|\||\d)", m.split(" in ", 1)[1])
        kind = "residual grew" if "grew at" in m else "far from structure at the end" if "still far" in m else "other"
        out.append(f"{kind}: {', '.join(layers)}")
    return out


def run(dense, model_name, lr, kwargs, split, seed, admm_epochs=10, retrain_epochs=5):
    x_tr, x_te, y_tr, y_te = split
    keras.utils.set_random_seed(seed + 1)
    sparse = tfs.sparsify(dense, config(model_name))
    compile_(sparse, lr)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = sparse.fit(x_tr, y_tr, epochs=admm_epochs, batch_size=BATCH, verbose=0, callbacks=[tfs.ADMM(**kwargs)])
    layers = tfs.sparse_layers(sparse)
    res = [sum(h.history[f"admm_residual/{layer.sparse_name}"][i] for layer in layers) for i in (0, -1)]
    rel = max(layer.admm_residual() / len(layer._admm_active()) / np.linalg.norm(layer.kernel_numpy())
              for layer in layers)
    out = {"model": model_name, "lr": lr, "setting": None, "residual_first": res[0], "residual_last": res[1],
           "worst_relative_residual": float(rel),
           "rho_last": max(h.history[f"admm_rho/{layer.sparse_name}"][-1] for layer in layers),
           "warnings": _warning_summary([str(w.message) for w in caught if str(w.message).startswith("ADMM")]),
           "acc_admm": sparse.evaluate(x_te, y_te, verbose=0)[1]}
    tfs.harden(sparse)
    out["acc_harden"] = sparse.evaluate(x_te, y_te, verbose=0)[1]
    compile_(sparse, 1e-3)
    sparse.fit(x_tr, y_tr, epochs=retrain_epochs, batch_size=BATCH, verbose=0)
    out["acc_retrain"] = sparse.evaluate(x_te, y_te, verbose=0)[1]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", nargs="+", default=["cnn", "mlp"])
    ap.add_argument("--pretrain-epochs", type=int, default=10)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = ap.parse_args()
    split = data()
    rows = []
    t0 = time.time()
    print(f"CPU: {cpu_name()}; load average {os.getloadavg()[0]:.2f}; TensorFlow's default threads; seed {args.seed}")
    for model_name in args.models:
        keras.utils.set_random_seed(args.seed)
        dense = cnn() if model_name == "cnn" else mlp()
        compile_(dense, 1e-3)
        dense.fit(split[0], split[2], epochs=args.pretrain_epochs, batch_size=BATCH, verbose=0)
        dense_acc = dense.evaluate(split[1], split[3], verbose=0)[1]
        for lr in (1e-3, 1e-2):
            for name, kwargs in SETTINGS.items():
                row = run(dense, model_name, lr, kwargs, split, args.seed)
                row.update(setting=name, acc_dense=dense_acc)
                rows.append(row)
                print(f"[{time.time() - t0:5.0f}s] {model_name} lr {lr:g} {name}: harden {row['acc_harden']:.3f}", flush=True)
    lines = ["| model | Adam lr | ADMM | dense | after ADMM | after harden | after retrain | "
             "||W-Z|| first -> last epoch | worst ||W-Z||/||W|| | last rho | warnings |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['lr']:g} | {r['setting']} | {r['acc_dense']:.3f} | {r['acc_admm']:.3f} | "
                     f"{r['acc_harden']:.3f} | {r['acc_retrain']:.3f} | {r['residual_first']:.3g} -> "
                     f"{r['residual_last']:.3g} | {r['worst_relative_residual']:.2f} | {r['rho_last']:.3g} | "
                     f"{'; '.join(r['warnings']) or '-'} |")
    table = "\n".join(lines) + "\n"
    print(table)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "admm_first_try.json"), "w") as f:
        json.dump(rows, f, indent=1)
    with open(os.path.join(args.out, "admm_first_try.md"), "w") as f:
        f.write(table)


if __name__ == "__main__":
    main()
