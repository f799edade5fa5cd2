import keras
import numpy as np
import pytest
import tensorflow as tf

import tf_sparse as tfs


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((16,))
    x = keras.layers.Dense(32, activation="relu", name="h1")(inp)
    out = keras.layers.Dense(4, name="logits")(x)
    return keras.Model(inp, out)


def _data(n=128, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 16)).astype(np.float32)
    return x, (x[:, :4] * 2 + 0.1 * rng.standard_normal((n, 4))).astype(np.float32)


def _compiled(structure, optimizer=None):
    sparse = tfs.sparsify(_model(), structure)
    sparse.compile(optimizer or keras.optimizers.Adam(1e-2), "mse")
    return sparse


def test_penalty_gradient_matches_finite_difference():
    sparse = _compiled(tfs.Block(0.5, block=(1, 4)))
    layer = sparse.get_layer("h1")
    layer.enable_admm()
    layer.admm_reset()
    rng = np.random.default_rng(0)
    layer.admm_u[0].assign(0.1 * rng.standard_normal(layer.mask.shape).astype(np.float32))
    layer.admm_rho.assign(0.3)
    with tf.GradientTape() as tape:
        penalty = layer.admm_penalty()
    grad = tape.gradient(penalty, layer._kernel).numpy()
    w, z, u = layer._kernel.numpy(), layer.admm_z[0].numpy(), layer.admm_u[0].numpy()
    np.testing.assert_allclose(grad, 0.3 * (w - z + u), rtol=1e-5, atol=1e-6)
    # finite difference on one entry, in float64 from the formula the layer evaluates
    f = lambda w_: 0.5 * 0.3 * np.sum((w_.astype(np.float64) - z + u) ** 2)  # noqa: E731
    e = np.zeros_like(w)
    e[3, 5] = 1e-3
    fd = (f(w + e) - f(w - e)) / 2e-3
    assert grad[3, 5] == pytest.approx(fd, rel=1e-3)
    assert float(penalty) == pytest.approx(f(w), rel=1e-5)


def test_admm_penalty_is_in_training_loss():
    sparse = _compiled(tfs.Block(0.5, block=(1, 4)))
    x, y = _data()
    base = sparse.evaluate(x, y, verbose=0)
    cb = tfs.ADMM(rho=10.0)
    cb.set_model(sparse)
    cb.on_train_begin()
    layer = sparse.get_layer("h1")
    w, z = layer._kernel.numpy(), layer.admm_z[0].numpy()
    expected = 0.5 * 10.0 * np.sum((w - z) ** 2) + 0.5 * 10.0 * np.sum(
        (sparse.get_layer("logits")._kernel.numpy() - sparse.get_layer("logits").admm_z[0].numpy()) ** 2)
    assert sparse.evaluate(x, y, verbose=0) == pytest.approx(base + expected, rel=1e-4)


def test_z_satisfies_structure_after_each_update_and_residual_shrinks():
    structure = tfs.Block(0.75, block=(1, 4))
    sparse = _compiled(structure)
    x, y = _data()
    cb = tfs.ADMM(rho=0.05, update_every=4, update_unit="step", rho_factor=1.5)
    history = sparse.fit(x, y, batch_size=16, epochs=6, callbacks=[cb], verbose=0)
    assert len(cb.history) == 6 * 8 // 4
    for layer in tfs.sparse_layers(sparse):
        assert structure.is_valid(layer.admm_z[0].numpy())
        assert float(layer.admm_rho.numpy()) == pytest.approx(0.05 * 1.5 ** len(cb.history), rel=1e-5)
    res = history.history["admm_residual/h1"]
    assert res[-1] < res[0]


def test_harden_then_masked_retrain_never_revives_weights():
    structure = tfs.Block(0.75, block=(1, 4))
    opt = keras.optimizers.SGD(0.05, momentum=0.9, weight_decay=1e-2)
    sparse = _compiled(structure, opt)
    x, y = _data()
    sparse.fit(x, y, batch_size=16, epochs=2, callbacks=[tfs.ADMM(rho=1e-2)], verbose=0)
    tfs.harden(sparse)
    masks = {layer.name: layer.mask.numpy().copy() for layer in tfs.sparse_layers(sparse)}
    sparse.fit(x, y, batch_size=16, epochs=2, callbacks=[tfs.UpdateMasks()], verbose=0)
    deploy = tfs.strip(sparse)
    for layer in tfs.sparse_layers(sparse):
        np.testing.assert_array_equal(layer.mask.numpy(), masks[layer.name])
        kernel = deploy.get_layer(layer.name).get_weights()[0]
        assert np.all(kernel[masks[layer.name] == 0] == 0)
        assert structure.is_valid(kernel)
        assert float(layer.admm_rho.numpy()) == 0.0


def test_resume_from_keras_file_keeps_admm_state(tmp_path):
    sparse = _compiled(tfs.Block(0.5, block=(1, 4)))
    x, y = _data()
    sparse.fit(x, y, batch_size=16, epochs=2, callbacks=[tfs.ADMM(rho=0.02, rho_factor=2.0)], verbose=0)
    path = tmp_path / "admm.keras"
    sparse.save(path)
    again = keras.models.load_model(path)
    for a, b in zip(tfs.sparse_layers(again), tfs.sparse_layers(sparse)):
        for name in ("mask", "admm_rho", "pruning_step"):
            np.testing.assert_array_equal(getattr(a, name).numpy(), getattr(b, name).numpy())
        np.testing.assert_array_equal(a.admm_z[0].numpy(), b.admm_z[0].numpy())
        np.testing.assert_array_equal(a.admm_u[0].numpy(), b.admm_u[0].numpy())
        assert a.admm_enabled
    # resuming keeps Z, U and rho instead of re-initialising them
    rho_before = float(again.get_layer("h1").admm_rho.numpy())
    cb = tfs.ADMM(rho=0.02, rho_factor=2.0)
    cb.set_model(again)
    cb.on_train_begin()
    assert float(again.get_layer("h1").admm_rho.numpy()) == rho_before
    np.testing.assert_array_equal(again.get_layer("h1").admm_u[0].numpy(), sparse.get_layer("h1").admm_u[0].numpy())


