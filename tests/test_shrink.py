"""tfs.shrink: filters and channels physically removed, outputs unchanged."""

import zipfile

import keras
import numpy as np
import pytest

import tf_sparse as tfs

L = keras.layers


def _randomize(model, seed=0, bias=0.3, he=False):
    """Non-trivial biases and batch-norm parameters, so that removed channels are non-zero
    constants that must be folded; the batch-norm statistics are those of a random batch (deep
    random networks would otherwise give outputs that hardly depend on the input)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for v in layer.weights:
            leaf = v.path.split("/")[-1]
            if leaf in ("bias", "beta"):
                v.assign(rng.uniform(-bias, bias, v.shape).astype("float32"))
            elif leaf == "gamma":
                v.assign(rng.uniform(0.5, 1.5, v.shape).astype("float32"))
            elif leaf == "kernel" and he:  # keeps the signal alive through deep plain networks
                v.assign(rng.normal(0, np.sqrt(2 / np.prod(v.shape[:-1])), v.shape).astype("float32"))
    bns = [layer for layer in model.layers if isinstance(layer, L.BatchNormalization)]
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.momentum = 0.0
    model(_x(model, n=8, seed=seed + 7), training=True)
    for bn, m in zip(bns, momenta):
        bn.momentum = m
    return model


def _x(model, n=3, seed=1):
    shape = (n,) + tuple(model.inputs[0].shape[1:])
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype("float32")


def _check_equal(model, small, x=None, rtol=1e-4):
    x = _x(model) if x is None else x
    y0 = np.asarray(model(x, training=False))
    y1 = np.asarray(small(x, training=False))
    assert y0.shape == y1.shape
    # Against the part of the output that depends on the input (deep random networks have outputs
    # dominated by their biases).
    scale = np.abs(y0 - y0.mean(axis=0)).max()
    assert scale > 1e-3 * np.abs(y0).max(), "the outputs hardly depend on the input: a weak check"
    assert np.abs(y0 - y1).max() <= rtol * scale, np.abs(y0 - y1).max() / scale


def _width(model, name):
    return int(model.get_layer(name).output.shape[-1])


def _zero_filters(layer, idx, bias=True):
    key = "pointwise_kernel" if isinstance(layer, L.SeparableConv2D) else "kernel"
    for v in layer.weights:
        leaf = v.path.split("/")[-1]
        if leaf == key or (bias and leaf == "bias"):
            a = np.asarray(v).copy()
            a[..., idx] = 0
            v.assign(a)


def test_residual_bn_depthwise_separable_concat_flatten():
    keras.utils.set_random_seed(0)
    i = keras.Input((8, 8, 3))
    a = L.Conv2D(8, 3, padding="same", name="a")(i)
    a = L.BatchNormalization(name="a_bn")(a)
    a = L.ReLU(name="a_relu")(a)
    b = L.Conv2D(8, 1, name="b")(i)
    x = L.Add(name="add")([a, b])
    x = L.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw")(x)
    x = L.BatchNormalization(name="dw_bn")(x)
    x = L.SeparableConv2D(6, 1, name="sep")(x)
    c = L.Conv2D(5, 3, padding="valid", activation="relu", name="c")(x)
    c = L.ZeroPadding2D(1, name="pad")(c)
    x = L.Concatenate(name="cat")([x, c])
    x = L.MaxPooling2D(name="pool")(x)
    x = L.Flatten(name="flat")(x)
    o = L.Dense(4, name="out")(x)
    model = _randomize(keras.Model(i, o))
    groups = {g.name: g for g in tfs.shrink_groups(model)}
    assert groups["a"].layers == ["a", "b"] and groups["a"].reason is None
    assert {"a_bn", "dw", "dw_bn", "sep"} <= set(groups["a"].followers)
    assert "model output" in groups["out"].reason
    pruned = tfs.prune_filter_groups(model, 0.5)
    assert pruned["a"] == sorted(pruned["a"]) and len(pruned["a"]) == 4
    assert len(pruned["sep"]) == 3 and len(pruned["c"]) == 3 and "out" not in pruned
    small, report = tfs.shrink(model, report=True)
    _check_equal(model, small)
    assert _width(small, "a") == _width(small, "b") == _width(small, "dw") == 4
    assert _width(small, "sep") == 3 and _width(small, "c") == 2 and _width(small, "cat") == 5
    # Dense after Flatten lost the rows of every removed channel at every pixel (4x4 after pooling).
    assert small.get_layer("out").kernel.shape == (16 * 5, 4)
    assert report.params_after < report.params_before and report.macs_after < report.macs_before
    assert {r["layer"] for r in report.layers} >= {"a", "b", "dw", "sep", "c", "out"}
    assert "total" in str(report)
    again = tfs.shrink_report(model, small)
    assert (again.params_after, again.macs_after, again.layers) == (report.params_after, report.macs_after,
                                                                     report.layers)
    assert next(g for g in report.groups if g["layers"] == ["a", "b"])["removed"] == 4


def test_separable_with_depth_multiplier_and_constant_input():
    i = keras.Input((7, 7, 3))
    x = L.Conv2D(6, 1, name="c")(i)
    x = L.SeparableConv2D(5, 3, depth_multiplier=2, padding="valid", name="sep")(x)
    x = L.DepthwiseConv2D(1, depth_multiplier=2, name="dw2")(x)
    o = L.Dense(2, name="d")(L.GlobalAveragePooling2D()(x))
    model = _randomize(keras.Model(i, o))
    _zero_filters(model.get_layer("c"), [0, 3], bias=False)  # constants = bias, folded ('valid')
    _zero_filters(model.get_layer("sep"), [1], bias=True)
    with pytest.warns(UserWarning, match="depth_multiplier=2"):
        small, report = tfs.shrink(model, report=True)
    _check_equal(model, small)
    assert _width(small, "c") == 4
    assert small.get_layer("sep").pointwise_kernel.shape == (1, 1, 8, 5)  # dw2 is a barrier: sep stays 5
    assert any("depth_multiplier=2" in r for r in report.kept_constant)


def test_residual_couples_by_intersection():
    i = keras.Input((6, 6, 4))
    a = L.Conv2D(6, 1, name="a")(i)
    b = L.Conv2D(6, 1, name="b")(i)
    o = L.Conv2D(3, 1, name="o")(L.Add()([a, b]))
    model = _randomize(keras.Model(i, o))
    _zero_filters(model.get_layer("a"), [0, 1, 2])
    _zero_filters(model.get_layer("b"), [2, 3])
    small = tfs.shrink(model)
    _check_equal(model, small)
    assert _width(small, "a") == _width(small, "b") == 5  # only channel 2 is zero in both branches


def test_concatenate_feeding_an_add_maps_channel_ranges():
    i = keras.Input((6, 6, 4))
    a = L.Conv2D(4, 1, name="a")(i)
    b = L.Conv2D(4, 1, name="b")(i)
    c = L.Conv2D(8, 1, name="c")(i)
    x = L.Add()([L.Concatenate()([a, b]), c])
    o = L.Conv2D(3, 3, padding="same", name="o")(x)
    model = _randomize(keras.Model(i, o))
    group = next(g for g in tfs.shrink_groups(model) if "c" in g.layers)
    assert sorted(group.layers) == ["a", "b", "c"] and "different channel positions" in group.reason
    _zero_filters(model.get_layer("a"), [1])
    _zero_filters(model.get_layer("c"), [1, 6])
    _zero_filters(model.get_layer("b"), [2])  # b's channel 2 is c's channel 6
    small = tfs.shrink(model)
    _check_equal(model, small)
    assert (_width(small, "a"), _width(small, "b"), _width(small, "c")) == (3, 3, 6)


def test_constant_filter_with_bias_is_folded():
    """A zero filter with a bias outputs relu(bias): removed, its constant in the consumers' bias."""
    i = keras.Input((6, 6, 3))
    x = L.Conv2D(5, 3, padding="same", activation="relu", name="c1")(i)
    x = L.Conv2D(4, 1, use_bias=False, name="c2")(x)  # 1x1: a constant input folds
    y = L.Conv2D(5, 3, padding="same", name="c3")(i)
    y = L.Conv2D(4, 3, padding="same", name="c4")(y)  # 3x3 'same': a non-zero constant cannot fold
    z = L.Conv2D(5, 3, padding="same", name="c5")(i)
    z = L.Conv2D(4, 3, padding="valid", name="c6")(z)  # 'valid': folds
    z = L.GlobalAveragePooling2D()(z)
    o = L.Dense(3, name="d")(L.Concatenate()([L.GlobalAveragePooling2D()(x), L.GlobalAveragePooling2D()(y), z]))
    model = _randomize(keras.Model(i, o))
    for name in ("c1", "c3", "c5"):
        _zero_filters(model.get_layer(name), [1, 3], bias=False)
    model.get_layer("c1").bias.assign(np.array([0.1, 0.5, -0.2, -0.4, 0.3], "float32"))
    with pytest.warns(UserWarning, match="'c4'"):
        small, report = tfs.shrink(model, report=True)
    _check_equal(model, small)
    assert _width(small, "c1") == 3 and _width(small, "c5") == 3
    assert small.get_layer("c2").use_bias  # the folded constant needed a bias
    assert _width(small, "c3") == 5  # kept, and the report says why
    assert any("'c4'" in reason and "padding='same'" in reason for reason in report.kept_constant)


