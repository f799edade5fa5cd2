"""Compact models whose weights sit behind a DENSIFY op, run by the delegate, in both runtimes.

With ``tfs.export_tflite(..., compact=True)`` the converter stores convolution weights, and
FULLY_CONNECTED weights that are not 1x4 blocks (e.g. unstructured), in TFLite's sparse encoding
with a DENSIFY op in front of the consumer. A claimed consumer decodes the encoding itself
once at init; the delegate takes the DENSIFY node over too when that consumer is its output's sole
reader and the graph does not expose the output (else TFLite keeps running it). Every model must match the stock interpreter within 1e-5
relative.
"""

import keras
import numpy as np
import pytest

import tf_sparse as tfs
from tf_sparse.runtime import make_interpreter

RUNTIMES = ["litert", "tf"]


def _pattern_library(rng, size=8):
    """`size` distinct 4-tap patterns: the centre and 3 of the other 8 taps."""
    others = [t for t in range(9) if t != 4]
    library = set()
    while len(library) < size:
        library.add(tuple(sorted([4, *rng.choice(others, 3, replace=False).tolist()])))
    return [list(p) for p in sorted(library)]


def _pattern_prune(kernel, rng):
    """Keras (3, 3, in, out) kernel -> each 3x3 kernel masked by a random library pattern, then
    a random half of the kernels zeroed."""
    kh, kw, cin, cout = kernel.shape
    library = _pattern_library(rng)
    masks = np.zeros((len(library), 9), np.float32)
    for p, taps in enumerate(library):
        masks[p, taps] = 1.0
    choice = masks[rng.integers(len(library), size=(cin, cout))]  # (in, out, 9)
    keep = rng.random((cin, cout)) < 0.5
    k9 = kernel.reshape(9, cin, cout) * np.moveaxis(choice, 2, 0) * keep[None]
    return k9.reshape(kh, kw, cin, cout).astype(np.float32)


def _unstructured(kernel, rng, sparsity=0.9):
    return np.where(rng.random(kernel.shape) < sparsity, 0.0, kernel).astype(np.float32)


def _randomise(model, rng, prune):
    """Random weights; each layer's kernel passed through `prune(layer, kernel)`."""
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        kernel = prune(layer, rng.standard_normal(weights[0].shape).astype(np.float32))
        rest = [rng.standard_normal(w.shape).astype(np.float32) for w in weights[1:]]
        layer.set_weights([kernel, *rest])


def _conv_model(specs, input_shape, seed):
    """specs: (filters, strides, padding, activation, use_bias) per pattern-pruned Conv2D."""
    keras.utils.set_random_seed(seed)
    x = inputs = keras.Input(input_shape)
    for filters, strides, padding, activation, use_bias in specs:
        x = keras.layers.Conv2D(
            filters, 3, strides=strides, padding=padding, activation=activation, use_bias=use_bias
        )(x)
    model = keras.Model(inputs, x)
    rng = np.random.default_rng(seed)
    _randomise(model, rng, lambda layer, k: _pattern_prune(k, rng))
    return model


def _dense_model(sizes, activations, in_dim, seed):
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((in_dim,))]
    layers += [keras.layers.Dense(u, activation=a) for u, a in zip(sizes, activations)]
    model = keras.Sequential(layers)
    rng = np.random.default_rng(seed)
    _randomise(model, rng, lambda layer, k: _unstructured(k, rng))
    return model


def _shared_dense_model(seed):
    """One Dense layer applied twice: both FULLY_CONNECTED nodes read one DENSIFY output."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((64,))
    shared = keras.layers.Dense(64)
    x = keras.layers.Add()([shared(inputs), shared(keras.layers.ReLU()(inputs))])
    model = keras.Model(inputs, x)
    rng = np.random.default_rng(seed)
    _randomise(model, rng, lambda layer, k: _unstructured(k, rng))
    return model


# name: (builder, options for the delegate, consumer nodes we claim)
MODELS = {
    # Large enough for the cost model to claim it on its own.
    "conv_real": (lambda: _conv_model([(64, 1, "same", "relu", True)], (28, 28, 64), 1), {}, 1),
    # Too small to beat dense: forced.
    "conv_stack": (
        lambda: _conv_model(
            [(16, 1, "same", "relu", True), (24, 2, "valid", None, False)], (13, 11, 8), 2
        ),
        {"format": "patdnn"},
        2,
    ),
    "dense_unstructured": (
        lambda: _dense_model([256, 64], ["relu", None], 512, 3),
        {},
        2,
    ),
}


@pytest.fixture(scope="module")
def compact_models(tmp_path_factory):
    d = tmp_path_factory.mktemp("densify")
    paths, sizes = {}, {}
    for name, (build, _, _) in MODELS.items():
        model = build()
        paths[name] = str(d / f"{name}.tflite")
        sizes[name] = (
            tfs.export_tflite(model, str(d / f"{name}_plain.tflite")),
            tfs.export_tflite(model, paths[name], compact=True),
        )
    paths["shared"] = str(d / "shared.tflite")
    tfs.export_tflite(_shared_dense_model(4), paths["shared"], compact=True)
    return paths, sizes


def _run(interpreter, x):
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def _compare(path, runtime, **options):
    ref, _ = make_interpreter(path, backend="builtin", runtime=runtime)
    ours, delegate = make_interpreter(path, backend="tf_sparse", runtime=runtime, **options)
    densify = [op["index"] for op in ref._get_ops_details() if op["op_name"] == "DENSIFY"]
    for batch in (1, 2):
        shape = list(ref.get_input_details()[0]["shape"])
        shape[0] = batch
        x = np.random.default_rng(batch).standard_normal(shape).astype(np.float32)
        expected = _run(ref, x)
        got = _run(ours, x)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    return delegate, densify


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name", list(MODELS))
def test_densify_fed_nodes_match_stock_and_are_claimed(compact_models, runtime, name):
    paths, sizes = compact_models
    _, options, n_claimed = MODELS[name]
    delegate, densify = _compare(paths[name], runtime, **options)
    assert len(densify) == n_claimed, "the converter should store every layer behind DENSIFY"
    claimed = [r for r in tfs.delegate_report(delegate) if r["claimed"]]
    assert len(claimed) == n_claimed, tfs.delegate_report(delegate)
    # Each claimed consumer took over its own DENSIFY node.
    assert sorted(r["densify_node"] for r in claimed) == sorted(densify)
    assert tfs.delegate_stats(delegate)["invocations"] >= n_claimed
    plain, compact = sizes[name]
    assert compact < 0.6 * plain, (compact, plain)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_densify_with_two_readers_stays_with_the_runtime(compact_models, runtime):
    """Both readers run on the delegate from the sparse input; the DENSIFY node, which another
    node still reads, stays with TFLite."""
    paths, _ = compact_models
    delegate, densify = _compare(paths["shared"], runtime)
    assert len(densify) == 1
    report = tfs.delegate_report(delegate)
    fcs = [r for r in report if r["op"] == "FULLY_CONNECTED"]
    assert len(fcs) == 2
    assert all(r["claimed"] for r in fcs), report
    assert all(r["densify_node"] == densify[0] and not r["densify_claimed"] for r in fcs), report


def test_densify_consumer_declined_on_min_sparsity(compact_models):
    paths, _ = compact_models
    delegate, _ = _compare(paths["conv_real"], "litert", min_sparsity=0.99)
    (entry,) = tfs.delegate_report(delegate)
    assert not entry["claimed"] and "min_sparsity" in entry["reason"]
    assert entry["densify_node"] is not None
