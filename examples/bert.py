"""BERT-family encoder from keras_hub, block-pruned by reweighted group lasso, run with the delegate.

Builds ``keras_hub.models.BertBackbone`` from arguments (BERT-base by default: 12 layers, hidden
768, 12 heads, feed-forward 3072; ``--family roberta`` or ``distilbert`` builds those backbones at
their base sizes, DistilBERT with 6 layers; nothing is downloaded) with a classification head on
the pooled / first token, then follows the BERT block-pruning recipe: reweighted group lasso over
blocks of 16 consecutive output units (``tfs.Block(s, block=(16, 1))``) on the feed-forward layers
and, with ``--attention-sparsity``, on the attention's query/key/value/output ``EinsumDense``
projections; ``tfs.harden`` prunes to the targets; masked fine-tuning; export to TFLite; the
delegate against the stock interpreter (XNNPACK) on outputs and batch-1 latency.

Data: ``--data FILE`` is an ``.npz`` with ``input_ids`` (int, [N, seq]) and ``labels`` (int, [N]),
e.g. a tokenised GLUE task (token ids from the model's own vocabulary); without it the model is
trained on synthetic tokens, which checks the whole path but says nothing about accuracy.
``--weights FILE`` loads a ``.weights.h5`` of this same model.

    python examples/bert.py [--family bert|roberta|distilbert] [--data FILE] [--weights FILE]
        [--layers 12] [--hidden 768] [--heads 12] [--ffn 3072] [--seq 128] [--ffn-sparsity 0.9]
        [--attention-sparsity 0.9] [--reg-steps 100] [--steps 100] [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import tf_sparse as tfs  # noqa: E402
from tf_sparse.runtime import delegate_vs_xnnpack, describe  # noqa: E402

# Base sizes of each family (layers, hidden, heads, feed-forward); --layers etc. override them.
FAMILIES = {
    "bert": (12, 768, 12, 3072),
    "roberta": (12, 768, 12, 3072),
    "distilbert": (6, 768, 12, 3072),
}


def encoder_classifier(family, vocab, seq, layers, hidden, heads, ffn, classes, dropout=0.1):
    """A keras_hub backbone of ``family`` with a classifier on its first token, taking token ids
    only (padding mask all ones, one segment): one int32 input of shape [batch, seq]."""
    import keras_hub

    common = dict(vocabulary_size=vocab, num_layers=layers, num_heads=heads, hidden_dim=hidden,
                  intermediate_dim=ffn, dropout=dropout, max_sequence_length=seq)
    if family == "bert":
        backbone = keras_hub.models.BertBackbone(**common, name="encoder")
    elif family == "roberta":
        backbone = keras_hub.models.RobertaBackbone(**common, name="encoder")
    elif family == "distilbert":
        backbone = keras_hub.models.DistilBertBackbone(**common, name="encoder")
    else:
        raise ValueError(f"--family must be one of {sorted(FAMILIES)}, got {family!r}")
    ids = keras.Input((seq,), dtype="int32", name="token_ids")
    inputs = {"token_ids": ids, "padding_mask": keras.ops.ones_like(ids)}
    if family == "bert":
        inputs["segment_ids"] = keras.ops.zeros_like(ids)
    out = backbone(inputs)
    first = out["pooled_output"] if family == "bert" else out[:, 0, :]
    logits = keras.layers.Dense(classes, name="classifier")(first)
    return keras.Model(ids, logits, name=f"{family}_classifier")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--family", default="bert", choices=sorted(FAMILIES))
    ap.add_argument("--data", default=None, help=".npz with input_ids [N, seq] and labels [N]")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--vocab", type=int, default=30522)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--layers", type=int, default=None)
    ap.add_argument("--hidden", type=int, default=None)
    ap.add_argument("--heads", type=int, default=None)
    ap.add_argument("--ffn", type=int, default=None)
    ap.add_argument("--classes", type=int, default=2)
    ap.add_argument("--ffn-sparsity", type=float, default=0.9, help="fraction of 16-unit blocks removed")
    ap.add_argument("--attention-sparsity", type=float, default=0.0,
                    help="the same for the query, key, value and output projections (0: left dense)")
    ap.add_argument("--reg-steps", type=int, default=0,
                    help="training steps with reweighted group lasso over the blocks before hardening")
    ap.add_argument("--lam", type=float, default=1e-4, help="group lasso strength")
    ap.add_argument("--steps", type=int, default=0, help="masked fine-tuning steps after hardening")
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    ap.add_argument("--compact", action="store_true",
                    help="store the weights in TFLite's sparse encoding (DENSIFY in front of the layers)")
    ap.add_argument("--int8", action="store_true",
                    help="full-integer int8 file (activations calibrated on up to 16 training inputs)")
    args = ap.parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    base = FAMILIES[args.family]
    layers, hidden, heads, ffn = (v if v is not None else d for v, d in
                                  zip((args.layers, args.hidden, args.heads, args.ffn), base))

    if args.data:
        data = np.load(args.data)
        x, y = data["input_ids"].astype(np.int32), data["labels"].astype(np.int32)
        args.seq = x.shape[1]
        args.classes = int(y.max()) + 1
    else:
        rng = np.random.default_rng(args.seed)
        n = max(args.batch * max(args.steps, args.reg_steps, 1), 2)
        x = rng.integers(0, args.vocab, (n, args.seq)).astype(np.int32)
        y = rng.integers(0, args.classes, n).astype(np.int32)
    model = encoder_classifier(args.family, args.vocab, args.seq, layers, hidden, heads, ffn, args.classes)
    if args.weights:
        model.load_weights(args.weights)

    # Paths inside the backbone: encoder/transformer_layer_<i>/self_attention_layer/query, ...
    config = {"encoder/*/feedforward_*": tfs.Block(args.ffn_sparsity, block=(16, 1))}
    if args.attention_sparsity > 0:
        config["encoder/*/self_attention*/*"] = tfs.Block(args.attention_sparsity, block=(16, 1))
    sparse = tfs.sparsify(model, config)
    units = tfs.sparse_layers(sparse)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if args.reg_steps > 0:
        # Reweighted group lasso over the 16x1 blocks, as the BERT block-pruning paper trains.
        sparse.compile(keras.optimizers.Adam(args.lr), loss, metrics=["accuracy"])
        sparse.fit(x, y, batch_size=args.batch, epochs=1, steps_per_epoch=args.reg_steps, verbose=2,
                   callbacks=[tfs.ReweightedGroupLasso(lam=args.lam)])
    tfs.harden(sparse)
    if args.steps > 0:
        sparse.compile(keras.optimizers.Adam(args.lr), loss, metrics=["accuracy"])
        sparse.fit(x, y, batch_size=args.batch, epochs=1, steps_per_epoch=args.steps, verbose=2)

    deploy = tfs.strip(sparse)
    out_dir = args.out or tempfile.mkdtemp(prefix="tf_sparse_bert_")
    path = os.path.join(out_dir, "bert_pruned{}.tflite".format("_int8" if args.int8 else ""))
    t0 = time.time()
    if args.int8:
        tfs.export_tflite(deploy, path, compact=args.compact, int8=True, representative_data=x[:16])
    else:
        tfs.export_tflite(deploy, path, compact=args.compact)
    print(f"exported {path} ({os.path.getsize(path):,} bytes) in {time.time() - t0:.0f} s")

    sample = x[:1]
    cmp = delegate_vs_xnnpack(path, sample, num_threads=args.threads, runs=args.runs)
    ffn_units = [u for u in units if "feedforward" in u.sparse_path]
    zeros = sum(int(np.count_nonzero(u.kernel_numpy() == 0)) for u in ffn_units)
    total = sum(int(u.kernel_numpy().size) for u in ffn_units)
    print(f"{args.family} {layers} layers, hidden {hidden}, seq {args.seq}: {len(units)} pruned kernels, "
          f"feed-forward {zeros / total:.3f} sparse (Block({args.ffn_sparsity}, block=(16, 1))), attention "
          f"projections {args.attention_sparsity or 'dense'}")
    print(describe(cmp, args.threads, args.runs))
    return {
        "pruned_layers": len(units),
        "ffn_sparsity": zeros / total,
        "claimed_nodes": cmp["claimed_nodes"],
        "file_bytes": os.path.getsize(path),
        "formats": cmp["formats"],
        "declined": cmp["declined"],
        "max_abs_diff": cmp["max_abs_diff"],
        "latency_ours_ms": cmp["latency_ours_ms"],
        "latency_xnnpack_ms": cmp["latency_xnnpack_ms"],
    }


if __name__ == "__main__":
    main()
