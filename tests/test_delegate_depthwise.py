"""Tap-sparse 3x3 DEPTHWISE_CONV_2D in the delegate against the stock interpreter."""

import keras
import numpy as np
import pytest

import tf_sparse as tfs
from delegate_check import compare_with_stock as _compare

RUNTIMES = ["litert", "tf"]


def _library(rng, size=8):
    """`size` distinct 4-tap patterns: the centre and 3 of the other 8 taps."""
    others = [t for t in range(9) if t != 4]
    library = set()
    while len(library) < size:
        library.add(tuple(sorted([4, *rng.choice(others, 3, replace=False).tolist()])))
    return [list(p) for p in sorted(library)]


def prune_depthwise(kernel, rng, group=1, channel_prune=0.0, library_size=8):
    """Keras depthwise kernel (3, 3, C, 1) -> 4-of-9 pattern-pruned, with channels removed.

    Each block of `group` consecutive channels takes the library pattern of largest summed
    energy (group=1: each channel its own best pattern, as KernelPattern does), then the weakest
    `channel_prune` fraction of the blocks (by L2 norm) is removed entirely.
    """
    kh, kw, channels, mult = kernel.shape
    assert (kh, kw, mult) == (3, 3, 1), kernel.shape
    k9 = kernel.reshape(9, channels).copy()
    library = _library(rng, library_size)
    masks = np.zeros((len(library), 9), np.float32)
    for p, taps in enumerate(library):
        masks[p, taps] = 1.0
    blocks = np.arange(channels) // group
    nblocks = blocks[-1] + 1
    energy = masks @ k9**2  # (P, C)
    block_energy = np.zeros((len(library), nblocks))
    np.add.at(block_energy, (slice(None), blocks), energy)
    best = block_energy.argmax(axis=0)[blocks]  # (C,)
    k9 = k9 * masks[best].T
    if channel_prune > 0:
        norms = np.zeros(nblocks)
        np.add.at(norms, blocks, (k9**2).sum(axis=0))
        cut = np.sort(norms)[int(round(channel_prune * nblocks)) - 1] if round(channel_prune * nblocks) else -1
        k9 = k9 * (norms > cut)[blocks][None]
    return k9.reshape(kh, kw, channels, 1).astype(np.float32)


