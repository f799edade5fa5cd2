"""Sparse 3x3 CONV_2D in the delegate against the stock interpreter: per-kernel patterns (PatDNN
FKW, format "patdnn") and patterns shared by blocks of 16 filters (filter-vector taps, "vtaps")."""

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


def tfs_conv_model(specs, input_shape, seed=0, filter_block=16):
    """The same specs, pruned through tf_sparse: a Keras model with random weights (and biases),
    ``tfs.sparsify`` with ``KernelPattern(8, connectivity=0.5, filter_block=...)`` (which fits the
    pattern library to the weights), then ``tfs.harden`` (the exact projection)."""
    model = conv_model(specs, input_shape, seed=seed, prune=False)
    structure = tfs.KernelPattern(num_patterns=8, connectivity=0.5, filter_block=filter_block)
    sparse = tfs.sparsify(model, structure)
    tfs.harden(sparse)
    return sparse


SPECS = {
    # name: (layer specs, input shape)
    "s1_same_relu": ([(16, 1, "same", "relu", True)], (13, 17, 8)),
    "s2_same": ([(12, 2, "same", None, True)], (15, 20, 8)),
    "s1_valid_nobias": ([(8, 1, "valid", None, False)], (11, 9, 6)),
    "s2_valid_relu6": ([(8, 2, "valid", "relu6", True)], (12, 13, 5)),
    "stack": ([(16, 1, "same", "relu", True), (16, 2, "same", "relu", True)], (16, 16, 8)),
}

