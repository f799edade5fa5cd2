"""Min-max robustness: projections, APGDA, attacks, generalized adversarial training."""

import itertools
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tf_sparse as tfs
from tf_sparse import robust

floats = st.floats(-3, 3, allow_nan=False, width=32)


def _simplex_ref(v):
    """Bisection on mu to float64 precision."""
    lo, hi = v.min() - 1.0, v.max()
    for _ in range(200):
        mid = (lo + hi) / 2
        if np.maximum(v - mid, 0).sum() > 1:
            lo = mid
        else:
            hi = mid
    return np.maximum(v - hi, 0)


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 7), elements=floats))
def test_simplex_projection_matches_reference(v):
    p = robust.project_simplex(v[None].astype(np.float32)).numpy()[0]
    np.testing.assert_allclose(p, _simplex_ref(v), atol=2e-5)
    assert abs(p.sum() - 1) < 1e-5 and p.min() >= 0


def _check_projection_optimal(v, p, eps, norm, c, e):
    """p feasible and <v - p, z - p> <= 0 for feasible z (vertices / samples of the set)."""
    tol = 1e-4
    assert np.all(p >= c - tol) and np.all(p <= e + tol)
    nrm = {"linf": np.abs(p).max(), "l2": np.linalg.norm(p), "l1": np.abs(p).sum()}[norm]
    assert nrm <= eps * (1 + 1e-4) + 1e-6
    rng = np.random.default_rng(0)
    n = v.size
    cands = []
    for _ in range(300):
        z = rng.uniform(c, e)
        z = z * min(1.0, eps / max({"linf": np.abs(z).max(), "l2": np.linalg.norm(z), "l1": np.abs(z).sum()}[norm], 1e-12))
        cands.append(z)
    for i in range(n):  # extreme points along the axes
        for s in (-1, 1):
            z = np.zeros(n)
            z[i] = np.clip(s * eps, c[i], e[i])
            cands.append(z)
    for z in cands:
        assert np.dot(v - p, z - p) <= 1e-3 * (1 + np.abs(v).sum())


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    hnp.arrays(np.float64, n, elements=floats), hnp.arrays(np.float64, n, elements=st.floats(0, 1, width=32)),
    st.floats(0.05, 2.0), st.sampled_from(["linf", "l2", "l1"]))))
def test_ball_box_projection_is_optimal(args):
    v, x, eps, norm = args
    c, e = -x, 1 - x
    p = robust.project_ball_box(v[None].astype(np.float32), eps, norm, c[None], e[None]).numpy()[0].astype(np.float64)
    _check_projection_optimal(v, p, eps, norm, c, e)


def _ball_box_ref(v, eps, norm, c, e):
    """The projection as a smooth QP solved by SciPy's SLSQP (l1 through z = a - b, a, b >= 0)."""
    from scipy.optimize import minimize

    n = v.size
    if norm == "l2":
        res = minimize(lambda z: np.sum((z - v) ** 2), np.zeros(n), jac=lambda z: 2 * (z - v), method="SLSQP",
                       bounds=list(zip(c, e)),
                       constraints=[{"type": "ineq", "fun": lambda z: eps ** 2 - z @ z, "jac": lambda z: -2 * z}],
                       options={"ftol": 1e-12, "maxiter": 500})
        return res.x
    split = lambda ab: ab[:n] - ab[n:]  # noqa: E731
    cons = [{"type": "ineq", "fun": lambda ab: eps - ab.sum(), "jac": lambda ab: -np.ones(2 * n)},
            {"type": "ineq", "fun": lambda ab: split(ab) - c, "jac": lambda ab: np.hstack([np.eye(n), -np.eye(n)])},
            {"type": "ineq", "fun": lambda ab: e - split(ab), "jac": lambda ab: np.hstack([-np.eye(n), np.eye(n)])}]
    res = minimize(lambda ab: np.sum((split(ab) - v) ** 2), np.zeros(2 * n),
                   jac=lambda ab: np.hstack([2 * (split(ab) - v), -2 * (split(ab) - v)]), method="SLSQP",
                   bounds=[(0, None)] * (2 * n), constraints=cons, options={"ftol": 1e-12, "maxiter": 500})
    return split(res.x)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    hnp.arrays(np.float64, n, elements=floats), hnp.arrays(np.float64, n, elements=st.floats(0, 1, width=32)),
    st.floats(0.05, 2.0), st.sampled_from(["l2", "l1"]))))
