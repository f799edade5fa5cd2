"""Accuracy of pruning methods at equal structured sparsity, on scikit-learn's digits (real data).

For a small CNN (3x3 convs + Dense) and an MLP, three seeds each, a fixed train/test split:
dense accuracy, then for every structure one-shot magnitude + fine-tune, gradual magnitude
(PolynomialDecay), ADMM (+ hardening and masked retraining) and reweighted group lasso (+ the
same), all with the same epoch budget after the same dense pretraining. Writes a markdown table
(mean and standard deviation over seeds) and a plot of accuracy against sparsity.

    python benchmarks/accuracy_digits.py [--seeds 0 1 2] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import tf_sparse as tfs  # noqa: E402

METHODS = ("one-shot", "gradual", "admm", "rgl")
BATCH = 32


def data():
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    x_tr, x_te, y_tr, y_te = train_test_split(x, d.target, test_size=0.25, random_state=0, stratify=d.target)
    return x_tr, x_te, y_tr, y_te


def mlp():
    inp = keras.Input((64,))
    x = keras.layers.Dense(256, activation="relu", name="fc1")(inp)
    x = keras.layers.Dense(128, activation="relu", name="fc2")(x)
    return keras.Model(inp, keras.layers.Dense(10, name="logits")(x), name="mlp")


def cnn():
    inp = keras.Input((64,))
    x = keras.layers.Reshape((8, 8, 1))(inp)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv3")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(64, activation="relu", name="fc")(x)
    return keras.Model(inp, keras.layers.Dense(10, name="logits")(x), name="cnn")


def structures(model_name):
    """name -> (config for sparsify, nominal sparsity of the pruned layers)."""
    keep_dense = {"conv1": None, "logits": None}  # first and last layers stay dense
    out = {
        "unstructured 90%": (tfs.Unstructured(0.9), 0.9),
        "block 4x1 75%": (tfs.Block(0.75, block=(4, 1)), 0.75),
        "block 4x1 90%": (tfs.Block(0.9, block=(4, 1)), 0.9),
        "N:M 2:4": (tfs.NM(2, 4), 0.5),
        "GS 90% (16 banks)": (tfs.GatherScatter(0.9, banks=16, elements_per_row=1), 0.9),
    }
    configs = {k: ({"default": s, **keep_dense}, sp) for k, (s, sp) in out.items()}
    if model_name == "cnn":
        # 4 of 9 taps and 28.125% of the kernels kept: 1/8 of the conv weights (8x compression).
        pattern = tfs.KernelPattern(num_patterns=8, connectivity=1 - 0.125 * 9 / 4)
        configs["pattern K=8 + connectivity (8x conv)"] = (
            {keras.layers.Conv2D: pattern, "conv1": None, "default": None}, 0.875)
        # The same, with pattern and removal shared by each block of 16 filters: what the
        # delegate's filter-vector-taps (VT) kernels run near FMA peak.
        blocked = tfs.KernelPattern(num_patterns=8, connectivity=1 - 0.125 * 9 / 4, filter_block=16)
        configs["pattern K=8 + connectivity, 16-filter blocks (8x conv)"] = (
            {keras.layers.Conv2D: blocked, "conv1": None, "default": None}, 0.875)
    return configs


def compile_(model, lr):
    model.compile(keras.optimizers.Adam(lr), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])


# ADMM's W-step needs a learning rate that lets W reach Z within the phase (co_lib trains the
# ADMM phase with lr 0.01); with Adam at 1e-3 the per-step move is too small and the primal
# residual stays near ||W||. Fine-tuning and masked retraining use finetune_lr.
HPARAMS = {"rho": 1e-2, "rho_factor": 1.5, "lam": 2e-5, "admm_fraction": 2 / 3, "admm_lr": 1e-2,
           "finetune_lr": 2e-3}


def run_method(dense, config, method, x_tr, y_tr, x_te, y_te, epochs, seed):
    keras.utils.set_random_seed(seed + 17)
    steps = int(np.ceil(len(x_tr) / BATCH))
    phase1 = max(1, int(round(epochs * HPARAMS["admm_fraction"])))
    fit = dict(batch_size=BATCH, verbose=0)
    if method == "gradual":
        freq = max(1, steps // 4)
        # end_step on a pruning turn, so the final sparsity is really applied
        schedule = tfs.PolynomialDecay(0.0, 0.99, begin_step=0, end_step=(phase1 * steps // freq) * freq, frequency=freq)
        sparse = _sparsify_with_targets(dense, config, schedule)
        compile_(sparse, HPARAMS["finetune_lr"])
        sparse.fit(x_tr, y_tr, epochs=epochs, callbacks=[tfs.UpdateMasks()], **fit)
    else:
        sparse = _sparsify_with_targets(dense, config, None)
        if method == "one-shot":
            tfs.harden(sparse)
            compile_(sparse, HPARAMS["finetune_lr"])
            sparse.fit(x_tr, y_tr, epochs=epochs, **fit)
        else:
            compile_(sparse, HPARAMS["admm_lr"])
            cb = (tfs.ADMM(rho=HPARAMS["rho"], rho_factor=HPARAMS["rho_factor"]) if method == "admm"
                  else tfs.ReweightedGroupLasso(lam=HPARAMS["lam"], eps=1e-3))
            sparse.fit(x_tr, y_tr, epochs=phase1, callbacks=[cb], **fit)
            tfs.harden(sparse)
            compile_(sparse, HPARAMS["finetune_lr"])
            sparse.fit(x_tr, y_tr, epochs=epochs - phase1, **fit)
    acc = sparse.evaluate(x_te, y_te, verbose=0)[1]
    layers = tfs.sparse_layers(sparse)
    total = sum(int(np.prod(layer.mask.shape)) for layer in layers)
    zeros = sum(layer.sparsity() * int(np.prod(layer.mask.shape)) for layer in layers)
    for layer in layers:
        if not layer.structure.is_valid(layer.structure_view(layer.kernel_numpy())):
            raise AssertionError(f"{method}: layer {layer.name} does not satisfy {layer.structure!r}")
    return float(acc), zeros / max(1, total)


def _sparsify_with_targets(dense, config, schedule):
    # The gradual schedule's final value is replaced per layer by the structure's own target.
    model = keras.models.clone_model(dense)
    model.set_weights(dense.get_weights())
    sparse = tfs.sparsify(model, config)
    if schedule is not None:
        for layer in tfs.sparse_layers(sparse):
            target = getattr(layer.structure, "sparsity", None)
            if target is None or isinstance(layer.structure, (tfs.NM, tfs.KernelPattern)):
                # fixed-ratio structures: prune once at the start of the schedule's window
                layer.schedule = tfs.ConstantSparsity(0.0 if target is None else target, 0, 0, 1)
            else:
                cfg = schedule.get_config()["config"]
                cfg["final_sparsity"] = target
                layer.schedule = tfs.PolynomialDecay(**cfg)
            layer._schedule_given = True
    return sparse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--models", nargs="+", default=["mlp", "cnn"])
    ap.add_argument("--pretrain-epochs", type=int, default=30)
    ap.add_argument("--epochs", type=int, default=15, help="budget of every pruning method")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    ap.add_argument("--structures", nargs="+", default=None, help="substrings of structure names to run")
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    for key, value in HPARAMS.items():
        ap.add_argument("--" + key.replace("_", "-"), type=float, default=value)
    args = ap.parse_args()
    for key in HPARAMS:
        HPARAMS[key] = getattr(args, key)
    os.makedirs(args.out, exist_ok=True)
    x_tr, x_te, y_tr, y_te = data()
    rows = []
    t0 = time.time()
    for model_name in args.models:
        for seed in args.seeds:
            keras.utils.set_random_seed(seed)
            dense = mlp() if model_name == "mlp" else cnn()
            compile_(dense, 1e-3)
            dense.fit(x_tr, y_tr, epochs=args.pretrain_epochs, batch_size=BATCH, verbose=0)
            rows.append({"model": model_name, "seed": seed, "structure": "dense", "method": "-",
                         "accuracy": float(dense.evaluate(x_te, y_te, verbose=0)[1]), "sparsity": 0.0})
            for sname, (config, _) in structures(model_name).items():
                if args.structures and not any(f in sname for f in args.structures):
                    continue
                for method in args.methods:
                    acc, sp = run_method(dense, config, method, x_tr, y_tr, x_te, y_te, args.epochs, seed)
                    rows.append({"model": model_name, "seed": seed, "structure": sname, "method": method,
                                 "accuracy": acc, "sparsity": sp})
                    print(f"[{time.time() - t0:6.0f}s] {model_name} seed {seed} {sname:40s} {method:9s} "
                          f"acc {acc:.4f} sparsity {sp:.3f}", flush=True)
    with open(os.path.join(args.out, "accuracy_digits.json"), "w") as f:
        json.dump(rows, f, indent=1)
    table = write_table(rows, os.path.join(args.out, "accuracy_digits.md"))
    print(table)
    plot(rows, os.path.join(args.out, "accuracy_digits.png"))


def write_table(rows, path):
    lines = ["| model | structure | sparsity of pruned layers | " + " | ".join(METHODS) + " |",
             "|---|---|---|" + "---|" * len(METHODS)]
    for model_name in sorted({r["model"] for r in rows}):
        dense = [r["accuracy"] for r in rows if r["model"] == model_name and r["structure"] == "dense"]
        lines.append(f"| {model_name} | dense | 0 | " + " | ".join([f"{np.mean(dense):.4f} ± {np.std(dense):.4f}"] + [""] * (len(METHODS) - 1)) + " |")
        for sname in dict.fromkeys(r["structure"] for r in rows if r["model"] == model_name and r["structure"] != "dense"):
            cells, sps = [], []
            for method in METHODS:
                accs = [r["accuracy"] for r in rows if r["model"] == model_name and r["structure"] == sname and r["method"] == method]
                sps += [r["sparsity"] for r in rows if r["model"] == model_name and r["structure"] == sname and r["method"] == method]
                cells.append(f"{np.mean(accs):.4f} ± {np.std(accs):.4f}" if accs else "-")
            lines.append(f"| {model_name} | {sname} | {np.mean(sps):.3f} | " + " | ".join(cells) + " |")
    table = "\n".join(lines) + "\n"
    with open(path, "w") as f:
        f.write(table)
    return table


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = sorted({r["model"] for r in rows})
    fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 4.5), squeeze=False)
    for ax, model_name in zip(axes[0], models):
        dense = np.mean([r["accuracy"] for r in rows if r["model"] == model_name and r["structure"] == "dense"])
        ax.axhline(dense, color="k", ls="--", lw=1, label="dense")
        for method, marker in zip(METHODS, "os^D"):
            pts = {}
            for r in rows:
                if r["model"] == model_name and r["method"] == method:
                    pts.setdefault(r["structure"], []).append((r["sparsity"], r["accuracy"]))
            xs = [np.mean([p[0] for p in v]) for v in pts.values()]
            ys = [np.mean([p[1] for p in v]) for v in pts.values()]
            ax.scatter(xs, ys, marker=marker, label=method)
        ax.set_title(f"{model_name} on digits (mean of seeds)")
        ax.set_xlabel("sparsity of the pruned layers")
        ax.set_ylabel("test accuracy")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
