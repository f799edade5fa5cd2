"""Memristor crossbar mapping, device variation and noise-aware training (tf_sparse.quantization.memristor)."""

import dataclasses
import math

import keras
import numpy as np
import pytest

import tf_sparse as tfs
from tf_sparse.quantization import memristor
from tf_sparse.quantization import Device, DeviceLevels, NoiseAwareTraining, map_model, monte_carlo, program


def sparse_dense(kernel, mask, structure=None, quantizer=None):
    """A built SparseDense with the given kernel (in, out) and mask, mask hardened; quantization
    hardened when a quantizer is given."""
    n_in, n_out = kernel.shape
    layer = tfs.SparseDense(n_out, use_bias=False, structure=structure or tfs.Crossbar(0.5, tile=(64, 64)),
                            quantizer=quantizer)
    layer.build((None, n_in))
    layer.mask.assign(mask.astype(np.float32))
    layer.kernel.assign((kernel * mask).astype(np.float32))
    layer.hardened = True
    if quantizer is not None:
        layer.harden_quantization()
    return layer


def model_of(*layers, n_in):
    inp = keras.Input((n_in,))
    x = inp
    for layer in layers:
        x = layer(x)
    return keras.Model(inp, x)


def expected_cost(device, crossbars, word_lines, adcs, devices):
    tr, tc = device.tile
    area = crossbars * tr * tc * device.cell_area_um2 + word_lines * device.dac_area_um2 + adcs * device.adc_area_um2
    power = devices * device.cell_read_power_w + word_lines * device.dac_power_w + adcs * device.adc_power_w
    return area, power


# --- mapping report ---------------------------------------------------------------------------


def test_three_of_four_tiles_pruned(rng):
    # GEMM 128x128 (Dense 128 -> 128): keep only tile (0, 1), i.e. outputs 0..63, inputs 64..127.
    mask2 = np.zeros((128, 128), bool)
    mask2[:64, 64:] = True
    w2 = rng.uniform(0.5, 1.0, (128, 128)) * rng.choice([-1.0, 1.0], (128, 128))
    layer = sparse_dense(w2.T, mask2.T, quantizer=DeviceLevels(16))
    device = Device(levels=16)
    report = map_model(model_of(layer, n_in=128), device)
    e = report.layers[0]
    assert e["gemm_shape"] == [128, 128] and e["mapping"] == "levels"
    assert (e["tiles"], e["tiles_dense"]) == (1, 4)
    assert (e["crossbars"], e["crossbars_dense"]) == (2, 8)
    assert (e["word_lines"], e["word_lines_dense"]) == (64, 256)
    assert (e["bit_lines"], e["bit_lines_dense"]) == (64, 256)
    assert (e["programmed_weights"], e["programmed_devices"]) == (4096, 8192)
    nz = e["nonzero_weights"]
    assert nz == np.count_nonzero(layer.effective_kernel_numpy()) == 4096  # magnitudes >= 0.5: no level 0
    assert e["bits_per_weight"] == 5  # 31 signed levels
    assert e["compression"] == pytest.approx(32 * 16384 / (4096 * 5))  # 25.6x
    assert e["pruning_compression"] == pytest.approx(4.0)
    assert 2 <= e["levels_used"] <= 31
    area, power = expected_cost(device, 2, 64, 64, 8192)
    d_area, d_power = expected_cost(device, 8, 256, 256, 2 * 16384)
    assert e["area_um2"] == pytest.approx(area) and e["power_w"] == pytest.approx(power)
    assert e["area_um2_dense"] == pytest.approx(d_area) and e["power_w_dense"] == pytest.approx(d_power)
    assert report.totals["area_reduction"] == pytest.approx(1 - area / d_area)
    assert report.totals["compression"] == pytest.approx(25.6)
    text = report.table()
    assert "| 1/4 | 2/8 |" in text and "25.60x" in text and str(report) == text
    assert report.to_dict()["layers"][0]["tiles"] == 1
    lm = memristor._layer_map(layer, device)  # the levels reproduce the weights exactly
    np.testing.assert_array_equal((lm.unit[:, None] * lm.level).astype(np.float32), lm.target)