def test_sequential_dense_and_zero_gamma():
    model = keras.Sequential([keras.Input((10,)), L.Dense(8, name="d1"), L.BatchNormalization(name="bn"),
                              L.Activation("tanh", name="act"), L.Dropout(0.2), L.Dense(3, name="d2")])
    _randomize(model)
    bn = model.get_layer("bn")
    gamma, beta = np.asarray(bn.gamma).copy(), np.asarray(bn.beta).copy()
    gamma[[2, 5]] = 0
    beta[[2, 5]] = [0.4, 0.0]
    bn.gamma.assign(gamma)
    bn.beta.assign(beta)
    _zero_filters(model.get_layer("d1"), [5])
    small = tfs.shrink(model)
    assert isinstance(small, keras.Sequential)
    _check_equal(model, small)
    # Channel 5 (zero filter) and channel 2 (zero gamma: the batch norm outputs its beta whatever
    # the filter computes, and tanh(beta) is folded into d2's bias) go.
    assert _width(small, "d1") == 6


def test_zero_gamma_channels_of_a_conv_net():
    """Network slimming: batch-norm channels with gamma = 0 go although their filters are alive,
    when their constant (relu(beta)) can be absorbed downstream."""
    i = keras.Input((8, 8, 3))
    x = L.Conv2D(6, 3, padding="same", name="c1")(i)
    x = L.BatchNormalization(name="bn")(x)
    x = L.ReLU()(x)
    x = L.Conv2D(4, 3, padding="same", name="c2")(x)
    model = _randomize(keras.Model(i, x))
    bn = model.get_layer("bn")
    gamma, beta = np.asarray(bn.gamma).copy(), np.asarray(bn.beta).copy()
    gamma[[0, 1, 2]] = 0
    beta[[0, 1, 2]] = [-0.5, 0.0, 0.5]  # relu: 0, 0, 0.5; the last meets 3x3 'same' padding
    bn.gamma.assign(gamma)
    bn.beta.assign(beta)
    with pytest.warns(UserWarning, match="'c2'"):
        small, report = tfs.shrink(model, report=True)
    _check_equal(model, small)
    assert _width(small, "c1") == 4
    assert any("'c2'" in r for r in report.kept_constant)


