"""ADMM's automatic rho, its warnings and logs, and hardening that keeps accuracy on digits."""

import warnings

import keras
import numpy as np
import pytest

import tf_sparse as tfs


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((16,))
    x = keras.layers.Dense(32, activation="relu", name="h1")(inp)
    return keras.Model(inp, keras.layers.Dense(4, name="logits")(x))


def _data(n=512, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 16)).astype(np.float32)
    return x, (x[:, :4] * 2 + 0.1 * rng.standard_normal((n, 4))).astype(np.float32)


def _compiled(optimizer, structure=None):
    sparse = tfs.sparsify(_model(), structure or tfs.Block(0.5, block=(1, 4)))
    sparse.compile(optimizer, "mse")
    return sparse


def test_growing_residual_warns_naming_the_layer_and_the_fix():
    sparse = _compiled(keras.optimizers.SGD(0.5))  # far too high a learning rate for rho 1e-3
    x, y = _data()
    with pytest.warns(RuntimeWarning, match=r"primal residual \|\|W - Z\|\| grew .* in h1 .*lower the learning "
                      r"rate \(now 0\.5\)") as record:
        history = sparse.fit(x, y, batch_size=64, epochs=5, verbose=0,
                             callbacks=[tfs.ADMM(rho=1e-3, rho_factor=1.0)])
    res = history.history["admm_residual/h1"]
    assert res[3] > res[0]
    messages = [str(w.message) for w in record]
    assert any("still far from its structure" in m and "h1" in m for m in messages)
    assert sum(m.startswith("ADMM: the primal residual") and "h1 (" in m for m in messages) == 1  # once per layer, not every epoch


def test_no_warning_when_admm_converges():
    sparse = _compiled(keras.optimizers.Adam(1e-2), {"h1": tfs.Block(0.5, block=(1, 4))})
    x, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        sparse.fit(x, y, batch_size=16, epochs=10, verbose=0, callbacks=[tfs.ADMM(rho=1e-2)])
    for layer in tfs.sparse_layers(sparse):
        assert layer.admm_residual() < 0.1 * np.linalg.norm(layer.kernel_numpy())


def test_automatic_rho_grows_while_the_primal_residual_dominates_and_logs_residuals():
    sparse = _compiled(keras.optimizers.Adam(1e-2))
    x, y = _data()
    cb = tfs.ADMM(rho=1e-3, warn=False)
    history = sparse.fit(x, y, batch_size=16, epochs=6, verbose=0, callbacks=[cb])
    rho = history.history["admm_rho/h1"]
    assert rho[0] > 1e-3 and all(b >= a for a, b in zip(rho, rho[1:])) and rho[-1] > 10 * rho[0]
    res = history.history["admm_residual/h1"]
    assert res[-1] < 0.5 * res[0]
    assert len(history.history["admm_dual_residual/logits"]) == 6
    # each update: rho moved by the rule from the residuals of that update
    for before, after in zip(cb.history, cb.history[1:]):
        primal, dual, rho_new = after["h1"]
        assert rho_new >= before["h1"][2]


def test_automatic_rho_rule_both_directions_and_dual_rescaling():
    cb = tfs.ADMM(rho=1.0)
    # primal >> dual: grows by sqrt(r / (mu s)), capped at rho_growth_max
    assert cb._next_rho(1.0, primal=100.0, dual=0.1, previous=1.0) == pytest.approx(10.0)
    assert cb._next_rho(1.0, primal=1000.0, dual=0.1, previous=1.0) == pytest.approx(10.0)
    assert cb._next_rho(1.0, primal=4.0, dual=0.1, previous=100.0) == pytest.approx(2.0)
    # primal not halving: at least rho_growth
    assert cb._next_rho(1.0, primal=1.0, dual=1.0, previous=1.5) == pytest.approx(2.0)
    # dual >> primal while the primal falls fast: shrinks
    assert cb._next_rho(1.0, primal=0.01, dual=1.0, previous=1.0) == pytest.approx(0.5)
    # W within tol * ||W|| of its structure: no more growth
    assert cb._next_rho(1.0, primal=1.0, dual=0.0, previous=1.0, norm=100.0) == 1.0
    assert cb._next_rho(1.0, primal=3.0, dual=0.0, previous=3.0, norm=100.0) > 1.0
    # balanced and falling: unchanged
    assert cb._next_rho(1.0, primal=1.0, dual=1.0, previous=3.0) == 1.0
    assert cb._next_rho(1e3 * 9, primal=10.0, dual=0.0, previous=1.0) == pytest.approx(1e4)  # rho_max
    # a fixed factor ignores the residuals
    assert tfs.ADMM(rho=1.0, rho_factor=1.5)._next_rho(1.0, 0.0, 10.0, 1.0) == pytest.approx(1.5)

    # the scaled dual U is rescaled so that rho * U (the dual y) is what the update left
    sparse = _compiled(keras.optimizers.Adam(1e-2))
    x, y = _data()
    cb = tfs.ADMM(rho=1e-3, update_unit="step", update_every=4, warn=False)
    sparse.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[cb])
    layer = sparse.get_layer("h1")
    rho_old = float(layer.admm_rho.numpy())
    w = layer.kernel_numpy()
    u_prev = layer.admm_u[0].numpy()
    cb._update()
    rho_new = float(layer.admm_rho.numpy())
    assert rho_new != rho_old
    z = layer.admm_z[0].numpy()
    np.testing.assert_allclose(rho_new * layer.admm_u[0].numpy(), rho_old * (u_prev + w - z), rtol=1e-4, atol=1e-7)


def test_invalid_automatic_arguments():
    for kwargs, match in (({"rho_growth": 1.0}, "rho_growth"), ({"balance": 0.5}, "balance"),
                          ({"rho_growth": 4.0, "rho_growth_max": 2.0}, "rho_growth_max"),
                          ({"patience": 0}, "patience"), ({"far": 0}, "far")):
        with pytest.raises(ValueError, match=match):
            tfs.ADMM(**kwargs)
    with pytest.raises(TypeError, match="warn"):
        tfs.ADMM(warn=1)


def test_harden_keeps_accuracy_on_digits_with_the_defaults():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target
    x_tr, y_tr, x_te, y_te = x[:1400], y[:1400], x[1400:], y[1400:]
    keras.utils.set_random_seed(0)
    inp = keras.Input((64,))
    h = keras.layers.Dense(128, activation="relu", name="fc1")(inp)
    model = keras.Model(inp, keras.layers.Dense(10, name="logits")(h))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.Adam(1e-3), loss, metrics=["accuracy"])
    model.fit(x_tr, y_tr, batch_size=32, epochs=8, verbose=0)
    sparse = tfs.sparsify(model, {"fc1": tfs.Block(0.9, block=(1, 4))})
    sparse.compile(keras.optimizers.Adam(1e-2), loss, metrics=["accuracy"])  # the README's ADMM phase
    sparse.fit(x_tr, y_tr, batch_size=32, epochs=10, verbose=0, callbacks=[tfs.ADMM()])
    before = sparse.evaluate(x_te, y_te, verbose=0)[1]
    tfs.harden(sparse)
    after = sparse.evaluate(x_te, y_te, verbose=0)[1]
    assert sparse.get_layer("fc1").sparsity() == pytest.approx(0.9, abs=1e-3)
    assert after > 0.85 and after > before - 0.03, (before, after)