def test_ball_box_projection_matches_qp_solver(args):
    v, x, eps, norm = args
    c, e = -x, 1 - x
    p = robust.project_ball_box(v[None].astype(np.float32), eps, norm, c[None], e[None]).numpy()[0].astype(np.float64)
    ref = _ball_box_ref(v, eps, norm, c, e)
    # the objective is strictly convex, so the minimizer is unique: compare points and distances
    assert np.sum((p - v) ** 2) <= np.sum((ref - v) ** 2) + 1e-4
    np.testing.assert_allclose(p, ref, atol=2e-3)


def test_l0_projection_brute_force():
    rng = np.random.default_rng(1)
    for _ in range(20):
        n, k = 5, 2
        v = rng.normal(size=n)
        x = rng.uniform(size=n)
        c, e = -x, 1 - x
        p = robust.project_ball_box(v[None].astype(np.float32), k, "l0", c[None], e[None]).numpy()[0]
        best = min((np.sum((v - np.where(np.isin(np.arange(n), s), np.clip(v, c, e), 0)) ** 2), s)
                   for s in itertools.combinations(range(n), k))
        assert np.count_nonzero(p) <= k
        np.testing.assert_allclose(np.sum((v - p) ** 2), best[0], rtol=1e-4, atol=1e-5)


def test_apgda_converges_to_saddle_point_of_convex_toy():
    # f_i(d) = ||d - a_i||^2 / 2 with a_1 = (1, 0), a_2 = (-1, 0) (rows of the batch: one problem).
    # With gamma = 0 the saddle point is d = (0, 0), w = (1/2, 1/2) (by symmetry); with a third,
    # dominated far point the worst case pulls toward it.
    a = tf.constant([[0.6, 0.0], [-0.6, 0.0], [0.0, 0.9]])

    def f(d):
        return 0.5 * tf.reduce_sum(tf.square(d[:, None, :] - a[None]), axis=-1)

    r = robust.apgda(f, np.array([[0.5, -0.5]], np.float32), 3, eps=2.0, norm="l2", lower=-10.0, upper=10.0,
                     steps=600, lr=0.01, beta=2.0, gamma=0.0, method="apgda")
    # minimax of the max of three quadratics: center of the smallest enclosing circle of a_i
    # points (0.6,0), (-0.6,0), (0,0.9): circumcenter (0, y) with 0.36 + y^2 = (0.9 - y)^2 -> y = 0.25
    np.testing.assert_allclose(r.delta[0], [0.0, 0.25], atol=0.03)
    fin = r.losses[-1]
    assert np.ptp(fin) < 0.05  # all active at the saddle point
    assert abs(r.weights.sum() - 1) < 1e-5
    assert r.losses.shape == (600, 3) and r.weight_history.shape == (600, 3)


def test_gamma_inf_equals_averaging():
    a = tf.constant([[1.0, 0.0], [-1.0, 0.5]])

    def f(d):
        return tf.reduce_sum(tf.square(d[:, None, :] - a[None]), axis=-1)

    kw = dict(eps=0.5, norm="linf", lower=-1.0, upper=1.0, steps=20, lr=0.05, beta=1.0)
    r1 = robust.apgda(f, np.zeros((1, 2), np.float32), 2, gamma=math.inf, **kw)
    r2 = robust.apgda(f, np.zeros((1, 2), np.float32), 2, gamma=0.0, method="avg", **kw)
    np.testing.assert_allclose(r1.delta, r2.delta, atol=1e-6)
    np.testing.assert_allclose(r1.weights, [[0.5, 0.5]])


def _mlp(seed, out=4, softmax=False, name=None):
    keras.utils.set_random_seed(seed)
    m = keras.Sequential([keras.Input((3, 3, 1)), keras.layers.Flatten(), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(out, activation="softmax" if softmax else None)], name=name)
    return m


