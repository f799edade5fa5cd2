"""ImageNet CNNs (ResNet-50, VGG-16, MobileNetV2) pruned into the delegate's structures and run
with the tf_sparse delegate.

Builds the real Keras architecture (``--arch``), prunes its layers, hardens the masks, optionally
fine-tunes (masked retraining) on an image folder, exports the model to TFLite and runs it with the
tf_sparse delegate and with the stock interpreter (XNNPACK): it prints the delegate's decisions,
the largest output difference and the median batch-1 latency of both, measured in this run.

What is pruned (first layer and classifier stay dense unless asked):
- every 3x3 convolution: 4-of-9 kernel patterns from a library of 8 with half of the kernels
  removed (PatDNN's pattern + connectivity pruning). ``--filter-block 16`` (the default) makes each
  block of 16 filters share its pattern and its removed kernels (``tfs.KernelPattern(...,
  filter_block=16)``), the layout the delegate's VT kernels run near FMA peak; ``--filter-block 1``
  gives every kernel its own pattern (PatDNN's original structure, run on the FKW kernels);
- with ``--pointwise-sparsity S``, every 1x1 convolution: a fraction S of its (16 filters x 1 input
  channel) blocks removed (``tfs.Block(S, block=(16, 1))``), run by VT on the NHWC input;
- every 3x3 depthwise convolution (MobileNetV2): one 4-of-9 pattern per block of 16 channels and
  ``--depthwise-connectivity`` of the blocks removed (the delegate's DWT kernels);
- with ``--dense-sparsity S``, the Dense layers: 1x4 blocks (BSR).

Data: ``--data DIR`` is an image folder, one sub-folder per class (ImageNet's train folder, or any
``keras.utils.image_dataset_from_directory`` layout); without it the model is pruned from its
random initialisation and fine-tuned on synthetic images, which checks the whole path but says
nothing about accuracy. Nothing is downloaded (``weights=None``): to start from trained weights,
pass ``--weights FILE`` (a ``.weights.h5`` saved from the matching ``keras.applications`` model).

    python examples/imagenet_cnn.py --arch resnet50|vgg16|mobilenet_v2 [--data DIR] [--weights FILE]
        [--image-size 224] [--steps 100] [--filter-block 16] [--pointwise-sparsity 0.75]
        [--depthwise-connectivity 0.5] [--dense-sparsity 0.9] [--threads 1] [--runs 10] [--int8]

``--int8`` exports a full-integer int8 file instead (the stock converter, activations calibrated
on training inputs); the delegate then runs the int8 layers it has int8 kernels for and compares
with XNNPACK's int8 kernels.
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


ARCHS = {
    "resnet50": ("ResNet50", "resnet50"),
    "vgg16": ("VGG16", "vgg16"),
    "mobilenet_v2": ("MobileNetV2", "mobilenet_v2"),
}


def build(arch, image_size, classes):
    name, _ = ARCHS[arch]
    return getattr(keras.applications, name)(
        weights=None, input_shape=(image_size, image_size, 3), classes=classes
    )


def preprocess(arch):
    return getattr(keras.applications, ARCHS[arch][1]).preprocess_input


def is_3x3_conv(layer):
    return isinstance(layer, keras.layers.Conv2D) and tuple(layer.kernel_size) == (3, 3)


def is_1x1_conv(layer):
    return isinstance(layer, keras.layers.Conv2D) and tuple(layer.kernel_size) == (1, 1)


def is_3x3_depthwise(layer):
    return isinstance(layer, keras.layers.DepthwiseConv2D) and tuple(layer.kernel_size) == (3, 3)


def num_classes(data, classes):
    """``classes`` when given, else the sub-folders of the image folder ``data``, else 1000."""
    if classes is not None:
        return classes
    if data:
        return len([d for d in os.listdir(data) if os.path.isdir(os.path.join(data, d))])
    return 1000


def dataset(args, classes):
    """(training dataset, one batch-1 sample) from --data or synthetic images."""
    if args.data:
        ds = keras.utils.image_dataset_from_directory(
            args.data, image_size=(args.image_size, args.image_size), batch_size=args.batch, seed=args.seed
        )
        prep = preprocess(args.arch)
        ds = ds.map(lambda x, y: (prep(x), y))
        sample = next(iter(ds))[0][:1].numpy()
        return ds.repeat(), sample
    rng = np.random.default_rng(args.seed)
    n = max(args.batch * max(args.steps, 1), 2)
    x = rng.standard_normal((n, args.image_size, args.image_size, 3)).astype(np.float32)
    y = rng.integers(0, classes, n)
    return (x, y), x[:1]


def calibration_images(data, n):
    """Up to ``n`` training inputs (from the arrays or the dataset ``dataset`` returned)."""
    if isinstance(data, tuple):
        return data[0][:n]
    batches, count = [], 0
    for x, _ in data:
        batches.append(x.numpy())
        count += len(batches[-1])
        if count >= n:
            break
    return np.concatenate(batches)[:n]


def main(argv=None, arch="resnet50"):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", choices=sorted(ARCHS), default=arch)
    ap.add_argument("--data", default=None, help="image folder (one sub-folder per class)")
    ap.add_argument("--weights", default=None, help=".weights.h5 of the architecture to start from")
    ap.add_argument("--classes", type=int, default=None, help="output classes (default: from --data, else 1000)")
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=0, help="masked fine-tuning steps after hardening")
    ap.add_argument("--patterns", type=int, default=8)
    ap.add_argument("--connectivity", type=float, default=0.5)
    ap.add_argument("--filter-block", type=int, default=16)
    ap.add_argument("--pointwise-sparsity", type=float, default=0.0,
                    help="fraction of the 1x1 convolutions' 16-filter blocks removed (0: left dense)")
    ap.add_argument("--depthwise-connectivity", type=float, default=0.5,
                    help="fraction of the depthwise layers' 16-channel blocks removed")
    ap.add_argument("--dense-sparsity", type=float, default=0.0,
                    help="1x4-block sparsity of the Dense layers but the classifier (0: left dense)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="directory for the .tflite file")
    ap.add_argument("--compact", action="store_true",
                    help="store the weights in TFLite's sparse encoding (DENSIFY in front of the layers)")
    ap.add_argument("--int8", action="store_true",
                    help="full-integer int8 file (activations calibrated on --calibration-samples inputs of "
                         "the training data; float input and output)")
    ap.add_argument("--calibration-samples", type=int, default=16)
    args = ap.parse_args(argv)
    keras.utils.set_random_seed(args.seed)

    classes = num_classes(args.data, args.classes)
    model = build(args.arch, args.image_size, classes)
    if args.weights:
        model.load_weights(args.weights)

    structure = tfs.KernelPattern(args.patterns, connectivity=args.connectivity, filter_block=args.filter_block)
    t0 = time.time()
    # One pattern library for the whole network (sparsify fits it on every 3x3 kernel).
    pointwise = tfs.Block(args.pointwise_sparsity, block=(16, 1)) if args.pointwise_sparsity > 0 else None
    depthwise = tfs.KernelPattern(args.patterns, connectivity=args.depthwise_connectivity, filter_block=16)
    dense = tfs.Block(args.dense_sparsity, block=(1, 4)) if args.dense_sparsity > 0 else None
    first_conv = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    classifier = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][-1]

    def config(layer):
        if layer is first_conv or layer is classifier:
            return None  # few weights, most sensitive
        if is_3x3_conv(layer):
            return structure
        if is_1x1_conv(layer):
            return pointwise
        if is_3x3_depthwise(layer):
            return depthwise
        return dense if isinstance(layer, keras.layers.Dense) else None

    sparse = tfs.sparsify(model, config)
    tfs.harden(sparse)
    pruned = [layer for layer in sparse.layers if isinstance(layer, tfs.SparseConv2D)
              and not isinstance(layer, tfs.SparseDepthwiseConv2D)]
    n3 = sum(1 for layer in pruned if tuple(layer.kernel_size) == (3, 3))
    n_dw = sum(1 for layer in sparse.layers if isinstance(layer, tfs.SparseDepthwiseConv2D))
    n_fc = sum(1 for layer in sparse.layers if isinstance(layer, tfs.SparseDense))
    print(f"pruned {n3} 3x3, {len(pruned) - n3} 1x1, {n_dw} depthwise convolutions and {n_fc} Dense layers "
          f"in {time.time() - t0:.0f} s")

    data, sample = dataset(args, classes)
    if args.steps > 0:
        sparse.compile(keras.optimizers.SGD(1e-3, momentum=0.9),
                       keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
        if isinstance(data, tuple):
            sparse.fit(*data, batch_size=args.batch, epochs=1, steps_per_epoch=args.steps, verbose=2)
        else:
            sparse.fit(data, epochs=1, steps_per_epoch=args.steps, verbose=2)

    deploy = tfs.strip(sparse)
    def sparsity(layers):
        total = sum(layer.get_weights()[0].size for layer in layers)
        zeros = sum(int(np.count_nonzero(layer.get_weights()[0] == 0)) for layer in layers)
        return zeros / total if total else 0.0

    conv3 = [layer for layer in deploy.layers if is_3x3_conv(layer) and layer.name != first_conv.name]
    s3 = sparsity(conv3)
    out_dir = args.out or tempfile.mkdtemp(prefix=f"tf_sparse_{args.arch}_")
    path = os.path.join(out_dir, f"{args.arch}_pruned.tflite")
    t0 = time.time()
    if args.int8:
        path = path.replace(".tflite", "_int8.tflite")
        tfs.export_tflite(deploy, path, compact=args.compact, int8=True,
                          representative_data=calibration_images(data, args.calibration_samples))
    else:
        tfs.export_tflite(deploy, path, compact=args.compact)
    print(f"exported {path} ({os.path.getsize(path):,} bytes) in {time.time() - t0:.0f} s")

    cmp = delegate_vs_xnnpack(path, sample.astype(np.float32), num_threads=args.threads, runs=args.runs)

    s1 = sparsity([layer for layer in deploy.layers if is_1x1_conv(layer)])
    sdw = sparsity([layer for layer in deploy.layers if is_3x3_depthwise(layer)])
    result = {
        "pruned_convolutions": n3,
        "pruned_pointwise": len(pruned) - n3,
        "pruned_depthwise": n_dw,
        "pruned_dense": n_fc,
        "conv1x1_sparsity": s1,
        "depthwise_sparsity": sdw,
        "conv3x3_sparsity": s3,
        "claimed_nodes": cmp["claimed_nodes"],
        "file_bytes": os.path.getsize(path),
        "formats": cmp["formats"],
        "max_abs_diff": cmp["max_abs_diff"],
        "latency_ours_ms": cmp["latency_ours_ms"],
        "latency_xnnpack_ms": cmp["latency_xnnpack_ms"],
        "int8": args.int8,
    }
    print(f"{args.arch} {args.image_size}x{args.image_size}{' int8' if args.int8 else ''}: 3x3 convolutions {s3:.3f} sparse "
          f"(KernelPattern({args.patterns}, connectivity={args.connectivity}, filter_block={args.filter_block})), "
          f"1x1 convolutions {s1:.3f}, depthwise {sdw:.3f}")
    print(describe(cmp, args.threads, args.runs))
    return result


if __name__ == "__main__":
    main()
