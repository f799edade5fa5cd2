"""MobileNetV2 pruned the way tfmot users prune it, then run faster with the tf_sparse delegate.

What a ``tensorflow_model_optimization`` user does, with tf_sparse's equivalents:

1. ``keras.applications.MobileNetV2`` (``weights=None``: nothing is downloaded; ``--weights FILE``
   starts from a saved ``.weights.h5``);
2. gradual magnitude pruning (``prune_low_magnitude`` + ``PolynomialDecay``): every 1x1
   convolution and the classifier go from 0 to ``--sparsity`` (0.9) unstructured along a cubic
   schedule during a plain ``model.fit`` (``tfs.sparsify(..., schedule=tfs.PolynomialDecay(...))``
   and the ``tfs.UpdateMasks`` callback, tfmot's ``UpdatePruningStep``); the depthwise and the
   first convolution stay dense;
3. ``strip_pruning``: ``tfs.harden`` (the masks at their final sparsity, frozen) and ``tfs.strip``
   (plain Keras layers, pruned weights exact zeros);
4. the stock converter, ``tf.lite.TFLiteConverter.from_keras_model``, no tf_sparse exporter;
5. the same file on the stock interpreter (XNNPACK) and with ``tfs.load_delegate()``: the
   speed ratio, the nodes the delegate claimed and the largest output difference.

Data: ``--data DIR`` is an image folder (one sub-folder per class, as for imagenet_cnn.py);
without it the model trains on synthetic images, which exercises the whole path but says nothing
about accuracy.

    python examples/mobilenet_v2_tfmot.py [--data DIR] [--weights FILE] [--image-size 224]
        [--steps 100] [--batch 8] [--sparsity 0.9] [--threads 1] [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tf_sparse as tfs  # noqa: E402
from tf_sparse.runtime import delegate_vs_xnnpack, describe  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from imagenet_cnn import build, dataset, is_1x1_conv, num_classes  # noqa: E402


def schedule_for(steps, sparsity):
    """tfmot's usual gradual schedule over the first 80% of training: 0 -> ``sparsity``, cubic,
    masks updated 8 times (or every step when there are fewer), the last update at ``end_step``."""
    end = max(1, int(0.8 * steps))
    frequency = max(1, end // 8)
    end = max(frequency, frequency * (end // frequency))
    return tfs.PolynomialDecay(0.0, sparsity, begin_step=0, end_step=end, frequency=frequency)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None, help="image folder (one sub-folder per class)")
    ap.add_argument("--weights", default=None, help=".weights.h5 of MobileNetV2 to start from")
    ap.add_argument("--classes", type=int, default=None, help="output classes (default: from --data, else 1000)")
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=100, help="training steps; pruning runs over the first 80%%")
    ap.add_argument("--sparsity", type=float, default=0.9, help="final sparsity of the 1x1 convolutions and classifier")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="directory for the .tflite file")
    args = ap.parse_args(argv)
    if args.steps < 2:
        ap.error(f"--steps must be >= 2 (the schedule needs a start and an end), got {args.steps}")
    args.arch = "mobilenet_v2"  # for imagenet_cnn.dataset's preprocessing
    keras.utils.set_random_seed(args.seed)

    classes = num_classes(args.data, args.classes)
    model = build("mobilenet_v2", args.image_size, classes)
    if args.weights:
        model.load_weights(args.weights)

    def prune(layer):
        if is_1x1_conv(layer) or isinstance(layer, keras.layers.Dense):
            return tfs.Unstructured(args.sparsity)
        return None

    schedule = schedule_for(args.steps, args.sparsity)
    sparse = tfs.sparsify(model, prune, schedule=schedule)
    sparse.compile(keras.optimizers.SGD(1e-3, momentum=0.9), keras.losses.SparseCategoricalCrossentropy(),
                   metrics=["accuracy"])
    data, sample = dataset(args, classes)
    fit_args = {"batch_size": args.batch} if isinstance(data, tuple) else {}
    fit_data = data if isinstance(data, tuple) else (data,)
    sparse.fit(*fit_data, epochs=1, steps_per_epoch=args.steps, callbacks=[tfs.UpdateMasks()], verbose=2, **fit_args)
    pruned = tfs.sparse_layers(sparse)
    trained = float(np.mean([layer.sparsity() for layer in pruned]))
    print(f"gradual pruning ({schedule}) left {len(pruned)} layers at mean sparsity {trained:.3f}")

    tfs.harden(sparse)
    deploy = tfs.strip(sparse)
    out_dir = args.out or tempfile.mkdtemp(prefix="tf_sparse_mobilenet_v2_tfmot_")
    path = os.path.join(out_dir, "mobilenet_v2_pruned.tflite")
    converter = tf.lite.TFLiteConverter.from_keras_model(deploy)
    with open(path, "wb") as f:
        f.write(converter.convert())

    kernels = [layer.get_weights()[0] for layer in deploy.layers if prune(layer) is not None]
    sparsity = sum(int(np.count_nonzero(k == 0)) for k in kernels) / sum(k.size for k in kernels)
    cmp = delegate_vs_xnnpack(path, sample.astype(np.float32), num_threads=args.threads, runs=args.runs)
    print(f"MobileNetV2 {args.image_size}x{args.image_size}: {len(kernels)} layers (1x1 convolutions + "
          f"classifier) {sparsity:.3f} unstructured sparse, stock converter, {os.path.getsize(path):,} bytes")
    print(describe(cmp, args.threads, args.runs))
    return {
        "pruned_layers": len(pruned),
        "sparsity_after_training": trained,
        "sparsity": sparsity,
        "claimed_nodes": cmp["claimed_nodes"],
        "considered_nodes": cmp["considered_nodes"],
        "formats": cmp["formats"],
        "max_abs_diff": cmp["max_abs_diff"],
        "max_rel_diff": cmp["max_rel_diff"],
        "speedup": cmp["speedup"],
    }


if __name__ == "__main__":
    main()
