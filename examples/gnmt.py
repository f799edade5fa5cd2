"""GNMT-style LSTM encoder-decoder with attention, block-pruned (BLK-REW), run with the delegate.

The architecture of Google's NMT system (Wu et al. 2016) at ``--layers`` x ``--units``: an encoder
whose first layer is bidirectional, then unidirectional LSTM layers with residual connections from
the third layer on; a decoder of LSTM layers whose bottom layer's outputs attend over the encoder's
outputs (additive attention), the attention context fed to every layer above it, residual
connections from the third layer; a softmax projection over the target vocabulary. Training and
this forward pass use teacher forcing (the decoder reads the reference shifted by one), so every
LSTM runs over whole sequences and exports as one fused LSTM op.

Every LSTM's input and recurrent kernels are pruned in blocks of 16 consecutive output units of a
gate (``tfs.Block(s, block=(16, 1))``, BLK-REW's blocks over the gate matrices), trained with
reweighted group lasso over those blocks, hardened, fine-tuned with fixed masks, exported to
TFLite and compared, delegate against the stock interpreter, on outputs and batch-1 latency.

Data: ``--data FILE`` is an ``.npz`` with ``source`` and ``target`` (int token ids, [N, length],
0 = padding, target starting with a start token), e.g. a tokenised WMT set; without it the model
learns to copy random token sequences (synthetic), which checks the whole path but says nothing
about translation quality. Nothing is downloaded.

    python examples/gnmt.py [--data FILE] [--layers 4] [--units 1024] [--vocab 8000] [--src-len 50]
        [--tgt-len 50] [--sparsity 0.9] [--reg-steps 100] [--steps 100] [--runs 10]
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


def gnmt(src_vocab, tgt_vocab, src_len, tgt_len, layers, units, dropout=0.0):
    """GNMT's encoder-decoder (teacher-forced) as one Functional model ``[source, target_in] -> logits``."""
    if layers < 2:
        raise ValueError(f"--layers must be >= 2 (a bidirectional layer and at least one more), got {layers}")
    if units % 2:
        raise ValueError(f"--units must be even (the bidirectional layer's two halves), got {units}")
    src = keras.Input((src_len,), dtype="int32", name="source")
    tgt = keras.Input((tgt_len,), dtype="int32", name="target_in")

    x = keras.layers.Embedding(src_vocab, units, name="source_embedding")(src)
    x = keras.layers.Bidirectional(keras.layers.LSTM(units // 2, return_sequences=True, name="enc_lstm_0"),
                                   name="enc_bidirectional")(x)
    for i in range(1, layers):
        h = keras.layers.LSTM(units, return_sequences=True, dropout=dropout, name=f"enc_lstm_{i}")(x)
        x = keras.layers.Add(name=f"enc_residual_{i}")([x, h]) if i >= 2 else h
    memory = x

    y = keras.layers.Embedding(tgt_vocab, units, name="target_embedding")(tgt)
    bottom = keras.layers.LSTM(units, return_sequences=True, name="dec_lstm_0")(y)
    # Additive attention from the bottom decoder layer over the encoder outputs (GNMT).
    query = keras.layers.Dense(units, use_bias=False, name="attention_query")(bottom)
    keys = keras.layers.Dense(units, use_bias=False, name="attention_keys")(memory)
    context = keras.layers.AdditiveAttention(name="attention")([query, memory, keys])
    x = bottom
    for i in range(1, layers):
        h = keras.layers.LSTM(units, return_sequences=True, dropout=dropout, name=f"dec_lstm_{i}")(
            keras.layers.Concatenate(name=f"dec_input_{i}")([x, context]))
        x = keras.layers.Add(name=f"dec_residual_{i}")([x, h]) if i >= 2 else h
    logits = keras.layers.Dense(tgt_vocab, name="softmax_projection")(x)
    return keras.Model([src, tgt], logits, name="gnmt")


def synthetic(n, vocab, src_len, tgt_len, seed):
    """Copy task: the target is the source (then padding); token 1 starts the decoder input."""
    rng = np.random.default_rng(seed)
    source = rng.integers(2, vocab, (n, src_len)).astype(np.int32)
    target = np.zeros((n, tgt_len + 1), np.int32)
    target[:, 0] = 1
    m = min(src_len, tgt_len)
    target[:, 1:m + 1] = source[:, :m]
    return source, target


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None, help=".npz with source [N, src_len] and target [N, tgt_len + 1]")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--units", type=int, default=1024)
    ap.add_argument("--vocab", type=int, default=8000)
    ap.add_argument("--src-len", type=int, default=50)
    ap.add_argument("--tgt-len", type=int, default=50)
    ap.add_argument("--sparsity", type=float, default=0.9, help="fraction of 16x1 blocks removed in every LSTM kernel")
    ap.add_argument("--attention-sparsity", type=float, default=0.0, help="the same for the attention projections")
    ap.add_argument("--reg-steps", type=int, default=0, help="steps of reweighted group lasso before hardening")
    ap.add_argument("--lam", type=float, default=1e-4)
    ap.add_argument("--steps", type=int, default=0, help="masked fine-tuning steps after hardening")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    keras.utils.set_random_seed(args.seed)

    if args.data:
        data = np.load(args.data)
        source, target = data["source"].astype(np.int32), data["target"].astype(np.int32)
        args.src_len, args.tgt_len = source.shape[1], target.shape[1] - 1
        src_vocab = tgt_vocab = int(max(source.max(), target.max())) + 1
    else:
        n = max(args.batch * max(args.steps, args.reg_steps, 1), 2)
        source, target = synthetic(n, args.vocab, args.src_len, args.tgt_len, args.seed)
        src_vocab = tgt_vocab = args.vocab
    model = gnmt(src_vocab, tgt_vocab, args.src_len, args.tgt_len, args.layers, args.units)
    if args.weights:
        model.load_weights(args.weights)
    x, y = [source, target[:, :-1]], target[:, 1:]

    lstm = tfs.Block(args.sparsity, block=(16, 1))
    config = {keras.layers.LSTM: lstm}
    if args.attention_sparsity > 0:
        config["attention_*"] = tfs.Block(args.attention_sparsity, block=(16, 1))
    sparse = tfs.sparsify(model, config)
    units = tfs.sparse_layers(sparse)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)
    if args.reg_steps > 0:
        sparse.compile(keras.optimizers.Adam(args.lr), loss)
        sparse.fit(x, y, batch_size=args.batch, epochs=1, steps_per_epoch=args.reg_steps, verbose=2,
                   callbacks=[tfs.ReweightedGroupLasso(lam=args.lam)])
    tfs.harden(sparse)
    if args.steps > 0:
        sparse.compile(keras.optimizers.Adam(args.lr), loss)
        sparse.fit(x, y, batch_size=args.batch, epochs=1, steps_per_epoch=args.steps, verbose=2)

    deploy = tfs.strip(sparse)
    out_dir = args.out or tempfile.mkdtemp(prefix="tf_sparse_gnmt_")
    path = os.path.join(out_dir, "gnmt_pruned.tflite")
    t0 = time.time()
    tfs.export_tflite(deploy, path)
    print(f"exported {path} ({os.path.getsize(path):,} bytes) in {time.time() - t0:.0f} s")

    lstm_units = [u for u in units if "lstm" in u.sparse_path]
    zeros = sum(int(np.count_nonzero(u.kernel_numpy() == 0)) for u in lstm_units)
    total = sum(int(u.kernel_numpy().size) for u in lstm_units)
    print(f"GNMT {args.layers}+{args.layers} layers x {args.units} units, source {args.src_len}, target "
          f"{args.tgt_len}: {len(lstm_units)} LSTM kernels {zeros / total:.3f} sparse (Block({args.sparsity}, "
          f"block=(16, 1)))")
    cmp = delegate_vs_xnnpack(path, {"source": source[:1], "target_in": target[:1, :-1]}, num_threads=args.threads, runs=args.runs)
    print(describe(cmp, args.threads, args.runs))
    return {
        "pruned_kernels": len(units),
        "lstm_sparsity": zeros / total,
        "claimed_nodes": cmp["claimed_nodes"],
        "formats": cmp["formats"],
        "declined": cmp["declined"],
        "max_abs_diff": cmp["max_abs_diff"],
        "latency_ours_ms": cmp["latency_ours_ms"],
        "latency_xnnpack_ms": cmp["latency_xnnpack_ms"],
        "file_bytes": os.path.getsize(path),
    }


if __name__ == "__main__":
    main()
