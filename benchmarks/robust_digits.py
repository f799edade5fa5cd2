"""Min-max robustness (APGDA) on scikit-learn's digits: ensemble attack, universal perturbation,
generalized adversarial training, and adversarial training inside ADMM pruning.

Pixels are in [0, 1] (digits / 16), inputs flat (64,). The radii are scaled for 8x8 images (64
pixels against MNIST's 784): l_inf 0.1, l2 1.0, l1 4.0 unless given.

(a) ensemble attack on 4 models (dense MLP, dense CNN, 90%-unstructured-pruned CNN by ADMM +
    harden, 4-bit CNN by ADMM + harden), on test images all four classify correctly:
    APGDA vs uniform averaging vs attacking each model alone; success = all 4 fooled at once.
(b) universal perturbation: one delta over K = 10 correctly classified test images (dense CNN),
    APGDA vs averaging; success on the K images and on the unseen rest of the test set.
(c) generalized adversarial training (MLP) over l_inf + l2 + l1 threats: APGDA vs AVG vs MAX;
    clean accuracy, PGD accuracy per threat and the worst case per image over threats.
(d) robust + sparse: the same APGDA training inside ADMM to 90% 4x1 blocks (hardened, then
    adversarial retraining) vs dense APGDA training as long.

    python benchmarks/robust_digits.py [--seeds 0 1 2] [--parts a b c d] [--out benchmarks/results]
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
import tensorflow as tf  # noqa: E402

import tf_sparse as tfs  # noqa: E402
from accuracy_digits import cnn, data, mlp  # noqa: E402
from fine_grained_speed import cpu_model  # noqa: E402

BATCH = 32
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def compile_(model, lr):
    model.compile(keras.optimizers.Adam(lr), LOSS, metrics=["accuracy"])
    return model


def acc(model, x, y):
    return float(np.mean(np.argmax(model.predict(x, verbose=0, batch_size=256), axis=1) == y))


def train_models(seed, x, y, epochs):
    keras.utils.set_random_seed(seed)
    m = compile_(mlp(), 1e-3)
    m.fit(x, y, epochs=epochs, batch_size=BATCH, verbose=0)
    c = compile_(cnn(), 1e-3)
    c.fit(x, y, epochs=epochs, batch_size=BATCH, verbose=0)

    def compressed(cfg, quant=None, name=None):
        base = keras.models.clone_model(c)
        base.set_weights(c.get_weights())
        s = tfs.sparsify(base, cfg, quantize=quant) if quant is None or cfg is not None else tfs.quantize(base, quant)
        compile_(s, 5e-3)
        s.fit(x, y, epochs=max(2, epochs // 2), batch_size=BATCH, verbose=0,
              callbacks=[tfs.ADMM(rho=1e-2, rho_factor=1.5)])
        tfs.harden(s)
        compile_(s, 1e-3)
        s.fit(x, y, epochs=max(2, epochs // 3), batch_size=BATCH, verbose=0)
        s.name = name  # noqa
        return s

    pruned = compressed({"default": tfs.Unstructured(0.9), "conv1": None, "logits": None}, name="cnn_pruned90")
    quant = compressed(None, tfs.Uniform(4), name="cnn_4bit")
    return [m, c, pruned, quant]


def ms(v):
    v = np.asarray(v, float)
    return {"mean": float(v.mean()), "std": float(v.std()), "values": v.tolist()}


def part_a(models, x_te, y_te, args, seed):
    ok = np.all([np.argmax(m.predict(x_te, verbose=0), 1) == y_te for m in models], axis=0)
    x, y = x_te[ok][: args.n_attack], y_te[ok][: args.n_attack]
    out = {}
    hp = {"linf": dict(eps=args.eps_linf, beta=50.0, gamma=3.0), "l2": dict(eps=args.eps_l2, beta=100.0, gamma=3.0)}
    for norm in ("linf", "l2"):
        row = {}
        for method in ["apgda", "avg"] + list(range(len(models))):
            r = tfs.ensemble_attack(models, x, y, norm=norm, method=method, steps=args.steps, seed=seed, **hp[norm])
            key = method if isinstance(method, str) else f"only {models[method].name}"
            row[key] = {"all": r.success_rate, "per_model": r.domain_success_rate.tolist()}
            if method == "apgda":
                row[key]["weights"] = r.weights.mean(0).tolist()
                row[key]["weight_history"] = r.weight_history.tolist()
        out[norm] = row
    out["n_images"] = int(len(x))
    return out


UNI_METHODS = {  # name: (method, beta, gamma, box)
    "avg": ("avg", 50.0, 4.0, "clip"),
    "apgda (beta 50, gamma 4)": ("apgda", 50.0, 4.0, "clip"),
    "apgda (beta 200, gamma 100)": ("apgda", 200.0, 100.0, "clip"),
    "avg, intersected box": ("avg", 50.0, 4.0, "intersect"),
    "apgda (beta 50, gamma 4), intersected box": ("apgda", 50.0, 4.0, "intersect"),
}


def part_b(model, x_te, y_te, args, seed):
    ok = np.argmax(model.predict(x_te, verbose=0), 1) == y_te
    xs, ys = x_te[ok], y_te[ok]
    rng = np.random.default_rng(seed)
    res = {name: {"seen": [], "unseen": []} for name in UNI_METHODS}
    for _ in range(args.uni_groups):
        idx = rng.choice(len(xs), 10, replace=False)
        rest = np.setdiff1d(np.arange(len(xs)), idx)
        for name, (method, beta, gamma, box) in UNI_METHODS.items():
            r = tfs.universal_perturbation(model, xs[idx], ys[idx], eps=args.eps_uni, norm="linf", method=method,
                                           steps=args.uni_steps, beta=beta, gamma=gamma, box=box)
            res[name]["seen"].append(float(r.success.mean()))
            res[name]["unseen"].append(tfs.robust.apply_perturbation(model, xs[rest], ys[rest], r.delta))
    return {m: {k: float(np.mean(v)) for k, v in d.items()} for m, d in res.items()}


def threats(args, steps):
    return [tfs.Threat("linf", args.eps_linf, steps=steps), tfs.Threat("l2", args.eps_l2, steps=steps),
            tfs.Threat("l1", args.eps_l1, steps=steps)]


def evaluate_robust(model, x, y, args):
    ths = threats(args, args.eval_steps)
    correct = []
    for t in ths:
        fn = tf.function(lambda xb, yb, t=t: tfs.robust.pgd(model, xb, yb, t, LOSS))
        xa = fn(tf.constant(x), tf.constant(y))
        correct.append(np.argmax(model.predict(np.asarray(xa), verbose=0), 1) == y)
    correct = np.array(correct)
    out = {"clean": acc(model, x, y)}
    for t, c in zip(ths, correct):
        out[t.name] = float(c.mean())
    out["worst"] = float(correct.all(0).mean())
    return out


def part_c(x_tr, y_tr, x_te, y_te, args, seed):
    out = {}
    x, y = x_te[: args.n_eval], y_te[: args.n_eval]
    for strategy in ("apgda", "avg", "max"):
        keras.utils.set_random_seed(seed)
        t = tfs.AdversarialTrainer(mlp(), threats(args, args.train_steps), strategy=strategy, beta=5.0, gamma=1.0)
        t.compile(keras.optimizers.Adam(2e-3), LOSS)
        t.fit(x_tr, y_tr, epochs=args.at_epochs, batch_size=BATCH, verbose=0)
        out[strategy] = evaluate_robust(t.model, x, y, args)
        out[strategy]["weights"] = t.domain_weights.tolist()
        out[strategy]["weight_history"] = np.asarray(t.weight_history).tolist()
    out["threats"] = [th.name for th in threats(args, 1)]
    return out


def part_d(x_tr, y_tr, x_te, y_te, args, seed):
    x, y = x_te[: args.n_eval], y_te[: args.n_eval]
    out = {}
    admm_ep, re_ep = max(1, round(args.at_epochs * 2 / 3)), args.at_epochs - max(1, round(args.at_epochs * 2 / 3))
    for name in ("dense AT", "AT + ADMM block 4x1 90%"):
        keras.utils.set_random_seed(seed)
        model = mlp()
        cbs = []
        if name != "dense AT":
            model = tfs.sparsify(model, {"default": tfs.Block(0.9, block=(4, 1)), "logits": None})
            cbs = [tfs.ADMM(rho=1e-2, rho_factor=1.5)]
        t = tfs.AdversarialTrainer(model, threats(args, args.train_steps), strategy="apgda", beta=5.0, gamma=1.0)
        t.compile(keras.optimizers.Adam(5e-3), LOSS)
        t.fit(x_tr, y_tr, epochs=admm_ep, batch_size=BATCH, verbose=0, callbacks=cbs)
        if cbs:
            tfs.harden(model)
        t.compile(keras.optimizers.Adam(1e-3), LOSS)
        t.fit(x_tr, y_tr, epochs=re_ep, batch_size=BATCH, verbose=0)
        out[name] = evaluate_robust(model, x, y, args)
        if cbs:
            out[name]["sparsity_fc"] = [tfs.kernel_sparsity(l.kernel_numpy()) for l in tfs.sparse_layers(model)]
    return out


def summarize(runs, args):
    lines = [f"# Robustness on digits (APGDA)", "",
             f"CPU: {cpu_model()}; threads: {os.cpu_count()}; seeds: {args.seeds}; load at start: {args.load}", "",
             f"Radii for 8x8 inputs in [0,1]: l_inf {args.eps_linf}, l2 {args.eps_l2}, l1 {args.eps_l1}; "
             f"attack steps {args.steps}; mean ± std over seeds.", "",
             "Ensemble attack: CW loss (kappa 50), sign gradient (l_inf) / normalized gradient (l2) with step "
             "2.5 eps / steps, l_inf beta 50 gamma 3, l2 beta 100 gamma 3 (the reference MNIST settings). "
             "Universal: CW loss (kappa 50). Adversarial training: "
             "beta 5, gamma 1, Adam 2e-3 (c); in (d) both rows use Adam 5e-3 for 2/3 of the epochs (ADMM phase, "
             "rho 1e-2 x1.5 per epoch, then harden) and 1e-3 for the rest.", ""]
    seeds = list(runs)
    if all("a" in runs[s] for s in seeds):
        lines += ["## (a) Ensemble attack on 4 models: success on all 4 at once (%)", "",
                  f"Images per seed: {[runs[s]['a']['n_images'] for s in seeds]} (all four models correct). "
                  "Clean test accuracy: " + ", ".join(
                      f"{n} {100 * np.mean([runs[s]['clean_acc'][n] for s in seeds]):.1f}%"
                      for n in runs[seeds[0]]["clean_acc"]) + ". Per-model columns: mlp, cnn, cnn_pruned90, cnn_4bit.",
                  "",
                  "| method | l_inf | l2 |", "|---|---|---|"]
        for key in runs[seeds[0]]["a"]["linf"]:
            cells = []
            for norm in ("linf", "l2"):
                v = np.array([runs[s]["a"][norm][key]["all"] for s in seeds]) * 100
                pm = np.array([runs[s]["a"][norm][key]["per_model"] for s in seeds]).mean(0) * 100
                cells.append(f"{v.mean():.1f} ± {v.std():.1f} (per model {', '.join(f'{p:.0f}' for p in pm)})")
            lines.append(f"| {key} | " + " | ".join(cells) + " |")
        names = ["mlp", "cnn", "cnn_pruned90", "cnn_4bit"]
        for norm in ("linf", "l2"):
            w = np.array([runs[s]["a"][norm]["apgda"]["weights"] for s in seeds]).mean(0)
            lines.append(f"\nAPGDA mean final weights ({norm}): " + ", ".join(f"{n} {x:.2f}" for n, x in zip(names, w)))
        lines.append("")
    if all("b" in runs[s] for s in seeds):
        note = ("Each image sees clip(x_i + delta, 0, 1) (the default box=\"clip\"); the intersected box "
                "(delta within every image's [0,1] box) freezes every pixel that is 0 in one image and 1 in another. "
                "APGDA's weights go to the hardest images, which mostly stay unfooled, so it fools fewer of the K "
                "images than averaging; a large gamma (with beta > gamma / 2) brings it back toward averaging. The "
                "gain the paper reports for universal perturbations is not reproduced here.")
        lines += ["## (b) Universal perturbation over K = 10 images (dense CNN, l_inf "
                  f"{args.eps_uni}, {args.uni_steps} steps, {args.uni_groups} groups of 10 images per seed), "
                  "success (%)", "", "| method | on the K images | unseen test images |", "|---|---|---|"]
        for m in runs[seeds[0]]["b"]:
            a = np.array([runs[s]["b"][m]["seen"] for s in seeds]) * 100
            b = np.array([runs[s]["b"][m]["unseen"] for s in seeds]) * 100
            lines.append(f"| {m} | {a.mean():.1f} ± {a.std():.1f} | {b.mean():.1f} ± {b.std():.1f} |")
        lines += ["", note, ""]
    for part, title in (("c", "(c) Generalized adversarial training (MLP), accuracy (%)"),
                        ("d", "(d) Robust + sparse (MLP, APGDA AT), accuracy (%)")):
        if not all(part in runs[s] for s in seeds):
            continue
        rows = [k for k in runs[seeds[0]][part] if k != "threats"]
        cols = ["clean", f"linf({args.eps_linf:g})", f"l2({args.eps_l2:g})", f"l1({args.eps_l1:g})", "worst"]
        lines += [f"## {title}", "", f"AT epochs {args.at_epochs}, PGD {args.train_steps} steps in training, "
                  f"{args.eval_steps} in evaluation, {args.n_eval} test images.", "",
                  "| training | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
        for r in rows:
            cells = []
            for c in cols:
                v = np.array([runs[s][part][r][c] for s in seeds]) * 100
                cells.append(f"{v.mean():.1f} ± {v.std():.1f}")
            lines.append(f"| {r} | " + " | ".join(cells) + " |")
        if part == "c":
            w = np.array([runs[s]["c"]["apgda"]["weights"] for s in seeds]).mean(0)
            lines.append("\nAPGDA learned threat weights: " + ", ".join(
                f"{n} {x:.2f}" for n, x in zip(runs[seeds[0]]["c"]["threats"], w)))
        lines.append("")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--summarize", help="only rewrite the .md from this .json")
    p.add_argument("--update", action="store_true", help="keep the saved results of the parts not rerun")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--parts", nargs="+", default=["a", "b", "c", "d"])
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--eps-linf", type=float, default=0.1)
    p.add_argument("--eps-l2", type=float, default=1.0)
    p.add_argument("--eps-l1", type=float, default=4.0)
    p.add_argument("--eps-uni", type=float, default=0.2)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--n-attack", type=int, default=200)
    p.add_argument("--uni-groups", type=int, default=3)
    p.add_argument("--uni-steps", type=int, default=100)
    p.add_argument("--at-epochs", type=int, default=6)
    p.add_argument("--train-steps", type=int, default=3)
    p.add_argument("--eval-steps", type=int, default=20)
    p.add_argument("--n-eval", type=int, default=300)
    args = p.parse_args()
    if args.summarize:
        with open(args.summarize) as f:
            saved = json.load(f)
        md = os.path.splitext(args.summarize)[0] + ".md"
        args = argparse.Namespace(**saved["args"])
        with open(md, "w") as f:
            f.write(summarize({int(k): v for k, v in saved["runs"].items()}, args) + "\n")
        return
    args.load = open("/proc/loadavg").read().split()[:3]
    os.makedirs(args.out, exist_ok=True)
    print(f"CPU: {cpu_model()}; threads: {os.cpu_count()}; load {args.load}")
    x_tr, x_te, y_tr, y_te = data()
    y_tr, y_te = y_tr.astype(np.int32), y_te.astype(np.int32)
    runs = {}
    t0 = time.time()
    base = os.path.join(args.out, "robust_digits")
    if args.update and os.path.exists(base + ".json"):  # rerun only --parts, keep the other parts' results
        with open(base + ".json") as f:
            runs = {int(k): {part: r for part, r in v.items() if part not in args.parts}
                    for k, v in json.load(f)["runs"].items()}

    def write():
        with open(base + ".json", "w") as f:
            json.dump({"args": {k: v for k, v in vars(args).items()}, "runs": runs}, f, indent=1)
        with open(base + ".md", "w") as f:
            f.write(summarize(runs, args) + "\n")

    for seed in args.seeds:
        runs.setdefault(seed, {})
        if "a" in args.parts or "b" in args.parts:
            models = train_models(seed, x_tr, y_tr, args.epochs)
            runs[seed]["clean_acc"] = {m.name: acc(m, x_te, y_te) for m in models}
            print(seed, "clean", runs[seed]["clean_acc"], f"{time.time() - t0:.0f}s", flush=True)
            if "a" in args.parts:
                runs[seed]["a"] = part_a(models, x_te, y_te, args, seed)
                print(seed, "a", {n: {k: v["all"] for k, v in r.items()} for n, r in runs[seed]["a"].items()
                                  if n != "n_images"}, f"{time.time() - t0:.0f}s", flush=True)
            if "b" in args.parts:
                runs[seed]["b"] = part_b(models[1], x_te, y_te, args, seed)
                print(seed, "b", runs[seed]["b"], f"{time.time() - t0:.0f}s", flush=True)
        write()
    for seed in args.seeds:
        if "c" in args.parts:
            runs[seed]["c"] = part_c(x_tr, y_tr, x_te, y_te, args, seed)
            print(seed, "c", {k: v for k, v in runs[seed]["c"].items() if k != "threats"}, f"{time.time() - t0:.0f}s",
                  flush=True)
            write()
    for seed in args.seeds:
        if "d" in args.parts:
            runs[seed]["d"] = part_d(x_tr, y_tr, x_te, y_te, args, seed)
            print(seed, "d", runs[seed]["d"], f"{time.time() - t0:.0f}s", flush=True)
            write()
    s0 = args.seeds[0]
    if "a" in runs[s0]:
        w = np.array(runs[s0]["a"]["linf"]["apgda"]["weight_history"])
        tfs.plot_domain_weights(w, ["mlp", "cnn", "cnn_pruned90", "cnn_4bit"], base + "_weights.png",
                                title=f"APGDA model weights, ensemble l_inf attack (seed {s0})")
    if "c" in runs[s0]:
        w = np.array(runs[s0]["c"]["apgda"]["weight_history"])
        tfs.plot_domain_weights(w, runs[s0]["c"]["threats"], base + "_at_weights.png",
                                title=f"APGDA threat weights in adversarial training (seed {s0})")
    write()
    print(summarize(runs, args))


if __name__ == "__main__":
    main()