def test_row_and_column_granularity_lines_and_adc_sharing(rng):
    mask2 = np.zeros((128, 128), bool)
    mask2[:10, :64] = True  # tile (0, 0): 10 bit lines, 64 word lines
    mask2[64:, 64:70] = True  # tile (1, 1): 64 bit lines, 6 word lines
    w2 = rng.standard_normal((128, 128))
    layer = sparse_dense(w2.T, mask2.T, structure=tfs.Crossbar(0.5, tile=(64, 64), granularity="row"))
    device = Device(tile=(64, 64), bit_lines_per_adc=8)
    e = map_model(model_of(layer, n_in=128), device).layers[0]
    assert e["mapping"] == "analog" and e["bits_per_weight"] == 32 and e["levels_used"] is None
    assert (e["tiles"], e["crossbars"]) == (2, 4)
    assert (e["word_lines"], e["bit_lines"]) == (70, 74)
    assert e["adcs"] == math.ceil(10 / 8) + math.ceil(64 / 8) == 10
    assert e["adcs_dense"] == 4 * 64 // 8
    assert e["programmed_weights"] == 640 + 384 == e["nonzero_weights"]
    assert e["compression"] == pytest.approx(16384 / 1024)  # float weights: pruning only
    area, power = expected_cost(device, 4, 70, 10, 2 * 1024)
    assert e["area_um2"] == pytest.approx(area) and e["power_w"] == pytest.approx(power)


def test_single_sign_tiles_take_one_crossbar_unless_mixed():
    w2 = np.zeros((128, 128))
    mask2 = np.zeros((128, 128), bool)
    w2[:64, :64] = 0.5  # positive tile
    w2[64:, 64:] = -0.25  # negative tile
    w2[:64, 64:] = np.where(np.arange(64) % 2, 0.5, -0.5)[None, :]  # mixed tile
    mask2[w2 != 0] = True
    layer = sparse_dense(w2.T, mask2.T, structure=tfs.Crossbar(0.25, tile=(64, 64), single_sign=True))
    e = map_model(model_of(layer, n_in=128), Device()).layers[0]
    assert (e["tiles"], e["crossbars"], e["crossbars_dense"], e["mixed_sign_tiles"]) == (3, 4, 8, 1)
    assert e["programmed_devices"] == 4096 + 4096 + 2 * 4096


def test_plain_edge_tiles_conv_and_depthwise():
    inp = keras.Input((8, 8, 4))
    x = keras.layers.Conv2D(8, 3, name="conv")(inp)
    x = keras.layers.DepthwiseConv2D(3, name="dw")(x)
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(10, name="fc")(x)
    model = keras.Model(inp, out)
    fc = model.get_layer("fc")
    k = fc.kernel.numpy()
    k[0, 0] = 0.0  # no mask on a plain layer: an exact zero is taken as pruned
    fc.kernel.assign(k)
    report = map_model(model, Device(tile=(8, 8)))
    by = {e["layer"]: e for e in report.layers}
    assert by["conv"]["gemm_shape"] == [8, 36] and by["conv"]["tiles_dense"] == 5
    assert by["dw"]["gemm_shape"] == [8, 9] and by["dw"]["tiles_dense"] == 2
    fc_e = by["fc"]
    assert fc_e["gemm_shape"] == [10, 128]
    assert fc_e["tiles_dense"] == 2 * 16 and fc_e["bit_lines_dense"] == 10 * 16
    assert fc_e["programmed_weights"] == 1279
    assert report.totals["weights"] == 8 * 36 + 8 * 9 + 1280


# --- device variation -------------------------------------------------------------------------


