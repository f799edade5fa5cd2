"""Large-and-sparse against small-and-dense at equal nonzero weights, on scikit-learn's digits.

The claim under test (the survey's): where a network's cost is in its weights, accuracy follows the
number of nonzero weights, so at the same count a wider network pruned harder beats a narrower
dense one. The digits CNN of benchmarks/accuracy_digits.py is scaled in width by m (every layer's
channels / units times m); for a budget of nonzero weights equal to the dense network at width
m0, every wider network is pruned (gradual magnitude pruning, unstructured or, with --structure delegate, the 16-filter
kernel patterns and 1x4 blocks the delegate runs; the first conv and the logits layer dense as in
the other digits benchmarks) to exactly that count. Every network
gets the same training budget: dense pretraining, then pruning on a PolynomialDecay schedule, then
masked fine-tuning (a dense network trains the same number of epochs). Test accuracy over seeds
(mean ± std), and the latency of one image with the delegate and with XNNPACK (the exported seed-0
model, medians of interleaved runs, 1 thread). Writes a markdown table, a .json and one plot.

    python benchmarks/width_vs_sparsity_digits.py [--seeds 0 1 2] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import tf_sparse as tfs  # noqa: E402
from accuracy_digits import data  # noqa: E402
from fine_grained_speed import cpu_model  # noqa: E402

BATCH = 32
DENSE_LAYERS = ("conv1", "logits")  # never pruned


def cnn(m):
    """The digits CNN with every width times m (at least 1 channel / unit)."""
    c = lambda n: max(1, int(round(n * m)))  # noqa: E731
    inp = keras.Input((64,))
    x = keras.layers.Reshape((8, 8, 1))(inp)
    x = keras.layers.Conv2D(c(16), 3, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.Conv2D(c(32), 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(c(64), 3, padding="same", activation="relu", name="conv3")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(c(64), activation="relu", name="fc")(x)
    return keras.Model(inp, keras.layers.Dense(10, name="logits")(x), name=f"cnn_x{m:g}")


def weight_counts(model):
    """(weights of the layers kept dense incl. every bias, kernel weights of the pruned layers)."""
    fixed = prunable = 0
    for layer in model.layers:
        for w in layer.weights:
            n = int(np.prod(w.shape))
            if layer.name in DENSE_LAYERS or "kernel" not in w.name:
                fixed += n
            else:
                prunable += n
    return fixed, prunable


def sparsity_for(m, budget):
    fixed, prunable = weight_counts(cnn(m))
    keep = (budget - fixed) / prunable
    if not 0 < keep <= 1:
        raise ValueError(f"width x{m:g} cannot hold {budget} nonzero weights ({fixed} fixed, {prunable} prunable)")
    return 1.0 - keep


def nonzeros(model):
    return int(sum(np.count_nonzero(w) for w in model.get_weights()))


def train(m, sparsity, seed, x, y, args):
    keras.utils.set_random_seed(seed)
    model = cnn(m)
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=args.pretrain, batch_size=BATCH, verbose=0)
    steps = int(np.ceil(len(x) / BATCH))
    if sparsity == 0:
        model.fit(x, y, epochs=args.prune + args.finetune, batch_size=BATCH, verbose=0)
        return model
    if args.structure == "unstructured":
        config = {"default": tfs.Unstructured(sparsity)}
    else:  # what the delegate runs: 16-filter kernel patterns for the 3x3 convs, 1x4 blocks for the Dense
        config = {"fc": tfs.Block(sparsity, block=(1, 4))}
        for name in ("conv2", "conv3"):
            out = model.get_layer(name).filters
            kp = tfs.KernelPattern(8, connectivity=0.5, filter_block=16 if out % 16 == 0 else 1)
            config[name] = tfs.KernelPattern(8, connectivity=kp.connectivity_for(sparsity),
                                             filter_block=kp.filter_block)
    config.update({n: None for n in DENSE_LAYERS})
    sched = tfs.PolynomialDecay(0.0, sparsity, begin_step=0, end_step=steps * args.prune, frequency=steps // 2)
    sparse = tfs.sparsify(model, config, schedule=sched)
    sparse.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    sparse.fit(x, y, epochs=args.prune + args.finetune, batch_size=BATCH, verbose=0, callbacks=[tfs.UpdateMasks()])
    return tfs.strip(sparse)


def accuracy(model, x, y):
    return float(np.mean(np.argmax(model.predict(x, verbose=0, batch_size=256), 1) == y))


def latency(model, x, runs):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.tflite")
        tfs.export_tflite(model, path)
        r = tfs.delegate_vs_xnnpack(path, x[:1], num_threads=1, runs=runs)
    return r


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--widths", type=float, nargs="+", default=[0.5, 1, 2, 4])
    p.add_argument("--budget-widths", type=float, nargs="+", default=[0.5, 1],
                   help="each budget is the nonzero count of the dense network at this width")
    p.add_argument("--structure", choices=["unstructured", "delegate"], default="unstructured",
                   help="unstructured, or what the delegate runs (kernel patterns + 1x4 blocks; needs >= 5/9 sparsity)")
    p.add_argument("--pretrain", type=int, default=20)
    p.add_argument("--prune", type=int, default=10)
    p.add_argument("--finetune", type=int, default=5)
    p.add_argument("--runs", type=int, default=300)
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = p.parse_args()
    load = open("/proc/loadavg").read().split()[:3]
    print(f"CPU: {cpu_model()}; load {load}", flush=True)
    x_tr, x_te, y_tr, y_te = data()
    y_tr, y_te = y_tr.astype(np.int32), y_te.astype(np.int32)
    rows = []
    t0 = time.time()
    for bw in args.budget_widths:
        budget = sum(weight_counts(cnn(bw)))
        for m in [w for w in args.widths if w >= bw]:
            s = sparsity_for(m, budget)
            accs, nnz = [], []
            for seed in args.seeds:
                model = train(m, s, seed, x_tr, y_tr, args)
                accs.append(accuracy(model, x_te, y_te))
                nnz.append(nonzeros(model))
                if seed == args.seeds[0]:
                    lat = latency(model, x_te, args.runs)
            row = {"budget_width": bw, "budget": budget, "width": m, "sparsity": s, "nonzeros": nnz,
                   "acc": accs, "acc_mean": float(np.mean(accs)), "acc_std": float(np.std(accs)),
                   "delegate_us": lat["latency_ours_ms"] * 1e3, "xnnpack_us": lat["latency_xnnpack_ms"] * 1e3,
                   "claimed": lat["claimed_nodes"], "formats": lat["formats"], "max_abs_diff": lat["max_abs_diff"]}
            rows.append(row)
            print(f"budget {budget} width x{m:g} sparsity {s:.3f} nnz {nnz[0]} acc {row['acc_mean']:.4f} "
                  f"± {row['acc_std']:.4f}  delegate {row['delegate_us']:.1f} us  xnnpack {row['xnnpack_us']:.1f} us  "
                  f"({time.time() - t0:.0f}s)", flush=True)
    os.makedirs(args.out, exist_ok=True)
    base = os.path.join(args.out, f"width_vs_sparsity_digits_{args.structure}")
    with open(base + ".json", "w") as f:
        json.dump({"cpu": cpu_model(), "load": load, "args": vars(args), "rows": rows}, f, indent=1)
    lines = ["# Large-and-sparse vs small-and-dense at equal nonzero weights (digits CNN)", "",
             f"CPU: {cpu_model()}; load at start {load}; seeds {args.seeds}; training: {args.pretrain} dense epochs, "
             f"then {args.prune} epochs of gradual magnitude pruning ({args.structure}; conv1 and logits dense) and "
             f"{args.finetune} of masked fine-tuning (dense networks: the same epochs, dense). Latency: one image, "
             f"1 thread, median of {args.runs} interleaved invokes, seed-0 model.", "",
             "| nonzero budget | width | sparsity of pruned layers | test accuracy (%) | delegate (us) | "
             "XNNPACK (us) | nodes claimed |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['budget']} (dense x{r['budget_width']:g}) | x{r['width']:g} | {100 * r['sparsity']:.1f}% | "
                     f"{100 * r['acc_mean']:.2f} ± {100 * r['acc_std']:.2f} | {r['delegate_us']:.1f} | "
                     f"{r['xnnpack_us']:.1f} | {r['claimed']} |")
    with open(base + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for bw in args.budget_widths:
        rs = [r for r in rows if r["budget_width"] == bw]
        lab = f"{rs[0]['budget']} nonzeros (dense x{bw:g})"
        ax[0].errorbar([r["width"] for r in rs], [100 * r["acc_mean"] for r in rs],
                       yerr=[100 * r["acc_std"] for r in rs], marker="o", capsize=3, label=lab)
        ax[1].plot([r["width"] for r in rs], [r["delegate_us"] for r in rs], marker="o", label=lab + ", delegate")
        ax[1].plot([r["width"] for r in rs], [r["xnnpack_us"] for r in rs], marker="x", ls="--",
                   label=lab + ", XNNPACK")
    for a in ax:
        a.set_xscale("log", base=2)
        a.set_xlabel("width multiplier (wider = sparser at the same nonzero count)")
        a.grid(alpha=0.3)
    ax[0].set_ylabel("test accuracy (%)")
    ax[1].set_ylabel("latency, 1 image (us)")
    ax[0].legend(fontsize=8)
    ax[1].legend(fontsize=7)
    fig.suptitle(f"digits CNN, equal nonzero weights, {args.structure} ({cpu_model()})", fontsize=9)
    fig.tight_layout()
    fig.savefig(base + ".png", dpi=120)
    print("wrote", base + ".md", base + ".png")


if __name__ == "__main__":
    main()
