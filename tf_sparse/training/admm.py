"""ADMM pruning as a Keras callback, and the progressive (multi-step) driver."""

from __future__ import annotations

import math
import numbers

import keras


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
      then ``rho *= rho_factor`` (capped at ``rho_max``).

    At the start of training, ``Z_i = project_i(W)`` and ``U_i = 0`` (unless the layer already
    carries ADMM state with ``rho > 0``, i.e. training resumes from a checkpoint or ``.keras``
    file). After the ADMM phase call ``tfs.harden(model)`` and retrain with the masks fixed.

    Quantization (layers with a quantizer, ``tfs.quantize`` / ``sparsify(..., quantize=)``) is
    a constraint set of the same machinery. While a layer's mask is open, each ``Z_i`` is the
    structure's projection with its kept weights then put on the grid (optimal scale): a point
    of both sets at once. Once the mask is hardened, the one constraint is the grid on the kept
    weights ("prune first, then quantize the survivors"). ``quantize=False`` leaves the grids
    out of this phase. The papers grow rho by 1.5x per update for quantization
    (``rho_factor=1.5``).

    Logs ``admm_residual/<layer>`` (primal residual ``||W - Z||_F``) at each epoch's end. Watch
    it: it should fall well below ``||W||`` before hardening. With Adam the W-step moves a weight
    by at most about the learning rate per step, so an ADMM phase at lr 1e-3 often ends with W far
    from Z (and hardening then costs accuracy); 1e-2 for the ADMM phase, as in the reference code,
    worked on digits (``benchmarks/accuracy_digits.py``).

    Args:
      rho: initial penalty (co_lib uses 1e-3).
      update_every: Z/U update period.
      update_unit: ``"epoch"`` or ``"step"``.
      rho_factor: multiplier of rho after each update (1 = constant; co_lib's schedule uses 2).
      rho_max: upper bound on rho.
      sparsity: overrides every layer's structure target (used by the progressive driver).
      quantize: include the quantizers' grids (default True).

    Example:
      >>> sparse.fit(x, y, epochs=10, callbacks=[tfs.ADMM(rho=1e-3)])
      >>> tfs.harden(sparse)
      >>> sparse.fit(x, y, epochs=5)
    """

    def __init__(self, rho=1e-3, update_every=1, update_unit="epoch", rho_factor=1.0, rho_max=None,
                 sparsity=None, verbose=0, quantize=True):
        super().__init__()
        if not isinstance(quantize, bool):
            raise TypeError(f"ADMM: `quantize` must be True or False, got {quantize!r}")
        self.quantize = quantize
        self.rho = _check_positive(rho, "rho", "ADMM")
        if isinstance(update_every, bool) or not isinstance(update_every, numbers.Integral) or update_every < 1:
            raise ValueError(f"ADMM: `update_every` must be an integer >= 1, got {update_every!r}")
        self.update_every = int(update_every)
        if update_unit not in ("epoch", "step"):
            raise ValueError(f"ADMM: `update_unit` must be 'epoch' or 'step', got {update_unit!r}")
        self.update_unit = update_unit
        self.rho_factor = _check_positive(rho_factor, "rho_factor", "ADMM")
        self.rho_max = None if rho_max is None else _check_positive(rho_max, "rho_max", "ADMM")
        if self.rho_max is not None and self.rho_max < self.rho:
            raise ValueError(f"ADMM: `rho_max` ({rho_max!r}) must be >= `rho` ({rho!r})")
        if sparsity is not None:
            from tf_sparse.structures.base import check_sparsity

            sparsity = check_sparsity(sparsity, owner="ADMM")
        self.sparsity = sparsity
        self.verbose = verbose
        self._layers = []
        self._step = 0
        self.history = []

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
        _retrace(self.model)

    def _update(self):
        record = {}
        for layer in self._layers:
            primal, dual = layer.admm_update(self.sparsity)
            rho = float(layer.admm_rho.numpy()) * self.rho_factor
            if self.rho_max is not None:
                rho = min(rho, self.rho_max)
            layer.admm_rho.assign(rho)
            record[layer.sparse_name] = (primal, dual, rho)
        self.history.append(record)
        if self.verbose:
            print("ADMM update: " + ", ".join(f"{k}: |W-Z|={v[0]:.4g} rho={v[2]:.3g}" for k, v in record.items()))

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self.update_unit == "step" and self._step % self.update_every == 0:
            self._update()

    def on_epoch_end(self, epoch, logs=None):
        if self.update_unit == "epoch" and (epoch + 1) % self.update_every == 0:
            self._update()
        if logs is not None:
            for layer in self._layers:
                logs[f"admm_residual/{layer.sparse_name}"] = layer.admm_residual()


def progressive_admm(model, x, y=None, *, targets, admm_epochs, retrain_epochs, rho=1e-3, rho_factor=1.0,
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