def test_progressive_admm_reaches_increasing_targets():
    sparse = _compiled(tfs.Block(0.875, block=(1, 4)))
    x, y = _data()
    results = tfs.progressive_admm(sparse, x, y, targets=[0.5, 0.75, 0.875], admm_epochs=1, retrain_epochs=1,
                                   rho=1e-2, batch_size=32)
    assert [r["target"] for r in results] == [0.5, 0.75, 0.875]
    for r in results:
        assert r["sparsity"]["h1"] == pytest.approx(r["target"])
    # masks are nested: what step 1 pruned stays pruned
    assert tfs.sparse_layers(sparse)[0].sparsity() == pytest.approx(0.875)


@pytest.mark.parametrize("cls", [tfs.ReweightedGroupLasso, tfs.DynamicRegularization])
def test_group_regularization_shrinks_the_groups_to_prune(cls):
    structure = tfs.Block(0.75, block=(1, 4))
    sparse = _compiled(structure, keras.optimizers.Adam(5e-3))
    x, y = _data()
    layer = sparse.get_layer("h1")
    before = layer.kernel_numpy()
    cb = cls(lam=0.05, eps=1e-3)
    sparse.fit(x, y, batch_size=16, epochs=4, callbacks=[cb], verbose=0)
    after = layer.kernel_numpy()
    ids = layer.group_ids()
    from tf_sparse.training.regularization import group_sq_norms

    n_b, n_a = group_sq_norms(before, ids), group_sq_norms(after, ids)
    # the weakest quarter of the groups lost most of their energy
    weak = np.argsort(n_a)[: len(n_a) // 4]
    assert n_a[weak].sum() < 0.2 * n_b[weak].sum()
    # alpha follows 1 / (||W_g||^2 + eps) on the penalised groups
    alpha = layer.group_alpha.numpy()
    g = weak[0]
    assert alpha[ids == g][0] == pytest.approx(1.0 / (n_a[g] + 1e-3), rel=1e-3)
    tfs.harden(sparse)
    assert layer.sparsity() == pytest.approx(0.75)


def test_invalid_callback_arguments():
    with pytest.raises(ValueError, match="rho"):
        tfs.ADMM(rho=0)
    with pytest.raises(ValueError, match="update_unit"):
        tfs.ADMM(update_unit="batch")
    with pytest.raises(ValueError, match="lam"):
        tfs.ReweightedGroupLasso(lam=-1)
    with pytest.raises(ValueError, match="targets"):
        tfs.progressive_admm(None, None, targets=[0.5, 0.4], admm_epochs=1, retrain_epochs=1)


def test_pruning_summaries_write_scalars(tmp_path):
    import glob

    sparse = _compiled(tfs.Block(0.5, block=(1, 4)))
    x, y = _data()
    sparse.fit(x, y, batch_size=32, epochs=2, verbose=0,
               callbacks=[tfs.UpdateMasks(), tfs.ADMM(rho=1e-2), tfs.PruningSummaries(str(tmp_path))])
    files = glob.glob(str(tmp_path / "metrics" / "events.out.tfevents.*"))
    assert files
    tags = set()
    for event in tf.compat.v1.train.summary_iterator(files[0]):
        for value in event.summary.value:
            tags.add(value.tag)
    assert {"h1/sparsity", "h1/admm_residual", "logits/admm_rho"} <= tags
    with pytest.raises(ValueError, match="log_dir"):
        tfs.PruningSummaries("")


def test_pattern_admm_has_two_constraint_sets():
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 4))
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv")(inp)
    model = keras.Model(inp, keras.layers.GlobalAveragePooling2D()(x))
    sparse = tfs.sparsify(model, tfs.KernelPattern(num_patterns=4, connectivity=0.5))
    sparse.compile(keras.optimizers.Adam(1e-2), "mse")
    rng = np.random.default_rng(0)
    xs, ys = rng.standard_normal((32, 8, 8, 4)).astype(np.float32), rng.standard_normal((32, 8)).astype(np.float32)
    sparse.fit(xs, ys, batch_size=8, epochs=2, callbacks=[tfs.ADMM(rho=1e-2)], verbose=0)
    layer = sparse.get_layer("conv")
    assert len(layer.admm_z) == 2 and len(layer.admm_u) == 2
    pattern_only, connectivity = layer.structure.admm_constraints()
    assert pattern_only.is_valid(layer.admm_z[0].numpy())  # Z: every kernel on a library pattern
    z1 = layer.admm_z[1].numpy().reshape(9, -1)
    assert np.count_nonzero(np.any(z1 != 0, axis=0)) == 16  # Y: half of the 32 kernels kept
    assert connectivity.is_valid(layer.admm_z[1].numpy())
    tfs.harden(sparse)
    assert layer.structure.is_valid(layer.kernel_numpy())
