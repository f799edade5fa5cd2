"""Min-max robustness over several domains: APGDA attacks and generalized adversarial training.

One problem covers the ensemble attack, the universal perturbation, the attack over data
transformations and adversarial training over several threat models::

    min_{delta in X}  max_{w in simplex}  sum_i w_i f_i(delta) - gamma/2 ||w - 1/K||^2

``X`` is an l_inf / l2 / l1 / l0 ball intersected with the valid input box ``[lo, hi]``, ``f_i``
the attack loss on domain ``i`` (a model, an image, a transformation). APGDA alternates a
projected descent step on ``delta`` with a projected ascent step on ``w``; ``gamma = 0`` is the
worst case over domains, ``gamma = inf`` uniform averaging.

    >>> r = tfs.ensemble_attack([dense, pruned, quantized], x, y, eps=0.1, norm="linf")
    >>> r.success_rate, r.weights.mean(0)
    >>> robust = tfs.AdversarialTrainer(sparse, [tfs.Threat("linf", 0.1), tfs.Threat("l2", 1.0)])
    >>> robust.compile("adam", "sparse_categorical_crossentropy")
    >>> robust.fit(x, y, epochs=5, callbacks=[tfs.ADMM(rho=1e-2)])
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import keras
import numpy as np
import tensorflow as tf

NORMS = ("linf", "l2", "l1", "l0")
LOSSES = ("cw", "ce")
_BISECT = 40


# ----------------------------------------------------------------------------------------------
# argument checks


def _check_norm(norm, owner):
    if norm not in NORMS:
        raise ValueError(f"{owner}: unknown `norm` {norm!r}; allowed: {', '.join(NORMS)}")
    return norm


def _check_pos(value, name, owner, allow_inf=False, allow_zero=False):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)
    ok = ok and (allow_inf or math.isfinite(value)) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{owner}: `{name}` must be a {'' if allow_inf else 'finite '}number {bound}, got {value!r}")
    return float(value)


def _check_int(value, name, owner, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{owner}: `{name}` must be an integer >= {minimum}, got {value!r}")
    return int(value)


# ----------------------------------------------------------------------------------------------
# projections


def project_simplex(v):
    """Euclidean projection of each row (last axis) of ``v`` onto the probability simplex.

    Exact, sort-based: ``max(v - mu, 0)`` with ``mu`` from the sorted cumulative sums.
    """
    v = tf.convert_to_tensor(v, tf.float32)
    k = tf.shape(v)[-1]
    u = tf.sort(v, axis=-1, direction="DESCENDING")
    css = tf.cumsum(u, axis=-1) - 1.0
    idx = tf.cast(tf.range(1, k + 1), v.dtype)
    cond = tf.cast(u - css / idx > 0, tf.int32)
    rho = tf.reduce_sum(cond, axis=-1, keepdims=True)  # >= 1 always
    mu = tf.gather(css, rho - 1, batch_dims=len(v.shape) - 1) / tf.cast(rho, v.dtype)
    return tf.maximum(v - mu, 0.0)


def _flat(t):
    return tf.reshape(t, [tf.shape(t)[0], -1])


def _bisect(fn, lo, hi, target):
    """mu in [lo, hi] with fn(mu) ~= target, fn decreasing in mu; lo/hi shape (B, 1)."""
    def body(i, lo, hi):
        mid = 0.5 * (lo + hi)
        big = fn(mid) > target
        return i + 1, tf.where(big, mid, lo), tf.where(big, hi, mid)

    _, lo, hi = tf.while_loop(lambda i, *_: i < _BISECT, body, (0, lo, hi))
    return hi


def project_ball_box(delta, eps, norm, lower, upper):
    """Projects each example of ``delta`` (leading axis = batch) onto {||d||_p <= eps} ∩ [lower, upper].

    ``lower <= 0 <= upper`` elementwise (the box of valid perturbations, e.g. ``lo - x`` and
    ``hi - x``); they broadcast against ``delta``. l_inf: clipping (exact). l2 / l1: the KKT
    multiplier of the ball constraint by bisection (``d = clip(v / (1 + mu))`` resp.
    ``clip(soft_threshold(v, mu))``). l0 (``eps`` = number of coordinates): the ``eps``
    coordinates whose box-clipped value gains the most are kept.
    """
    _check_norm(norm, "project_ball_box")
    delta = tf.convert_to_tensor(delta, tf.float32)
    lower = tf.broadcast_to(tf.convert_to_tensor(lower, tf.float32), tf.shape(delta))
    upper = tf.broadcast_to(tf.convert_to_tensor(upper, tf.float32), tf.shape(delta))
    shape = tf.shape(delta)
    v, c, e = _flat(delta), _flat(lower), _flat(upper)
    eps = tf.cast(eps, tf.float32)
    if norm == "linf":
        out = tf.minimum(tf.maximum(v, tf.maximum(c, -eps)), tf.minimum(e, eps))
    elif norm == "l2":
        p0 = tf.clip_by_value(v, c, e)
        inside = tf.norm(p0, axis=1, keepdims=True) <= eps
        f = lambda mu: tf.norm(tf.clip_by_value(v / (1.0 + mu), c, e), axis=1, keepdims=True)
        hi = tf.norm(v, axis=1, keepdims=True) / eps
        mu = _bisect(f, tf.zeros_like(hi), hi, eps)
        out = tf.where(inside, p0, tf.clip_by_value(v / (1.0 + mu), c, e))
    elif norm == "l1":
        soft = lambda mu: tf.clip_by_value(tf.sign(v) * tf.nn.relu(tf.abs(v) - mu), c, e)
        p0 = tf.clip_by_value(v, c, e)
        inside = tf.reduce_sum(tf.abs(p0), axis=1, keepdims=True) <= eps
        f = lambda mu: tf.reduce_sum(tf.abs(soft(mu)), axis=1, keepdims=True)
        hi = tf.reduce_max(tf.abs(v), axis=1, keepdims=True)
        mu = _bisect(f, tf.zeros_like(hi), hi, eps)
        out = tf.where(inside, p0, soft(mu))
    else:
        p0 = tf.clip_by_value(v, c, e)
        gain = tf.square(v) - tf.square(v - p0)
        n = tf.shape(v)[1]
        k = tf.minimum(tf.cast(eps, tf.int32), n)
        rank = tf.argsort(tf.argsort(-gain, axis=1, stable=True), axis=1)  # exactly k kept on ties
        out = tf.where(rank < k, p0, 0.0)
    return tf.reshape(out, shape)


def _direction(g, norm):
    """Steepest-descent direction of unit norm (l_inf: sign; l1: sign on the top 5% coordinates)."""
    if norm == "linf":
        return tf.sign(g)
    flat = _flat(g)
    if norm == "l1":
        n = tf.shape(flat)[1]
        k = tf.maximum(n // 20, 1)
        kth = tf.math.top_k(tf.abs(flat), k).values[:, -1:]
        d = tf.sign(flat) * tf.cast(tf.abs(flat) >= kth, flat.dtype)
        d = d / tf.maximum(tf.reduce_sum(tf.abs(d), axis=1, keepdims=True), 1.0)
    else:
        d = flat / tf.maximum(tf.norm(flat, axis=1, keepdims=True), 1e-12)
    return tf.reshape(d, tf.shape(g))


def _default_lr(norm, eps, steps, lo, hi):
    if norm == "l0":
        return 0.5 * (hi - lo)
    return 2.5 * eps / steps


# ----------------------------------------------------------------------------------------------
# losses


def attack_loss(logits, y, loss="cw", kappa=50.0, from_logits=True):
    """Per-example loss the attacker minimizes (untargeted).

    ``"cw"``: ``max(Z_y - max_{j != y} Z_j + kappa, 0)``; ``"ce"``: minus the cross-entropy.
    With ``from_logits=False`` (models ending in softmax) the log-probabilities serve as logits
    (CW margins are unchanged by the softmax's shift).
    """
    z = tf.convert_to_tensor(logits, tf.float32)
    if not from_logits:
        z = tf.math.log(tf.maximum(z, 1e-12))
    y = tf.cast(tf.reshape(y, [-1]), tf.int32)
    if loss == "ce":
        return -tf.nn.sparse_softmax_cross_entropy_with_logits(y, z)
    onehot = tf.one_hot(y, tf.shape(z)[-1], dtype=z.dtype)
    zy = tf.reduce_sum(z * onehot, axis=-1)
    other = tf.reduce_max(z - 1e9 * onehot, axis=-1)
    return tf.nn.relu(zy - other + kappa)


# ----------------------------------------------------------------------------------------------
# the solver


@dataclasses.dataclass
class MinMaxResult:
    """Result of :func:`apgda` and the attacks built on it.

    Attributes:
      delta: the perturbation (numpy), shape of the solver's ``delta``.
      weights: final domain weights, shape ``(..., K)`` (per example, or ``(1, K)`` if shared).
      losses: per-domain losses per iteration, averaged over the batch, shape ``(steps, K)``.
      weight_history: domain weights per iteration, averaged over the batch, ``(steps, K)``.
      x_adv: the adversarial inputs (attacks only).
      success: ``(N, K)`` booleans, domain ``k`` fooled on example ``n`` (attacks only).
      names: the domain names.
    """

    delta: np.ndarray
    weights: np.ndarray
    losses: np.ndarray
    weight_history: np.ndarray
    x_adv: np.ndarray | None = None
    success: np.ndarray | None = None
    names: list | None = None

    @property
    def success_all(self):
        """Per example: every domain fooled at once."""
        return None if self.success is None else self.success.all(axis=-1)

    @property
    def success_rate(self):
        """Fraction of examples fooled on all domains at once."""
        return None if self.success is None else float(self.success_all.mean())

    @property
    def domain_success_rate(self):
        return None if self.success is None else self.success.mean(axis=0)


def apgda(loss_fn, delta0, num_domains, *, eps, norm="linf", lower, upper, steps=50, lr=None,
          beta=50.0, gamma=3.0, method="apgda", weights0=None, weight_shape=None):
    """APGDA on ``min_delta max_{w in simplex} sum_i w_i f_i(delta) - gamma/2 ||w - 1/K||^2``.

    Args:
      loss_fn: ``delta -> f`` with ``f`` of shape ``weight_shape + (K,)`` (TensorFlow ops; it is
        traced in a ``tf.function``).
      delta0: initial perturbation; its leading axis is the batch of independent problems.
      num_domains: ``K`` (>= 1).
      eps, norm: the ball (``"linf"``, ``"l2"``, ``"l1"``, ``"l0"``; for l0 ``eps`` counts coordinates).
      lower, upper: box of valid perturbations (``lo - x``, ``hi - x``), broadcast against ``delta``.
      steps: iterations ``T``.
      lr: step on ``delta`` along the unit steepest-descent direction (sign gradient for l_inf);
        default ``2.5 * eps / steps`` (l0: half the input range).
      beta: the ascent step on ``w`` is ``1 / beta``.
      gamma: regularization toward uniform weights, ``0`` (worst case) to ``inf`` (averaging).
      method: ``"apgda"`` (learned w), ``"avg"`` (w fixed uniform, as ``gamma = inf``), or an
        integer ``i`` (only domain ``i``: w one-hot).
      weights0: initial ``w`` (default uniform).
      weight_shape: leading shape of ``w`` (default ``(batch,)``).
    """
    owner = "apgda"
    K = _check_int(num_domains, "num_domains (K)", owner, 1)
    _check_norm(norm, owner)
    eps = _check_pos(eps, "eps", owner)
    steps = _check_int(steps, "steps", owner, 1)
    beta = _check_pos(beta, "beta", owner)
    gamma = _check_pos(gamma, "gamma", owner, allow_inf=True, allow_zero=True)
    if isinstance(method, numbers.Integral) and not isinstance(method, bool):
        if not 0 <= method < K:
            raise ValueError(f"{owner}: single-domain `method` must be in [0, {K}), got {method}")
        fixed = tf.one_hot(int(method), K)
    elif method == "avg" or (method == "apgda" and math.isinf(gamma)):
        fixed = tf.fill([K], 1.0 / K)
    elif method == "apgda":
        fixed = None
    else:
        raise ValueError(f"{owner}: unknown `method` {method!r}; allowed: 'apgda', 'avg', or a domain index")
    delta0 = tf.convert_to_tensor(delta0, tf.float32)
    if weight_shape is None:
        weight_shape = (int(delta0.shape[0]),)
    lo_hi = (tf.convert_to_tensor(lower, tf.float32), tf.convert_to_tensor(upper, tf.float32))
    if lr is None:
        span = float(tf.reduce_max(lo_hi[1] - lo_hi[0]).numpy())
        lr = _default_lr(norm, eps, steps, 0.0, span)
    lr = _check_pos(lr, "lr", owner)
    if fixed is None and not math.isinf(gamma) and gamma >= 2.0 * beta:
        # w_t - 1/K = (1 - gamma/beta)(w_{t-1} - 1/K) + f/beta before the projection: the pull
        # toward uniform overshoots and oscillates once gamma/beta >= 2.
        raise ValueError(f"{owner}: `gamma` ({gamma}) must be below 2 * `beta` ({beta}); the weight ascent "
                         "oscillates otherwise (raise beta, the inverse step on w, with gamma)")
    if fixed is not None:
        w0 = tf.broadcast_to(fixed, tuple(weight_shape) + (K,))
    elif weights0 is not None:
        w0 = tf.broadcast_to(tf.convert_to_tensor(weights0, tf.float32), tuple(weight_shape) + (K,))
    else:
        w0 = tf.fill(tuple(weight_shape) + (K,), 1.0 / K)
    learn_w = fixed is None
    g = 0.0 if math.isinf(gamma) else gamma

    @tf.function(reduce_retracing=True)
    def run(delta, w):
        delta = project_ball_box(delta, eps, norm, *lo_hi)
        loss_ta = tf.TensorArray(tf.float32, size=steps)
        w_ta = tf.TensorArray(tf.float32, size=steps)
        for t in tf.range(steps):
            with tf.GradientTape() as tape:
                tape.watch(delta)
                f = loss_fn(delta)
                obj = tf.reduce_sum(w * f)
            grad = tape.gradient(obj, delta)
            delta = project_ball_box(delta - lr * _direction(grad, norm), eps, norm, *lo_hi)
            f_new = loss_fn(delta)
            if learn_w:
                w = project_simplex(w + (f_new - g * (w - 1.0 / K)) / beta)
            red = tf.range(tf.rank(f_new) - 1)
            loss_ta = loss_ta.write(t, tf.reduce_mean(f_new, axis=red))
            w_ta = w_ta.write(t, tf.reduce_mean(w, axis=red))
        return delta, w, loss_ta.stack(), w_ta.stack()

    delta, w, losses, w_hist = run(delta0, w0)
    return MinMaxResult(delta.numpy(), w.numpy(), losses.numpy(), w_hist.numpy())


# ----------------------------------------------------------------------------------------------
# attacks


def _prepare(x, lo, hi, owner):
    x = np.asarray(x, np.float32)
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"{owner}: `x` must be a non-empty batch, got shape {x.shape}")
    lo, hi = float(lo), float(hi)
    if not lo < hi:
        raise ValueError(f"{owner}: need lo < hi, got lo={lo}, hi={hi}")
    if x.min() < lo - 1e-6 or x.max() > hi + 1e-6:
        raise ValueError(f"{owner}: `x` must lie in the input box [{lo}, {hi}], got [{x.min()}, {x.max()}]")
    return np.clip(x, lo, hi), lo, hi


def _check_models(models, owner):
    if isinstance(models, keras.Model):
        models = [models]
    models = list(models)
    if not models:
        raise ValueError(f"{owner}: need at least one model (K = 0)")
    shapes = set()
    for m in models:
        if not isinstance(m, keras.Model):
            raise TypeError(f"{owner}: every model must be a keras.Model, got {type(m).__name__}")
        shapes.add(tuple(m.output_shape[1:]) if hasattr(m, "output_shape") else None)
    if len(shapes) > 1:
        raise ValueError(f"{owner}: the models must have the same output shape, got {sorted(map(str, shapes))}")
    return models


def _labels(model, x, y, batch_size=256):
    if y is not None:
        return np.asarray(y).reshape(-1).astype(np.int32)
    return np.argmax(model.predict(x, batch_size=batch_size, verbose=0), axis=-1).astype(np.int32)


def _predict(model, x):
    return np.argmax(np.asarray(model(tf.convert_to_tensor(x), training=False)), axis=-1)


def ensemble_attack(models, x, y=None, *, eps, norm="linf", method="apgda", loss="cw", steps=50, lr=None,
                    beta=50.0, gamma=3.0, kappa=50.0, lo=0.0, hi=1.0, from_logits=True, seed=0,
                    init_std=None):
    """One perturbation per example against ``K`` models at once (APGDA over the models).

    Args:
      models: ``K >= 1`` Keras classifiers with the same output shape (e.g. a dense model and its
        pruned and quantized versions).
      x: inputs in ``[lo, hi]``; y: integer labels (default: the first model's predictions).
      method: ``"apgda"`` (learned model weights), ``"avg"`` (uniform averaging of the losses),
        or an integer ``i`` (attack model ``i`` alone).
      loss: ``"cw"`` (margin, ``kappa``) or ``"ce"``.
      init_std: std of the Gaussian start (default ``eps / 4`` for l_inf, 0 otherwise).

    Returns a :class:`MinMaxResult`; ``success[n, k]`` is True when model ``k`` misclassifies
    ``x_adv[n]``, ``success_rate`` counts examples fooling all models at once.
    """
    owner = "ensemble_attack"
    models = _check_models(models, owner)
    if loss not in LOSSES:
        raise ValueError(f"{owner}: unknown `loss` {loss!r}; allowed: {', '.join(LOSSES)}")
    _check_norm(norm, owner)
    _check_pos(eps, "eps", owner)
    x, lo, hi = _prepare(x, lo, hi, owner)
    y = _labels(models[0], x, y)
    K = len(models)
    xt, yt = tf.constant(x), tf.constant(y)

    def loss_fn(delta):
        xa = xt + delta
        return tf.stack([attack_loss(m(xa, training=False), yt, loss, kappa, from_logits) for m in models], axis=-1)

    std = (eps / 4 if norm == "linf" else 0.0) if init_std is None else init_std
    delta0 = np.random.default_rng(seed).normal(0.0, 1.0, x.shape).astype(np.float32) * std
    r = apgda(loss_fn, delta0, K, eps=eps, norm=norm, lower=lo - x, upper=hi - x, steps=steps, lr=lr,
              beta=beta, gamma=gamma, method=method)
    r.x_adv = np.clip(x + r.delta, lo, hi)
    r.success = np.stack([_predict(m, r.x_adv) != y for m in models], axis=-1)
    r.names = [m.name for m in models]
    return r


def universal_perturbation(model, x, y=None, *, eps, norm="linf", method="apgda", loss="cw", steps=100,
                           lr=None, beta=50.0, gamma=4.0, kappa=50.0, lo=0.0, hi=1.0, from_logits=True,
                           box="clip"):
    """One perturbation shared by the ``K`` images ``x`` (the domains).

    ``delta`` has shape ``(1,) + x.shape[1:]``; apply it to unseen images with
    :func:`apply_perturbation`. ``box`` says how the input box ``[lo, hi]`` constrains it:

    - ``"clip"`` (default): ``delta`` lies in the ball (and within ``hi - lo`` per coordinate), and
      each image sees ``clip(x_i + delta, lo, hi)``, during the attack as when the perturbation is
      applied later. This is the usual convention for universal perturbations.
    - ``"intersect"``: ``delta`` lies in the ball intersected with every image's box,
      ``[max_i(lo - x_i), min_i(hi - x_i)]``, so ``x_i + delta`` needs no clipping. On images with
      saturated pixels (digits, MNIST) this freezes every pixel that is ``lo`` in one image and
      ``hi`` in another, and the attack is far weaker.
    """
    owner = "universal_perturbation"
    if not isinstance(model, keras.Model):
        raise TypeError(f"{owner}: `model` must be a keras.Model, got {type(model).__name__}")
    if loss not in LOSSES:
        raise ValueError(f"{owner}: unknown `loss` {loss!r}; allowed: {', '.join(LOSSES)}")
    _check_norm(norm, owner)
    _check_pos(eps, "eps", owner)
    x, lo, hi = _prepare(x, lo, hi, owner)
    y = _labels(model, x, y)
    K = x.shape[0]
    xt, yt = tf.constant(x), tf.constant(y)

    if box not in ("clip", "intersect"):
        raise ValueError(f"{owner}: unknown `box` {box!r}; allowed: 'clip', 'intersect'")
    clip = box == "clip"

    def loss_fn(delta):
        xa = tf.clip_by_value(xt + delta, lo, hi) if clip else xt + delta
        return attack_loss(model(xa, training=False), yt, loss, kappa, from_logits)[None, :]

    if clip:
        upper = np.full((1,) + x.shape[1:], hi - lo, np.float32)
        lower = -upper
    else:
        lower = (lo - x).max(axis=0, keepdims=True)
        upper = (hi - x).min(axis=0, keepdims=True)
    r = apgda(loss_fn, np.zeros((1,) + x.shape[1:], np.float32), K, eps=eps, norm=norm, lower=lower, upper=upper,
              steps=steps, lr=lr, beta=beta, gamma=gamma, method=method, weight_shape=(1,))
    r.x_adv = np.clip(x + r.delta, lo, hi)
    r.success = (_predict(model, r.x_adv) != y)[None, :]
    r.names = [f"image_{i}" for i in range(K)]
    return r


def apply_perturbation(model, x, y, delta, lo=0.0, hi=1.0):
    """Fraction of ``x`` misclassified by ``model`` after adding ``delta`` (clipped to ``[lo, hi]``)."""
    xa = np.clip(np.asarray(x, np.float32) + np.asarray(delta, np.float32), lo, hi)
    return float(np.mean(_predict(model, xa) != np.asarray(y).reshape(-1)))


# transformations: differentiable maps of a batch of NHWC images


def flip_lr():
    return ("flip_lr", lambda x: tf.reverse(x, axis=[2]))


def flip_ud():
    return ("flip_ud", lambda x: tf.reverse(x, axis=[1]))


def shift(dy, dx):
    """Shift by whole pixels with zero fill."""
    def fn(x):
        h, w = x.shape[1], x.shape[2]
        p = tf.pad(x, [[0, 0], [abs(dy), abs(dy)], [abs(dx), abs(dx)], [0, 0]])
        return p[:, abs(dy) - dy:abs(dy) - dy + h, abs(dx) - dx:abs(dx) - dx + w, :]
    return (f"shift({dy},{dx})", fn)


def rotate(degrees):
    """Rotation about the image center by a small angle (bilinear, zero fill)."""
    a = math.radians(degrees)

    def fn(x):
        h, w = float(x.shape[1]), float(x.shape[2])
        cy, cx = (h - 1) / 2, (w - 1) / 2
        c, s = math.cos(a), math.sin(a)
        # output (X, Y) <- input (c X - s Y + ..., s X + c Y + ...)
        t = [c, -s, cx - c * cx + s * cy, s, c, cy - s * cx - c * cy, 0.0, 0.0]
        n = tf.shape(x)[0]
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=x, transforms=tf.tile(tf.constant([t], tf.float32), [n, 1]),
            output_shape=tf.shape(x)[1:3], fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT")
    return (f"rotate({degrees:g})", fn)


def brightness(delta, lo=0.0, hi=1.0):
    return (f"brightness({delta:+g})", lambda x: tf.clip_by_value(x + delta, lo, hi))


def identity():
    return ("identity", lambda x: x)


def default_transforms():
    """The transformation domains of the robust attack: identity, flip, shifts, small rotations, brightness."""
    return [identity(), flip_lr(), shift(1, 0), shift(0, -1), rotate(10), rotate(-10), brightness(0.1),
            brightness(-0.1)]


def transformation_attack(model, x, y=None, transforms=None, *, eps, norm="linf", method="apgda", loss="cw",
                          steps=50, lr=None, beta=1e3, gamma=10.0, kappa=50.0, lam=0.5, lo=0.0, hi=1.0,
                          from_logits=True):
    """One perturbation per image that fools the model under all ``K`` transformations.

    ``f_i = loss(t_i(x + delta)) + lam/2 ||t_i(x + delta) - t_i(x)||_2``. ``transforms`` is a list
    of ``(name, fn)`` (see :func:`default_transforms`, :func:`rotate`, :func:`shift`, ...);
    images are NHWC.
    """
    owner = "transformation_attack"
    if not isinstance(model, keras.Model):
        raise TypeError(f"{owner}: `model` must be a keras.Model, got {type(model).__name__}")
    transforms = default_transforms() if transforms is None else list(transforms)
    if not transforms:
        raise ValueError(f"{owner}: need at least one transformation (K = 0)")
    if loss not in LOSSES:
        raise ValueError(f"{owner}: unknown `loss` {loss!r}; allowed: {', '.join(LOSSES)}")
    _check_norm(norm, owner)
    _check_pos(eps, "eps", owner)
    x, lo, hi = _prepare(x, lo, hi, owner)
    if x.ndim != 4:
        raise ValueError(f"{owner}: images must be NHWC, got shape {x.shape}")
    y = _labels(model, x, y)
    xt, yt = tf.constant(x), tf.constant(y)
    fns = [fn for _, fn in transforms]

    def loss_fn(delta):
        xa = xt + delta
        out = []
        for fn in fns:
            ta = fn(xa)
            dist = tf.sqrt(tf.reduce_sum(tf.square(_flat(ta - fn(xt))), axis=1) + 1e-12)
            out.append(attack_loss(model(ta, training=False), yt, loss, kappa, from_logits) + 0.5 * lam * dist)
        return tf.stack(out, axis=-1)

    r = apgda(loss_fn, np.zeros_like(x), len(fns), eps=eps, norm=norm, lower=lo - x, upper=hi - x, steps=steps,
              lr=lr, beta=beta, gamma=gamma, method=method)
    r.x_adv = np.clip(x + r.delta, lo, hi)
    r.success = np.stack([_predict(model, np.asarray(fn(tf.constant(r.x_adv)))) != y for fn in fns], axis=-1)
    r.names = [name for name, _ in transforms]
    return r


# ----------------------------------------------------------------------------------------------
# generalized adversarial training


@keras.saving.register_keras_serializable(package="tf_sparse")
class Threat:
    """A threat model: an ``norm`` ball of radius ``eps`` in the box ``[lo, hi]``, attacked by
    ``steps`` PGD steps of size ``lr`` (default ``2.5 * eps / steps``) on the cross-entropy."""

    def __init__(self, norm, eps, steps=10, lr=None, lo=0.0, hi=1.0):
        self.norm = _check_norm(norm, "Threat")
        self.eps = _check_pos(eps, "eps", "Threat")
        self.steps = _check_int(steps, "steps", "Threat", 1)
        self.lr = _default_lr(norm, self.eps, self.steps, lo, hi) if lr is None else _check_pos(lr, "lr", "Threat")
        self.lo, self.hi = float(lo), float(hi)
        if not self.lo < self.hi:
            raise ValueError(f"Threat: need lo < hi, got lo={lo}, hi={hi}")

    @property
    def name(self):
        return f"{self.norm}({self.eps:g})"

    def get_config(self):
        return dict(norm=self.norm, eps=self.eps, steps=self.steps, lr=self.lr, lo=self.lo, hi=self.hi)

    def __repr__(self):
        return f"Threat({self.norm!r}, {self.eps:g}, steps={self.steps})"


def pgd(model, x, y, threat, loss_fn, seed=None):
    """PGD ascent on ``loss_fn(y, model(x + delta))`` inside ``threat`` (TensorFlow ops, traceable)."""
    x = tf.convert_to_tensor(x, tf.float32)
    lower, upper = threat.lo - x, threat.hi - x
    if threat.norm == "linf":
        delta = tf.random.uniform(tf.shape(x), -threat.eps, threat.eps, seed=seed)
        delta = project_ball_box(delta, threat.eps, "linf", lower, upper)
    else:
        delta = tf.zeros_like(x)
    for _ in range(threat.steps):
        with tf.GradientTape() as tape:
            tape.watch(delta)
            loss = loss_fn(y, model(x + delta, training=False))
        g = tape.gradient(loss, delta)
        delta = project_ball_box(delta + threat.lr * _direction(g, threat.norm), threat.eps, threat.norm, lower, upper)
    return tf.stop_gradient(x + delta)


@keras.saving.register_keras_serializable(package="tf_sparse")
class AdversarialTrainer(keras.Model):
    """Generalized adversarial training over several threat models, a drop-in for ``model.fit``.

    Each batch: PGD finds an adversarial example per threat (``X_i``), the domain weights take
    a projected ascent step on the per-threat losses (``strategy="apgda"``, AMPGD), and the
    optimizer takes a step on the ``w``-weighted loss (plus the model's own losses, e.g. the
    ADMM term of ``tfs.sparsify`` layers, so ``callbacks=[tfs.ADMM(...)]`` gives a robust and
    sparse model). Baselines: ``"avg"`` (uniform weights) and ``"max"`` (all weight on the
    worst threat of the batch). ``clean_weight`` mixes in the clean loss.

    ``trainer.domain_weights`` (numpy) is the current ``w``; ``trainer.weight_history`` one row
    per epoch, also logged as ``w/<threat>``. The wrapped model is ``trainer.model``; save either
    (``trainer.save("t.keras")`` keeps ``w`` for resuming).

    Args:
      model: the Keras classifier (possibly from ``tfs.sparsify``).
      threats: list of :class:`Threat` (K >= 1).
      strategy: ``"apgda"``, ``"avg"`` or ``"max"``.
      beta, gamma: the w ascent step ``1 / beta`` and the pull to uniform ``gamma``.
    """

    def __init__(self, model, threats, strategy="apgda", beta=10.0, gamma=1.0, clean_weight=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(model, dict):
            model = keras.saving.deserialize_keras_object(model)
        if not isinstance(model, keras.Model):
            raise TypeError(f"AdversarialTrainer: `model` must be a keras.Model, got {type(model).__name__}")
        threats = [Threat(**t) if isinstance(t, dict) else t for t in threats]
        if not threats:
            raise ValueError("AdversarialTrainer: need at least one threat (K = 0)")
        for t in threats:
            if not isinstance(t, Threat):
                raise TypeError(f"AdversarialTrainer: threats must be tfs.Threat objects, got {type(t).__name__}")
        if strategy not in ("apgda", "avg", "max"):
            raise ValueError(f"AdversarialTrainer: unknown `strategy` {strategy!r}; allowed: 'apgda', 'avg', 'max'")
        self.model = model
        self.threats = threats
        self.strategy = strategy
        self.beta = _check_pos(beta, "beta", "AdversarialTrainer")
        self.gamma = _check_pos(gamma, "gamma", "AdversarialTrainer", allow_inf=True, allow_zero=True)
        self.clean_weight = _check_pos(clean_weight, "clean_weight", "AdversarialTrainer", allow_zero=True)
        if strategy == "apgda" and not math.isinf(self.gamma) and self.gamma >= 2.0 * self.beta:
            raise ValueError(f"AdversarialTrainer: `gamma` ({self.gamma}) must be below 2 * `beta` ({self.beta}); "
                             "the weight ascent oscillates otherwise (raise beta, the inverse step on w, with gamma)")
        K = len(threats)
        self.w = self.add_weight(name="domain_weights", shape=(K,), initializer=keras.initializers.Constant(1.0 / K),
                                 trainable=False)
        self.weight_history = []
        if model.built:
            self.built = True  # saved files then carry (and restore) the optimizer state

    @property
    def threat_names(self):
        return [t.name for t in self.threats]

    @property
    def domain_weights(self):
        return np.asarray(self.w.numpy())

    def call(self, x, training=False):
        return self.model(x, training=training)

    def build(self, input_shape):
        if not self.model.built:
            self.model.build(input_shape)
        self.built = True

    def fit(self, *args, callbacks=None, **kwargs):
        callbacks = list(callbacks or [])
        if not any(isinstance(c, DomainWeightLogger) for c in callbacks):
            callbacks.append(DomainWeightLogger())
        return super().fit(*args, callbacks=callbacks, **kwargs)

    def train_step(self, data):
        x, y = data[0], data[1]
        K = len(self.threats)

        advs = [pgd(self.model, x, y, t, self._raw_loss) for t in self.threats]
        with tf.GradientTape() as tape:
            preds = [self.model(a, training=True) for a in advs]
            per = tf.stack([self._raw_loss(y, p) for p in preds])
            if self.strategy == "apgda":
                g = 0.0 if math.isinf(self.gamma) else self.gamma
                w = project_simplex(self.w + (tf.stop_gradient(per) - g * (self.w - 1.0 / K)) / self.beta)
                if math.isinf(self.gamma):
                    w = tf.fill([K], 1.0 / K)
            elif self.strategy == "avg":
                w = tf.fill([K], 1.0 / K)
            else:
                w = tf.one_hot(tf.argmax(per), K)
            loss = tf.reduce_sum(w * per)
            if self.clean_weight:
                clean = self.model(x, training=True)
                loss = loss + self.clean_weight * self._raw_loss(y, clean)
            extra = self.model.losses
            if extra:
                loss = loss + tf.add_n(extra)
            scaled = self.optimizer.scale_loss(loss) if hasattr(self.optimizer, "scale_loss") else loss
        variables = self.model.trainable_variables
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        self.w.assign(w)
        logs = {"loss": loss}
        for i, t in enumerate(self.threats):
            logs[f"loss/{t.name}"] = per[i]
        self.compiled_metrics_update(y, preds)
        for m in self.metrics:
            if m.name != "loss":
                r = m.result()
                if isinstance(r, dict):
                    logs.update(r)
                else:
                    logs[m.name] = r
        return logs

    def compiled_metrics_update(self, y, preds):
        if self._compile_metrics is not None:
            self._compile_metrics.update_state(y, preds[0])

    def _raw_loss(self, y, pred):
        loss = self.loss
        if loss is None:
            raise ValueError("AdversarialTrainer: compile with a `loss` (e.g. 'sparse_categorical_crossentropy')")
        fn = keras.losses.get(loss) if isinstance(loss, (str, dict)) else loss
        return tf.reduce_mean(fn(y, pred))

    def get_config(self):
        return dict(model=keras.saving.serialize_keras_object(self.model),
                    threats=[t.get_config() for t in self.threats], strategy=self.strategy, beta=self.beta,
                    gamma=self.gamma, clean_weight=self.clean_weight, name=self.name)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class DomainWeightLogger(keras.callbacks.Callback):
    """Appends the trainer's domain weights to ``trainer.weight_history`` and ``logs`` each epoch."""

    def on_epoch_end(self, epoch, logs=None):
        m = self.model
        if not isinstance(m, AdversarialTrainer):
            return
        w = m.domain_weights
        m.weight_history.append(w.copy())
        if logs is not None:
            for name, v in zip(m.threat_names, w):
                logs[f"w/{name}"] = float(v)


def robust_accuracy(model, x, y, threat, batch_size=256, loss="sparse_categorical_crossentropy", from_logits=False):
    """Accuracy under PGD in ``threat`` (cross-entropy ascent)."""
    lossf = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits) if isinstance(loss, str) else loss
    y = np.asarray(y).reshape(-1)
    fn = tf.function(lambda xb, yb: pgd(model, xb, yb, threat, lossf), reduce_retracing=True)
    correct = 0
    for s in range(0, len(x), batch_size):
        xa = fn(tf.constant(x[s:s + batch_size], tf.float32), tf.constant(y[s:s + batch_size]))
        correct += int(np.sum(_predict(model, xa) == y[s:s + batch_size]))
    return correct / len(x)


def plot_domain_weights(weights, names, path, title="learned domain weights"):
    """Writes a PNG of domain weights: ``weights`` is ``(K,)`` (bars) or ``(T, K)`` (lines over T)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w = np.asarray(weights, dtype=float)
    if w.shape[-1] != len(names):
        raise ValueError(f"plot_domain_weights: {w.shape[-1]} weights but {len(names)} names")
    fig, ax = plt.subplots(figsize=(5, 3.2))
    if w.ndim == 1:
        ax.bar(range(len(names)), w)
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    else:
        for k, n in enumerate(names):
            ax.plot(w[:, k], label=n)
        ax.set_xlabel("iteration / epoch")
        ax.legend(fontsize=7)
    ax.set_ylabel("w")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
