"""Compact models (TFLite's own sparse encoding) run by the delegate, in both runtimes.

``tfs.export_tflite(..., compact=True)`` stores 1x4-block-pruned FULLY_CONNECTED weights with
TFLite's sparsity parameters; the delegate reads that encoding directly into its block-sparse
format. Every model must match the stock interpreter (TFLite's built-in kernels, which run the
same encoding) within 1e-5 relative.
"""

import keras
import numpy as np
import pytest

import tf_sparse as tfs
from delegate_check import compare_with_stock as _compare

RUNTIMES = ["litert", "tf"]


def _model(sizes, activations, in_dim, sparsity, block=(1, 4), seed=0):
    """Dense layers with random weights; `sparsity[i]` of layer i's blocks zeroed (None: dense)."""
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((in_dim,))]
    for units, act in zip(sizes, activations):
        layers.append(keras.layers.Dense(units, activation=act))
    model = keras.Sequential(layers)
    rng = np.random.default_rng(seed)
    for layer, s in zip(model.layers, sparsity):
        kernel, bias = layer.get_weights()
        kernel = rng.standard_normal(kernel.shape).astype(np.float32)
        if s is not None:
            kernel = tfs.Block(s, block=block).project(kernel)
        layer.set_weights([kernel, rng.standard_normal(bias.shape).astype(np.float32)])
    return model


# name: (sizes, activations, in_dim, per-layer sparsity, block, FC nodes we claim)
SPECS = {
    "blocks90": ([256, 128, 10], ["relu", "relu6", None], 96, [0.9, 0.9, 0.9], (1, 4), 3),
    "blocks75": ([192, 64], ["relu", None], 128, [0.75, 0.75], (1, 4), 2),
    # in % 4 != 0: the encoding holds whole 1x4 blocks only.
    "ragged": ([37, 19, 5], [None, "relu", None], 53, [0.9, 0.8, 0.75], (1, 4), 3),
    # Only the first layer is stored sparse; the dense one stays with TFLite/XNNPACK.
    "mixed": ([128, 32], ["relu", None], 64, [0.9, None], (1, 4), 1),
}


@pytest.fixture(scope="module")
def compact_models(tmp_path_factory):
    d = tmp_path_factory.mktemp("compact")
    paths, sizes = {}, {}
    for name, (units, acts, in_dim, sparsity, block, _) in SPECS.items():
        model = _model(units, acts, in_dim, sparsity, block, seed=len(name))
        paths[name] = str(d / f"{name}.tflite")
        sizes[name] = (
            tfs.export_tflite(model, str(d / f"{name}_plain.tflite")),
            tfs.export_tflite(model, paths[name], compact=True),
        )
    return paths, sizes


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name", list(SPECS))
def test_compact_models_match_stock_and_are_claimed(compact_models, runtime, name):
    paths, _ = compact_models
    n_claimed = SPECS[name][-1]
    delegate = None
    for batch in (1, 3):
        delegate = _compare(paths[name], runtime, batch)
    stats = tfs.delegate_stats(delegate)
    assert stats["nodes_claimed"] == n_claimed
    assert stats["invocations"] >= n_claimed
    claimed = [r for r in tfs.delegate_report(delegate) if r["claimed"]]
    assert len(claimed) == n_claimed
    assert all(r["op"] == "FULLY_CONNECTED" for r in claimed)
    assert all("TFLite sparse encoding 1x4" in r["reason"] for r in claimed), claimed


def test_compact_files_are_smaller(compact_models):
    _, sizes = compact_models
    plain, compact = sizes["blocks90"]
    assert compact < 0.3 * plain


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_compact_two_threads(compact_models, runtime):
    paths, _ = compact_models
    delegate = _compare(paths["blocks90"], runtime, 1, num_threads=2)
    assert tfs.delegate_stats(delegate)["nodes_claimed"] == 3


@pytest.mark.parametrize(
    "fmt,claimed,reason",
    [
        ("bsr:4x1", 2, "repacked"),  # another block shape: through a dense copy
        ("bsr:1x4", 2, "packed directly"),  # the stored shape
        ("csr", 0, "not offered"),  # only BSR is built from the encoding
    ],
)
def test_forced_formats_on_the_encoding(compact_models, fmt, claimed, reason):
    paths, _ = compact_models
    delegate = _compare(paths["blocks75"], "litert", 2, format=fmt)
    report = tfs.delegate_report(delegate)
    assert sum(r["claimed"] for r in report) == claimed
    assert report and all(reason in r["reason"] for r in report), report


def test_min_sparsity_declines_compact(compact_models):
    paths, _ = compact_models
    delegate = _compare(paths["blocks75"], "litert", 1, min_sparsity=0.9)
    assert tfs.delegate_stats(delegate)["nodes_claimed"] == 0


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_densify_fed_layers_are_claimed_with_their_densify(tmp_path, runtime):
    # Blocks TFLite's FC kernel does not run (here 4x1) are stored sparse behind a DENSIFY op;
    # the delegate decodes the encoding and takes each DENSIFY over with its FC (more in
    # test_delegate_densify.py).
    model = _model([64, 32], ["relu", None], 64, [0.9, 0.9], block=(4, 1), seed=11)
    path = str(tmp_path / "densify.tflite")
    tfs.export_tflite(model, path, compact=True)
    delegate = _compare(path, runtime, 2)
    assert tfs.delegate_stats(delegate)["nodes_claimed"] == 2
    report = tfs.delegate_report(delegate)
    assert len(report) == 2 and all(r["densify_node"] is not None for r in report), report