def test_sparse_model_is_stripped_and_filter_structure_drives_groups():
    i = keras.Input((8, 8, 3))
    x = L.Conv2D(8, 3, padding="same", name="c")(i)
    x = L.BatchNormalization()(x)
    o = L.Dense(2)(L.GlobalAveragePooling2D()(L.ReLU()(x)))
    model = _randomize(keras.Model(i, o))
    sparse = tfs.sparsify(model, {"c": tfs.Filter(0.5)})
    tfs.harden(sparse)
    plain = tfs.strip(sparse)
    small = tfs.shrink(sparse)
    _check_equal(plain, small)
    # A Filter structure as the ratio: the same indices in the whole group.
    pruned = tfs.prune_filter_groups(plain, tfs.Filter(0.25))
    assert len(pruned["c"]) == 2
    _check_equal(plain, tfs.shrink(plain))


def test_save_load_without_tf_sparse_and_stock_tflite(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    i = keras.Input((8, 8, 3))
    a = L.Conv2D(8, 3, padding="same", name="a")(i)
    x = L.Add()([L.ReLU()(L.BatchNormalization()(a)), L.Conv2D(8, 1, name="b")(i)])
    x = L.DepthwiseConv2D(3, padding="same")(x)
    o = L.Dense(3)(L.Flatten()(x))
    model = _randomize(keras.Model(i, o))
    tfs.prune_filter_groups(model, 0.5)
    small = tfs.shrink(model)
    path = tmp_path / "small.keras"
    small.save(path)
    with zipfile.ZipFile(path) as z:
        assert b"tf_sparse" not in z.read("config.json")
    loaded = keras.saving.load_model(path)
    x = _x(model)
    _check_equal(model, loaded, x)
    tfs.export_tflite(small, str(tmp_path / "small.tflite"))
    interp = Interpreter(model_path=str(tmp_path / "small.tflite"))
    interp.allocate_tensors()
    y = []
    for k in range(len(x)):
        interp.set_tensor(interp.get_input_details()[0]["index"], x[k : k + 1])
        interp.invoke()
        y.append(interp.get_tensor(interp.get_output_details()[0]["index"]))
    ref = np.asarray(model(x))
    assert np.abs(np.concatenate(y) - ref).max() <= 1e-4 * np.abs(ref).max()


@pytest.mark.parametrize("name", ["ResNet50", "MobileNetV2", "VGG16"])
def test_keras_applications(name):
    keras.utils.set_random_seed(0)
    model = getattr(keras.applications, name)(weights=None, input_shape=(32, 32, 3), classes=5,
                                             classifier_activation=None)
    _randomize(model, he=name == "VGG16")  # VGG: no batch norm to rescale
    groups = tfs.shrink_groups(model)
    refused = [g for g in groups if g.reason]
    assert [g.layers for g in refused] == [["predictions"]]
    if name == "ResNet50":  # a stage's residual chain is one group
        stage = next(g for g in groups if "conv2_block1_0_conv" in g.layers)
        assert {"conv2_block1_3_conv", "conv2_block2_3_conv", "conv2_block3_3_conv"} <= set(stage.layers)
    tfs.prune_filter_groups(model, 0.5)
    small, report = tfs.shrink(model, report=True)
    _check_equal(model, small, rtol=1e-3)
    assert report.macs_after < 0.4 * report.macs_before


def test_efficientnet_squeeze_excitation_groups():
    keras.utils.set_random_seed(0)
    model = keras.applications.EfficientNetB0(weights=None, input_shape=(32, 32, 3), classes=5,
                                              classifier_activation=None)
    groups = {g.name: g for g in tfs.shrink_groups(model)}
    # The squeeze-excitation expansion is coupled with the block's expansion through Multiply.
    assert "block2a_se_expand" in groups["block2a_expand_conv"].layers
    tfs.prune_filter_groups(model, 0.3)
    small = tfs.shrink(model)
    _check_equal(model, small, _x(model) * 100, rtol=1e-3)
    assert _width(small, "block2a_se_expand") < _width(model, "block2a_se_expand")


def test_barrier_layers_keep_their_weights():
    i = keras.Input((5, 8))
    x = L.Dense(8, name="d0")(i)
    x = L.MultiHeadAttention(2, 4, name="mha")(x, x)
    x = L.Dense(6, activation="relu", name="d1")(x)
    o = L.Dense(2, name="d2")(x)
    model = _randomize(keras.Model(i, o))
    _zero_filters(model.get_layer("d0"), [0])
    _zero_filters(model.get_layer("d1"), [1, 2])
    with pytest.warns(UserWarning, match="'mha' \\(MultiHeadAttention\\)"):
        small = tfs.shrink(model)
    _check_equal(model, small)
    assert _width(small, "d0") == 8 and _width(small, "d1") == 4


def test_refusals_name_the_layer():
    i = keras.Input((6, 6, 4))
    x = L.Conv2D(6, 1, name="c")(i)
    x = L.LayerNormalization(name="ln")(x)
    o = L.Conv2D(2, 1, name="o")(x)
    model = keras.Model(i, o)
    group = next(g for g in tfs.shrink_groups(model) if g.name == "c")
    assert "'ln' (LayerNormalization)" in group.reason
    _zero_filters(model.get_layer("c"), [0, 1])
    with pytest.warns(UserWarning, match="kept 2 constant channel.*'ln' \\(LayerNormalization\\)"):
        small, report = tfs.shrink(model, report=True)
    assert _width(small, "c") == 6
    assert any("'ln'" in r for r in report.kept_constant)

    shared = L.Conv2D(4, 1)
    x = shared(i)
    with pytest.raises(ValueError, match="shared layer"):
        tfs.shrink(keras.Model(i, shared(x)))

    class Sub(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(TypeError, match="Functional or Sequential"):
        tfs.shrink(Sub())
    with pytest.raises(ValueError, match="ratio"):
        tfs.prune_filter_groups(model, 1.5)
    with pytest.raises(TypeError, match="report"):
        tfs.shrink(model, report="yes")
