"""The real models the fuzzer mutates: small Keras models pruned with tf_sparse structures and
exported plain and ``compact=True`` (TFLite's sparse encoding, with DENSIFY in front of the
weights the FULLY_CONNECTED kernel does not read sparse), plus one file from the stock converter
with ``tf.lite.Optimize.EXPERIMENTAL_SPARSITY`` on a plain TensorFlow function.

Small on purpose (a few KB each): mutants run in milliseconds and corpus files stay small.
"""

from __future__ import annotations

import os

import numpy as np

SEED_NAMES = (
    "fc_plain",
    "fc_compact_1x4",
    "fc_compact_unstructured",
    "conv3x3_plain",
    "conv3x3_compact",
    "conv1x1_compact",
    "dwconv_plain",
    "dwconv_compact",
    "stock_sparsity",
)


def _randomise(model, rng, prune):
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        kernel = prune(rng.standard_normal(weights[0].shape).astype(np.float32))
        rest = [rng.standard_normal(w.shape).astype(np.float32) for w in weights[1:]]
        layer.set_weights([kernel, *rest])


def _fc(seed, project):
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.Input((32,)), keras.layers.Dense(24, activation="relu"), keras.layers.Dense(8)]
    )
    _randomise(model, np.random.default_rng(seed), project)
    return model


def _unstructured(sparsity, rng):
    return lambda k: np.where(rng.random(k.shape) < sparsity, 0.0, k).astype(np.float32)


def _conv(seed, size, structure_project):
    import keras

    keras.utils.set_random_seed(seed)
    x = inputs = keras.Input((6, 6, 8))
    x = keras.layers.Conv2D(16, size, padding="same", activation="relu")(x)
    model = keras.Model(inputs, x)
    _randomise(model, np.random.default_rng(seed), structure_project)
    return model


def _dwconv(seed):
    import keras

    keras.utils.set_random_seed(seed)
    x = inputs = keras.Input((6, 6, 16))
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    model = keras.Model(inputs, x)
    rng = np.random.default_rng(seed)

    def prune(k):  # (3, 3, C, 1): whole channels and single taps zeroed
        k = np.where(rng.random(k.shape) < 0.5, 0.0, k)
        k[..., rng.random(k.shape[2]) < 0.5, :] = 0.0
        return k.astype(np.float32)

    _randomise(model, rng, prune)
    return model


def _stock_sparsity_file(path, seed=7):
    """A plain TensorFlow function (MatMul + Conv2D on a reshaped input), weights 80% zeros,
    converted by the stock converter with EXPERIMENTAL_SPARSITY."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)

    def sparse(shape):
        w = rng.standard_normal(shape).astype(np.float32)
        return tf.constant(np.where(rng.random(shape) < 0.8, 0.0, w).astype(np.float32))

    w_fc, b_fc = sparse((48, 40)), tf.constant(rng.standard_normal(40).astype(np.float32))
    w_conv = sparse((3, 3, 10, 12))

    @tf.function(input_signature=[tf.TensorSpec([1, 48], tf.float32)])
    def f(x):
        h = tf.nn.relu(tf.matmul(x, w_fc) + b_fc)
        h = tf.reshape(h, [1, 2, 2, 10])
        return tf.nn.conv2d(h, w_conv, strides=1, padding="SAME")

    converter = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f)
    converter.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    with open(path, "wb") as fh:
        fh.write(converter.convert())


def build_seeds(directory) -> dict:
    """Writes every seed model into `directory` (skipping files already there) and returns
    {name: path}."""
    import tf_sparse as tfs

    os.makedirs(directory, exist_ok=True)
    paths = {name: os.path.join(str(directory), name + ".tflite") for name in SEED_NAMES}
    if all(os.path.isfile(p) for p in paths.values()):
        return paths
    rng = np.random.default_rng(0)
    fc_blocks = _fc(1, tfs.Block(0.8, block=(1, 4)).project)
    fc_unstructured = _fc(2, _unstructured(0.85, rng))
    conv3 = _conv(3, 3, _unstructured(0.8, rng))
    conv1 = _conv(4, 1, tfs.Block(0.75, block=(16, 1)).project)
    dw = _dwconv(5)
    tfs.export_tflite(fc_blocks, paths["fc_plain"])
    tfs.export_tflite(fc_blocks, paths["fc_compact_1x4"], compact=True)
    tfs.export_tflite(fc_unstructured, paths["fc_compact_unstructured"], compact=True)
    tfs.export_tflite(conv3, paths["conv3x3_plain"])
    tfs.export_tflite(conv3, paths["conv3x3_compact"], compact=True)
    tfs.export_tflite(conv1, paths["conv1x1_compact"], compact=True)
    tfs.export_tflite(dw, paths["dwconv_plain"])
    tfs.export_tflite(dw, paths["dwconv_compact"], compact=True)
    _stock_sparsity_file(paths["stock_sparsity"])
    return paths
