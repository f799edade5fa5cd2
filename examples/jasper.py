"""Jasper (1D-convolutional speech recognition) with block-pruned convolutions, run with the
tf_sparse delegate.

Builds the Jasper B x R architecture (Li et al., 2019; 10x5 by default) in Keras: a prologue
convolution (kernel 11, stride 2), B blocks of R sub-blocks (1D convolution, batch normalisation,
ReLU, dropout; a residual 1x1 convolution + batch normalisation into each block's last sub-block)
with kernels 11, 13, 17, 21, 25 and 256 to 768 channels, and an epilogue (a dilated kernel-29
convolution, a 1x1 convolution and the 1x1 CTC classifier over the characters). Every
convolution of the blocks and the epilogue (not the prologue, which sees the 64 features, nor the
classifier) is pruned in blocks of 16 output channels (``tfs.Block(s, block=(16,
1))`` on its GEMM view, which the delegate runs on filter-vector taps), the masks hardened, the
model optionally fine-tuned with the CTC loss (masked retraining), exported to TFLite and run with
the delegate and with the stock interpreter (XNNPACK): decisions, output difference and batch-1
latency, measured in this run.

Data: ``--data FILE`` is an ``.npz`` with ``features`` (float, [N, frames, 64] log-mel) and
``labels`` (int, [N, label_len], 0 = blank/padding, 1..28 characters); without it the model is
pruned from its random initialisation and fine-tuned on synthetic features, which checks the whole
path but says nothing about accuracy. Nothing is downloaded.

    python examples/jasper.py [--data FILE] [--blocks 10] [--repeats 5] [--frames 400]
        [--sparsity 0.8] [--steps 100] [--runs 10]
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

# Jasper 10x5: (kernel, channels) of each block (blocks come in pairs).
BLOCKS = [(11, 256), (11, 256), (13, 384), (13, 384), (17, 512), (17, 512), (21, 640), (21, 640),
          (25, 768), (25, 768)]
CHARACTERS = 29  # blank + 26 letters + space + apostrophe


def conv_bn(x, channels, kernel, name, stride=1, dilation=1, relu=True, dropout=0.0):
    x = keras.layers.Conv1D(channels, kernel, strides=stride, dilation_rate=dilation, padding="same",
                            use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    if relu:
        x = keras.layers.ReLU()(x)
    if dropout:
        x = keras.layers.Dropout(dropout)(x)
    return x


def jasper(frames, features, blocks, repeats, scale=1.0):
    inp = keras.Input((frames, features), name="features")
    ch = lambda c: max(16, int(c * scale) // 16 * 16)  # noqa: E731
    x = conv_bn(inp, ch(256), 11, "prologue", stride=2, dropout=0.2)
    for b, (kernel, channels) in enumerate(BLOCKS[:blocks]):
        residual = conv_bn(x, ch(channels), 1, f"block{b}_residual", relu=False)
        for r in range(repeats):
            last = r == repeats - 1
            x = conv_bn(x, ch(channels), kernel, f"block{b}_{r}", relu=not last, dropout=0.0 if last else 0.2)
        x = keras.layers.Dropout(0.2)(keras.layers.ReLU()(x + residual))
    x = conv_bn(x, ch(896), 29, "epilogue_1", dilation=2, dropout=0.4)
    x = conv_bn(x, ch(1024), 1, "epilogue_2", dropout=0.4)
    logits = keras.layers.Conv1D(CHARACTERS, 1, name="classifier")(x)
    return keras.Model(inp, logits, name="jasper")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None, help=".npz with features [N, frames, 64] and labels [N, L]")
    ap.add_argument("--blocks", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--frames", type=int, default=400)
    ap.add_argument("--scale", type=float, default=1.0, help="channel multiplier (tests use a small one)")
    ap.add_argument("--sparsity", type=float, default=0.8, help="fraction of 16-channel blocks removed")
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--batch", type=int, default=4)
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

    rng = np.random.default_rng(args.seed)
    if args.data:
        data = np.load(args.data)
        x, y = data["features"].astype(np.float32), data["labels"].astype(np.int32)
        args.frames = x.shape[1]
    else:
        n = max(args.batch * max(args.steps, 1), 2)
        x = rng.standard_normal((n, args.frames, 64)).astype(np.float32)
        y = rng.integers(1, CHARACTERS, (n, max(1, args.frames // 8))).astype(np.int32)
    model = jasper(args.frames, x.shape[2], args.blocks, args.repeats, args.scale)

    structure = tfs.Block(args.sparsity, block=(16, 1))

    def config(layer):  # the blocks' and the epilogue's convolutions
        pruned = layer.name.startswith(("block", "epilogue"))
        return structure if isinstance(layer, keras.layers.Conv1D) and pruned else None

    sparse = tfs.sparsify(model, config)
    tfs.harden(sparse)
    pruned = [layer for layer in sparse.layers if isinstance(layer, tfs.SparseConv1D)]
    if args.steps > 0:
        def ctc(y_true, y_pred):
            batch = keras.ops.shape(y_pred)[0]
            label_length = keras.ops.sum(keras.ops.cast(y_true > 0, "int32"), axis=1)
            logit_length = keras.ops.full((batch,), keras.ops.shape(y_pred)[1], dtype="int32")
            return keras.ops.ctc_loss(y_true, y_pred, label_length, logit_length, mask_index=0)

        sparse.compile(keras.optimizers.Adam(1e-4), ctc)
        sparse.fit(x, y, batch_size=args.batch, epochs=1, steps_per_epoch=args.steps, verbose=2)

    deploy = tfs.strip(sparse)
    out_dir = args.out or tempfile.mkdtemp(prefix="tf_sparse_jasper_")
    path = os.path.join(out_dir, "jasper_pruned{}.tflite".format("_int8" if args.int8 else ""))
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
    print(f"Jasper {args.blocks}x{args.repeats}, {args.frames} frames: {len(pruned)} convolutions "
          f"{zeros / total:.3f} sparse (Block({args.sparsity}, block=(16, 1)))")
    print(describe(cmp, args.threads, args.runs))
    return {
        "pruned_convolutions": len(pruned),
        "sparsity": zeros / total,
        "claimed_nodes": cmp["claimed_nodes"],
        "file_bytes": os.path.getsize(path),
        "formats": cmp["formats"],
        "max_rel_diff": cmp["max_rel_diff"],
        "latency_ours_ms": cmp["latency_ours_ms"],
        "latency_xnnpack_ms": cmp["latency_xnnpack_ms"],
    }


if __name__ == "__main__":
    main()