# Pruned through tf_sparse with KernelPattern(8, 0.5, filter_block=16); filter counts that are not
# multiples of 16 leave a partial last block.
VT_SPECS = {
    "vt_s1_same_relu": ([(40, 1, "same", "relu", True)], (13, 17, 24)),
    "vt_s2_same": ([(33, 2, "same", None, True)], (15, 20, 16)),
    "vt_s1_valid_nobias": ([(16, 1, "valid", None, False)], (11, 9, 20)),
    "vt_s2_valid_relu6": ([(24, 2, "valid", "relu6", True)], (12, 13, 18)),
    "vt_stack": ([(32, 1, "same", "relu6", True), (20, 2, "same", "relu", True)], (16, 16, 16)),
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
    for i, (name, (specs, shape)) in enumerate(VT_SPECS.items()):
        paths[name] = str(d / f"{name}.tflite")
        tfs.export_tflite(tfs_conv_model(specs, shape, seed=20 + i), paths[name])
    # A ResNet-sized layer through tf_sparse, patterns shared by 16-filter blocks (auto: vtaps) or
    # per kernel (filter_block=1, auto: patdnn).
    for block in (16, 1):
        paths[f"real_block_{block}"] = str(d / f"real_block_{block}.tflite")
        model = tfs_conv_model([(64, 1, "same", "relu", True)], (28, 28, 64), seed=30, filter_block=block)
        tfs.export_tflite(model, paths[f"real_block_{block}"])
        if block == 16:
            # The same weights in TFLite's sparse encoding, read through a DENSIFY node.
            paths["real_block_16_compact"] = str(d / "real_block_16_compact.tflite")
            tfs.export_tflite(model, paths["real_block_16_compact"], compact=True)
    # Block-punched (16 filters x 4 channels per group, 60% of the groups removed): not
    # pattern-structured (kernels keep up to 9 taps), but every 16-filter block shares its zeros.
    punched = tfs.sparsify(
        conv_model([(64, 1, "same", "relu", True)], (28, 28, 64), seed=31, prune=False),
        tfs.BlockPunched(0.6, block=(16, 4)),
    )
    tfs.harden(punched)
    paths["punched"] = str(d / "punched.tflite")
    tfs.export_tflite(punched, paths["punched"])
    # 1x1 convolutions (a ResNet bottleneck's): 75% of the (16 filters x 1 channel) blocks removed
    # with tfs.Block on the GEMM view, stride 1 and 2, a filter count that is not a multiple of 16.
    keras.utils.set_random_seed(32)
    inputs = keras.Input((15, 17, 48))
    x = keras.layers.Conv2D(40, 1, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(64, 1, strides=2, padding="valid")(x)
    pointwise = tfs.sparsify(keras.Model(inputs, x), tfs.Block(0.75, block=(16, 1)))
    tfs.harden(pointwise)
    paths["pointwise"] = str(d / "pointwise.tflite")
    tfs.export_tflite(pointwise, paths["pointwise"])
    # Other kernel sizes: a Conv1D with kernel 7 (as in Jasper's 1D convolution blocks, exported as
    # a 1x7 CONV_2D) and a 5x5 stride-2 Conv2D, 75% of their (16 filters x 1 tap-channel) blocks
    # removed.
    keras.utils.set_random_seed(33)
    seq_in = keras.Input((50, 48))
    conv1d = keras.Model(seq_in, keras.layers.Conv1D(64, 7, padding="same", activation="relu")(seq_in))
    conv1d = tfs.sparsify(conv1d, tfs.Block(0.75, block=(16, 1)))
    tfs.harden(conv1d)
    paths["conv1d"] = str(d / "conv1d.tflite")
    tfs.export_tflite(conv1d, paths["conv1d"])
    # Dilated (rate 2, as Jasper's epilogue): Keras exports it as SPACE_TO_BATCH_ND, an undilated
    # CONV_2D on two interleaved halves and BATCH_TO_SPACE_ND.
    dil = keras.Model(seq_in, keras.layers.Conv1D(48, 7, dilation_rate=2, padding="same")(seq_in))
    dil = tfs.sparsify(dil, tfs.Block(0.75, block=(16, 1)))
    tfs.harden(dil)
    paths["conv1d_dilated"] = str(d / "conv1d_dilated.tflite")
    tfs.export_tflite(dil, paths["conv1d_dilated"])
    img = keras.Input((23, 19, 24))
    conv5 = keras.Model(img, keras.layers.Conv2D(40, 5, strides=2, padding="same")(img))
    conv5 = tfs.sparsify(conv5, tfs.Block(0.75, block=(16, 1)))
    tfs.harden(conv5)
    paths["conv5x5"] = str(d / "conv5x5.tflite")
    tfs.export_tflite(conv5, paths["conv5x5"])
    return paths


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
    assert "min_sparsity" in entry["reason"] and "not pattern-structured" in entry["reason"]
    assert entry["max_kernel_nonzeros"] == 9
    # Without the sparsity floor, VT could run it but would execute every vector FMA: declined
    # on its estimate, and the reason names both formats'.
    delegate = _compare(models["dense"], "litert", 1, min_sparsity=0)
    (entry,) = _conv_entries(delegate)
    assert not entry["claimed"] and "estimated cost above" in entry["reason"], entry
    assert "patdnn n/a" in entry["reason"] and "vtaps " in entry["reason"], entry
    assert entry["vtaps_executed_fraction"] == 1.0
    assert entry["patdnn_cost_vs_dense"] is None and entry["vtaps_cost_vs_dense"] > 0.9
    # Forced, dense weights run on VT and stay exact; patdnn cannot run them.
    delegate = _compare(models["dense"], "litert", 2, min_sparsity=0, format="vtaps")
    (entry,) = _conv_entries(delegate)
    assert entry["claimed"] and entry["format"] == "vtaps" and "forced" in entry["reason"], entry
    delegate = _compare(models["dense"], "litert", 1, min_sparsity=0, format="patdnn")
    (entry,) = _conv_entries(delegate)
    assert not entry["claimed"] and "not pattern-structured" in entry["reason"], entry


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
    # Per-kernel patterns: FKW and PV both run them; PV (one load per FMA, aligned through its
    # per-tile views) is estimated and measured the cheaper at 28x28x64.
    assert entry["claimed"] and entry["format"] == "pixvec", entry
    assert 0 < entry["cost_vs_dense"] <= 0.9
    # Per-kernel patterns leave 16-filter blocks with most of the 9 taps: VT is the dearest.
    assert entry["vtaps_executed_fraction"] > 0.7
    assert entry["cost_vs_dense"] == entry["pixvec_cost_vs_dense"] < entry["patdnn_cost_vs_dense"]
    assert entry["patdnn_cost_vs_dense"] < entry["vtaps_cost_vs_dense"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_mixed_model_claims_only_the_pattern_conv(models, runtime):
    delegate = _compare(models["mixed"], runtime, 1)
    report = tfs.delegate_report(delegate)
    convs = _conv_entries(delegate)
    assert sorted(e["claimed"] for e in convs) == [False, True]
    assert [r for r in report if r["op"] == "FULLY_CONNECTED" and r["claimed"]] == []


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name", sorted(VT_SPECS))
def test_vtaps_matches_stock(models, runtime, name):
    n_conv = len(VT_SPECS[name][0])
    # Small layers: force VT so that every shape runs on it whatever the estimate.
    delegate = None
    for batch in (1, 2):
        delegate = _compare(models[name], runtime, batch, format="vtaps")
    entries = _conv_entries(delegate)
    assert len(entries) == n_conv
    assert all(e["claimed"] and e["format"] == "vtaps" and "forced" in e["reason"] for e in entries), entries
    assert all(e["kernel"].startswith("f32_conv3x3_vtaps") for e in entries), entries
    # KernelPattern(filter_block=16): each 16-filter block keeps one 4-tap pattern per input
    # channel, or none.
    assert all(e["max_kernel_nonzeros"] <= 4 and e["vtaps_executed_fraction"] <= 4 / 9 for e in entries)
    assert tfs.delegate_stats(delegate)["invocations"] >= n_conv


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_auto_picks_vtaps_for_block_patterns_and_pixvec_for_kernel_patterns(models, runtime):
    delegate = _compare(models["real_block_16"], runtime, 2, num_threads=2)
    (entry,) = _conv_entries(delegate)
    assert entry["claimed"] and entry["format"] == "vtaps", entry
    assert entry["vtaps_executed_fraction"] == pytest.approx(4 / 9 * 0.5, abs=0.01), entry
    # Both formats could run it (every kernel has at most 4 taps); VT is estimated cheaper.
    assert entry["cost_vs_dense"] == entry["vtaps_cost_vs_dense"] < entry["patdnn_cost_vs_dense"], entry
    assert "vtaps is the cheaper" in entry["reason"], entry
    delegate = _compare(models["real_block_1"], runtime, 2)
    (entry,) = _conv_entries(delegate)
    assert entry["claimed"] and entry["format"] == "pixvec", entry
    assert entry["vtaps_executed_fraction"] > 0.7, entry
    assert entry["cost_vs_dense"] == entry["pixvec_cost_vs_dense"] < entry["patdnn_cost_vs_dense"], entry


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_auto_claims_block_punched_with_vtaps(models, runtime):
    delegate = _compare(models["punched"], runtime, 1)
    (entry,) = _conv_entries(delegate)
    assert entry["claimed"] and entry["format"] == "vtaps", entry
    assert entry["max_kernel_nonzeros"] > 4 and entry["patdnn_cost_vs_dense"] is None, entry
    assert "patdnn n/a (not pattern-structured" in entry["reason"], entry
    assert entry["vtaps_executed_fraction"] == pytest.approx(0.4, abs=0.01), entry


def test_vtaps_behind_densify(models):
    delegate = _compare(models["real_block_16_compact"], "litert", 2)
    (entry,) = _conv_entries(delegate)
    assert entry["claimed"] and entry["format"] == "vtaps", entry
    assert entry["densify_node"] is not None, entry


def test_forced_formats_on_the_other_structure_stay_exact(models):
    # Per-kernel patterns on VT: correct, only slow (most taps of every 16-filter block run).
    delegate = _compare(models["real"], "litert", 2, format="vtaps")
    (entry,) = _conv_entries(delegate)
    assert entry["claimed"] and entry["format"] == "vtaps", entry
    # 16-filter block patterns are pattern-structured too: FKW runs them when forced.
    delegate = _compare(models["real_block_16"], "tf", 1, format="patdnn")
    (entry,) = _conv_entries(delegate)
    assert entry["claimed"] and entry["format"] == "patdnn", entry
    # A forced FULLY_CONNECTED format still declines every CONV_2D.
    delegate = _compare(models["real_block_16"], "litert", 1, format="csr")
    (entry,) = _conv_entries(delegate)
    assert not entry["claimed"] and "FULLY_CONNECTED format" in entry["reason"], entry


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_pointwise_convs_run_on_vtaps(models, runtime):
    for batch, options in ((1, {"format": "vtaps"}), (2, {"format": "vtaps", "num_threads": 2})):
        delegate = _compare(models["pointwise"], runtime, batch, **options)
        entries = _conv_entries(delegate)
        assert len(entries) == 2 and all(e["claimed"] and e["format"] == "vtaps" for e in entries), entries
        assert all("1x1 kernel (FKW is for 3x3 kernels)" in e["reason"] for e in entries), entries
        assert all(e["vtaps_executed_fraction"] == pytest.approx(0.25, abs=0.02) for e in entries), entries
    # format=patdnn cannot run a 1x1 kernel: declined with the reason.
    delegate = _compare(models["pointwise"], runtime, 1, format="patdnn")
    assert all(not e["claimed"] and "patdnn forced, but 1x1" in e["reason"] for e in _conv_entries(delegate))


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name, kernel", [("conv1d", "1x7"), ("conv5x5", "5x5"), ("conv1d_dilated", "1x7")])
def test_other_kernel_sizes_run_on_vtaps(models, runtime, name, kernel):
    for batch, options in ((1, {"format": "vtaps"}), (2, {"format": "vtaps", "num_threads": 2})):
        delegate = _compare(models[name], runtime, batch, **options)
        (entry,) = _conv_entries(delegate)
        assert entry["claimed"] and entry["format"] == "vtaps", entry
        assert f"{kernel} kernel (FKW is for 3x3 kernels)" in entry["reason"], entry
    # auto: these layers are small enough that the cost of splitting XNNPACK's graph around a
    # claimed node outweighs the sparse kernels' saving; whatever it decides, it claims the
    # cheapest estimate only when that is at most 0.9 of dense, and says so.
    delegate = _compare(models[name], runtime, 1)
    (entry,) = _conv_entries(delegate)
    estimates = {f: entry[f"{f}_cost_vs_dense"] for f in ("patdnn", "vtaps", "pixvec")}
    cheapest = min((v, f) for f, v in estimates.items() if v is not None)
    assert entry["claimed"] == (cheapest[0] <= 0.9), entry
    if entry["claimed"]:
        assert entry["format"] == cheapest[1], entry
    else:
        assert "estimated cost above 0.90 of dense" in entry["reason"], entry
