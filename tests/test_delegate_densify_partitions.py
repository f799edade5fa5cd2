"""Compact files whose DENSIFY nodes TFLite's partitioner separates from the layers reading them.

TFLite builds partitions in epochs: a node joins the current partition as soon as its inputs are
ready, so every DENSIFY node (constant input) lands in the first partition of delegated nodes,
while a layer after an op the delegate does not take (pooling, Add, tanh, ...) sits in a later
one. Such files must load, keep every claimable layer claimed, and match the stock interpreter;
the DENSIFY output that crosses partitions is sized empty instead of holding a dense copy.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf_sparse as tfs
from tf_sparse.runtime import make_interpreter

from delegate_check import compare_with_stock

RUNTIMES = ["litert", "tf"]


def _between(kind, x):
    """One op (or a few) that the delegate never claims."""
    if kind == "maxpool":
        return keras.layers.MaxPooling2D()(x)
    if kind == "avgpool":
        return keras.layers.AveragePooling2D(2)(x)
    if kind == "tanh":
        return keras.layers.Activation("tanh")(x)
    if kind == "add":
        return keras.layers.Add()([x, keras.layers.ReLU()(x)])
    if kind == "mul":
        return keras.layers.Multiply()([x, keras.layers.Activation("sigmoid")(x)])
    if kind == "concat":
        return keras.layers.Concatenate()([x, keras.layers.Activation("tanh")(x)])
    if kind == "pad":
        return keras.layers.ZeroPadding2D(1)(x)
    if kind == "batchnorm_relu6":  # BatchNormalization after a ReLU is not folded.
        return keras.layers.ReLU(6.0)(keras.layers.BatchNormalization()(keras.layers.ReLU()(x)))
    raise ValueError(kind)


def _conv_model(kind, seed=0):
    keras.utils.set_random_seed(seed)
    x = inputs = keras.Input((12, 12, 16))
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = _between(kind, x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = _between("tanh", x)
    x = keras.layers.Conv2D(16, 3, padding="same")(x)
    return keras.Model(inputs, x)


def _pattern_pruned(model):
    sparse = tfs.sparsify(model, tfs.KernelPattern(8, 0.5, filter_block=16))
    tfs.harden(sparse)
    return tfs.strip(sparse)


def _ops(path):
    ref, _ = make_interpreter(path, backend="builtin", runtime="litert")
    return ref._get_ops_details()


def _check(path, runtime, n_consumers, **options):
    delegate = compare_with_stock(path, runtime, 2, **options)
    densify = [op for op in _ops(path) if op["op_name"] == "DENSIFY"]
    report = tfs.delegate_report(delegate)
    claimed = [r for r in report if r["claimed"]]
    assert len(densify) == n_consumers and len(claimed) == n_consumers, report
    assert sorted(r["densify_node"] for r in claimed) == sorted(op["index"] for op in densify)
    return delegate, report


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize(
    "kind", ["maxpool", "avgpool", "tanh", "add", "mul", "concat", "pad", "batchnorm_relu6"]
)
def test_unclaimed_op_between_densify_fed_convs(tmp_path, runtime, kind):
    path = str(tmp_path / f"{kind}.tflite")
    tfs.export_tflite(_pattern_pruned(_conv_model(kind)), path, compact=True)
    _, report = _check(path, runtime, 3, format="patdnn")
    # Each DENSIFY node is the sole reader's and not a graph output: all taken over.
    assert all(r["densify_claimed"] for r in report if r["claimed"]), report


def test_detached_densify_output_is_empty(tmp_path):
    """The DENSIFY nodes whose readers TFLite put in later partitions hold no dense copy."""
    path = str(tmp_path / "maxpool.tflite")
    tfs.export_tflite(_pattern_pruned(_conv_model("maxpool")), path, compact=True)
    ours, _ = make_interpreter(path, backend="tf_sparse", runtime="litert", format="patdnn")
    ours.allocate_tensors()
    ops = _ops(path)
    outputs = [int(op["outputs"][0]) for op in ops if op["op_name"] == "DENSIFY"]
    shapes = {d["index"]: list(d["shape"]) for d in ours.get_tensor_details()}
    # The first conv shares the first partition with every DENSIFY node: its own weights are
    # internal there; the two later convs' weights cross to later partitions: sized empty.
    assert sorted(shapes[t] == [0] for t in outputs) == [False, True, True], shapes


def _dense_then_conv_model(seed=1):
    """Convs, global pooling, then Dense layers: FULLY_CONNECTED and CONV_2D behind DENSIFY."""
    keras.utils.set_random_seed(seed)
    x = inputs = keras.Input((10, 10, 16))
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(256, activation="relu")(x)
    x = keras.layers.Activation("tanh")(x)
    x = keras.layers.Dense(128)(x)
    return keras.Model(inputs, x)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_dense_and_conv_behind_densify_in_several_partitions(tmp_path, runtime):
    model = _dense_then_conv_model()
    sparse = tfs.sparsify(
        model,
        {keras.layers.Conv2D: tfs.KernelPattern(8, 0.5, filter_block=16), keras.layers.Dense: tfs.Unstructured(0.9)},
    )
    tfs.harden(sparse)
    path = str(tmp_path / "mixed.tflite")
    tfs.export_tflite(tfs.strip(sparse), path, compact=True)
    _check(path, runtime, 3, format="patdnn")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_one_densify_read_by_two_convs(tmp_path, runtime):
    """A shared Conv2D applied to two branches: one DENSIFY, two readers. Both readers are
    claimed (each decodes the sparse input); the DENSIFY node stays with TFLite."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((12, 12, 16))
    shared = keras.layers.Conv2D(16, 3, padding="same")
    a = shared(inputs)
    b = shared(keras.layers.MaxPooling2D(1)(keras.layers.Activation("tanh")(inputs)))
    model = keras.Model(inputs, keras.layers.Add()([a, b]))
    path = str(tmp_path / "shared.tflite")
    tfs.export_tflite(_pattern_pruned(model), path, compact=True)
    delegate = compare_with_stock(path, runtime, 2, format="patdnn")
    (densify,) = [op["index"] for op in _ops(path) if op["op_name"] == "DENSIFY"]
    report = tfs.delegate_report(delegate)
    assert len(report) == 2 and all(r["claimed"] for r in report), report
    assert all(r["densify_node"] == densify and not r["densify_claimed"] for r in report), report


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_stock_converter_sparsity_file(tmp_path, runtime):
    """A file written by the stock converter with Optimize.EXPERIMENTAL_SPARSITY (not our
    export): convs between pooling and tanh, all behind DENSIFY."""
    model = _pattern_pruned(_conv_model("maxpool", seed=5))
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    path = tmp_path / "stock_sparse.tflite"
    path.write_bytes(converter.convert())
    _check(str(path), runtime, 3, format="patdnn")
