"""FULLY_CONNECTED on CSR, N:M and GS weights: the delegate vs the stock interpreter.

Weights are built with NumPy directly: unstructured 90%, 2:4 (the 2 largest |w| of every 4
consecutive inputs of each output unit) and a valid gather-scatter pattern (16 banks, one
element per row and pack). Every model runs in both runtimes and must match the stock
interpreter within 1e-5 relative; the report must name the format the weights call for.
"""

import keras
import numpy as np
import pytest

import tf_sparse as tfs
from delegate_check import compare_with_stock as compare

RUNTIMES = ["litert", "tf"]


def unstructured(rng, in_dim, out_dim, sparsity=0.9):
    kernel = rng.standard_normal((in_dim, out_dim)).astype(np.float32)
    return np.where(rng.random(kernel.shape) < sparsity, 0.0, kernel).astype(np.float32)


def two_of_four(rng, in_dim, out_dim):
    """Keeps the 2 largest |w| of every 4 consecutive inputs of each output unit."""
    w2 = rng.standard_normal((out_dim, in_dim)).astype(np.float32)  # GEMM view [out, in]
    groups = w2.reshape(out_dim, in_dim // 4, 4)
    order = np.argsort(-np.abs(groups), axis=-1)
    mask = np.zeros(groups.shape, bool)
    np.put_along_axis(mask, order[..., :2], True, axis=-1)
    return np.where(mask, groups, 0.0).reshape(out_dim, in_dim).T.astype(np.float32)


def gather_scatter(rng, in_dim, out_dim, banks=16, packs=2):
    """A valid GS pattern: per group of `banks` output units, `packs` packs; pack p gives
    every unit of the group one input from a distinct bank (input mod banks), in slot p of
    that bank, so every unit has `packs` nonzeros and every bank is used `packs` times."""
    assert out_dim % banks == 0 and in_dim % banks == 0 and packs <= in_dim // banks
    w2 = np.zeros((out_dim, in_dim), np.float32)
    for g in range(out_dim // banks):
        for p in range(packs):
            bank = rng.permutation(banks)
            for lane in range(banks):
                w2[g * banks + lane, p * banks + bank[lane]] = rng.standard_normal()
    w2[w2 == 0.0] = 0.0
    return w2.T.copy()


def build(path, in_dim, kernels, activations):
    keras.utils.set_random_seed(0)
    layers = [keras.Input((in_dim,))]
    for k, act in zip(kernels, activations):
        layers.append(keras.layers.Dense(k.shape[1], activation=act))
    model = keras.Sequential(layers)
    rng = np.random.default_rng(1)
    for layer, k in zip(model.layers, kernels):
        layer.set_weights([k, rng.standard_normal(k.shape[1]).astype(np.float32)])
    tfs.export_tflite(model, str(path))
    return str(path)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("fc_formats")
    rng = np.random.default_rng(0)
    return {
        "unstructured": build(
            d / "u.tflite", 200, [unstructured(rng, 200, 96), unstructured(rng, 96, 45)], ["relu", None]
        ),
        "nm24": build(d / "nm.tflite", 128, [two_of_four(rng, 128, 80), two_of_four(rng, 80, 36)], ["relu6", None]),
        "gs": build(d / "gs.tflite", 320, [gather_scatter(rng, 320, 64)], ["relu"]),
        # claimed (unstructured 90%) -> declined (dense) -> claimed (2:4)
        "mixed": build(
            d / "mixed.tflite",
            160,
            [
                unstructured(rng, 160, 64),
                rng.standard_normal((64, 48)).astype(np.float32),
                two_of_four(rng, 48, 24),
            ],
            ["relu", "relu", None],
        ),
    }


def formats(delegate):
    return [r["format"] for r in tfs.delegate_report(delegate)]


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize(
    "name,expected",
    [("unstructured", ["csr", "csr"]), ("nm24", ["nm:2:4", "nm:2:4"]), ("mixed", ["csr", None, "nm:2:4"])],
)
def test_auto_picks_the_format_and_matches(models, runtime, name, expected):
    delegate = None
    for batch in (1, 3):
        delegate = compare(models[name], runtime, batch)
    assert formats(delegate) == expected
    report = tfs.delegate_report(delegate)
    for r in report:
        if r["claimed"]:
            assert r["format"] in r["reason"] and r["kernel"]
            assert r["cost_vs_dense"] <= 0.8
        else:
            assert "estimated cost" in r["reason"] or "sparsity" in r["reason"]
    stats = tfs.delegate_stats(delegate)
    assert stats["nodes_claimed"] == sum(f is not None for f in expected)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_gs_weights(models, runtime):
    # Auto claims GS-patterned weights with the cheapest kernel and reports the GS estimate.
    delegate = compare(models["gs"], runtime, 2)
    (r,) = tfs.delegate_report(delegate)
    assert r["claimed"] and "gs:16:1" in r["candidates"]
    # Forced, the GS packs themselves run.
    for forced in ("gs", "gs:16"):
        delegate = compare(models["gs"], runtime, 3, format=forced)
        (r,) = tfs.delegate_report(delegate)
        assert r["claimed"] and r["format"] == "gs:16:1" and "f32_gs_" in r["kernel"]


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize(
    "forced,expected",
    [
        ("csr", ["csr", "csr"]),
        ("nm", ["nm:2:4", "nm:2:4"]),
        ("nm:4:8", ["nm:4:8", "nm:4:8"]),
        ("gs:8", ["gs:8:1", None]),  # 36 outputs are not a multiple of 8 rows
        ("gs:4:2", ["gs:4:2", "gs:4:2"]),
    ],
)
def test_forced_formats_match(models, runtime, forced, expected):
    delegate = compare(models["nm24"], runtime, 2, format=forced)
    assert formats(delegate) == expected


def test_forced_nm_declines_weights_that_do_not_fit(models):
    delegate = compare(models["unstructured"], "litert", 1, format="nm:2:4")
    report = tfs.delegate_report(delegate)
    assert not any(r["claimed"] for r in report)
    assert all("more than 2 nonzeros" in r["reason"] for r in report)


def test_two_threads(models):
    for name in ("unstructured", "nm24", "gs"):
        delegate = compare(models[name], "litert", 1, num_threads=2)
        assert tfs.delegate_stats(delegate)["nodes_claimed"] >= 1


def test_rows_of_a_call_enter_the_estimate(tmp_path):
    # A Dense layer on [batch, 32, in] runs 32 rows a call. XNNPACK's dense kernel then reuses each
    # weight across the rows (about 0.25 of a single row's cost per row), the sparse kernels do not:
    # 75% 1x4 blocks, 0.38 of dense for one row, would be slower and are declined; 90% unstructured
    # stays claimed. Both ways the output matches the stock interpreter.
    def seq_model(path, kernel):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((32, kernel.shape[0]))
        dense = keras.layers.Dense(kernel.shape[1])
        model = keras.Model(inputs, dense(inputs))
        dense.set_weights([kernel, np.zeros(kernel.shape[1], np.float32)])
        tfs.export_tflite(model, str(path))
        return str(path)

    rng = np.random.default_rng(3)
    blocks = tfs.Block(0.75, block=(1, 4)).project(rng.standard_normal((256, 512)).astype(np.float32))
    for kernel, claimed in ((blocks, False), (unstructured(rng, 256, 512), True)):
        path = seq_model(tmp_path / f"seq_{claimed}.tflite", kernel)
        delegate = compare(path, "litert", 1)
        (entry,) = [r for r in tfs.delegate_report(delegate) if r["op"] == "FULLY_CONNECTED"]
        assert entry["batch_rows"] == 32, entry
        assert "32 rows a call" in entry["reason"], entry
        assert entry["claimed"] == claimed, entry


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_many_rows_with_16_unit_blocks_run_on_vtaps(tmp_path, runtime):
    # A transformer-style Dense on [batch, 40, 256]: 75% of the (16 output units x 1 input) blocks
    # removed. 40 rows a call (two full 14-row tiles and a partial one) run as a 1x1 convolution on
    # filter-vector taps, which reuses each kept weight vector across a tile of rows; a one-row
    # call of the same weights stays on the matrix-vector kernels.
    rng = np.random.default_rng(4)
    kernel = tfs.Block(0.75, block=(16, 1)).project(rng.standard_normal((256, 504)).astype(np.float32))
    for rows, expected in ((40, "vtaps"), (1, None)):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((rows, 256))
        dense = keras.layers.Dense(504, activation="relu")
        model = keras.Model(inputs, dense(inputs))
        dense.set_weights([kernel, rng.standard_normal(504).astype(np.float32)])
        path = str(tmp_path / f"rows_{rows}.tflite")
        tfs.export_tflite(model, path)
        for batch in (1, 2):  # 2: 80 rows a call after the resize
            delegate = compare(path, runtime, batch)
        (entry,) = [r for r in tfs.delegate_report(delegate) if r["op"] == "FULLY_CONNECTED"]
        assert entry["claimed"], entry
        if expected:
            assert entry["format"] == expected and entry["batch_rows"] == rows, entry
        else:
            assert entry["format"] != "vtaps" and "vtaps" not in entry["candidates"], entry


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_many_rows_with_unstructured_sparsity_run_on_pixvec(tmp_path, runtime):
    # What magnitude pruning leaves on a transformer-style Dense on [batch, 96, 512]: 90% of the
    # weights zero, no structure. 96 rows a call run as a 1x1 convolution on pixel-vector
    # nonzeros (each kept weight broadcast over a vector of rows); 4 rows stay on the
    # matrix-vector formats (no pixvec candidate below a vector tile of rows).
    rng = np.random.default_rng(5)
    kernel = tfs.Unstructured(0.9).project(rng.standard_normal((512, 520)).astype(np.float32))
    for rows, expected in ((96, "pixvec"), (4, None)):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((rows, 512))
        dense = keras.layers.Dense(520, activation="relu6")
        model = keras.Model(inputs, dense(inputs))
        dense.set_weights([kernel, rng.standard_normal(520).astype(np.float32)])
        path = str(tmp_path / f"rows_{rows}.tflite")
        tfs.export_tflite(model, path)
        for batch in (1, 3):  # 3: more rows a call after the resize
            delegate = compare(path, runtime, batch)
        (entry,) = [r for r in tfs.delegate_report(delegate) if r["op"] == "FULLY_CONNECTED"]
        if expected:
            assert entry["claimed"] and entry["format"] == expected and entry["batch_rows"] == rows, entry
            assert "pixvec" in entry["kernel"], entry
        else:
            assert "pixvec" not in entry["candidates"], entry