def test_program_statistics_analog():
    device = Device(levels=16, sigma=0.05)
    kernel = np.ones((200, 200), np.float32)  # every weight at w_max: level 15, G- at g_min
    kernel[:, :50] = 0.0  # pruned (exact zeros of a plain kernel)
    out = program(kernel, device, rng=0)
    assert np.all(out[:, :50] == 0)
    got = out[:, 50:]
    u, g0 = 1 / 15, device.g_min_levels
    std = u * device.sigma * math.hypot(g0 + 15, g0)
    assert abs(got.mean() - 1.0) < 4 * std / math.sqrt(got.size)
    assert got.std() == pytest.approx(std, rel=0.03)
    assert np.array_equal(program(kernel, dataclasses.replace(device, sigma=0.0), rng=0), kernel)
    assert np.array_equal(program(kernel, device, rng=3), program(kernel, device, rng=3))


def test_program_clips_conductance_at_zero():
    # g_min = 0: G- is exactly 0, so the weight is u * max(G+ (1 + sigma eps), 0) >= 0.
    device = Device(levels=16, g_min=0.0, sigma=1.0)
    out = program(np.ones((100, 100), np.float32), device, rng=4)
    assert np.all(out >= 0)
    assert np.mean(out == 0) == pytest.approx(0.1587, abs=0.015)  # P(eps < -1)


def test_program_level_zero_gets_noise_pruned_stays_zero():
    kernel = np.zeros((64, 64), np.float32)
    kernel[:, :32] = 1.0
    mask = np.ones((64, 64), bool)
    mask[:, 48:] = False  # pruned; columns 32..47 are kept zeros (level 0, at (g_min, g_min))
    layer = sparse_dense(kernel, mask, quantizer=DeviceLevels(16))
    device = Device(levels=16, sigma=0.1, tile=(32, 32))
    codes, _ = layer.quantized_codes()
    scale = float(layer.quant_scale.numpy()[0])
    k = int(codes[0, 0])
    assert k > 0 and np.all(codes[:, 32:] == 0)
    out = program(layer, device, rng=1)
    assert np.all(out[:, 48:] == 0)
    g0 = device.g_min_levels
    zero = out[:, 32:48]
    assert np.all(zero != 0)
    assert zero.std() == pytest.approx(scale * device.sigma * g0 * math.sqrt(2), rel=0.08)
    ones = out[:, :32]
    assert ones.std() == pytest.approx(scale * device.sigma * math.hypot(g0 + k, g0), rel=0.08)
    assert np.array_equal(program(layer, dataclasses.replace(device, sigma=0.0)), layer.effective_kernel_numpy())


def test_program_single_sign_uses_one_device():
    w2 = np.zeros((64, 64), np.float32)
    w2[:32, :32] = -1.0  # one negative single-sign tile
    layer = sparse_dense(w2.T, (w2 != 0).T, structure=tfs.Crossbar(0.75, tile=(32, 32), single_sign=True))
    # g_min as large as the whole range (g0 = 15 levels): a pair's G+ at g_min would add a lot.
    device = Device(levels=16, g_min=5e-5, g_max=1e-4, sigma=0.05, tile=(32, 32))
    g0 = device.g_min_levels
    assert g0 == pytest.approx(15)
    got = program(layer, device, rng=2).T[:32, :32]
    # Only G- (level 15) varies: std u * sigma * (g0 + 15), not the pair's hypot(g0 + 15, g0).
    assert got.std() == pytest.approx((1 / 15) * 0.05 * (g0 + 15), rel=0.05)


def tiny_quantized_model(rng):
    keras.utils.set_random_seed(0)
    inp = keras.Input((20,))
    x = keras.layers.Dense(32, activation="relu")(inp)
    model = keras.Model(inp, keras.layers.Dense(5)(x))
    sparse = tfs.sparsify(model, tfs.Crossbar(0.5, tile=(8, 8)), quantize=DeviceLevels(8))
    tfs.harden(sparse)
    x = rng.standard_normal((300, 20)).astype(np.float32)
    y = np.argmax(sparse.predict(x, verbose=0) + rng.normal(0, 0.3, (300, 5)), -1)
    return sparse, x, y


