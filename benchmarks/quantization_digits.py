"""Quantization (and pruning + quantization, and memristor crossbars) on scikit-learn's digits.

For an MLP (64-256-128-10) and a small CNN, three seeds, a fixed train/test split. Every
compressed model starts from the same dense model (pretrained ``--pretrain-epochs``) and gets
the same budget of ``--epochs`` (ADMM then retraining on the levels) with the same shuffling
seed (paired comparisons); the dense row is the pretrained model trained ``--epochs`` more on
the same schedule, so all rows have trained equally long. Rows:

* dense float;
* 8-bit and 4-bit uniform grids, one scale per output channel, every layer;
* ternary, every layer (one scale per layer);
* fully binarized, every layer including the first and the last (one scale per layer): ADMM,
  and the plain straight-through baseline (hard binarization at the start, then the same
  epochs of straight-through training);
* 90% unstructured pruning + 4-bit of the pruned layers by progressive ADMM (targets 50%, 75%,
  90%, then the grid), against a dense model trained as long; compression of the pruned layers;
* memristor crossbars (MLP): 64x64 tile pruning (half the tiles of the hidden layers) + 16 device
  levels on every layer by ADMM,
  Monte-Carlo accuracy over device variation sigma = 0, 0.05, 0.1 without and with noise-aware
  retraining (and a control retrained as long without noise); the mapping report;
* for every compressed model, the full-integer int8 ``.tflite`` (grids pinned) against the Keras
  model: the fraction of test images with the same argmax.

    python benchmarks/quantization_digits.py [--seeds 0 1 2] [--out benchmarks/results]
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
from accuracy_digits import cnn, data, mlp  # noqa: E402  (same split and models as the pruning table)
from fine_grained_speed import cpu_model  # noqa: E402

BATCH = 32
HP = {"pretrain_lr": 1e-3, "admm_lr": 5e-3, "retrain_lr": 1e-3, "rho": 1e-2, "rho_factor": 1.5}


MODELS = {"mlp": mlp, "cnn": cnn}
# Layers pruned in the pruning + quantization row (first conv and the classifier stay dense).
PRUNED = {"mlp": ("fc1", "fc2"), "cnn": ("conv2", "conv3", "fc")}


def compile_(model, lr):
    model.compile(keras.optimizers.Adam(lr), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def copy_of(dense):
    model = keras.models.clone_model(dense)
    model.set_weights(dense.get_weights())
    return model


def accuracy(model, x, y):
    return float(np.mean(np.argmax(model.predict(x, verbose=0, batch_size=256), axis=1) == y))


def two_phase(model, x, y, epochs, callbacks=(), between=None):
    """The schedule every row shares: 2/3 of the budget at the ADMM learning rate (with the
    ADMM callback for compressed models), then the rest at the retraining rate (after
    ``between``, e.g. hardening). The dense row runs the same schedule without constraints."""
    first = max(1, round(epochs * 2 / 3))
    compile_(model, HP["admm_lr"])
    model.fit(x, y, epochs=first, batch_size=BATCH, verbose=0, callbacks=list(callbacks))
    if between is not None:
        between(model)
    compile_(model, HP["retrain_lr"])
    model.fit(x, y, epochs=epochs - first, batch_size=BATCH, verbose=0)
    return model


def admm_then_retrain(model, x, y, epochs):
    """ADMM for 2/3 of the budget, harden (mask and grid), retrain on the levels."""
    return two_phase(model, x, y, epochs, [tfs.ADMM(rho=HP["rho"], rho_factor=HP["rho_factor"])], tfs.harden)


def ste_baseline(model, x, y, epochs):
    """Hard quantization at the start, then straight-through training with the same schedule."""
    tfs.harden(model)
    return two_phase(model, x, y, epochs)


def check_on_grid(model):
    for layer in tfs.sparse_layers(model):
        if layer.quantizer is None:
            continue
        codes, step = layer.quantized_codes()
        k = layer.effective_kernel_numpy()
        if not np.array_equal(k, step.reshape(layer._channel_shape(k.shape)) * codes.astype(np.float32)):
            raise AssertionError(f"layer {layer.name}: weights are not on the {layer.quantizer!r} grid")


def compression(model, names):
    """(values-only ratio, ratio with a column index per nonzero) of the named layers: 32-bit
    dense weights against ``bits`` per kept weight (+ ceil(log2(columns)) index bits)."""
    dense_bits = values_bits = index_bits = 0.0
    for layer in tfs.sparse_layers(model):
        if layer.name not in names:
            continue
        k = layer.effective_kernel_numpy()
        w2 = layer.to_layer_gemm(k)
        nnz = int(np.count_nonzero(k))
        bits = layer.quantizer.bits if layer.quantizer is not None else 32.0
        dense_bits += 32.0 * k.size
        values_bits += bits * nnz
        index_bits += np.ceil(np.log2(max(2, w2.shape[1]))) * nnz
    return dense_bits / max(1.0, values_bits), dense_bits / max(1.0, values_bits + index_bits)


def int8_agreement(model, x_rep, x_te):
    """Fraction of test images whose argmax the pinned int8 .tflite shares with the Keras model,
    or None when the int8 export is not available."""
    export = getattr(tfs, "export_tflite", None)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.tflite")
            export(model, path, int8=True, representative_data=x_rep[:200])
            from ai_edge_litert.interpreter import Interpreter

            interp = Interpreter(model_path=path)
            interp.allocate_tensors()
            inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
            preds = []
            for i in range(len(x_te)):
                interp.set_tensor(inp["index"], x_te[i:i + 1])
                interp.invoke()
                preds.append(int(np.argmax(interp.get_tensor(out["index"]))))
    except TypeError as err:  # an export without int8 support
        if "int8" in str(err):
            return None
        raise
    keras_preds = np.argmax(model.predict(x_te, verbose=0, batch_size=256), axis=1)
    return float(np.mean(np.array(preds) == keras_preds))


def run_seed(model_name, seed, args, x_tr, y_tr, x_te, y_te, log):
    rows = []
    keras.utils.set_random_seed(seed)
    dense = compile_(MODELS[model_name](), HP["pretrain_lr"])
    dense.fit(x_tr, y_tr, epochs=args.pretrain_epochs, batch_size=BATCH, verbose=0)

    def row(name, model, acc=None, **extra):
        r = {"model": model_name, "seed": seed, "row": name,
             "accuracy": accuracy(model, x_te, y_te) if acc is None else acc, **extra}
        if args.int8 and model is not None and tfs.sparse_layers(model):
            r["int8_agreement"] = int8_agreement(model, x_tr, x_te)
        rows.append(r)
        log(f"{model_name} seed {seed} {name:32s} acc {r['accuracy']:.4f}"
            + (f" int8 agreement {r['int8_agreement']:.4f}" if r.get("int8_agreement") is not None else ""))
        return r

    keras.utils.set_random_seed(seed + 1)
    row("dense float", two_phase(copy_of(dense), x_tr, y_tr, args.epochs))

    grids = {
        "8-bit per channel": tfs.Uniform(8),
        "4-bit per channel": tfs.Uniform(4),
        "ternary": tfs.Ternary(),
        "binary (ADMM)": tfs.Binary(),
    }
    for name, quantizer in grids.items():
        keras.utils.set_random_seed(seed + 1)
        model = admm_then_retrain(tfs.quantize(copy_of(dense), quantizer), x_tr, y_tr, args.epochs)
        check_on_grid(model)
        row(name, model)
    keras.utils.set_random_seed(seed + 1)
    model = ste_baseline(tfs.quantize(copy_of(dense), tfs.Binary()), x_tr, y_tr, args.epochs)
    check_on_grid(model)
    row("binary (straight-through baseline)", model)

    # Pruning + 4-bit by progressive ADMM, against a dense model trained as long.
    keras.utils.set_random_seed(seed + 1)
    names = PRUNED[model_name]
    model = tfs.sparsify(copy_of(dense), {n: tfs.Unstructured(0.9) for n in names},
                         quantize={n: tfs.Uniform(4) for n in names})
    compile_(model, HP["admm_lr"])
    step_admm, step_retrain = args.progressive_admm_epochs, args.progressive_retrain_epochs
    tfs.progressive_admm(model, x_tr, y_tr, targets=[0.5, 0.75, 0.9], admm_epochs=step_admm,
                         retrain_epochs=step_retrain, rho=HP["rho"], rho_factor=HP["rho_factor"], batch_size=BATCH)
    check_on_grid(model)
    values_ratio, indexed_ratio = compression(model, names)
    sparsity = float(np.mean([layer.sparsity() for layer in tfs.sparse_layers(model)]))
    budget = 4 * (step_admm + step_retrain)
    keras.utils.set_random_seed(seed + 1)
    row(f"dense float ({budget} epochs)", two_phase(copy_of(dense), x_tr, y_tr, budget))
    row("90% pruning + 4-bit (progressive)", model, sparsity=sparsity, compression=values_ratio,
        compression_indexed=indexed_ratio)

    if model_name == "mlp" and args.memristor:
        rows.extend(memristor_rows(dense, seed, args, x_tr, y_tr, x_te, y_te, log))
    return rows


def memristor_rows(dense, seed, args, x_tr, y_tr, x_te, y_te, log):
    """Crossbar tile pruning (64x64, half the tiles of the hidden layers) + 16 device levels by
    ADMM, then Monte Carlo over device variation, before and after noise-aware retraining (and a
    control retrained as long without noise)."""
    import dataclasses

    from tf_sparse.quantization.memristor import Device, NoiseAwareTraining, map_model, monte_carlo

    rows = []
    device = Device(levels=16, tile=(64, 64))
    for tag, sparsity, single_sign in (("50% of tiles", 0.5, False), ("75% of tiles, single sign", 0.75, True)):
        keras.utils.set_random_seed(seed + 1)
        crossbar = tfs.Crossbar(sparsity, tile=(64, 64), single_sign=single_sign)
        config = {"fc1": crossbar, "fc2": crossbar, "logits": tfs.Crossbar(0.0, tile=(64, 64))}
        model = tfs.sparsify(copy_of(dense), config, quantize=device.quantizer())
        model = admm_then_retrain(model, x_tr, y_tr, args.epochs)
        check_on_grid(model)
        report = map_model(model, device)
        base = {"model": "mlp", "seed": seed}

        def monte(m, sigma, label):
            mc = monte_carlo(m, x_te, y_te, dataclasses.replace(device, sigma=sigma), draws=args.draws, seed=100 + seed)
            rows.append({**base, "row": f"memristor, 16 levels, 64x64 tiles, {tag}{label}, sigma={sigma:g}",
                         "accuracy": float(mc.mean), "std": float(mc.std)})
            log(f"mlp seed {seed} memristor {tag} sigma={sigma:g}{label}: {mc.mean:.4f} ± {mc.std:.4f}")

        for sigma in args.sigmas:
            monte(model, sigma, "")
        for label, noisy in ((", + noise-aware retraining", True), (", + retraining without noise (control)", False)):
            keras.utils.set_random_seed(seed + 5)
            with tempfile.TemporaryDirectory() as tmp:  # a copy with every piece of state
                model.save(os.path.join(tmp, "m.keras"))
                retrained = keras.models.load_model(os.path.join(tmp, "m.keras"))
            compile_(retrained, HP["retrain_lr"])
            callbacks = ([NoiseAwareTraining(dataclasses.replace(device, sigma=args.train_sigma), seed=seed)]
                         if noisy else [])
            retrained.fit(x_tr, y_tr, epochs=args.noise_epochs, batch_size=BATCH, verbose=0, callbacks=callbacks)
            check_on_grid(retrained)
            for sigma in args.sigmas:
                monte(retrained, sigma, label)
        rows.append({**base, "row": f"memristor mapping, {tag}", "report": report.to_dict(), "table": report.table()})
    return rows


def summarize(rows, args):
    lines = [f"CPU: {cpu_model()}; seeds {args.seeds}; pretraining {args.pretrain_epochs} epochs, then "
             f"{args.epochs} epochs for every row (the progressive row: 4 steps of "
             f"{args.progressive_admm_epochs}+{args.progressive_retrain_epochs}).", "",
             "| model | row | test accuracy (mean ± std over seeds) | int8 .tflite same argmax | notes |",
             "|---|---|---|---|---|"]
    for model_name in dict.fromkeys(r["model"] for r in rows):
        names = [r["row"] for r in rows if r["model"] == model_name and "accuracy" in r]
        for name in dict.fromkeys(names):
            sel = [r for r in rows if r["model"] == model_name and r["row"] == name]
            accs = [r["accuracy"] for r in sel]
            agree = [r["int8_agreement"] for r in sel if r.get("int8_agreement") is not None]
            note = ""
            if "compression" in sel[0]:
                note = (f"sparsity {np.mean([r['sparsity'] for r in sel]):.3f}; compression of the pruned layers "
                        f"{np.mean([r['compression'] for r in sel]):.1f}x (values) / "
                        f"{np.mean([r['compression_indexed'] for r in sel]):.1f}x (with column indices)")
            if "std" in sel[0]:
                note = f"Monte-Carlo std within a seed {np.mean([r['std'] for r in sel]):.4f} ({args.draws} device draws)"
            lines.append(f"| {model_name} | {name} | {np.mean(accs):.4f} ± {np.std(accs):.4f} | "
                         f"{(f'{min(agree):.4f} (min)') if agree else '-'} | {note} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--pretrain-epochs", type=int, default=40)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--progressive-admm-epochs", type=int, default=6)
    ap.add_argument("--progressive-retrain-epochs", type=int, default=3)
    ap.add_argument("--sigmas", type=float, nargs="+", default=[0.0, 0.05, 0.1, 0.2, 0.3])
    ap.add_argument("--train-sigma", type=float, default=0.1)
    ap.add_argument("--noise-epochs", type=int, default=10)
    ap.add_argument("--draws", type=int, default=30)
    ap.add_argument("--no-memristor", dest="memristor", action="store_false")
    ap.add_argument("--no-int8", dest="int8", action="store_false")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    x_tr, x_te, y_tr, y_te = data()
    t0 = time.time()

    def log(msg):
        print(f"[{time.time() - t0:6.0f}s] {msg}", flush=True)

    rows = []
    for model_name in args.models:
        for seed in args.seeds:
            rows.extend(run_seed(model_name, seed, args, x_tr, y_tr, x_te, y_te, log))
    with open(os.path.join(args.out, "quantization_digits.json"), "w") as f:
        json.dump(rows, f, indent=1, default=float)
    table = summarize(rows, args)
    for r in rows:
        if r["row"].startswith("memristor mapping") and r["seed"] == args.seeds[0]:
            table += f"\n{r['row']} (MLP, seed {r['seed']}, 64x64 crossbars, 16 levels):\n\n" + r["table"] + "\n"
    with open(os.path.join(args.out, "quantization_digits.md"), "w") as f:
        f.write(table)
    print(table)


if __name__ == "__main__":
    main()
