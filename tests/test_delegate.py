"""The delegate against the stock interpreter, in both runtimes."""

import os

import keras
import numpy as np
import pytest

import tf_sparse as tfs
from delegate_check import compare_with_stock as _compare
from tf_sparse.runtime import make_interpreter, run

RUNTIMES = ["litert", "tf"]


def _model(sizes, activations, in_dim, sparsity=0.9, block=(1, 4), seed=0, input_shape=None):
    keras.utils.set_random_seed(seed)
    layers = [keras.Input(input_shape or (in_dim,))]
    for units, act in zip(sizes, activations):
        layers.append(keras.layers.Dense(units, activation=act))
    model = keras.Sequential(layers)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        kernel, bias = layer.get_weights()
        kernel = rng.standard_normal(kernel.shape).astype(np.float32)
        if sparsity is not None:
            kernel = tfs.Block(sparsity, block=block).project(kernel)
        layer.set_weights([kernel, rng.standard_normal(bias.shape).astype(np.float32)])
    return model


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    specs = {
        # name: (sizes, activations, in_dim, sparsity, block)
        "mlp": ([256, 128, 10], ["relu", "relu6", None], 96, 0.9, (1, 4)),
        "ragged": ([37, 19], [None, "relu"], 53, 0.8, (1, 4)),
        "blocks4x1": ([64, 32], ["relu", None], 128, 0.75, (4, 1)),
        "dense": ([64, 32], ["relu", None], 48, None, (1, 4)),
    }
    paths = {}
    for name, (sizes, acts, in_dim, s, block) in specs.items():
        model = _model(sizes, acts, in_dim, s, block, seed=len(name))
        paths[name] = str(d / f"{name}.tflite")
        tfs.export_tflite(model, paths[name])
    seq = _model([24], ["relu"], 40, 0.9, (1, 4), seed=7, input_shape=(5, 40))
    paths["rank3"] = str(d / "rank3.tflite")
    tfs.export_tflite(seq, paths["rank3"])
    return paths


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name,n_fc", [("mlp", 3), ("ragged", 2), ("blocks4x1", 2), ("rank3", 1)])
def test_matches_stock_interpreter_and_claims(models, runtime, name, n_fc):
    delegate = None
    for batch in (1, 3, 8):
        delegate = _compare(models[name], runtime, batch)
    stats = tfs.delegate_stats(delegate)
    assert stats["nodes_claimed"] == n_fc
    assert stats["invocations"] >= n_fc
    report = tfs.delegate_report(delegate)
    claimed = [r for r in report if r["claimed"]]
    assert len(claimed) == n_fc and all(r["op"] == "FULLY_CONNECTED" for r in claimed)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_two_threads(models, runtime):
    delegate = _compare(models["mlp"], runtime, 1, num_threads=2)
    assert tfs.delegate_stats(delegate)["nodes_claimed"] == 3


def test_resize_between_invocations(models):
    ref, _ = make_interpreter(models["mlp"], backend="builtin")
    ours, delegate = make_interpreter(models["mlp"], backend="tf_sparse")
    rng = np.random.default_rng(0)
    for batch in (2, 1, 5, 1):
        x = rng.standard_normal((batch, 96)).astype(np.float32)
        np.testing.assert_allclose(run(ours, x), run(ref, x), rtol=1e-5, atol=1e-4)
    stats = tfs.delegate_stats(delegate)
    assert stats["invocations"] == 4 * 3
    # Time spent in the delegate's kernels, counted by the library.
    assert stats["kernel_time_us"] > 0


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_declines_dense_weights(models, runtime):
    delegate = _compare(models["dense"], runtime, 2)
    assert tfs.delegate_stats(delegate) == {"nodes_claimed": 0, "invocations": 0, "kernel_time_us": 0.0}
    report = tfs.delegate_report(delegate)
    assert report and not any(r["claimed"] for r in report)


def test_min_sparsity_option_declines(models):
    delegate = _compare(models["blocks4x1"], "litert", 1, min_sparsity=0.9)
    assert tfs.delegate_stats(delegate)["nodes_claimed"] == 0


def test_declines_int8_weights(tmp_path):
    import tensorflow as tf

    model = _model([64, 32], ["relu", None], 64, 0.9, (1, 4), seed=3)
    saved = str(tmp_path / "saved")
    model.export(saved, format="tf_saved_model", verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(saved)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]  # dynamic-range int8 weights
    path = tmp_path / "int8.tflite"
    path.write_bytes(converter.convert())
    delegate = _compare(str(path), "litert", 2)
    assert tfs.delegate_stats(delegate)["nodes_claimed"] == 0


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_compact_sparse_encoding_is_claimed(tmp_path, runtime):
    # TFLite's own 1x4 encoding is read directly (more in test_delegate_compact.py).
    model = _model([128, 16], ["relu", None], 64, 0.9, (1, 4), seed=5)
    path = str(tmp_path / "compact.tflite")
    tfs.export_tflite(model, path, compact=True)
    delegate = _compare(path, runtime, 1)
    assert tfs.delegate_stats(delegate)["nodes_claimed"] == 2
    claimed = [r for r in tfs.delegate_report(delegate) if r["claimed"]]
    assert all("TFLite sparse encoding" in r["reason"] for r in claimed)


@pytest.mark.parametrize(
    "options,match",
    [
        ({"num_threads": 0}, "num_threads"),
        ({"min_sparsity": 1.5}, "min_sparsity"),
        ({"format": "bogus"}, "format"),
        ({"no_such_option": 1}, "no_such_option"),
        # Strings for numbers are refused in Python already (the library's own strict parsing of
        # " 0.5" or "0x0.8p0" is tested in delegate/tests/delegate_test.cc).
        ({"min_sparsity": " 0.5"}, "min_sparsity.*number in \\[0, 1\\)"),
        ({"min_sparsity": "0x0.8p0"}, "min_sparsity.*number in \\[0, 1\\)"),
        ({"format": "bsr:+1x+4"}, "format='bsr:\\+1x\\+4'.*allowed"),
        ({"format": "auto\0x"}, "NUL"),
        ({"format": "gs:3"}, "format='gs:3'.*power of two"),
        ({"format": "gs:7:7"}, "format='gs:7:7'"),
        ({"format": "nm:16:256"}, "format='nm:16:256'.*M in 2, 4, 8, 16, 32"),
        ({"corrupt_sparsity": "maybe"}, "corrupt_sparsity.*'error' or 'decline'"),
    ],
)
def test_bad_options_raise_clear_errors(options, match):
    with pytest.raises((TypeError, ValueError), match=match):
        num_threads = options.pop("num_threads", 1)
        tfs.load_delegate(num_threads=num_threads, **options)


def test_missing_library_says_how_to_build(monkeypatch):
    monkeypatch.setenv("TF_SPARSE_DELEGATE", "/nonexistent/libtf_sparse_delegate.so")
    with pytest.raises(FileNotFoundError, match="make delegate"):
        tfs.delegate_path()


def test_delegate_path_exists():
    assert os.path.isfile(tfs.delegate_path())
    assert tfs.delegate_isa() in ("scalar", "avx2", "avx512", "neon", "sve")


def test_report_and_stats_reject_a_foreign_delegate():
    class Foreign:
        _delegate_ptr = 12345

    with pytest.raises(RuntimeError, match="not a tf_sparse delegate"):
        tfs.delegate_report(Foreign())
    with pytest.raises(RuntimeError, match="not a tf_sparse delegate"):
        tfs.delegate_stats(Foreign())