@pytest.mark.parametrize("norm,eps", [("linf", 0.1), ("l2", 0.5), ("l1", 1.0), ("l0", 3)])
def test_ensemble_attack_stays_in_ball_and_box(norm, eps):
    models = [_mlp(0, name="a"), _mlp(1, name="b")]
    x = np.random.default_rng(0).uniform(size=(6, 3, 3, 1)).astype(np.float32)
    x[0] = 0.0
    x[1] = 1.0
    for method in ("apgda", "avg", 1) if norm == "linf" else ("apgda",):
        r = tfs.ensemble_attack(models, x, eps=eps, norm=norm, steps=5, method=method)
        d = (r.x_adv - x).reshape(6, -1)
        size = {"linf": np.abs(d).max(1), "l2": np.linalg.norm(d, axis=1), "l1": np.abs(d).sum(1),
                "l0": (np.abs(d) > 1e-7).sum(1)}[norm]
        assert np.all(size <= eps * (1 + 1e-4) + 1e-6)
        assert r.x_adv.min() >= 0 and r.x_adv.max() <= 1
        np.testing.assert_allclose(np.clip(x + r.delta, 0, 1), x + r.delta, atol=1e-6)
        assert r.success.shape == (6, 2) and r.weights.shape == (6, 2)
        np.testing.assert_allclose(r.weights.sum(-1), 1, atol=1e-5)


def test_universal_and_transformation_attacks():
    m = _mlp(0)
    x = np.random.default_rng(0).uniform(size=(5, 3, 3, 1)).astype(np.float32)
    r = tfs.universal_perturbation(m, x, eps=0.2, norm="linf", steps=10)
    assert r.delta.shape == (1, 3, 3, 1) and r.weights.shape == (1, 5) and r.success.shape == (1, 5)
    assert np.abs(r.delta).max() <= 0.2 + 1e-6
    np.testing.assert_allclose(r.x_adv, np.clip(x + r.delta, 0, 1))
    ri = tfs.universal_perturbation(m, x, eps=0.2, norm="linf", steps=10, box="intersect")
    assert np.all(x + ri.delta >= -1e-6) and np.all(x + ri.delta <= 1 + 1e-6)
    assert 0 <= tfs.robust.apply_perturbation(m, x, np.zeros(5), r.delta) <= 1
    # the default box="clip" lets delta reach pixels that are 0 in one image and 1 in another
    sat = np.zeros((2, 3, 3, 1), np.float32)
    sat[1] = 1.0
    ri = tfs.universal_perturbation(m, sat, eps=0.3, norm="linf", steps=5, box="intersect")
    assert np.abs(ri.delta).max() <= 1e-6
    rc = tfs.universal_perturbation(m, sat, eps=0.3, norm="linf", steps=5)
    assert np.abs(rc.delta).max() > 0.1 and np.abs(rc.delta).max() <= 0.3 + 1e-6
    with pytest.raises(ValueError, match="box"):
        tfs.universal_perturbation(m, x, eps=0.2, box="wrap")
    t = tfs.transformation_attack(m, x, eps=0.2, steps=5)
    assert t.success.shape == (5, len(robust.default_transforms())) and len(t.names) == t.success.shape[1]
    # rotation by 0 is the identity, shift moves content
    img = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    np.testing.assert_allclose(robust.rotate(0)[1](tf.constant(img)).numpy(), img, atol=1e-5)
    np.testing.assert_allclose(robust.shift(0, 1)[1](tf.constant(img)).numpy()[0, :, 1:, 0], img[0, :, :2, 0])


def test_bad_arguments():
    m = _mlp(0)
    x = np.zeros((2, 3, 3, 1), np.float32)
    with pytest.raises(ValueError, match="gamma.*2 \\* `beta`"):
        tfs.ensemble_attack([m], x, eps=0.1, beta=10.0, gamma=20.0)
    with pytest.raises(ValueError, match="gamma.*2 \\* `beta`"):
        tfs.AdversarialTrainer(m, [tfs.Threat("linf", 0.1)], beta=1.0, gamma=5.0)
    with pytest.raises(ValueError, match="eps"):
        tfs.ensemble_attack([m], x, eps=0.0)
    with pytest.raises(ValueError, match="eps"):
        tfs.ensemble_attack([m], x, eps=-1.0)
    with pytest.raises(ValueError, match="unknown `norm`"):
        tfs.ensemble_attack([m], x, eps=0.1, norm="l3")
    with pytest.raises(ValueError, match="same output shape"):
        tfs.ensemble_attack([m, _mlp(1, out=5)], x, eps=0.1)
    with pytest.raises(ValueError, match="K = 0"):
        tfs.ensemble_attack([], x, eps=0.1)
    with pytest.raises(ValueError, match="K = 0"):
        tfs.AdversarialTrainer(m, [])
    with pytest.raises(ValueError, match="unknown `method`"):
        tfs.ensemble_attack([m], x, eps=0.1, method="best")
    with pytest.raises(ValueError, match="input box"):
        tfs.ensemble_attack([m], x + 2, eps=0.1)
    with pytest.raises(ValueError, match="unknown `norm`"):
        tfs.Threat("linf2", 0.1)
    with pytest.raises(ValueError, match="eps"):
        tfs.Threat("l2", 0)
    with pytest.raises(ValueError, match="strategy"):
        tfs.AdversarialTrainer(m, [tfs.Threat("l2", 0.5)], strategy="min")


