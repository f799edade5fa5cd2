"""Group regularization callbacks: reweighted group lasso and dynamic regularization."""

from __future__ import annotations

import numbers

import keras
import numpy as np

from tf_sparse.structures.base import check_finite
from tf_sparse.training.admm import _check_positive, _retrace, _scope, _target_layers


def group_sq_norms(kernel: np.ndarray, group_ids: np.ndarray) -> np.ndarray:
    """``||W_g||_F^2`` for every group id (0 .. max id)."""
    ids = group_ids.ravel()
    return np.bincount(ids, weights=np.square(kernel.ravel().astype(np.float64)), minlength=int(ids.max()) + 1)


class _GroupRegularization(keras.callbacks.Callback):
    """Shared machinery: each layer adds ``lambda * sum_g alpha_g ||W_g||_F^2`` to its loss and
    the callback recomputes ``alpha`` every ``update_every`` epochs. Groups come from the layer's
    structure (``structure.group_ids``: blocks, filters, ...; single weights where it has none)."""

    name = "group regularization"

    def __init__(self, lam=1e-4, eps=1e-3, update_every=1, sparsity=None):
        super().__init__()
        owner = type(self).__name__
        self.lam = _check_positive(lam, "lam", owner)
        self.eps = _check_positive(eps, "eps", owner)
        if isinstance(update_every, bool) or not isinstance(update_every, numbers.Integral) or update_every < 1:
            raise ValueError(f"{owner}: `update_every` must be an integer >= 1, got {update_every!r}")
        self.update_every = int(update_every)
        if sparsity is not None:
            from tf_sparse.structures.base import check_sparsity

            sparsity = check_sparsity(sparsity, owner=owner)
        self.sparsity = sparsity
        self._layers = []
        self._ids = {}

    def on_train_begin(self, logs=None):
        self._layers = _target_layers(self.model, type(self).__name__)
        for layer in self._layers:
            with _scope(self.model):
                layer.enable_group_reg()
            self._ids[layer.sparse_name] = layer.group_ids()
            layer.group_lambda.assign(self.lam)
            self._reweight(layer)
        _retrace(self.model)

    def _alpha(self, layer, kernel, ids, norms):
        raise NotImplementedError

    def _reweight(self, layer):
        kernel = check_finite(layer.kernel_numpy(), f"{type(self).__name__}: {type(layer).__name__} '{layer.sparse_name}'")
        ids = self._ids[layer.sparse_name]
        norms = group_sq_norms(kernel, ids)
        alpha_g = self._alpha(layer, kernel, ids, norms)
        layer.group_alpha.assign(alpha_g[ids].astype(np.float32))

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.update_every == 0:
            for layer in self._layers:
                self._reweight(layer)
        if logs is not None:
            for layer in self._layers:
                logs[f"group_penalty/{layer.sparse_name}"] = float(keras.ops.convert_to_numpy(layer.group_penalty()))


class ReweightedGroupLasso(_GroupRegularization):
    """Reweighted group regularization (BLK-REW, BERT block pruning).

    Penalty ``lam * sum_g alpha_g ||W_g||_F^2`` with ``alpha_g = 1 / (||W_g||_F^2 + eps)``
    recomputed every ``update_every`` epochs: small groups are penalised more and driven to zero.
    Then ``tfs.harden(model)`` prunes to the structure's target and ``model.fit`` retrains with
    fixed masks.

    Example:
      >>> sparse.fit(x, y, epochs=10, callbacks=[tfs.ReweightedGroupLasso(lam=1e-4)])
      >>> tfs.harden(sparse); sparse.fit(x, y, epochs=5)
    """

    def _alpha(self, layer, kernel, ids, norms):
        return 1.0 / (norms + self.eps)


class DynamicRegularization(_GroupRegularization):
    """Dynamically updated regularization bounded by the designated constraint (arXiv 2004.05531).

    Like ``ReweightedGroupLasso``, but at each update only the groups that the designated
    constraint would remove now (those outside the structure's kept set at its target sparsity)
    are penalised, with ``alpha_g = 1 / (||W_g||_F^2 + eps)``; the groups the constraint keeps are
    left free. The regularization thus pushes exactly the pruned set towards zero and its target
    moves as the weights change. (The paper's exact update rule is not public in full; this is
    the documented reading of "bounded by the designated constraint".)
    """

    def _alpha(self, layer, kernel, ids, norms):
        keep = layer.mask_for(kernel, self.sparsity) != 0
        kept_groups = np.unique(ids[keep])
        alpha = 1.0 / (norms + self.eps)
        alpha[kept_groups] = 0.0
        return alpha
