"""Pattern-sparse 3x3 CONV_2D in the delegate against the stock interpreter."""

import keras
import numpy as np
import pytest

import tf_sparse as tfs
from tf_sparse.runtime import make_interpreter, run

RUNTIMES = ["litert", "tf"]


def _library(rng, size=8):
    """`size` distinct 4-tap patterns: the centre and 3 of the other 8 taps."""
    others = [t for t in range(9) if t != 4]
    library = set()
    while len(library) < size:
        library.add(tuple(sorted([4, *rng.choice(others, 3, replace=False).tolist()])))
    return [list(p) for p in sorted(library)]


def pattern_prune(kernel, rng, kernel_keep=0.5):
    """Keras (3, 3, in, out) kernel -> each kernel masked by its best library
    pattern, then the weaker half of the kernels (by L2 norm) removed."""
    kh, kw, cin, cout = kernel.shape
    k9 = kernel.reshape(9, cin, cout)
    library = _library(rng)
    masks = np.zeros((len(library), 9), np.float32)
    for p, taps in enumerate(library):
        masks[p, taps] = 1.0
    energy = np.einsum("pt,tio->pio", masks, k9**2)
    best = masks[energy.argmax(axis=0)]  # (in, out, 9)
    k9 = k9 * np.moveaxis(best, 2, 0)
    norms = np.sqrt((k9**2).sum(axis=0))
    cut = np.quantile(norms, 1.0 - kernel_keep)
    k9 = k9 * (norms > cut)[None]
    return k9.reshape(kh, kw, cin, cout).astype(np.float32)