def test_monte_carlo_sigma_zero_is_the_deterministic_accuracy(rng):
    sparse, x, y = tiny_quantized_model(rng)
    det = float(np.mean(np.argmax(sparse.predict(x, verbose=0), -1) == y))
    assert 0.3 < det < 1.0
    device = Device(levels=8, tile=(8, 8))
    r = monte_carlo(sparse, x, y, device, draws=3, seed=0, batch_size=64)
    assert r.nominal == det and np.all(r.accuracies == det) and r.std == 0.0
    noisy = dataclasses.replace(device, sigma=0.3)
    a = monte_carlo(sparse, x, y, noisy, draws=6, seed=5)
    b = monte_carlo(sparse, x, y, noisy, draws=6, seed=5)
    assert np.array_equal(a.accuracies, b.accuracies) and a.std > 0 and a.mean < det
    onehot = np.eye(5)[y]
    assert monte_carlo(sparse, x, onehot, device, draws=1).mean == det
    assert "sigma=0.3" in str(a) and len(a.to_dict()["accuracies"]) == 6


# --- noise-aware training ----------------------------------------------------------------------


def test_noise_aware_training_changes_training_not_inference(rng):
    sparse, x, y = tiny_quantized_model(rng)
    device = Device(levels=8, sigma=0.2, tile=(8, 8))
    before = sparse.predict(x, verbose=0)
    sparse.compile(keras.optimizers.SGD(0.0), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    cb = NoiseAwareTraining(device, seed=0)
    cb.set_model(sparse)
    cb.on_train_begin()
    train1 = keras.ops.convert_to_numpy(sparse(x[:50], training=True))
    train2 = keras.ops.convert_to_numpy(sparse(x[:50], training=True))
    infer = keras.ops.convert_to_numpy(sparse(x[:50], training=False))
    assert not np.allclose(train1, before[:50], atol=1e-4) and not np.allclose(train1, train2, atol=1e-4)
    np.testing.assert_array_equal(infer, before[:50])
    np.testing.assert_array_equal(sparse.predict(x, verbose=0), before)
    # The drawn deviation follows program()'s statistics; pruned weights get none.
    layer = tfs.sparse_layers(sparse)[1]
    kernel = keras.ops.convert_to_numpy(layer.masked_kernel)
    draws = np.stack([keras.ops.convert_to_numpy(layer.weight_noise(layer, keras.ops.convert_to_tensor(kernel)))
                      for _ in range(200)]) - kernel
    mask = keras.ops.convert_to_numpy(layer.mask) != 0
    assert np.all(draws[:, ~mask] == 0)
    ref = np.stack([program(layer, device, rng=i) for i in range(200)]) - layer.effective_kernel_numpy()
    np.testing.assert_allclose(draws.std(axis=0)[mask], ref.std(axis=0)[mask], rtol=0.35, atol=1e-6)
    assert draws.std(axis=0)[mask].mean() == pytest.approx(ref.std(axis=0)[mask].mean(), rel=0.05)
    cb.on_train_end()
    assert layer.weight_noise is None
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(sparse(x[:50], training=True)), before[:50])


