"""BATCH_MATMUL with a constant right-hand side (what the converter leaves of a matmul whose
weights carry a leading batch dim of 1) run by the delegate on the FULLY_CONNECTED formats,
against the stock interpreter; transposed or constant left-hand sides are declined."""

import numpy as np
import pytest

import tf_sparse as tfs
from tf_sparse.runtime import make_interpreter

K, N = 64, 48


def _weights(seed=0):
    """[1, K, N] with 90% of the 16x1 blocks (16 consecutive outputs N, one input K) zero."""
    rng = np.random.default_rng(seed)
    keep = rng.random((1, K, N // 16)) < 0.1
    return (rng.standard_normal((1, K, N)) * np.repeat(keep, 16, axis=2)).astype(np.float32)


def _convert(fn, shape, path):
    import tensorflow as tf

    f = tf.function(fn, input_signature=[tf.TensorSpec(shape, tf.float32)])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f)
    with open(path, "wb") as out:
        out.write(converter.convert())
    return path


def _cases():
    import tensorflow as tf

    w = _weights()
    wt = np.ascontiguousarray(np.transpose(w, (0, 2, 1)))
    return {
        # name: (function, input shape, claimed)
        "rhs": (lambda x: tf.linalg.matmul(x, tf.constant(w)), [2, 16, K], True),
        "rhs_transposed": (lambda x: tf.linalg.matmul(x, tf.constant(wt), transpose_b=True), [2, 16, K], True),
        "rank4": (lambda x: tf.linalg.matmul(x, tf.constant(w)), [2, 3, 8, K], True),
        "adj_x": (lambda x: tf.linalg.matmul(x, tf.constant(w), transpose_a=True), [2, K, 16], False),
        "lhs_constant": (lambda x: tf.linalg.matmul(tf.constant(wt[0]), x), [1, K, 16], False),
    }


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bmm")
    return {name: (_convert(fn, shape, str(d / f"{name}.tflite")), shape, claimed)
            for name, (fn, shape, claimed) in _cases().items()}


@pytest.mark.parametrize("name", ["rhs", "rhs_transposed", "rank4", "adj_x", "lhs_constant"])
def test_batch_matmul_against_stock(files, name):
    path, shape, claimed = files[name]
    stock, _ = make_interpreter(path, backend="builtin")
    assert [op["op_name"] for op in stock._get_ops_details()] == ["BATCH_MATMUL"]
    ours, delegate = make_interpreter(path, backend="tf_sparse", format="bsr:16x1")
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    outs = []
    for interpreter in (stock, ours):
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
        outs.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-5, atol=1e-5 * np.abs(outs[0]).max())
    (r,) = tfs.delegate_report(delegate)
    assert r["op"] == "BATCH_MATMUL" and r["claimed"] == claimed, r["reason"]
    if claimed:
        assert r["shape"] == [N, K] and r["format"] == "bsr:16x1"
        # The 16x1 blocks are measured in the FC orientation whichever way W is stored.
        assert r["block_density"] == pytest.approx(_block_density(), abs=1e-6)
        assert r["batch_rows"] == int(np.prod(shape[:-1]))


def _block_density():
    w = _weights()[0]  # [K, N]
    return float(np.mean(np.any(w.reshape(K, N // 16, 16) != 0, axis=-1)))