def conv_model(specs, input_shape, seed=0, prune=True, dense_head=None):
    """specs: (filters, strides, padding, activation, use_bias) per Conv2D."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    inputs = keras.Input(input_shape)
    x = inputs
    for filters, strides, padding, activation, use_bias in specs:
        x = keras.layers.Conv2D(
            filters, 3, strides=strides, padding=padding, activation=activation, use_bias=use_bias
        )(x)
    if dense_head:
        x = keras.layers.GlobalAveragePooling2D()(x)
        x = keras.layers.Dense(dense_head)(x)
    model = keras.Model(inputs, x)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        kernel = rng.standard_normal(weights[0].shape).astype(np.float32)
        if isinstance(layer, keras.layers.Conv2D) and prune:
            kernel = pattern_prune(kernel, rng)
        rest = [rng.standard_normal(w.shape).astype(np.float32) for w in weights[1:]]
        layer.set_weights([kernel, *rest])
    return model


SPECS = {
    # name: (layer specs, input shape)
    "s1_same_relu": ([(16, 1, "same", "relu", True)], (13, 17, 8)),
    "s2_same": ([(12, 2, "same", None, True)], (15, 20, 8)),
    "s1_valid_nobias": ([(8, 1, "valid", None, False)], (11, 9, 6)),
    "s2_valid_relu6": ([(8, 2, "valid", "relu6", True)], (12, 13, 5)),
    "stack": ([(16, 1, "same", "relu", True), (16, 2, "same", "relu", True)], (16, 16, 8)),
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("conv_models")
    paths = {}
    for i, (name, (specs, shape)) in enumerate(SPECS.items()):
        paths[name] = str(d / f"{name}.tflite")
        tfs.export_tflite(conv_model(specs, shape, seed=i), paths[name])
    paths["real"] = str(d / "real.tflite")
    tfs.export_tflite(conv_model([(64, 1, "same", "relu", True)], (28, 28, 64), seed=11), paths["real"])
    paths["dense"] = str(d / "dense.tflite")
    tfs.export_tflite(conv_model([(8, 1, "same", "relu", True)], (9, 9, 4), prune=False), paths["dense"])
    # A pattern-pruned conv (claimed), a dense conv and a dense Dense head
    # (both declined, left to XNNPACK).
    keras.utils.set_random_seed(9)
    rng = np.random.default_rng(9)
    inputs = keras.Input((28, 28, 64))
    sparse = keras.layers.Conv2D(64, 3, padding="same", activation="relu")
    dense = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")
    head = keras.layers.Dense(5)
    x = head(keras.layers.GlobalAveragePooling2D()(dense(sparse(inputs))))
    mixed = keras.Model(inputs, x)
    for layer in (sparse, dense, head):
        kernel, bias = layer.get_weights()
        kernel = rng.standard_normal(kernel.shape).astype(np.float32)
        if layer is sparse:
            kernel = pattern_prune(kernel, rng)
        layer.set_weights([kernel, rng.standard_normal(bias.shape).astype(np.float32)])
    paths["mixed"] = str(d / "mixed.tflite")
    tfs.export_tflite(mixed, paths["mixed"])
    return paths


def _compare(path, runtime, batch, **options):
    ref, _ = make_interpreter(path, backend="builtin", runtime=runtime)
    ours, delegate = make_interpreter(path, backend="tf_sparse", runtime=runtime, **options)
    shape = list(ref.get_input_details()[0]["shape"])
    shape[0] = batch
    x = np.random.default_rng(batch).standard_normal(shape).astype(np.float32)
    for interpreter in (ref, ours):
        interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
    for out_ref, out_ours in zip(ref.get_output_details(), ours.get_output_details()):
        expected = ref.get_tensor(out_ref["index"])
        got = ours.get_tensor(out_ours["index"])
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    return delegate


def _conv_entries(delegate):
    return [r for r in tfs.delegate_report(delegate) if r["op"] == "CONV_2D"]


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name", sorted(SPECS))
def test_pattern_conv_matches_stock_and_is_claimed(models, runtime, name):
    n_conv = len(SPECS[name][0])
    # These layers are too small to beat dense (the cost model declines
    # them, see test_auto_claims_real_layer): force the format.
    delegate = None
    for batch in (1, 2):
        delegate = _compare(models[name], runtime, batch, format="patdnn")
    entries = _conv_entries(delegate)
    assert len(entries) == n_conv
    assert all(e["claimed"] and e["format"] == "patdnn" for e in entries), entries
    assert all(e["max_kernel_nonzeros"] <= 4 for e in entries)
    assert tfs.delegate_stats(delegate)["invocations"] >= n_conv


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_two_threads(models, runtime):
    delegate = _compare(models["stack"], runtime, 1, num_threads=2, format="patdnn")
    assert all(e["claimed"] for e in _conv_entries(delegate))


def test_dense_conv_declined(models):
    delegate = _compare(models["dense"], "litert", 1, verbose=1)
    (entry,) = _conv_entries(delegate)
    assert not entry["claimed"]
    assert "not pattern-structured" in entry["reason"]
    assert entry["max_kernel_nonzeros"] == 9


def test_min_sparsity_and_forced_format(models):
    delegate = _compare(models["real"], "litert", 1, min_sparsity=0.95)
    (entry,) = _conv_entries(delegate)
    assert not entry["claimed"] and "min_sparsity" in entry["reason"]
    delegate = _compare(models["s1_same_relu"], "litert", 1)
    (entry,) = _conv_entries(delegate)
    assert not entry["claimed"] and "estimated cost" in entry["reason"]
    delegate = _compare(models["s1_same_relu"], "litert", 1, format="patdnn")
    (entry,) = _conv_entries(delegate)
    assert entry["claimed"] and "forced" in entry["reason"]
    delegate = _compare(models["real"], "litert", 1, format="bsr:1x4")
    (entry,) = _conv_entries(delegate)
    assert not entry["claimed"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_auto_claims_real_layer(models, runtime):
    delegate = _compare(models["real"], runtime, 1)
    (entry,) = _conv_entries(delegate)
    assert entry["claimed"], entry
    assert 0 < entry["cost_vs_dense"] <= 0.9


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_mixed_model_claims_only_the_pattern_conv(models, runtime):
    delegate = _compare(models["mixed"], runtime, 1)
    report = tfs.delegate_report(delegate)
    convs = _conv_entries(delegate)
    assert sorted(e["claimed"] for e in convs) == [False, True]
    assert [r for r in report if r["op"] == "FULLY_CONNECTED" and r["claimed"]] == []
