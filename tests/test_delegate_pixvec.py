"""CONV_2D on pixel-vector nonzeros (PV, format "pixvec") in the delegate against the stock
interpreter: the fine-grained sparsity pruned models carry (unstructured, 1x4 blocks along the
input channels, per-kernel patterns), every kernel size, stride, dilation and padding, odd channel
counts, batches, threads, and the claim "auto" makes on ResNet-sized layers."""

import keras
import numpy as np
import pytest

import tf_sparse as tfs
from delegate_check import compare_with_stock as _compare
from test_delegate_conv import pattern_prune

RUNTIMES = ["litert", "tf"]


def _prune(kernel, how, rng):
    """Keras kernel (kh, kw, in, out) pruned 90% unstructured, in 1x4 blocks along the input
    channels, or to per-kernel 4-of-9 patterns with half the kernels removed."""
    if how == "unstructured":
        return tfs.Unstructured(0.9).project(kernel)
    if how == "blocks_1x4":
        kh, kw, cin, cout = kernel.shape
        pad = (-cin) % 4
        k = np.pad(kernel, ((0, 0), (0, 0), (0, pad), (0, 0)))
        groups = np.abs(k).reshape(kh, kw, (cin + pad) // 4, 4, cout).sum(axis=3)
        keep = groups > np.quantile(groups, 0.9)
        mask = np.repeat(keep, 4, axis=2)[:, :, :cin]
        return (kernel * mask).astype(np.float32)
    if how == "patterns":
        return pattern_prune(kernel, rng)
    raise ValueError(how)


def conv_model(layers, input_shape, how, seed=0):
    """layers: dicts of keras.layers.Conv2D arguments; every kernel pruned `how`."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    inputs = keras.Input(input_shape)
    x = inputs
    convs = []
    for kwargs in layers:
        conv = keras.layers.Conv2D(**kwargs)
        convs.append(conv)
        x = conv(x)
    model = keras.Model(inputs, x)
    for conv in convs:
        weights = conv.get_weights()
        kernel = _prune(rng.standard_normal(weights[0].shape).astype(np.float32), how, rng)
        rest = [rng.standard_normal(w.shape).astype(np.float32) for w in weights[1:]]
        conv.set_weights([kernel, *rest])
    return model


def C(filters, kernel_size, **kw):
    return dict(filters=filters, kernel_size=kernel_size, **kw)


# name: (layers, input shape, pruning)
SPECS = {
    "pw_s1": ([C(24, 1)], (9, 11, 40), "unstructured"),
    "pw_s2_relu6": ([C(17, 1, strides=2, activation="relu6")], (13, 9, 33), "unstructured"),
    "pw_blocks": ([C(20, 1, activation="relu")], (7, 7, 64), "blocks_1x4"),
    "k3_same_relu": ([C(19, 3, padding="same", activation="relu")], (13, 17, 24), "unstructured"),
    "k3_s2_valid": ([C(16, 3, strides=2, padding="valid", use_bias=False)], (15, 12, 20), "unstructured"),
    "k3_patterns": ([C(32, 3, padding="same")], (14, 14, 32), "patterns"),
    "k3_patterns_s2": ([C(24, 3, strides=2, padding="same", activation="relu")], (15, 16, 24), "patterns"),
    "k5_dilated": ([C(12, 5, padding="same", dilation_rate=2)], (17, 15, 16), "unstructured"),
    "k1x7": ([C(16, (1, 7), padding="same")], (5, 23, 20), "unstructured"),
    "tiny": ([C(3, 3, padding="same")], (1, 2, 1), "unstructured"),
    "stack": (
        [C(32, 1, activation="relu"), C(32, 3, padding="same", activation="relu"), C(64, 1)],
        (12, 12, 40),
        "unstructured",
    ),
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("pixvec_models")
    paths = {}
    for i, (name, (layers, shape, how)) in enumerate(SPECS.items()):
        paths[name] = str(d / f"{name}.tflite")
        tfs.export_tflite(conv_model(layers, shape, how, seed=i), paths[name])
    # ResNet-sized 1x1 layers (auto claims them on PV), plain and behind DENSIFY.
    model = conv_model([C(128, 1, activation="relu")], (28, 28, 128), "unstructured", seed=40)
    paths["real_pw"] = str(d / "real_pw.tflite")
    tfs.export_tflite(model, paths["real_pw"])
    paths["real_pw_compact"] = str(d / "real_pw_compact.tflite")
    tfs.export_tflite(model, paths["real_pw_compact"], compact=True)
    return paths


def _conv_entries(delegate):
    return [e for e in tfs.delegate_report(delegate) if e["op"] == "CONV_2D"]


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name", sorted(SPECS))
def test_pixvec_matches_stock(models, runtime, name):
    for batch, options in ((1, {}), (2, {"num_threads": 2})):
        delegate = _compare(models[name], runtime, batch, format="pixvec", **options)
        entries = _conv_entries(delegate)
        assert entries and all(e["claimed"] and e["format"] == "pixvec" for e in entries), entries
        assert all("pixvec" in e["kernel"] for e in entries), entries
        assert all(e["pixvec_cost_vs_dense"] > 0 for e in entries), entries
        assert tfs.delegate_stats(delegate)["invocations"] >= len(entries)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_auto_claims_fine_grained_pointwise_on_pixvec(models, runtime):
    for name in ("real_pw", "real_pw_compact"):
        delegate = _compare(models[name], runtime, 1)
        (entry,) = _conv_entries(delegate)
        assert entry["claimed"] and entry["format"] == "pixvec", entry
        # The other formats were estimated and lost.
        assert entry["vtaps_cost_vs_dense"] > entry["pixvec_cost_vs_dense"], entry
        assert "1x1 kernel (FKW is for 3x3 kernels)" in entry["reason"], entry
        assert entry["cost_vs_dense"] == entry["pixvec_cost_vs_dense"] < 0.9, entry


def test_pixvec_is_reported_for_declined_nodes(models):
    # A forced FULLY_CONNECTED format declines CONV_2D; min_sparsity above the layer's declines it
    # with every estimate named.
    delegate = _compare(models["k3_same_relu"], "litert", 1, min_sparsity=0.95)
    (entry,) = _conv_entries(delegate)
    assert not entry["claimed"] and "pixvec" in entry["reason"], entry
    assert entry["pixvec_cost_vs_dense"] > 0, entry


def test_pixvec_resizes_with_the_input(models):
    """A resized input (the kernel's Reshape at prepare) still matches stock."""
    from tf_sparse.runtime import make_interpreter

    ref, _ = make_interpreter(models["k3_patterns_s2"], backend="builtin", runtime="litert")
    ours, _ = make_interpreter(models["k3_patterns_s2"], backend="tf_sparse", runtime="litert", format="pixvec")
    for shape in ([1, 15, 16, 24], [3, 8, 31, 24], [1, 1, 1, 24]):
        x = np.random.default_rng(len(shape)).standard_normal(shape).astype(np.float32)
        outs = []
        for interp in (ref, ours):
            interp.resize_tensor_input(interp.get_input_details()[0]["index"], shape)
            interp.allocate_tensors()
            interp.set_tensor(interp.get_input_details()[0]["index"], x)
            interp.invoke()
            outs.append(interp.get_tensor(interp.get_output_details()[0]["index"]))
        np.testing.assert_allclose(outs[1], outs[0], rtol=1e-5, atol=1e-5 * np.abs(outs[0]).max())


def test_small_layers_are_claimed_as_an_island_not_alone(tmp_path):
    """A claimed node splits XNNPACK's graph; the estimates charge that split to a node claimed
    alone. Three small 90%-sparse 1x1 convolutions in a row are claimed together (the island
    pays the split once); the same layers separated by pooling (left to XNNPACK) are each alone
    and declined, with the split named in the reason."""

    def build(separated):
        keras.utils.set_random_seed(3)
        rng = np.random.default_rng(3)
        inputs = keras.Input((14, 14, 64))
        x = inputs
        convs = []
        for i in range(3):
            conv = keras.layers.Conv2D(64, 1, activation="relu")
            convs.append(conv)
            x = conv(x)
            if separated and i < 2:
                x = keras.layers.AveragePooling2D(3, strides=1, padding="same")(x)
        model = keras.Model(inputs, x)
        for conv in convs:
            kernel, bias = conv.get_weights()
            kernel = tfs.Unstructured(0.9).project(rng.standard_normal(kernel.shape).astype(np.float32))
            conv.set_weights([kernel, rng.standard_normal(bias.shape).astype(np.float32)])
        path = str(tmp_path / f"chain_{separated}.tflite")
        tfs.export_tflite(model, path)
        return path

    entries = _conv_entries(_compare(build(False), "litert", 1))
    assert len(entries) == 3 and all(e["claimed"] for e in entries), entries
    for e in entries:
        assert e["cost_vs_dense"] > 0.9 and e["cost_vs_dense"] - e["boundary_cost_vs_dense"] <= 0.9, e
        assert "which a node next to it already pays" in e["reason"], e
    entries = _conv_entries(_compare(build(True), "litert", 1))
    assert len(entries) == 3 and not any(e["claimed"] for e in entries), entries
    assert all("claimed next to a claimed node" in e["reason"] for e in entries), entries
