import keras
import numpy as np
import pytest

import tf_sparse as tfs


def _mlp(seed=0, nested=False):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((32,))
    x = keras.layers.Dense(64, activation="relu", name="h1")(inp)
    if nested:
        sub = keras.Sequential([keras.Input((64,)), keras.layers.Dense(48, activation="relu", name="h2")], name="sub")
        x = sub(x)
    else:
        x = keras.layers.Dense(48, activation="relu", name="h2")(x)
    out = keras.layers.Dense(10, name="logits")(x)
    return keras.Model(inp, out)


def _data(n=128, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 32)).astype(np.float32), rng.integers(0, 10, n)


def test_sparse_dense_config_round_trip():
    layer = tfs.SparseDense(
        16,
        activation="relu",
        use_bias=False,
        kernel_initializer="he_normal",
        kernel_regularizer=keras.regularizers.L2(1e-4),
        structure=tfs.Block(0.75, block=(2, 4)),
        schedule=tfs.PolynomialDecay(0.1, 0.75, 3, 40, power=2, frequency=3),
        name="sd",
    )
    config = layer.get_config()
    again = tfs.SparseDense.from_config(config)
    assert again.get_config() == config
    assert again.structure == tfs.Block(0.75, block=(2, 4))
    assert again.schedule == tfs.PolynomialDecay(0.1, 0.75, 3, 40, power=2, frequency=3)
    assert again.units == 16 and not again.use_bias


def test_sparse_dense_masks_kernel():
    layer = tfs.SparseDense(8, structure=tfs.Block(0.5, block=(1, 4)))
    x = np.random.default_rng(0).standard_normal((3, 16)).astype(np.float32)
    layer(x)
    mask = layer.update_mask()
    assert tfs.kernel_sparsity(mask) == 0.5
    k = layer.kernel.numpy()
    np.testing.assert_allclose(layer(x).numpy(), x @ (k * mask) + layer.bias.numpy(), rtol=1e-5, atol=1e-6)


