"""Accuracy of filter pruning that shrinks the model, on scikit-learn's digits (real data).

The digits CNN of benchmarks/accuracy_digits.py (three 3x3 convolutions and a Dense layer), three
seeds, a fixed train/test split. Dense baseline trained to convergence (``--pretrain-epochs``);
then ``tfs.Filter(0.5)`` on every convolution and the hidden Dense layer, ADMM (``--admm-epochs``),
``tfs.harden``, ``tfs.strip``, ``tfs.prune_filter_groups`` (the same filters, their biases zeroed
so that each removed channel is an exact zero), ``tfs.shrink`` (the filters are physically gone),
and fine-tuning of the shrunk plain Keras model (``--finetune-epochs``). Reports test accuracy,
parameters and multiply-adds before and after.

    python benchmarks/shrink_digits.py [--seeds 0 1 2] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import tf_sparse as tfs  # noqa: E402
from accuracy_digits import BATCH, cnn, compile_, data  # noqa: E402


def run(seed, args, x_tr, x_te, y_tr, y_te):
    keras.utils.set_random_seed(seed)
    dense = cnn()
    compile_(dense, 1e-3)
    dense.fit(x_tr, y_tr, epochs=args.pretrain_epochs, batch_size=BATCH, verbose=0)
    dense_acc = float(dense.evaluate(x_te, y_te, verbose=0)[1])

    keras.utils.set_random_seed(seed + 17)
    sparse = tfs.sparsify(dense, {"default": tfs.Filter(args.ratio), "logits": None})
    compile_(sparse, args.admm_lr)
    sparse.fit(x_tr, y_tr, epochs=args.admm_epochs, batch_size=BATCH, verbose=0,
               callbacks=[tfs.ADMM(rho=args.rho, rho_factor=1.5)])
    tfs.harden(sparse)
    plain = tfs.strip(sparse)
    pruned = tfs.prune_filter_groups(plain, args.ratio)
    compile_(plain, args.finetune_lr)
    hardened_acc = float(plain.evaluate(x_te, y_te, verbose=0)[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small, report = tfs.shrink(plain, report=True)
    out_plain, out_small = plain.predict(x_te, verbose=0), small.predict(x_te, verbose=0)
    compile_(small, args.finetune_lr)
    small.fit(x_tr, y_tr, epochs=args.finetune_epochs, batch_size=BATCH, verbose=0)
    return {
        "seed": seed,
        "dense_accuracy": dense_acc,
        "hardened_accuracy": hardened_acc,
        "shrunk_finetuned_accuracy": float(small.evaluate(x_te, y_te, verbose=0)[1]),
        "shrink_max_abs_diff": float(np.max(np.abs(out_plain - out_small))),
        "params_before": report.params_before,
        "params_after": report.params_after,
        "macs_before": report.macs_before,
        "macs_after": report.macs_after,
        "filters_removed": {k: len(v) for k, v in pruned.items()},
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--pretrain-epochs", type=int, default=60)
    ap.add_argument("--admm-epochs", type=int, default=10)
    ap.add_argument("--finetune-epochs", type=int, default=20)
    ap.add_argument("--ratio", type=float, default=0.5)
    ap.add_argument("--rho", type=float, default=1e-2)
    ap.add_argument("--admm-lr", type=float, default=1e-2)
    ap.add_argument("--finetune-lr", type=float, default=2e-3)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = ap.parse_args(argv)
    x_tr, x_te, y_tr, y_te = data()
    rows = [run(seed, args, x_tr, x_te, y_tr, y_te) for seed in args.seeds]
    for r in rows:
        print(r, flush=True)

    def ms(key):
        v = np.array([r[key] for r in rows])
        return f"{v.mean():.4f} ± {v.std():.4f}"

    r0 = rows[0]
    text = "\n".join([
        "# Filter pruning that shrinks the digits CNN (scikit-learn digits, 450 test images)",
        "",
        f"Seeds {args.seeds}; dense trained {args.pretrain_epochs} epochs; Filter({args.ratio}) on conv1-3 and fc by "
        f"ADMM ({args.admm_epochs} epochs, rho {args.rho}, lr {args.admm_lr}), harden, strip, prune_filter_groups, "
        f"shrink, fine-tune the shrunk model {args.finetune_epochs} epochs (lr {args.finetune_lr}). Mean ± std over seeds.",
        "",
        "| model | test accuracy | parameters | multiply-adds |",
        "|---|---|---|---|",
        f"| dense | {ms('dense_accuracy')} | {r0['params_before']:,} | {r0['macs_before']:,} |",
        f"| Filter({args.ratio}) hardened (masked, before shrink) | {ms('hardened_accuracy')} | | |",
        f"| shrunk + fine-tuned | {ms('shrunk_finetuned_accuracy')} | {r0['params_after']:,} | {r0['macs_after']:,} |",
        "",
        f"Largest output difference masked vs shrunk (before fine-tuning): "
        f"{max(r['shrink_max_abs_diff'] for r in rows):.2e}.",
    ])
    print(text)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "shrink_digits.md"), "w") as f:
            f.write(text + "\n")
        with open(os.path.join(args.out, "shrink_digits.json"), "w") as f:
            json.dump({"args": vars(args), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
