"""Quantizers (projections, optimal scales, ties), quantization as an ADMM constraint set with every
sparsity structure, straight-through retraining, stripping and resuming."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf_sparse as tfs
from tf_sparse.quantization import deserialize_quantizer, serialize_quantizer

QUANTIZERS = {
    "uniform8": lambda: tfs.Uniform(8),
    "uniform4": lambda: tfs.Uniform(4),
    "uniform3_layer": lambda: tfs.Uniform(3, per_channel=False),
    "pow2_4": lambda: tfs.PowerOfTwo(4),
    "ternary": lambda: tfs.Ternary(),
    "ternary_channel": lambda: tfs.Ternary(per_channel=True),
    "binary": lambda: tfs.Binary(),
    "device16": lambda: tfs.DeviceLevels(16),
}


def _levels_error(q, a, alpha):
    return q._error(np.asarray(a, np.float64), alpha)


def _brute_force_error(q, a):
    """Minimum of ||a - alpha q||^2 over every assignment of levels (and its optimal alpha)."""
    m = q.magnitudes
    best = float(np.dot(a, a))
    for assign in itertools.product(range(len(m)), repeat=len(a)):
        levels = m[list(assign)]
        qq = float(np.dot(levels, levels))
        if qq == 0:
            continue
        alpha = float(np.dot(a, levels)) / qq
        best = min(best, float(np.sum((a - alpha * levels) ** 2)))
    return best


@pytest.mark.parametrize("make", [lambda: tfs.Ternary(), lambda: tfs.Uniform(3), lambda: tfs.PowerOfTwo(3),
                                  lambda: tfs.DeviceLevels(3), lambda: tfs.Binary()])
def test_optimal_scale_matches_brute_force(make):
    q = make()
    rng = np.random.default_rng(1)
    for _ in range(60):
        a = np.abs(rng.standard_normal(6)) * rng.uniform(0.01, 10)
        alpha = q.solve_scale(a[None, :].astype(np.float32))[0]
        got = _levels_error(q, a, float(alpha))
        assert got <= _brute_force_error(q, a) * (1 + 1e-5) + 1e-9


def test_alternating_iteration_of_the_papers_can_stop_above_our_optimum():
    """The papers' alternating minimisation from their initial scale is a local method: on a
    vector it gets stuck on, the exact solver is strictly better."""
    q = tfs.Uniform(3, per_channel=False)
    found = False
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = np.abs(rng.standard_normal(12)).astype(np.float64)
        alpha = a[a > 0].mean() / ((2 ** 2 - 1) / 2)  # the reference initial alpha
        for _ in range(6):
            idx = q._level_index((a / alpha).astype(np.float32))
            levels = q.magnitudes[idx]
            alpha = float(np.dot(a, levels) / np.dot(levels, levels))
        ours = q.solve_scale(a[None, :].astype(np.float32))[0]
        assert _levels_error(q, a, float(ours)) <= _levels_error(q, a, alpha) * (1 + 1e-6) + 1e-12
        found = found or _levels_error(q, a, float(ours)) < _levels_error(q, a, alpha) * (1 - 1e-3)
    assert found


@pytest.mark.parametrize("name", sorted(QUANTIZERS))
def test_projection_is_on_the_grid_idempotent_and_keeps_zeros(name):
    q = QUANTIZERS[name]()
    rng = np.random.default_rng(2)
    w = rng.standard_normal((6, 40)).astype(np.float32)
    keep = rng.random(w.shape) > 0.3
    z, scale = q.project(w, keep)
    assert z.dtype == np.float32 and scale.shape == (6,)
    assert np.all(z[~keep] == 0)
    if not q.per_channel:
        assert np.all(scale == scale[0])
    # every value is scale * a level magnitude, with the weight's sign
    ratio = np.abs(z) / scale[:, None]
    allowed = q.magnitudes.astype(np.float32)
    assert np.all(np.min(np.abs(ratio[keep][:, None] - allowed[None, :]), axis=1) < 1e-5)
    assert np.all(np.sign(z[keep & (z != 0)]) == np.sign(w[keep & (z != 0)]))
    if not q.has_zero:
        assert np.all(z[keep] != 0)
    z2, scale2 = q.project(z, keep)
    np.testing.assert_array_equal(z2, z)
    np.testing.assert_allclose(scale2, scale, rtol=1e-6)
    # integer codes: value == step * code exactly, |code| within the integer grid
    codes, step = q.integer_codes(w, scale, keep)
    np.testing.assert_array_equal(step[:, None] * codes.astype(np.float32), z)
    assert np.abs(codes).max() <= q.int_grid()[0][-1]


def test_nearest_level_ties_go_to_the_smaller_magnitude():
    q = tfs.Uniform(3)
    w = np.array([[0.5, 1.5, 2.5, -0.5, 0.49, 0.51, 7.0]], np.float32)
    codes = q.codes(w, np.array([1.0], np.float32))
    np.testing.assert_array_equal(codes, [[0, 1, 2, 0, 0, 1, 3]])
    p2 = tfs.PowerOfTwo(3)  # magnitudes 0, 1/4, 1/2, 1: midpoints 1/8, 3/8, 3/4
    codes = p2.codes(np.array([[0.125, 0.375, 0.75, 0.76, 2.0]], np.float32), np.array([1.0], np.float32))
    np.testing.assert_array_equal(codes, [[0, 1, 2, 3, 3]])


def test_fully_pruned_channel_gets_zero_scale_and_zeros():
    q = tfs.Uniform(4)
    w = np.ones((2, 5), np.float32)
    keep = np.array([[True] * 5, [False] * 5])
    z, scale = q.project(w, keep)
    assert scale[1] == 0 and np.all(z[1] == 0) and scale[0] > 0


@pytest.mark.parametrize("name", sorted(QUANTIZERS))
def test_config_round_trip(name):
    q = QUANTIZERS[name]()
    assert deserialize_quantizer(serialize_quantizer(q)) == q


@pytest.mark.parametrize("fn,match", [
    (lambda: tfs.Uniform(9), r"Uniform: `bits` must be an integer in \[2, 8\]"),
    (lambda: tfs.Uniform(1), r"Uniform: `bits` must be an integer in \[2, 8\]"),
    (lambda: tfs.Uniform(4.0), r"`bits` must be an integer"),
    (lambda: tfs.PowerOfTwo(0), r"PowerOfTwo: `bits` must be an integer in \[2, 8\]"),
    (lambda: tfs.DeviceLevels(1), r"DeviceLevels: `levels` must be an integer in \[2, 256\]"),
    (lambda: tfs.Uniform(4).project(np.array([[np.nan]], np.float32)), r"NaN/Inf"),
    (lambda: tfs.Uniform(4).project(np.ones((2, 3), np.float32), np.ones((3, 2))), r"`keep` must have"),
])
def test_bad_quantizer_arguments(fn, match):
    with pytest.raises(ValueError, match=match):
        fn()


def test_per_channel_must_be_bool():
    with pytest.raises(TypeError, match=r"Ternary: `per_channel` must be True or False"):
        tfs.Ternary(per_channel=1)


# --- layers ----------------------------------------------------------------------------------------

def _cnn(seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((8, 8, 4))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c1")(inp)
    x = keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, name="dw")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(16, activation="relu", name="fc")(x)
    return keras.Model(inp, keras.layers.Dense(4, name="out")(x))


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8, 8, 4)).astype(np.float32)
    return x, rng.integers(0, 4, n)


def _compile(model, lr=1e-2):
    model.compile(keras.optimizers.Adam(lr), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


@pytest.mark.parametrize("name", sorted(QUANTIZERS))
def test_layer_forward_matches_numpy_grid_bit_for_bit(name):
    model = tfs.quantize(_cnn(), QUANTIZERS[name]())
    for layer in tfs.sparse_layers(model):
        layer.harden()
        # the float kernel underneath moves off the grid during retraining
        layer._kernel.assign(layer._kernel.numpy() * np.float32(1.01) + np.float32(1e-4))
    for layer in tfs.sparse_layers(model):
        tf_kernel = keras.ops.convert_to_numpy(layer.masked_kernel)
        np.testing.assert_array_equal(tf_kernel, layer.effective_kernel_numpy())
        codes, step = layer.quantized_codes()
        step = step.reshape(layer._channel_shape(codes.shape))
        np.testing.assert_array_equal(tf_kernel, step * codes.astype(np.float32))


def test_straight_through_gradient_is_the_masked_gradient():
    model = tfs.sparsify(_cnn(), tfs.Unstructured(0.5), quantize=tfs.Uniform(3))
    tfs.harden(model)
    x, _ = _data(8)
    layer = model.get_layer("fc")
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x) ** 2)
    grad = tape.gradient(loss, layer._kernel).numpy()
    mask = layer.mask.numpy()
    assert np.all(grad[mask == 0] == 0)
    assert np.count_nonzero(grad) > 0
    # the same gradient as a float layer holding the quantized kernel (straight-through)
    with tf.GradientTape() as tape:
        kernel = tf.constant(layer.effective_kernel_numpy())
        tape.watch(kernel)
        h = model.get_layer("dw")(model.get_layer("c1")(x))
        h = keras.layers.GlobalAveragePooling2D()(h)
        out = model.get_layer("out")(tf.nn.relu(h @ kernel + layer.bias))
        loss2 = tf.reduce_sum(out ** 2)
    np.testing.assert_allclose(grad, tape.gradient(loss2, kernel).numpy() * mask, rtol=1e-4, atol=1e-6)


STRUCTURES = {
    "unstructured": tfs.Unstructured(0.75),
    "block": tfs.Block(0.5, block=(2, 2)),
    "block_punched": tfs.BlockPunched(0.5, block=(4, 2)),
    "nm": tfs.NM(2, 4),
    "filter": tfs.Filter(0.5),
    "channel": tfs.Channel(0.5),
    "column": tfs.Column(0.5),
    "gs": tfs.GatherScatter(0.5, banks=4),
    "crossbar": tfs.Crossbar(0.5, tile=(4, 4)),
    "crossbar_rows": tfs.Crossbar(0.5, tile=(4, 4), granularity="row"),
}


# Every structure with a grid that has zero as a level and with one that has not (binary); the
# other grids with a few structures.
COMBINATIONS = ([(name, quant) for name in sorted(STRUCTURES) + ["kernel_pattern"] for quant in ("uniform4", "binary")]
                + [(name, quant) for name in ("unstructured", "block", "crossbar") for quant in ("ternary", "pow2_4")])


@pytest.mark.parametrize("name,quant", COMBINATIONS)
def test_every_structure_combines_with_quantization(name, quant):
    """ADMM on both constraint sets at once, then harden and retrain: the result satisfies the
    structure and sits on the grid, and retraining keeps both."""
    if name == "kernel_pattern":
        config = {"c1": tfs.KernelPattern(4, connectivity=0.5), "default": None}
    else:
        config = {"c1": STRUCTURES[name], "fc": STRUCTURES[name], "default": None}
    model = _compile(tfs.sparsify(_cnn(), config, quantize={"c1": QUANTIZERS[quant](), "fc": QUANTIZERS[quant]()}))
    x, y = _data(32)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[tfs.ADMM(rho=1e-2)])
    for layer in tfs.sparse_layers(model):
        for i in layer._admm_active():  # every Z is in both sets
            z = layer.admm_z[i].numpy()
            assert layer.structure.is_valid(layer.structure_view(z)) or name == "kernel_pattern"
    tfs.harden(model)
    before = {layer.name: layer.effective_kernel_numpy() for layer in tfs.sparse_layers(model)}
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    for layer in tfs.sparse_layers(model):
        k = layer.effective_kernel_numpy()
        assert layer.structure.is_valid(layer.structure_view(k)), layer.name
        codes, step = layer.quantized_codes()
        np.testing.assert_array_equal(k, step.reshape(layer._channel_shape(k.shape)) * codes.astype(np.float32))
        # retraining revived no pruned weight, and every value is still on the frozen grid (a
        # kept weight at level 0 may move to another level)
        assert np.all(k[layer.mask.numpy() == 0] == 0)
        assert np.all((before[layer.name] != 0) <= (layer.mask.numpy() != 0))


def test_prune_first_then_quantize_the_survivors():
    model = _compile(tfs.sparsify(_cnn(), {"fc": tfs.Unstructured(0.8), "default": None},
                                  quantize={"fc": tfs.Binary()}))
    x, y = _data()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[tfs.ADMM(rho=1e-2, quantize=False)])
    layer = model.get_layer("fc")
    assert not layer._admm_quantize
    tfs.harden(model, quantize=False)
    assert layer.hardened and not layer.quant_hardened
    mask = layer.mask.numpy().copy()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[tfs.ADMM(rho=1e-2, rho_factor=1.5)])
    assert layer._admm_quantize and layer._admm_active() == [0]
    z = layer.admm_z[0].numpy()
    assert np.all(z[mask == 0] == 0) and np.unique(np.abs(z[mask != 0])).size == 1  # binary on survivors
    tfs.harden(model)
    np.testing.assert_array_equal(layer.mask.numpy(), mask)
    k = layer.effective_kernel_numpy()
    assert np.all((k != 0) == (mask != 0)) and np.unique(np.abs(k[k != 0])).size == 1


def test_strip_and_save_load_keep_levels_exactly(tmp_path):
    model = _compile(tfs.sparsify(_cnn(), tfs.Unstructured(0.5), quantize=tfs.Uniform(4)))
    x, y = _data()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[tfs.ADMM(rho=1e-2)])
    tfs.harden(model)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    plain = tfs.strip(model)
    assert not tfs.sparse_layers(plain)
    for layer in tfs.sparse_layers(model):
        np.testing.assert_array_equal(plain.get_layer(layer.name).get_weights()[0], layer.effective_kernel_numpy())
    np.testing.assert_array_equal(plain.predict(x, verbose=0), model.predict(x, verbose=0))
    path = tmp_path / "q.keras"
    model.save(path)
    again = keras.models.load_model(path)
    for a, b in zip(tfs.sparse_layers(again), tfs.sparse_layers(model)):
        assert a.quantizer == b.quantizer and a.quant_hardened
        np.testing.assert_array_equal(a.quant_scale.numpy(), b.quant_scale.numpy())
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("phase", ["admm", "retrain"])
def test_resume_is_exact(tmp_path, phase):
    """Training resumed from a .keras file continues exactly as the uninterrupted run."""
    x, y = _data()
    model = _compile(tfs.sparsify(_cnn(), tfs.Unstructured(0.5), quantize=tfs.Uniform(3)))
    if phase == "admm":
        make_cb = lambda: [tfs.ADMM(rho=1e-2, rho_factor=1.5)]  # noqa: E731
    else:
        model.fit(x, y, epochs=1, batch_size=16, verbose=0, shuffle=False, callbacks=[tfs.ADMM(rho=1e-2)])
        tfs.harden(model)
        make_cb = lambda: []  # noqa: E731
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, shuffle=False, callbacks=make_cb())
    path = tmp_path / "resume.keras"
    model.save(path)
    again = keras.models.load_model(path)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, shuffle=False, callbacks=make_cb())
    again.fit(x, y, epochs=1, batch_size=16, verbose=0, shuffle=False, callbacks=make_cb())
    for a, b in zip(tfs.sparse_layers(again), tfs.sparse_layers(model)):
        for name in ("_kernel", "mask", "quant_scale") + (("admm_rho",) if phase == "admm" else ()):
            np.testing.assert_array_equal(getattr(a, name).numpy(), getattr(b, name).numpy(), err_msg=f"{a.name}.{name}")
        if phase == "admm":
            np.testing.assert_array_equal(a.admm_z[0].numpy(), b.admm_z[0].numpy())
            np.testing.assert_array_equal(a.admm_u[0].numpy(), b.admm_u[0].numpy())


def test_progressive_admm_prunes_then_quantizes_in_steps():
    x, y = _data()
    model = _compile(tfs.sparsify(_cnn(), {"fc": tfs.Unstructured(0.75), "default": None},
                                  quantize={"fc": tfs.Uniform(8), "c1": tfs.Uniform(8)}))
    results = tfs.progressive_admm(model, x, y, targets=[0.5, 0.75], admm_epochs=1, retrain_epochs=1, rho=1e-2,
                                   batch_size=16, quantizers=[tfs.Uniform(4), tfs.Ternary()])
    assert [r["target"] for r in results] == [0.5, 0.75, repr(tfs.Uniform(4)), repr(tfs.Ternary())]
    fc = model.get_layer("fc")
    assert fc.quantizer == tfs.Ternary() and fc.quant_hardened and fc.sparsity() >= 0.75
    for layer in (fc, model.get_layer("c1")):
        k = layer.effective_kernel_numpy()
        assert np.unique(np.abs(k)).size <= 2  # {0, alpha}


def test_fully_binarized_network_every_layer():
    model = tfs.quantize(_cnn(), tfs.Binary())
    assert [layer.name for layer in tfs.sparse_layers(model)] == ["c1", "dw", "fc", "out"]
    _compile(model)
    x, y = _data()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[tfs.ADMM(rho=1e-2)])
    tfs.harden(model)
    for layer in tfs.sparse_layers(model):
        assert np.unique(np.abs(layer.effective_kernel_numpy())).size == 1


@pytest.mark.parametrize("fn,error,match", [
    (lambda: tfs.quantize(_cnn(), "int4"), TypeError, r"sparsify: `quantize` must be None, a quantizer"),
    (lambda: tfs.quantize(_cnn(), {"fc": tfs.Unstructured(0.5)}), TypeError,
     r"`quantize\[fc\]` must be a tf_sparse quantizer \(e.g. tfs.Uniform\(4\)\) or None"),
    (lambda: tfs.quantize(_cnn(), {"nope": tfs.Binary()}), ValueError, r"`quantize` names layers that the model does not have"),
    (lambda: tfs.quantize(_cnn(), tfs.Uniform), TypeError, r"`quantize` is the class Uniform; pass a quantizer object"),
    (lambda: tfs.quantize(_cnn(), None), ValueError, r"quantize: `config` must be"),
    (lambda: tfs.sparsify(_cnn(), None), ValueError, r"give a `config` \(structures\), a `quantize` config, or both"),
    (lambda: tfs.SparseDense(4, structure=tfs.Unstructured(0.5), quant_hardened=True), ValueError,
     r"`quant_hardened=True` needs a `quantizer`"),
    (lambda: tfs.SparseDense(4, structure=tfs.Unstructured(0.5), quantizer="int8"), TypeError,
     r"`quantizer` must be None or a tf_sparse quantizer"),
    (lambda: tfs.ADMM(quantize=1), TypeError, r"ADMM: `quantize` must be True or False"),
    (lambda: tfs.harden(tfs.quantize(_cnn(), tfs.Binary()), quantize="yes"), TypeError,
     r"harden: `quantize` must be True or False"),
    (lambda: tfs.progressive_admm(_compile(tfs.sparsify(_cnn(), tfs.Unstructured(0.5))), *_data(), targets=[0.5],
                                  admm_epochs=1, retrain_epochs=0, quantizers=[tfs.Binary()]), ValueError,
     r"`quantizers` given but no layer has a quantizer"),
    (lambda: tfs.progressive_admm(_compile(tfs.quantize(_cnn(), tfs.Binary())), *_data(), targets=[],
                                  admm_epochs=1, retrain_epochs=0, quantizers=["binary"]), TypeError,
     r"`quantizers` must be None or a non-empty list of tf_sparse quantizers"),
])
def test_bad_quantization_arguments(fn, error, match):
    with pytest.raises(error, match=match):
        fn()


# --- export ----------------------------------------------------------------------------------------

def _trained_quantized(quantize, structure=tfs.Unstructured(0.6)):
    x, y = _data(96)
    model = _compile(tfs.sparsify(_cnn(), structure, quantize=quantize))
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[tfs.ADMM(rho=1e-2)])
    tfs.harden(model)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    return model, x


@pytest.mark.parametrize("compact", [False, True])
def test_int8_export_keeps_zeros_and_levels_exactly(tmp_path, compact):
    from tf_sparse.export.int8 import check_int8_grids
    from tf_sparse.export.tflite import layer_grids

    model, x = _trained_quantized({"c1": tfs.Uniform(4), "dw": tfs.Ternary(), "fc": tfs.PowerOfTwo(4),
                                   "out": tfs.Binary()})
    path = tmp_path / "m.tflite"
    tfs.export_tflite(model, path, int8=True, compact=compact, representative_data=x)
    checks = check_int8_grids(path.read_bytes(), layer_grids(model))
    assert set(checks) == {"c1", "dw", "fc", "out"}
    for name, c in checks.items():
        assert c["exact"] and c["codes_exact"] and c["zeros_file"] == c["zeros_kernel"], (name, c)
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    got = []
    for i in range(len(x)):
        interp.set_tensor(inp["index"], x[i:i + 1])
        interp.invoke()
        got.append(interp.get_tensor(out["index"])[0])
    want = model.predict(x, verbose=0)
    # int8 activations: outputs close to the Keras model's, most argmaxes equal (random data,
    # small margins; the digits benchmark measures agreement on real data)
    assert np.mean(np.argmax(got, 1) == np.argmax(want, 1)) >= 0.9
    assert np.abs(np.array(got) - want).mean() < 0.1 * np.abs(want).mean() + 0.05


def test_float_export_weights_sit_on_the_levels(tmp_path):
    model, x = _trained_quantized(tfs.Uniform(3))
    path = tmp_path / "f.tflite"
    tfs.export_tflite(model, path)
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path))
    interp.allocate_tensors()
    found = 0
    for layer in tfs.sparse_layers(model):
        kernel = layer.effective_kernel_numpy()
        for detail in interp.get_tensor_details():
            try:
                t = interp.get_tensor(detail["index"])
            except ValueError:
                continue
            if t.size == kernel.size and t.dtype == np.float32 and np.array_equal(np.sort(t.ravel()), np.sort(kernel.ravel())):
                found += 1
                break
    assert found == len(tfs.sparse_layers(model))


@pytest.mark.parametrize("kwargs,error,match", [
    ({"int8": True}, ValueError, r"`int8=True` needs `representative_data`"),
    ({"representative_data": np.zeros((4, 8, 8, 4), np.float32)}, ValueError, r"apply only with `int8=True`"),
    ({"int8": "yes"}, TypeError, r"`int8` must be True or False"),
])
def test_bad_export_arguments(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        tfs.export_tflite(_cnn(), tmp_path / "m.tflite", **kwargs)


def test_int8_export_refuses_grids_wider_than_int8(tmp_path):
    model = tfs.quantize(_cnn(), {"fc": tfs.PowerOfTwo(5)})
    tfs.harden(model)
    with pytest.raises(ValueError, match=r"layer 'fc' uses PowerOfTwo\(bits=5.*do not fit int8 codes"):
        tfs.export_tflite(model, tmp_path / "m.tflite", int8=True, representative_data=np.zeros((4, 8, 8, 4), np.float32))


@pytest.mark.parametrize("quantize", [None, tfs.DeviceLevels(8)])
def test_single_sign_tiles_keep_their_sign_through_retraining(tmp_path, quantize):
    structure = tfs.Crossbar(0.5, tile=(4, 4), single_sign=True)
    model = _compile(tfs.sparsify(_cnn(), {"fc": structure, "c1": structure, "default": None},
                                  quantize=None if quantize is None else {"fc": quantize, "c1": quantize}))
    x, y = _data()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[tfs.ADMM(rho=1e-2)])
    tfs.harden(model)
    model.compile(keras.optimizers.Adam(5e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=3, batch_size=8, verbose=0)  # a large rate: many weights would cross zero
    for name in ("fc", "c1"):
        layer = model.get_layer(name)
        k = layer.effective_kernel_numpy()
        assert structure.is_valid(layer.structure_view(k)), name
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.masked_kernel), k)
    path = tmp_path / "s.keras"
    model.save(path)
    again = keras.models.load_model(path)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("compact", [False, True])
def test_int8_file_runs_the_same_with_the_delegate(tmp_path, compact):
    """The delegate declines int8 nodes today: an int8 file gives the stock interpreter's
    outputs with it (XNNPACK running what the delegate leaves), bit for bit, compact or not."""
    model, x = _trained_quantized({"c1": tfs.Uniform(4), "fc": tfs.Ternary()}, tfs.Unstructured(0.8))
    path = tmp_path / "m.tflite"
    tfs.export_tflite(model, path, int8=True, compact=compact, representative_data=x)
    outs = {}
    for backend in ("xnnpack", "tf_sparse"):
        try:
            interp, _ = tfs.make_interpreter(path, backend=backend)
        except RuntimeError as err:  # the stock runtime's XNNPACK refuses some compact int8 files
            outs[backend] = f"refused: {type(err).__name__}"
            continue
        inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
        got = []
        for i in range(16):
            interp.set_tensor(inp["index"], x[i:i + 1])
            interp.invoke()
            got.append(interp.get_tensor(out["index"]).copy())
        outs[backend] = np.concatenate(got)
    if compact:
        assert isinstance(outs["xnnpack"], str) == isinstance(outs["tf_sparse"], str), outs
    if not isinstance(outs["xnnpack"], str):
        np.testing.assert_array_equal(outs["tf_sparse"], outs["xnnpack"])
    else:
        # TFLite's own kernels run it; so do they under the delegate when XNNPACK is left out
        interp, _ = tfs.make_interpreter(path, backend="builtin")
        interp.invoke()
