"""BERT encoder with block-pruned feed-forward layers, run with the tf_sparse delegate.

Builds the BERT-base encoder architecture in Keras (token and position embeddings,
``--layers`` transformer blocks of multi-head self-attention and a GELU feed-forward network, each
with residual connections and layer normalisation, a [CLS] classifier), prunes the feed-forward
Dense layers (two thirds of the encoder's multiply-adds) in blocks of 16 output units
(``tfs.Block(s, block=(16, 1))``, the BERT block-pruning structure that the delegate runs over the
sequence's rows on filter-vector taps), with ``--attention-sparsity`` the attention's query, key,
value and output projections too, hardens the masks, optionally fine-tunes (masked
retraining), exports to TFLite and compares the delegate with the stock interpreter (XNNPACK) on
outputs and batch-1 latency.

Data: ``--data FILE`` is an ``.npz`` with ``input_ids`` (int, [N, seq]) and ``labels`` (int, [N]),
e.g. a tokenised GLUE task; without it the model is pruned from its random initialisation and
fine-tuned on synthetic tokens, which checks the whole path but says nothing about accuracy.
Nothing is downloaded; ``--weights FILE`` loads a ``.weights.h5`` of this same model.

    python examples/bert.py [--data FILE] [--weights FILE] [--layers 12] [--hidden 768]
        [--heads 12] [--ffn 3072] [--seq 128] [--ffn-sparsity 0.9] [--attention-sparsity 0.9]
        [--steps 100] [--runs 10]
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


def self_attention(x, seq, hidden, heads, dropout, i):
    """BERT's multi-head self-attention with its four projections as Dense layers (so that they can
    be pruned like any Dense layer): softmax(Q K^T / sqrt(d)) V per head, then the output
    projection."""
    d = hidden // heads

    def split(t):  # [batch, seq, hidden] -> [batch, heads, seq, d]
        return keras.ops.transpose(keras.ops.reshape(t, (-1, seq, heads, d)), (0, 2, 1, 3))

    q = split(keras.layers.Dense(hidden, name=f"query_{i}")(x))
    k = split(keras.layers.Dense(hidden, name=f"key_{i}")(x))
    v = split(keras.layers.Dense(hidden, name=f"value_{i}")(x))
    scores = keras.ops.matmul(q, keras.ops.transpose(k, (0, 1, 3, 2))) / float(np.sqrt(d))
    probs = keras.layers.Dropout(dropout)(keras.ops.softmax(scores, axis=-1))
    context = keras.ops.reshape(keras.ops.transpose(keras.ops.matmul(probs, v), (0, 2, 1, 3)), (-1, seq, hidden))
    return keras.layers.Dense(hidden, name=f"attention_output_{i}")(context)


def bert_encoder(vocab, seq, layers, hidden, heads, ffn, classes, dropout=0.1):
    """BERT's encoder (Devlin et al.; base: 12 layers, 768 hidden, 12 heads, 3072 feed-forward)."""
    ids = keras.Input((seq,), dtype="int32", name="input_ids")
    tokens = keras.layers.Embedding(vocab, hidden, name="token_embedding")(ids)
    positions = keras.layers.Embedding(seq, hidden, name="position_embedding")(
        keras.ops.expand_dims(keras.ops.arange(seq), 0)
    )
    x = keras.layers.LayerNormalization(epsilon=1e-12, name="embedding_norm")(tokens + positions)
    x = keras.layers.Dropout(dropout)(x)
    for i in range(layers):
        attention = self_attention(x, seq, hidden, heads, dropout, i)
        x = keras.layers.LayerNormalization(epsilon=1e-12, name=f"attention_norm_{i}")(
            x + keras.layers.Dropout(dropout)(attention)
        )
        h = keras.layers.Dense(ffn, activation="gelu", name=f"ffn_in_{i}")(x)
        h = keras.layers.Dense(hidden, name=f"ffn_out_{i}")(h)
        x = keras.layers.LayerNormalization(epsilon=1e-12, name=f"ffn_norm_{i}")(
            x + keras.layers.Dropout(dropout)(h)
        )
    cls = keras.layers.Dense(hidden, activation="tanh", name="pooler")(x[:, 0])
    logits = keras.layers.Dense(classes, name="classifier")(cls)
    return keras.Model(ids, logits, name="bert")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None, help=".npz with input_ids [N, seq] and labels [N]")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--vocab", type=int, default=30522)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--hidden", type=int, default=768)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--ffn", type=int, default=3072)
    ap.add_argument("--classes", type=int, default=2)
    ap.add_argument("--ffn-sparsity", type=float, default=0.9, help="fraction of 16-unit blocks removed")
    ap.add_argument("--attention-sparsity", type=float, default=0.0,
                    help="the same for the query, key, value and output projections (0: left dense)")
    ap.add_argument("--steps", type=int, default=0, help="masked fine-tuning steps after hardening")
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

    if args.data:
        data = np.load(args.data)
        x, y = data["input_ids"].astype(np.int32), data["labels"].astype(np.int32)
        args.seq = x.shape[1]
        args.classes = int(y.max()) + 1
    else:
        rng = np.random.default_rng(args.seed)
        n = max(args.batch * max(args.steps, 1), 2)
        x = rng.integers(0, args.vocab, (n, args.seq)).astype(np.int32)
        y = rng.integers(0, args.classes, n).astype(np.int32)
    model = bert_encoder(args.vocab, args.seq, args.layers, args.hidden, args.heads, args.ffn, args.classes)
    if args.weights:
        model.load_weights(args.weights)

    structure = tfs.Block(args.ffn_sparsity, block=(16, 1))
    attention = tfs.Block(args.attention_sparsity, block=(16, 1)) if args.attention_sparsity > 0 else None
    ffn = ("ffn_in_", "ffn_out_")
    projections = ("query_", "key_", "value_", "attention_output_")

    def config(layer):
        if layer.name.startswith(ffn):
            return structure
        return attention if layer.name.startswith(projections) else None

    sparse = tfs.sparsify(model, config)
    tfs.harden(sparse)
    pruned = [layer for layer in sparse.layers if isinstance(layer, tfs.SparseDense)]
    if args.steps > 0:
        sparse.compile(keras.optimizers.Adam(2e-5), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                       metrics=["accuracy"])
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
    zeros = sum(int(np.count_nonzero(layer.kernel == 0)) for layer in pruned)
    total = sum(int(np.prod(layer.kernel.shape)) for layer in pruned)
    print(f"BERT {args.layers} layers, hidden {args.hidden}, seq {args.seq}: {len(pruned)} Dense layers "
          f"{zeros / total:.3f} sparse (feed-forward Block({args.ffn_sparsity}, block=(16, 1)), attention "
          f"projections {args.attention_sparsity or 'dense'})")
    print(describe(cmp, args.threads, args.runs))
    return {
        "pruned_layers": len(pruned),
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