def _data(n=32):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(n, 3, 3, 1)).astype(np.float32)
    y = (x.reshape(n, -1).mean(1) > 0.5).astype(np.int32) + 2 * (x[:, 0, 0, 0] > 0.5)
    return x, y


@pytest.mark.parametrize("strategy", ["apgda", "avg", "max"])
def test_adversarial_training_step(strategy):
    x, y = _data()
    m = _mlp(0, softmax=True)
    threats = [tfs.Threat("linf", 0.05, steps=2), tfs.Threat("l2", 0.2, steps=2), tfs.Threat("l1", 0.5, steps=2)]
    t = tfs.AdversarialTrainer(m, threats, strategy=strategy)
    t.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy", metrics=["accuracy"])
    before = [w.copy() for w in m.get_weights()]
    h = t.fit(x, y, epochs=2, batch_size=32, verbose=0)
    assert any(not np.allclose(a, b) for a, b in zip(before, m.get_weights()))
    w = t.domain_weights
    assert abs(w.sum() - 1) < 1e-5 and w.min() >= 0
    if strategy == "max":
        assert sorted(w.tolist())[:2] == [0.0, 0.0]
    if strategy == "avg":
        np.testing.assert_allclose(w, 1 / 3)
    assert len(t.weight_history) == 2 and "w/linf(0.05)" in h.history and "loss/l2(0.2)" in h.history


def test_adversarial_training_with_admm_and_save_resume(tmp_path):
    x, y = _data()
    m = _mlp(0, softmax=True)
    sparse = tfs.sparsify(m, tfs.Unstructured(0.5))
    t = tfs.AdversarialTrainer(sparse, [tfs.Threat("linf", 0.05, steps=2), tfs.Threat("l2", 0.2, steps=2)])
    t.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    t.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[tfs.ADMM(rho=1e-2)])
    tfs.harden(sparse)
    t.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert tfs.kernel_sparsity(sparse.layers[-1].kernel_numpy()) >= 0.49
    path = str(tmp_path / "t.keras")
    t.save(path)
    t2 = keras.models.load_model(path)
    np.testing.assert_allclose(t2.domain_weights, t.domain_weights)
    assert int(t2.optimizer.iterations.numpy()) == int(t.optimizer.iterations.numpy()) > 0
    np.testing.assert_allclose(t2.predict(x, verbose=0), t.predict(x, verbose=0), atol=1e-5)
    t2.fit(x, y, epochs=1, batch_size=16, verbose=0)  # resumes
    assert tfs.kernel_sparsity(t2.model.layers[-1].kernel_numpy()) >= 0.49
    png = tfs.robust.plot_domain_weights(t.weight_history, t.threat_names, str(tmp_path / "w.png"))
    assert open(png, "rb").read(4) == b"\x89PNG"


def test_adversarial_trainer_includes_admm_penalty():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(32, 9)).astype(np.float32)
    y = (x.sum(1) > 4.5).astype(np.int32)
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((9,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(2)])
    s = tfs.sparsify(m, tfs.Unstructured(0.5))
    t = tfs.AdversarialTrainer(s, [tfs.Threat("linf", 0.05, steps=1)])
    t.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    h = t.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[tfs.ADMM(rho=10.0)])
    # the ADMM term rho/2 ||W - Z + U||^2 is part of the optimized loss
    assert h.history["loss"][-1] > 2 * h.history["loss/linf(0.05)"][-1]