def test_sparsify_keeps_weights_and_outputs():
    model = _mlp()
    x, _ = _data()
    sparse = tfs.sparsify(model, tfs.Block(0.9, block=(1, 4)))
    assert [type(layer).__name__ for layer in sparse.layers[1:]] == ["SparseDense"] * 3
    np.testing.assert_allclose(sparse.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    # the original is untouched
    assert all(type(layer).__name__ != "SparseDense" for layer in model.layers)


def test_sparsify_config_forms():
    model = _mlp()
    by_name = tfs.sparsify(model, {"h1": tfs.Block(0.5), "logits": None})
    assert [type(layer).__name__ for layer in by_name.layers[1:]] == ["SparseDense", "Dense", "Dense"]
    with_default = tfs.sparsify(model, {"default": tfs.Block(0.5), "logits": None})
    assert [type(layer).__name__ for layer in with_default.layers[1:]] == ["SparseDense", "SparseDense", "Dense"]
    by_callable = tfs.sparsify(model, lambda layer: tfs.Block(0.5) if layer.name == "h2" else None)
    assert [type(layer).__name__ for layer in by_callable.layers[1:]] == ["Dense", "SparseDense", "Dense"]


def test_sparsify_nested_model():
    model = _mlp(nested=True)
    x, _ = _data()
    sparse = tfs.sparsify(model, tfs.Block(0.5))
    assert len(tfs.sparse_layers(sparse)) == 3
    np.testing.assert_allclose(sparse.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def test_sparsify_warns_for_layers_it_cannot_convert():
    inp = keras.Input((8, 8, 1))
    x = keras.layers.Conv3D(4, 1, name="conv3d")(keras.layers.Reshape((8, 8, 1, 1))(inp))
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(3, name="d")(x)
    model = keras.Model(inp, out)
    # A broad rule leaves it dense with one warning; asking for it by name is an error.
    with pytest.warns(UserWarning, match=r"left dense: 'conv3d' \(Conv3D: no sparse version\)"):
        sparse = tfs.sparsify(model, tfs.Block(0.5))
    assert type(sparse.get_layer("d")).__name__ == "SparseDense"
    with pytest.raises(ValueError, match="layer 'conv3d' cannot be made sparse.*Conv3D"):
        tfs.sparsify(model, {"conv3d": tfs.Block(0.5), "d": tfs.Block(0.5)})


def test_sparsify_subclassed_model_copy_and_in_place():
    class Net(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.d = keras.layers.Dense(4, name="d")

        def call(self, x):
            return self.d(x)

    net = Net()
    x = np.random.default_rng(0).normal(size=(2, 3)).astype(np.float32)
    ref = np.asarray(net(x))
    copy = tfs.sparsify(net, tfs.Block(0.5, block=(1, 2)))
    assert isinstance(copy, Net) and copy is not net
    assert type(net.d).__name__ == "Dense"  # the original is untouched
    np.testing.assert_allclose(np.asarray(copy(x)), ref, rtol=1e-6)
    same = tfs.sparsify(net, tfs.Block(0.5, block=(1, 2)), inplace=True)
    assert same is net and type(net.d).__name__ == "SparseDense"
    assert [layer.sparse_path for layer in tfs.sparse_layers(net)] == ["d"]


def test_callback_reaches_scheduled_sparsity_and_keras_round_trip(tmp_path):
    model = _mlp()
    x, y = _data(256)
    steps_per_epoch = 8
    schedule = tfs.PolynomialDecay(0.0, 0.75, begin_step=0, end_step=2 * steps_per_epoch, frequency=2)
    sparse = tfs.sparsify(model, {"default": tfs.Block(0.75, block=(1, 4)), "logits": None}, schedule=schedule)
    sparse.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = sparse.fit(x, y, batch_size=32, epochs=3, callbacks=[tfs.UpdateMasks()], verbose=0)
    for layer in tfs.sparse_layers(sparse):
        assert layer.sparsity() == pytest.approx(0.75, abs=1e-9)
        assert int(layer.pruning_step.numpy()) == 3 * steps_per_epoch
        assert history.history[f"sparsity/{layer.name}"][-1] == pytest.approx(0.75)
    # the logged sparsity rises with the schedule
    assert history.history["sparsity/h1"][0] < 0.75

    path = tmp_path / "m.keras"
    sparse.save(path)
    again = keras.models.load_model(path)
    np.testing.assert_allclose(again.predict(x, verbose=0), sparse.predict(x, verbose=0), rtol=1e-6)
    for a, b in zip(tfs.sparse_layers(again), tfs.sparse_layers(sparse)):
        np.testing.assert_array_equal(a.mask.numpy(), b.mask.numpy())
        assert int(a.pruning_step.numpy()) == int(b.pruning_step.numpy())
        assert a.schedule == b.schedule and a.structure == b.structure


def test_pruned_weights_stay_pruned_during_training():
    model = _mlp()
    x, y = _data(256)
    sparse = tfs.sparsify(model, tfs.Block(0.75, block=(1, 4)))  # prune once, at step 0
    sparse.compile(keras.optimizers.SGD(0.05, momentum=0.9, weight_decay=1e-3),
                   keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    sparse.fit(x, y, batch_size=32, epochs=2, callbacks=[tfs.UpdateMasks()], verbose=0)
    deploy = tfs.strip(sparse)
    for layer in deploy.layers[1:]:
        kernel = layer.get_weights()[0]
        assert tfs.kernel_sparsity(kernel) == pytest.approx(0.75)
        assert tfs.Block(0.75, block=(1, 4)).is_valid(kernel)


def test_strip_gives_plain_keras_with_same_outputs():
    model = _mlp()
    x, _ = _data()
    sparse = tfs.sparsify(model, tfs.Block(0.5, block=(1, 4)))
    for layer in tfs.sparse_layers(sparse):
        layer.update_mask()
    deploy = tfs.strip(sparse)
    assert all(type(layer) in (keras.layers.InputLayer, keras.layers.Dense) for layer in deploy.layers)
    np.testing.assert_allclose(deploy.predict(x, verbose=0), sparse.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_update_masks_without_sparse_layers_errors():
    model = _mlp()
    model.compile("adam", "mse")
    x, _ = _data(32)
    with pytest.raises(ValueError, match="no tf_sparse layers"):
        model.fit(x, np.zeros((32, 10)), epochs=1, callbacks=[tfs.UpdateMasks()], verbose=0)
