"""ADMM pruning as a Keras callback, and the progressive (multi-step) driver."""

from __future__ import annotations

import math
import numbers
import warnings

import keras
import numpy as np


def _check_positive(value, name, owner, allow_zero=False):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{owner}: `{name}` must be a finite number {bound}, got {value!r}")
    return float(value)


def _check_int(value, name, owner, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{owner}: `{name}` must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _target_layers(model, owner, quantize=False):
    """Sparse layers with an open constraint: an unhardened mask, or (with ``quantize``) a
    quantizer whose grid is not hardened yet."""
    from tf_sparse.layers.surgery import sparse_layers  # layers import the schedules

    layers = [
        layer for layer in sparse_layers(model)
        if not layer.hardened or (quantize and layer.quantizer is not None and not layer.quant_hardened)
    ]
    if not layers:
        raise ValueError(
            f"{owner}: the model has no unhardened tf_sparse layers"
            + (" (nor layers with an unhardened quantizer)" if quantize else "")
            + "; use tfs.sparsify(model, ...) or tfs.quantize(model, ...) first"
        )
    return layers


def _scope(model):
    """The model's distribution scope, so state added during training is mirrored like the rest."""
    import contextlib

    strategy = getattr(model, "distribute_strategy", None)
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def _retrace(model):
    # Penalties are added inside the layers' call; functions traced before they were switched on
    # would not contain them.
    model.make_train_function(force=True)
    model.make_test_function(force=True)
    model.make_predict_function(force=True)


class ADMM(keras.callbacks.Callback):
    """ADMM pruning (Zhang et al. 2018): ``model.fit`` runs the W-step, the callback the Z/U steps.

    For every unhardened sparse layer with structure ``S`` (one or several constraint sets):

    * W-step: the layer adds ``rho / 2 * sum_i ||W - Z_i + U_i||_F^2`` to the loss, so plain
      ``model.fit`` minimizes ``f(W)`` plus the ADMM term;
    * every ``update_every`` epochs (or steps): ``Z_i = project_i(W + U_i)``, ``U_i += W - Z_i``,
      then rho changes (see below).

    At the start of training, ``Z_i = project_i(W)`` and ``U_i = 0`` (unless the layer already
    carries ADMM state with ``rho > 0``, i.e. training resumes from a checkpoint or ``.keras``
    file). After the ADMM phase call ``tfs.harden(model)`` and retrain with the masks fixed.

    rho, per layer. By default (``rho_factor=None``) it follows the residuals. After each
    update, with the primal residual ``r = sum_i ||W - Z_i||_F`` and the dual residual
    ``s = rho * sum_i ||Z_i - Z_i_prev||_F``:

    * residual balancing (Boyd et al. 2011, section 3.4.1, with Wohlberg's 2017 adaptive
      factor): when ``r > balance * s``, rho grows by ``sqrt(r / (balance * s))``, at most
      ``rho_growth_max``; when ``s > balance * r`` it is divided by ``rho_growth``;
    * and, as in progressive ADMM pruning, where ``W`` must reach its structure by the end of
      the phase: when ``r`` did not at least halve since the previous update, rho grows by at
      least ``rho_growth``;
    * rho does not grow once ``r <= tol * ||W||`` (Boyd's stopping criterion, relative
      tolerance ``tol``): W is then close enough to its structure for ``harden``.

    The scaled duals ``U_i`` are rescaled by ``rho_old / rho_new`` so that the ADMM term keeps
    its dual part. rho stops at ``rho_max``. A number ``rho_factor`` instead multiplies rho by
    that factor after each update (1 = constant rho; co_lib's schedule uses 2, the
    quantization papers 1.5), ``U`` unscaled, as in the reference code.

    Learning rate: with Adam the W-step moves a weight by at most about the learning rate per
    step, so the phase must be long enough for the pruned weights to travel to zero: on the
    digits CNN (45 steps per epoch), 10 epochs at 1e-2 bring W to its structure and at 1e-3 not
    yet, which the end-of-training warning reports (``benchmarks/admm_first_try.py``).

    The primal residual should fall. When it grows at ``patience`` updates in a row in some
    layers, a ``RuntimeWarning`` names them: the W-step moves ``W`` away from its structure
    faster than the ADMM term pulls it back (learning rate too high for this rho, or rho too
    low). At the end of training a warning names the layers whose ``W`` is still far from their
    structure (``||W - Z|| > far * ||W||``): ``harden`` would change them a lot and cost accuracy.

    Logs at each epoch's end, per layer: ``admm_residual/<layer>`` (primal residual,
    ``||W - Z||_F``), ``admm_dual_residual/<layer>`` (at the last update) and
    ``admm_rho/<layer>``.

    Args:
      rho: initial penalty (co_lib uses 1e-3).
      update_every: Z/U update period.
      update_unit: ``"epoch"`` or ``"step"``.
      rho_factor: ``None`` (default): rho driven by the residuals as above; a number: fixed
        multiplier of rho after each update (1 = constant).
      rho_max: upper bound on rho (default: ``1e4 * rho`` with the automatic schedule, none
        with a fixed factor).
      rho_growth: least growth of the automatic schedule when the residual does not halve, and
        its decrease factor (> 1, default 2).
      rho_growth_max: largest growth per update of the automatic schedule (>= rho_growth,
        default 10).
      balance: ratio of the residuals that moves rho in the automatic schedule (> 1; Boyd's mu,
        default 10).
      sparsity: overrides every layer's structure target (used by the progressive driver).
      quantize: include the quantizers' grids (default True).
      verbose: 1 prints the residuals and rho of every layer at each update.
      warn: warn about growing residuals and about ``W`` far from its structure (default True).
      patience: consecutive growing updates before the growth warning (default 3).
      far: relative residual above which the end-of-training warning names a layer (default 0.1).
      tol: relative primal residual (``||W - Z|| / ||W||``) at which the automatic schedule stops
        raising rho: ``W`` is then close enough to its structure (Boyd's relative tolerance,
        default 0.02).

    Example:
      >>> sparse.compile(keras.optimizers.Adam(1e-2), loss)
      >>> sparse.fit(x, y, epochs=10, callbacks=[tfs.ADMM()])
      >>> tfs.harden(sparse)
      >>> sparse.fit(x, y, epochs=5)
    """

    def __init__(self, rho=1e-3, update_every=1, update_unit="epoch", rho_factor=None, rho_max=None,
                 sparsity=None, verbose=0, quantize=True, rho_growth=2.0, rho_growth_max=10.0, balance=10.0,
                 warn=True, patience=3, far=0.1, tol=0.02):
        super().__init__()
        if not isinstance(quantize, bool):
            raise TypeError(f"ADMM: `quantize` must be True or False, got {quantize!r}")
        if not isinstance(warn, bool):
            raise TypeError(f"ADMM: `warn` must be True or False, got {warn!r}")
        self.quantize = quantize
        self.warn = warn
        self.rho = _check_positive(rho, "rho", "ADMM")
        if isinstance(update_every, bool) or not isinstance(update_every, numbers.Integral) or update_every < 1:
            raise ValueError(f"ADMM: `update_every` must be an integer >= 1, got {update_every!r}")
        self.update_every = int(update_every)
        if update_unit not in ("epoch", "step"):
            raise ValueError(f"ADMM: `update_unit` must be 'epoch' or 'step', got {update_unit!r}")
        self.update_unit = update_unit
        self.rho_factor = None if rho_factor is None else _check_positive(rho_factor, "rho_factor", "ADMM")
        self.rho_growth = _check_positive(rho_growth, "rho_growth", "ADMM")
        self.balance = _check_positive(balance, "balance", "ADMM")
        self.rho_growth_max = _check_positive(rho_growth_max, "rho_growth_max", "ADMM")
        for name, value in (("rho_growth", self.rho_growth), ("balance", self.balance)):
            if value <= 1:
                raise ValueError(f"ADMM: `{name}` must be > 1, got {value!r}")
        if self.rho_growth_max < self.rho_growth:
            raise ValueError(f"ADMM: `rho_growth_max` ({rho_growth_max!r}) must be >= `rho_growth` ({rho_growth!r})")
        self.patience = _check_int(patience, "patience", "ADMM", 1)
        self.far = _check_positive(far, "far", "ADMM")
        self.tol = _check_positive(tol, "tol", "ADMM")
        self.rho_max = None if rho_max is None else _check_positive(rho_max, "rho_max", "ADMM")
        if self.rho_max is not None and self.rho_max < self.rho:
            raise ValueError(f"ADMM: `rho_max` ({rho_max!r}) must be >= `rho` ({rho!r})")
        if self.rho_max is None and self.rho_factor is None:
            self.rho_max = 1e4 * self.rho
        if sparsity is not None:
            from tf_sparse.structures.base import check_sparsity

            sparsity = check_sparsity(sparsity, owner="ADMM")
        self.sparsity = sparsity
        self.verbose = verbose
        self._layers = []
        self._step = 0
        self._last = {}
        self._first = {}
        self._growing = {}
        self._run_start = {}
        self._warned = set()
        self.history = []

    @property
    def automatic(self) -> bool:
        """Whether rho follows the residuals (``rho_factor=None``)."""
        return self.rho_factor is None

    def on_train_begin(self, logs=None):
        self._layers = _target_layers(self.model, "ADMM", self.quantize)
        for layer in self._layers:
            resuming = layer.admm_enabled and float(layer.admm_rho.numpy()) > 0
            with _scope(self.model):
                layer.enable_admm()
            layer.admm_configure(self.quantize)
            if not resuming:
                layer.admm_reset(self.sparsity)
                layer.admm_rho.assign(self.rho)
        self._step = 0
        self._last = {layer.sparse_name: (layer.admm_residual(), 0.0) for layer in self._layers}
        self._first = {name: value[0] for name, value in self._last.items()}
        self._growing = {}
        self._run_start = {}
        self._warned = set()
        _retrace(self.model)

    def _next_rho(self, rho, primal, dual, previous, norm=None):
        """rho after an update with residuals ``primal`` and ``dual`` (``previous``: the primal
        residual at the update before; ``norm``: ``||W||`` times the number of constraint sets)."""
        if self.rho_factor is not None:
            rho = rho * self.rho_factor
        else:
            factor = 1.0
            converged = norm is not None and primal <= self.tol * norm
            if converged:
                pass
            elif primal > self.balance * dual:
                factor = min(self.rho_growth_max, math.sqrt(primal / (self.balance * max(dual, 1e-30))))
            if not converged and previous is not None and primal > 0.5 * previous:
                factor = max(factor, self.rho_growth)
            if factor > 1.0:
                rho = rho * factor
            elif dual > self.balance * primal:
                rho = rho / self.rho_growth
        if self.rho_max is not None:
            rho = min(rho, self.rho_max)
        return rho

    def _update(self):
        record = {}
        for layer in self._layers:
            name = layer.sparse_name
            before = self._last.get(name, (None, 0.0))[0]
            primal, dual = layer.admm_update(self.sparsity)
            old = float(layer.admm_rho.numpy())
            norm = float(np.linalg.norm(layer.kernel_numpy())) * max(1, len(layer._admm_active()))
            rho = self._next_rho(old, primal, dual, before, norm)
            if self.automatic and rho != old:
                # Scaled form: U = y / rho, so the dual y is kept when rho changes.
                for i in layer._admm_active():
                    layer.admm_u[i].assign(layer.admm_u[i].numpy() * (old / rho))
            layer.admm_rho.assign(rho)
            record[name] = (primal, dual, rho)
            self._last[name] = (primal, dual)
            grew = before is not None and primal > before * 1.01 + 1e-12
            if grew and not self._growing.get(name):
                self._run_start[name] = before
            self._growing[name] = self._growing.get(name, 0) + 1 if grew else 0
        self.history.append(record)
        if self.verbose:
            print("ADMM update: " + ", ".join(f"{k}: |W-Z|={v[0]:.4g} dual={v[1]:.3g} rho={v[2]:.3g}"
                                              for k, v in record.items()))
        self._warn_growing()

    def _warn_growing(self):
        if not self.warn:
            return
        grown = [name for name, n in self._growing.items() if n >= self.patience and name not in self._warned]
        if not grown:
            return
        self._warned.update(grown)
        lr = _learning_rate(self.model)
        rho_now = {layer.sparse_name: float(layer.admm_rho.numpy()) for layer in self._layers}
        listed = ", ".join(f"{name} (||W - Z|| {self._run_start[name]:.3g} -> {self._last[name][0]:.3g}, "
                           f"rho {rho_now[name]:.3g})" for name in grown)
        fix = ("lower the learning rate" + (f" (now {lr:.3g})" if lr is not None else "")
               + (" or let rho follow the residuals (tfs.ADMM(rho_factor=None))" if not self.automatic
                  else " or start from a larger rho (tfs.ADMM(rho=...))"))
        warnings.warn(
            f"ADMM: the primal residual ||W - Z|| grew at {self.patience} updates in a row in {listed}: "
            f"the W-step moves the weights away from their structure faster than the ADMM term pulls them "
            f"back, and tfs.harden would cost accuracy; {fix}",
            RuntimeWarning, stacklevel=2)

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self.update_unit == "step" and self._step % self.update_every == 0:
            self._update()

    def on_epoch_end(self, epoch, logs=None):
        if self.update_unit == "epoch" and (epoch + 1) % self.update_every == 0:
            self._update()
        if logs is not None:
            for layer in self._layers:
                name = layer.sparse_name
                logs[f"admm_residual/{name}"] = layer.admm_residual()
                logs[f"admm_dual_residual/{name}"] = self._last.get(name, (0.0, 0.0))[1]
                logs[f"admm_rho/{name}"] = float(layer.admm_rho.numpy())

    def on_train_end(self, logs=None):
        if not self.warn:
            return
        far, falling = [], True
        for layer in self._layers:
            if not layer._admm_active():
                continue
            w = float(np.linalg.norm(layer.kernel_numpy()))
            r = layer.admm_residual()
            if w > 0 and r / len(layer._admm_active()) > self.far * w:
                far.append(f"{layer.sparse_name} ({r / len(layer._admm_active()) / w:.0%})")
                falling = falling and r < self._first.get(layer.sparse_name, float("inf"))
        if not far:
            return
        lr = _learning_rate(self.model)
        lr = f" (now {lr:.3g})" if lr is not None else ""
        advice = (f"the residual fell but not enough: train the ADMM phase longer, or with a larger learning "
                  f"rate{lr} (with Adam a weight moves by about the learning rate per step)" if falling else
                  f"the residual grew during training: lower the learning rate{lr} or raise rho")
        warnings.warn(
            "ADMM: at the end of training W is still far from its structure (||W - Z|| / ||W||) in "
            + ", ".join(far) + f"; tfs.harden will change these layers a lot and cost accuracy; {advice}",
            RuntimeWarning, stacklevel=2)


def _learning_rate(model):
    """The optimizer's current learning rate as a float, or None when it cannot be read."""
    try:
        lr = model.optimizer.learning_rate
        if callable(lr) and not hasattr(lr, "numpy"):
            lr = lr(model.optimizer.iterations)
        return float(np.asarray(keras.ops.convert_to_numpy(lr)))
    except Exception:  # noqa: BLE001 - a schedule or optimizer we cannot read: leave it out
        return None


def progressive_admm(model, x, y=None, *, targets, admm_epochs, retrain_epochs, rho=1e-3, rho_factor=None,
                     update_every=1, batch_size=None, validation_data=None, callbacks=None, verbose=0,
                     quantizers=None):
    """Progressive (multi-step) ADMM: reaches an extreme target through increasing ones.

    Each step runs ADMM towards ``targets[k]`` for ``admm_epochs``, hardens the model at that
    target and retrains it with the masks fixed for ``retrain_epochs``; the next step starts
    from this model (warm start) with fresh Z and U. Masks only shrink from step to step, so
    pruned weights stay pruned. The model must be compiled.

    Layers with a quantizer are then quantized on their final masks, also in steps: one step per
    entry of ``quantizers`` (each replaces the quantizer of every quantized layer, e.g.
    ``[tfs.Uniform(8), tfs.Uniform(4)]`` or ``[tfs.Ternary(), tfs.Binary()]``), or one step with
    the layers' own quantizers. Each quantization step is ADMM onto the grid, hard quantization
    and retraining on the levels (straight-through), warm-started from the step before.

    Args:
      model: a compiled model with sparse layers.
      x, y, batch_size, validation_data, callbacks, verbose: as ``model.fit``.
      targets: increasing sparsities, e.g. ``[0.5, 0.75, 0.9]``.
      admm_epochs, retrain_epochs: epochs of each phase per step.
      rho, rho_factor, update_every: as ``tfs.ADMM``.
      quantizers: optional list of quantizers, one per quantization step (see above).

    Returns:
      A list with one dict per step: target (a sparsity, or the quantizer's repr), achieved
      sparsity per layer, and the final logs of the ADMM and retraining phases.
    """
    from tf_sparse.quantization.quantizers import Quantizer

    from tf_sparse.layers.surgery import _check_model_type, harden, sparse_layers
    from tf_sparse.structures.base import check_sparsity

    owner = "progressive_admm"
    if not isinstance(targets, (list, tuple)):
        raise TypeError(f"{owner}: `targets` must be a list of increasing sparsities in [0, 1), got {targets!r}")
    targets = [check_sparsity(t, "targets", owner) for t in targets]
    if any(b <= a for a, b in zip(targets, targets[1:])):
        raise ValueError(f"progressive_admm: `targets` must be an increasing list, got {targets!r}")
    if quantizers is not None and (
        not isinstance(quantizers, (list, tuple)) or not quantizers
        or not all(isinstance(q, Quantizer) for q in quantizers)
    ):
        raise TypeError(
            f"{owner}: `quantizers` must be None or a non-empty list of tf_sparse quantizers "
            f"(e.g. [tfs.Uniform(8), tfs.Uniform(4)]), got {quantizers!r}"
        )
    admm_epochs = _check_int(admm_epochs, "admm_epochs", owner, 1)
    retrain_epochs = _check_int(retrain_epochs, "retrain_epochs", owner, 0)
    _check_model_type(model, owner)
    if not getattr(model, "compiled", True):
        raise ValueError(f"{owner}: model '{model.name}' is not compiled; call model.compile(...) first")
    if not sparse_layers(model):
        raise ValueError(f"{owner}: model '{model.name}' has no tf_sparse layers; use tfs.sparsify(model, ...) first")
    quantized = [layer for layer in sparse_layers(model) if layer.quantizer is not None]
    if quantizers is not None and not quantized:
        raise ValueError(f"{owner}: `quantizers` given but no layer has a quantizer; use tfs.sparsify(..., quantize=...)")
    if not targets and not quantized:
        raise ValueError(f"{owner}: `targets` is empty and no layer has a quantizer: nothing to do")
    ADMM(rho=rho, rho_factor=rho_factor, update_every=update_every)  # checks the ADMM arguments now
    if callbacks is not None and not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"{owner}: `callbacks` must be None or a list of Keras callbacks, got {callbacks!r}")
    callbacks = list(callbacks or [])
    results = []
    fit_kwargs = {"batch_size": batch_size, "validation_data": validation_data, "verbose": verbose}
    for target in targets:
        for layer in sparse_layers(model):
            layer.hardened = False
        admm = ADMM(rho=rho, rho_factor=rho_factor, update_every=update_every, sparsity=target, quantize=False)
        h1 = model.fit(x, y, epochs=admm_epochs, callbacks=callbacks + [admm], **fit_kwargs)
        achieved = harden(model, sparsity=target, quantize=False)
        _retrace(model)
        h2 = model.fit(x, y, epochs=retrain_epochs, callbacks=callbacks, **fit_kwargs) if retrain_epochs else None
        results.append({
            "target": target,
            "sparsity": achieved,
            "admm_logs": {k: v[-1] for k, v in h1.history.items()},
            "retrain_logs": {k: v[-1] for k, v in h2.history.items()} if h2 else {},
        })
    for quantizer in (quantizers or ([None] if quantized else [])):
        for layer in sparse_layers(model):
            if layer.quantizer is None:
                continue
            if quantizer is not None:
                layer.set_quantizer(quantizer)
            layer.quant_hardened = False
            layer.hardened = True  # masks stay as the pruning steps left them
        _retrace(model)
        admm = ADMM(rho=rho, rho_factor=rho_factor, update_every=update_every, quantize=True)
        h1 = model.fit(x, y, epochs=admm_epochs, callbacks=callbacks + [admm], **fit_kwargs)
        for layer in quantized:
            layer.harden_quantization()
        _retrace(model)
        h2 = model.fit(x, y, epochs=retrain_epochs, callbacks=callbacks, **fit_kwargs) if retrain_epochs else None
        results.append({
            "target": repr(quantizer) if quantizer is not None else "quantize",
            "sparsity": {layer.sparse_name: layer.sparsity() for layer in sparse_layers(model)},
            "admm_logs": {k: v[-1] for k, v in h1.history.items()},
            "retrain_logs": {k: v[-1] for k, v in h2.history.items()} if h2 else {},
        })
    return results