def dw_model(specs, input_shape, seed=0, group=16, channel_prune=0.0, prune=True, pointwise=None):
    """specs: (strides, padding, activation, use_bias) per DepthwiseConv2D; `pointwise`: filters of
    a 1x1 Conv2D after the last one (a MobileNet block), or None."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    inputs = keras.Input(input_shape)
    x = inputs
    for strides, padding, activation, use_bias in specs:
        x = keras.layers.DepthwiseConv2D(
            3, strides=strides, padding=padding, activation=activation, use_bias=use_bias
        )(x)
    if pointwise:
        x = keras.layers.Conv2D(pointwise, 1, activation="relu")(x)
    model = keras.Model(inputs, x)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        kernel = rng.standard_normal(weights[0].shape).astype(np.float32)
        if isinstance(layer, keras.layers.DepthwiseConv2D) and prune:
            kernel = prune_depthwise(kernel, rng, group=group, channel_prune=channel_prune)
        rest = [rng.standard_normal(w.shape).astype(np.float32) for w in weights[1:]]
        layer.set_weights([kernel, *rest])
    return model


SPECS = {
    # name: (layer specs, input shape, pattern group, channel pruning)
    "s1_same_relu6": ([(1, "same", "relu6", True)], (13, 17, 24), 16, 0.0),
    "s2_same_per_channel": ([(2, "same", None, True)], (15, 20, 20), 1, 0.5),
    "s1_valid_nobias": ([(1, "valid", None, False)], (11, 9, 19), 4, 0.25),
    "s2_valid_relu": ([(2, "valid", "relu", True)], (12, 13, 8), 8, 0.0),
    "stack": ([(1, "same", "relu6", True), (2, "same", "relu6", True)], (16, 16, 33), 16, 0.5),
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("dw_models")
    paths = {}
    for i, (name, (specs, shape, group, pruned)) in enumerate(SPECS.items()):
        paths[name] = str(d / f"{name}.tflite")
        tfs.export_tflite(dw_model(specs, shape, seed=i, group=group, channel_prune=pruned), paths[name])
    # A MobileNet-sized layer whose 16-channel vectors share patterns: auto claims it.
    paths["real"] = str(d / "real.tflite")
    tfs.export_tflite(dw_model([(1, "same", "relu6", True)], (28, 28, 128), seed=11), paths["real"])
    # The same layer with per-channel patterns: vectors keep nearly all 9 taps, auto declines.
    paths["per_channel"] = str(d / "per_channel.tflite")
    tfs.export_tflite(dw_model([(1, "same", "relu6", True)], (28, 28, 128), seed=12, group=1), paths["per_channel"])
    paths["dense"] = str(d / "dense.tflite")
    tfs.export_tflite(dw_model([(1, "same", "relu", True)], (9, 9, 16), prune=False), paths["dense"])
    # A MobileNet block: sparse depthwise (ours) feeding a dense 1x1 conv (XNNPACK's).
    paths["block"] = str(d / "block.tflite")
    tfs.export_tflite(dw_model([(2, "same", "relu6", True)], (30, 30, 64), seed=13, pointwise=24), paths["block"])
    # Depth multiplier 2: declined.
    keras.utils.set_random_seed(3)
    inputs = keras.Input((8, 8, 4))
    mult = keras.Model(inputs, keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same")(inputs))
    paths["multiplier"] = str(d / "multiplier.tflite")
    tfs.export_tflite(mult, paths["multiplier"])
    # Through tf_sparse's own layer and structure: one shared pattern, half the channels removed.
    keras.utils.set_random_seed(4)
    inputs = keras.Input((20, 20, 48))
    layer = tfs.SparseDepthwiseConv2D(
        3, padding="same", structure=tfs.KernelPattern(num_patterns=1, connectivity=0.5)
    )
    structured = keras.Model(inputs, layer(inputs))
    layer.update_mask()
    paths["structure"] = str(d / "structure.tflite")
    tfs.export_tflite(structured, paths["structure"])
    # KernelPattern with filter blocks of 16 channels (the AVX-512 vector): a library of 8
    # patterns, yet every vector runs 4 taps, and removed blocks none.
    for block in (16, 1):
        keras.utils.set_random_seed(5)
        inputs = keras.Input((28, 28, 128))
        structure = tfs.KernelPattern(num_patterns=8, connectivity=0.5, filter_block=block)
        layer = tfs.SparseDepthwiseConv2D(3, padding="same", activation="relu6", structure=structure)
        structured = keras.Model(inputs, layer(inputs))
        kernel = layer.structure_view(keras.ops.convert_to_numpy(layer._kernel))
        layer.structure = structure.fit_library([kernel])
        layer.update_mask()
        paths[f"filter_block_{block}"] = str(d / f"filter_block_{block}.tflite")
        tfs.export_tflite(structured, paths[f"filter_block_{block}"])
    return paths


def _dw_entries(delegate):
    return [r for r in tfs.delegate_report(delegate) if r["op"] == "DEPTHWISE_CONV_2D"]


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name", sorted(SPECS))
def test_depthwise_matches_stock_and_is_claimed(models, runtime, name):
    n_dw = len(SPECS[name][0])
    # Small layers: force the format so that every shape runs on our kernels
    # whatever the cost model says.
    delegate = None
    for batch in (1, 2):
        delegate = _compare(models[name], runtime, batch, format="dwtaps")
    entries = _dw_entries(delegate)
    assert len(entries) == n_dw
    assert all(e["claimed"] and e["format"] == "dwtaps" for e in entries), entries
    assert all(e["max_channel_taps"] <= 4 for e in entries)
    assert tfs.delegate_stats(delegate)["invocations"] >= n_dw


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_auto_claims_shared_patterns_and_declines_per_channel_ones(models, runtime):
    delegate = _compare(models["real"], runtime, 1, num_threads=2)
    (entry,) = _dw_entries(delegate)
    assert entry["claimed"], entry
    assert 0 < entry["cost_vs_dense"] <= 0.9
    delegate = _compare(models["per_channel"], runtime, 1)
    (entry,) = _dw_entries(delegate)
    assert not entry["claimed"] and "estimated cost" in entry["reason"], entry


def test_dense_declined_and_forced_still_exact(models):
    delegate = _compare(models["dense"], "litert", 1, verbose=1)
    (entry,) = _dw_entries(delegate)
    assert not entry["claimed"]
    assert "min_sparsity" in entry["reason"]
    assert entry["max_channel_taps"] == 9
    delegate = _compare(models["dense"], "litert", 1, min_sparsity=0)
    (entry,) = _dw_entries(delegate)
    assert not entry["claimed"] and "estimated cost" in entry["reason"], entry
    # Forced, dense kernels run all 9 taps and stay exact.
    delegate = _compare(models["dense"], "litert", 2, min_sparsity=0, format="dwtaps")
    (entry,) = _dw_entries(delegate)
    assert entry["claimed"] and entry["executed_tap_fraction"] == 1.0


def test_options_and_unsupported_nodes(models):
    delegate = _compare(models["real"], "litert", 1, min_sparsity=0.95)
    (entry,) = _dw_entries(delegate)
    assert not entry["claimed"] and "min_sparsity" in entry["reason"]
    delegate = _compare(models["real"], "litert", 1, format="bsr:1x4")
    (entry,) = _dw_entries(delegate)
    assert not entry["claimed"] and "FULLY_CONNECTED format" in entry["reason"]
    # patdnn forces CONV_2D only: depthwise nodes stay on the cost model.
    delegate = _compare(models["real"], "litert", 1, format="patdnn")
    (entry,) = _dw_entries(delegate)
    assert entry["claimed"] and "forced" not in entry["reason"]
    delegate = _compare(models["multiplier"], "litert", 1, format="dwtaps")
    (entry,) = _dw_entries(delegate)
    assert not entry["claimed"] and "depth multiplier 2" in entry["reason"], entry


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_mobilenet_block_and_structure_layer(models, runtime):
    delegate = _compare(models["block"], runtime, 1, format="dwtaps")
    (entry,) = _dw_entries(delegate)
    assert entry["claimed"]
    delegate = _compare(models["structure"], runtime, 2)
    (entry,) = _dw_entries(delegate)
    assert entry["claimed"], entry
    assert entry["max_channel_taps"] == 4 and entry["zero_channels"] == 24


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_kernel_pattern_filter_blocks_line_up_with_the_vectors(models, runtime):
    delegate = _compare(models["filter_block_16"], runtime, 1)
    (entry,) = _dw_entries(delegate)
    assert entry["claimed"], entry
    assert entry["max_channel_taps"] == 4 and entry["zero_channels"] == 64, entry
    assert entry["executed_tap_fraction"] == pytest.approx(4 / 9 * 0.5), entry
    # The same structure with each channel on its own pattern: vectors keep most taps.
    delegate = _compare(models["filter_block_1"], runtime, 1)
    (entry,) = _dw_entries(delegate)
    assert not entry["claimed"] and entry["executed_tap_fraction"] > 0.5, entry
