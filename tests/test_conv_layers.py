import keras
import numpy as np
import pytest

import tf_sparse as tfs


def _cnn(seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c1")(inp)
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, name="dw")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, name="c2")(x)
    x = keras.layers.Reshape((-1, 16))(x)
    x = keras.layers.Conv1D(8, 2, name="c1d")(x)
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(5, name="logits")(x)
    return keras.Model(inp, out)


def _x(n=4):
    return np.random.default_rng(0).standard_normal((n, 12, 12, 3)).astype(np.float32)


def test_sparsify_convs_keeps_outputs_and_types():
    model = _cnn()
    sparse = tfs.sparsify(model, tfs.Block(0.5, block=(2, 1)))
    kinds = {layer.name: type(layer).__name__ for layer in sparse.layers}
    assert kinds["c1"] == "SparseConv2D" and kinds["dw"] == "SparseDepthwiseConv2D"
    assert kinds["c1d"] == "SparseConv1D" and kinds["logits"] == "SparseDense"
    np.testing.assert_allclose(sparse.predict(_x(), verbose=0), model.predict(_x(), verbose=0), rtol=1e-5, atol=1e-5)


def test_masks_apply_and_strip_round_trip(tmp_path):
    model = _cnn()
    sparse = tfs.sparsify(model, {"c1": tfs.Block(0.5, block=(2, 1)), "dw": tfs.Block(0.5, block=(1, 9)),
                                  "c2": tfs.Block(0.75, block=(4, 1)), "c1d": tfs.Block(0.5, block=(1, 2))})
    for layer in tfs.sparse_layers(sparse):
        layer.update_mask()
        assert layer.structure.is_valid(layer.structure_view(np.asarray(layer.masked_kernel)))
    assert sparse.get_layer("c2").sparsity() == pytest.approx(0.75)
    # depthwise: the structure sees (kh, kw, 1, in * multiplier): 16 filters of 9 taps
    dw_mask = sparse.get_layer("dw").mask.numpy().reshape(3, 3, 16)
    assert sorted(set(dw_mask.sum(axis=(0, 1)).tolist())) == [0.0, 9.0]

    deploy = tfs.strip(sparse)
    assert not tfs.sparse_layers(deploy)
    np.testing.assert_allclose(deploy.predict(_x(), verbose=0), sparse.predict(_x(), verbose=0), rtol=1e-5, atol=1e-5)

    path = tmp_path / "cnn.keras"
    sparse.save(path)
    again = keras.models.load_model(path)
    np.testing.assert_allclose(again.predict(_x(), verbose=0), sparse.predict(_x(), verbose=0), rtol=1e-6)
    for a, b in zip(tfs.sparse_layers(again), tfs.sparse_layers(sparse)):
        np.testing.assert_array_equal(a.mask.numpy(), b.mask.numpy())
        assert a.get_config() == b.get_config()


@pytest.mark.parametrize("cls", [tfs.SparseConv2D, tfs.SparseDepthwiseConv2D, tfs.SparseConv1D])
def test_config_round_trip(cls):
    kwargs = {"kernel_size": 3, "strides": 1, "padding": "same", "use_bias": False,
              "structure": tfs.Block(0.25, block=(1, 3)),
              "schedule": tfs.ConstantSparsity(0.25, begin_step=2, end_step=9, frequency=3)}
    if cls is not tfs.SparseDepthwiseConv2D:
        kwargs["filters"] = 4
    layer = cls(**kwargs)
    config = layer.get_config()
    again = cls.from_config(config)
    assert again.get_config() == config
    assert again.structure == layer.structure and again.schedule == layer.schedule


def test_harden_freezes_masks():
    model = _cnn()
    sparse = tfs.sparsify(model, tfs.Block(0.5, block=(2, 1)))
    result = tfs.harden(sparse)
    assert all(layer.hardened for layer in tfs.sparse_layers(sparse))
    assert result["c2"] == pytest.approx(0.5)
    sparse.compile("sgd", keras.losses.MeanSquaredError())
    before = {layer.name: layer.mask.numpy().copy() for layer in tfs.sparse_layers(sparse)}
    sparse.fit(_x(8), np.zeros((8, 5)), epochs=1, callbacks=[tfs.UpdateMasks()], verbose=0)
    for layer in tfs.sparse_layers(sparse):
        np.testing.assert_array_equal(layer.mask.numpy(), before[layer.name])


def test_sparsify_fits_one_pattern_library_for_the_network():
    model = _cnn()
    pattern = tfs.KernelPattern(num_patterns=4, connectivity=0.5)
    sparse = tfs.sparsify(model, {keras.layers.Conv2D: pattern, "default": None})
    libraries = {tuple(layer.structure.library) for layer in tfs.sparse_layers(sparse)}
    assert len(libraries) == 1 and len(next(iter(libraries))) == 4
    assert pattern.library is None  # the user's object is left alone
    for layer in tfs.sparse_layers(sparse):
        layer.update_mask()
        assert layer.structure.is_valid(np.asarray(layer.masked_kernel))
