"""Full-integer int8 models run by the delegate, against the stock interpreter.

Files come from the stock converter (TFLiteConverter with a representative data set, and
through ``tfs.export_tflite(int8=True)``), dense and compact. Where the delegate claims an int8
FULLY_CONNECTED node its outputs equal TFLite's own int8 kernels (``builtin``) run one row at a
time, on every output: both requantize with the same fixed-point multiplier and two roundings,
the second rounding half away from zero (TFLite's reference kernels, and its optimized kernel on
one row). TFLite's optimized kernel on several rows (ruy) rounds that second step half up
instead, and XNNPACK's QS8 kernels round once: both may differ from ours by 1 at exact ties
(checked as well). Nodes the delegate declines run as before.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf_sparse as tfs
from tf_sparse.runtime import make_interpreter, run

RUNTIMES = ["litert", "tf"]


def _blocks_1x4(kernel, keep, rng):
    """Keras [in, out] kernel with 1x4 blocks along the inputs kept with probability `keep`."""
    n_in, n_out = kernel.shape
    mask = (rng.random((n_out, (n_in + 3) // 4)) < keep).repeat(4, axis=1)[:, :n_in].T
    return (kernel * mask).astype(np.float32)


def _convert(model, rep, *, compact=False, int8_io=True, per_tensor=False, hybrid=False):
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if compact:
        conv.optimizations.append(tf.lite.Optimize.EXPERIMENTAL_SPARSITY)
    if not hybrid:
        conv.representative_dataset = lambda: ([r[None]] for r in rep)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if int8_io:
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
    if per_tensor:
        conv._experimental_disable_per_channel_quantization_for_dense_layers = True
    return conv.convert()


def _mlp(rng, n_in=96, hidden=64, n_out=10, keep=0.2, activation="relu"):
    model = keras.Sequential(
        [
            keras.Input((n_in,)),
            keras.layers.Dense(hidden, activation=activation),
            keras.layers.Dense(n_out),
        ]
    )
    for layer in model.layers:
        k, b = layer.get_weights()
        layer.set_weights([_blocks_1x4(k, keep, rng), rng.standard_normal(b.shape).astype(np.float32) * 0.3])
    return model


def _input(interp, rng, rows):
    d = interp.get_input_details()[0]
    shape = (rows, *d["shape"][1:])
    if d["dtype"] == np.int8:
        return rng.integers(-128, 128, shape).astype(np.int8)
    return rng.standard_normal(shape).astype(np.float32) * 2


def _check(path, tmp_path, rng, runtime, rows=1, expect_claims=None, compact=False, many_rows_per_call=False,
           **options):
    """Runs `rows` inputs through the delegate and the stock kernels; returns the delegate's report.
    compact: the file has int8 DENSIFY + FULLY_CONNECTED, which ai_edge_litert's XNNPACK cannot
    prepare (so no XNNPACK comparison there). many_rows_per_call: one row of the input is several
    rows of the FULLY_CONNECTED, so the row-at-a-time stock run is not available (within 1)."""
    ours, delegate = make_interpreter(path, backend="tf_sparse", runtime=runtime, **options)
    builtin, _ = make_interpreter(path, backend="builtin", runtime=runtime)
    x = _input(ours, rng, rows)
    got = run(ours, x)
    # TFLite's own kernels one row at a time (the rounding the delegate reproduces).
    want = np.concatenate([run(builtin, x[i : i + 1]) for i in range(rows)])
    report = tfs.delegate_report(delegate)
    claimed = [r for r in report if r["claimed"]]
    if expect_claims is not None:
        assert len(claimed) == expect_claims, report
    for r in claimed:
        assert r["dtype"] == "int8" and r["kernel"].startswith("qs8_"), r
    if len(claimed) == len(report) and not many_rows_per_call:
        # Every FULLY_CONNECTED is ours: bit-exact with TFLite's own kernels (a float output is
        # the same int8 value through DEQUANTIZE, which XNNPACK and TFLite compute to 1 ulp).
        if got.dtype == np.int8:
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    else:
        assert np.abs(got.astype(np.float64) - want).max() <= _one_step(builtin), report
    # All rows in one call: TFLite's multi-row kernel, or XNNPACK, within one step.
    xnn, _ = make_interpreter(path, backend="xnnpack", runtime=runtime) if runtime == "tf" or not compact else (None, None)
    for other in (run(builtin, x), run(xnn, x) if xnn is not None else None):
        if other is not None:
            assert np.abs(got.astype(np.float64) - other).max() <= _one_step(builtin)
    return report


def _one_step(interp):
    """One output step: 1 for an int8 output; for a float one (DEQUANTIZE at the end) the
    largest int8 scale of the model, plus float rounding."""
    d = interp.get_output_details()[0]
    if d["dtype"] == np.int8:
        return 1
    scales = [t["quantization"][0] for t in interp.get_tensor_details() if t["dtype"] == np.int8]
    return max(scales) * 1.0001 + 1e-6


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("activation", [None, "relu", "relu6"])
@pytest.mark.parametrize("per_tensor", [False, True])
def test_int8_mlp_bit_exact(tmp_path, runtime, activation, per_tensor):
    rng = np.random.default_rng(0)
    model = _mlp(rng, activation=activation)
    rep = rng.standard_normal((40, 96)).astype(np.float32)
    path = tmp_path / "m.tflite"
    path.write_bytes(_convert(model, rep, per_tensor=per_tensor))
    for rows in (1, 3):
        _check(path, tmp_path, rng, runtime, rows=rows, expect_claims=2, format="bsr:1x4")


def _two_of_four(kernel):
    """Keras [in, out] kernel keeping the 2 largest |w| of every 4 inputs of each output."""
    w = kernel.T.reshape(kernel.shape[1], -1, 4)
    keep = np.argsort(-np.abs(w), axis=-1)[..., :2]
    mask = np.zeros(w.shape, bool)
    np.put_along_axis(mask, keep, True, axis=-1)
    return np.where(mask, w, 0).reshape(kernel.shape[1], -1).T.astype(np.float32)


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("fmt", ["csr", "nm"])
def test_int8_row_group_formats(tmp_path, runtime, fmt):
    """The row-group operator (windows layout as "csr", the 2-bit N:4 layout as "nm") on 2:4
    weights with ragged shapes: bit-exact with the built-in kernels."""
    rng = np.random.default_rng(8)
    model = keras.Sequential(
        [keras.Input((100,)), keras.layers.Dense(37, activation="relu"), keras.layers.Dense(19)]
    )
    for layer in model.layers:
        k, b = layer.get_weights()
        k = np.pad(k, ((0, (-k.shape[0]) % 4), (0, 0)))
        layer.set_weights([_two_of_four(k)[: layer.kernel.shape[0]], b + 0.05])
    path = tmp_path / "rg.tflite"
    path.write_bytes(_convert(model, rng.standard_normal((40, 100)).astype(np.float32)))
    report = _check(path, tmp_path, rng, runtime, rows=5, expect_claims=2, format=fmt, min_sparsity=0.3)
    kernels = {r["kernel"] for r in report}
    assert all("rowgroup" in k for k in kernels), kernels


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_int8_compact_densify(tmp_path, runtime):
    """Compact int8 files: unstructured-looking encodings behind DENSIFY, decoded by the delegate."""
    rng = np.random.default_rng(1)
    model = _mlp(rng, keep=0.1)
    rep = rng.standard_normal((40, 96)).astype(np.float32)
    path = tmp_path / "c.tflite"
    path.write_bytes(_convert(model, rep, compact=True))
    report = _check(path, tmp_path, rng, runtime, rows=2, expect_claims=2, compact=True, format="bsr:1x4")
    assert any(r["densify_node"] is not None for r in report), report


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_int8_float_io_and_zero_points(tmp_path, runtime):
    """Float in/out around an int8 graph (QUANTIZE/DEQUANTIZE stay with TFLite); inputs all
    positive so the input zero point sits at -128."""
    rng = np.random.default_rng(2)
    model = _mlp(rng, activation="relu")
    rep = np.abs(rng.standard_normal((40, 96))).astype(np.float32)
    path = tmp_path / "f.tflite"
    path.write_bytes(_convert(model, rep, int8_io=False))
    interp, _ = make_interpreter(path, backend="builtin", runtime=runtime)
    zero_points = [t["quantization"][1] for t in interp.get_tensor_details() if t["dtype"] == np.int8]
    assert -128 in zero_points
    _check(path, tmp_path, rng, runtime, rows=2, expect_claims=2, format="bsr:1x4")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_int8_sequence_input(tmp_path, runtime):
    """Dense on [batch, steps, in]: the rows of every step."""
    rng = np.random.default_rng(3)
    model = keras.Sequential([keras.Input((5, 32)), keras.layers.Dense(24)])
    k, b = model.layers[0].get_weights()
    model.layers[0].set_weights([_blocks_1x4(k, 0.2, rng), b + 0.1])
    rep = rng.standard_normal((20, 5, 32)).astype(np.float32)
    path = tmp_path / "s.tflite"
    path.write_bytes(_convert(model, rep))
    _check(path, tmp_path, rng, runtime, rows=2, expect_claims=1, many_rows_per_call=True, format="bsr:1x4")


def test_int8_auto_claims_only_what_pays(tmp_path):
    """format=auto: a 98%-sparse 1024->1024 layer is claimed, a 50%-sparse one is left to XNNPACK
    (whose int8 kernel is faster there), and the model runs either way."""
    rng = np.random.default_rng(4)
    reports = {}
    for keep in (0.02, 0.5):
        model = keras.Sequential([keras.Input((1024,)), keras.layers.Dense(1024)])
        k, b = model.layers[0].get_weights()
        model.layers[0].set_weights([_blocks_1x4(rng.standard_normal(k.shape).astype(np.float32), keep, rng), b])
        path = tmp_path / f"a{keep}.tflite"
        path.write_bytes(_convert(model, rng.standard_normal((20, 1024)).astype(np.float32)))
        reports[keep] = _check(path, tmp_path, rng, "litert")
    assert reports[0.02][0]["claimed"], reports[0.02]
    assert not reports[0.5][0]["claimed"] and "int8" in reports[0.5][0]["reason"], reports[0.5]


def test_int8_format_without_int8_kernels_is_declined(tmp_path):
    rng = np.random.default_rng(5)
    path = tmp_path / "m.tflite"
    path.write_bytes(_convert(_mlp(rng), rng.standard_normal((20, 96)).astype(np.float32)))
    report = _check(path, tmp_path, rng, "litert", format="gs")
    assert all(not r["claimed"] and "no int8 kernels" in r["reason"] for r in report), report


def test_hybrid_weights_are_declined(tmp_path):
    """Dynamic-range files (float activations, int8 weights) are left to TFLite."""
    rng = np.random.default_rng(6)
    model = _mlp(rng, n_in=256, hidden=256)
    path = tmp_path / "h.tflite"
    path.write_bytes(_convert(model, None, hybrid=True))
    ours, delegate = make_interpreter(path, backend="tf_sparse", format="bsr:1x4")
    stock, _ = make_interpreter(path, backend="builtin")
    x = rng.standard_normal((1, 256)).astype(np.float32)
    np.testing.assert_allclose(run(ours, x), run(stock, x), rtol=1e-5, atol=1e-5)
    report = tfs.delegate_report(delegate)
    assert report and all(not r["claimed"] for r in report), report
    assert any("not float32" in r["reason"] for r in report), report


def test_export_tflite_int8_end_to_end(tmp_path):
    """Keras -> tfs.sparsify -> harden -> tfs.export_tflite(int8=True) -> delegate."""
    rng = np.random.default_rng(7)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10)])
    model = tfs.sparsify(model, tfs.Block(0.9, block=(1, 4)))
    tfs.harden(model)
    rep = rng.standard_normal((32, 64)).astype(np.float32)
    path = tmp_path / "e.tflite"
    tfs.export_tflite(model, path, int8=True, representative_data=rep, int8_io=True)
    report = _check(path, tmp_path, rng, "litert", rows=4, format="bsr:1x4")
    assert sum(r["claimed"] for r in report) >= 1, report


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("stride, activation", [(1, "relu6"), (2, None)])
def test_int8_pointwise_conv_pixel_vectors(tmp_path, runtime, stride, activation):
    """int8 1x1 CONV_2D on the pixel-vector kernels (format=pixvec forces them: on a CPU where
    XNNPACK's int8 GEMM runs on AMX tiles the estimate declines them): ragged channel counts,
    strides 1 and 2, bit-exact with the built-in kernels."""
    rng = np.random.default_rng(9)
    cin, cout = 38, 21
    model = keras.Sequential(
        [keras.Input((9, 7, cin)), keras.layers.Conv2D(cout, 1, strides=stride, activation=activation)]
    )
    k, b = model.layers[0].get_weights()
    groups = (rng.random((1, 1, (cin + 3) // 4, cout)) < 0.3).repeat(4, axis=2)[:, :, :cin, :]
    model.layers[0].set_weights([k * groups, b + 0.1])
    path = tmp_path / "pw.tflite"
    path.write_bytes(_convert(model, rng.standard_normal((20, 9, 7, cin)).astype(np.float32)))
    report = _check(path, tmp_path, rng, runtime, rows=2, expect_claims=1, format="pixvec", min_sparsity=0.3)
    assert report[0]["op"] == "CONV_2D" and report[0]["dtype"] == "int8", report
    assert "qs8_conv1x1_pixvec" in report[0]["kernel"], report


def _pattern_kernel(kernel, rng, patterns=8):
    """Keras (3, 3, in, out) kernel with every 3x3 kernel on one of `patterns` 4-tap patterns and
    half of the kernels removed."""
    library = [rng.choice(9, 4, replace=False) for _ in range(patterns)]
    masks = np.zeros((patterns, 9), np.float32)
    for p, taps in enumerate(library):
        masks[p, taps] = 1
    cin, cout = kernel.shape[2:]
    choice = masks[rng.integers(patterns, size=(cin, cout))] * (rng.random((cin, cout, 1)) < 0.5)
    return kernel * np.moveaxis(choice, 2, 0).reshape(3, 3, cin, cout)


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("stride, padding", [(1, "same"), (2, "valid")])
def test_int8_pattern_conv(tmp_path, runtime, stride, padding):
    """int8 3x3 CONV_2D with 4-tap kernel patterns on the int8 pattern kernels (format=patdnn
    forces them), bit-exact with the built-in kernels."""
    rng = np.random.default_rng(11)
    cin, cout = 19, 33
    model = keras.Sequential(
        [keras.Input((11, 9, cin)), keras.layers.Conv2D(cout, 3, strides=stride, padding=padding, activation="relu")]
    )
    k, b = model.layers[0].get_weights()
    model.layers[0].set_weights([_pattern_kernel(k, rng), b + 0.1])
    path = tmp_path / "pat.tflite"
    path.write_bytes(_convert(model, rng.standard_normal((20, 11, 9, cin)).astype(np.float32)))
    report = _check(path, tmp_path, rng, runtime, rows=2, expect_claims=1, format="patdnn")
    assert "qs8" in report[0]["kernel"], report


def test_int8_3x3_conv_without_patterns_is_declined_with_the_reason(tmp_path):
    rng = np.random.default_rng(10)
    model = keras.Sequential([keras.Input((8, 8, 16)), keras.layers.Conv2D(16, 3, padding="same")])
    path = tmp_path / "c3.tflite"
    path.write_bytes(_convert(model, rng.standard_normal((10, 8, 8, 16)).astype(np.float32)))
    report = _check(path, tmp_path, rng, "litert", format="patdnn", min_sparsity=0.0)
    assert not report[0]["claimed"] and "at most 4" in report[0]["reason"], report
    report = _check(path, tmp_path, rng, "litert", format="pixvec", min_sparsity=0.0)
    assert not report[0]["claimed"] and "1x1" in report[0]["reason"], report