def test_noise_aware_training_in_fit(rng):
    sparse, x, y = tiny_quantized_model(rng)
    device = Device(levels=8, sigma=0.3, tile=(8, 8))
    sparse.compile(keras.optimizers.SGD(0.0), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    clean = sparse.fit(x, y, epochs=1, batch_size=300, shuffle=False, verbose=0).history["loss"][0]
    noisy = sparse.fit(x, y, epochs=1, batch_size=300, shuffle=False, verbose=0,
                       callbacks=[NoiseAwareTraining(device, seed=1)]).history["loss"][0]
    assert noisy != pytest.approx(clean, rel=1e-4)
    again = sparse.fit(x, y, epochs=1, batch_size=300, shuffle=False, verbose=0).history["loss"][0]
    assert again == pytest.approx(clean, rel=1e-6)  # hook removed, weights unchanged (lr 0)
    # Gradients flow through the noisy pass: with a learning rate the kernels move.
    sparse.compile(keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    first = tfs.sparse_layers(sparse)[0]
    k0 = first.kernel.numpy()  # the float kernel under the grid (straight-through)
    sparse.fit(x, y, epochs=1, batch_size=100, verbose=0, callbacks=[NoiseAwareTraining(device, seed=2)])
    assert not np.allclose(first.kernel.numpy(), k0)


def test_noise_aware_training_conv_and_depthwise(rng):
    keras.utils.set_random_seed(1)
    inp = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu")(inp)
    x = keras.layers.DepthwiseConv2D(3)(x)
    model = keras.Model(inp, keras.layers.Dense(4)(keras.layers.Flatten()(x)))
    device = Device(levels=4, sigma=0.2, tile=(4, 4))
    sparse = tfs.sparsify(model, tfs.Crossbar(0.5, tile=(4, 4), single_sign=True), quantize=device.quantizer())
    tfs.harden(sparse)
    xs = rng.standard_normal((16, 6, 6, 3)).astype(np.float32)
    before = sparse.predict(xs, verbose=0)
    cb = NoiseAwareTraining(device, seed=3)
    cb.set_model(sparse)
    cb.on_train_begin()
    noisy = keras.ops.convert_to_numpy(sparse(xs, training=True))
    cb.on_train_end()
    assert not np.allclose(noisy, before, atol=1e-4)
    np.testing.assert_array_equal(sparse.predict(xs, verbose=0), before)
    report = map_model(sparse, device)
    assert report.totals["crossbars"] < report.totals["crossbars_dense"] / 2  # single-sign tiles
    with pytest.warns(UserWarning, match="other crossbar tiles"):
        map_model(sparse, dataclasses.replace(device, tile=(8, 8)))


# --- arguments ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, name", [
    ({"sigma": -0.1}, "`sigma`"),
    ({"sigma": float("nan")}, "`sigma`"),
    ({"levels": 1}, "`levels`"),
    ({"levels": 2.5}, "`levels`"),
    ({"levels": True}, "`levels`"),
    ({"g_min": 1e-4, "g_max": 1e-5}, "`g_min`"),
    ({"g_min": 1e-4, "g_max": 1e-4}, "`g_min`"),
    ({"g_min": -1e-6}, "`g_min`"),
    ({"tile": (0, 64)}, "`tile`"),
    ({"tile": (64,)}, "`tile`"),
    ({"tile": "64x64"}, "`tile`"),
    ({"adc_power_w": -1.0}, "`adc_power_w`"),
    ({"bit_lines_per_adc": 0}, "`bit_lines_per_adc`"),
])
def test_bad_device_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        Device(**kwargs)


def test_device_config_and_quantizer():
    d = Device(levels=8, sigma=0.1, tile=[32, 16], bit_lines_per_adc=4)
    assert d.tile == (32, 16) and Device.from_config(d.get_config()) == d
    assert d.quantizer() == DeviceLevels(8)
    assert d.g_step == pytest.approx((d.g_max - d.g_min) / 7)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.sigma = 0.2


def test_bad_call_arguments(rng):
    layer = sparse_dense(np.ones((16, 16), np.float32), np.ones((16, 16), bool), quantizer=tfs.Uniform(8))
    model = model_of(layer, n_in=16)
    with pytest.raises(ValueError, match="levels=16"):
        map_model(model, Device(levels=16))  # 127 levels per sign do not fit 16 states
    with pytest.raises(TypeError, match="`device`"):
        map_model(model, "rram")
    with pytest.raises(ValueError, match="`target`"):
        program(np.zeros(3, np.float32), Device())
    with pytest.raises(ValueError, match="`draws`"):
        monte_carlo(model, np.zeros((2, 16)), np.zeros(2), Device(levels=128), draws=0)
    with pytest.raises(TypeError, match="`rng`"):
        program(np.ones((4, 4), np.float32), Device(), rng="seed")
    with pytest.raises(TypeError, match="`device`"):
        NoiseAwareTraining(0.1)
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Flatten()])
    with pytest.raises(ValueError, match="no built Dense"):
        map_model(plain, Device())
