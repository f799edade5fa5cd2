"""Keras callbacks that drive mask updates during ``model.fit``."""

from __future__ import annotations

import warnings

import keras


class UpdateMasks(keras.callbacks.Callback):
    """Updates the masks of every sparse layer on its pruning schedule during ``model.fit``.

    Before each training batch, each sparse layer asks its schedule
    ``(should_prune, sparsity) = schedule(step)``; when ``should_prune`` is true, the mask is
    recomputed by projecting the current kernel onto the layer's structure at ``sparsity`` and the
    pruned weights are zeroed. The step counter lives in the layer (``pruning_step``), so training
    resumed from a checkpoint continues the schedule. At the end of each epoch the per-layer
    sparsity is added to the logs as ``sparsity/<layer name>``. Each layer runs its own schedule
    (``tfs.LayerSpec`` in a ``sparsify`` config gives layers different ones).

    At the end of training, a ``tfs.UnprunedWarning`` names the layers whose schedule has not
    begun yet (training stopped before its ``begin_step``): their masks are unchanged.

    Example:
      >>> model.fit(x, y, epochs=4, callbacks=[tfs.UpdateMasks()])
    """

    def __init__(self, log_sparsity: bool = True):
        super().__init__()
        if not isinstance(log_sparsity, bool):
            raise TypeError(f"UpdateMasks: `log_sparsity` must be True or False, got {log_sparsity!r}")
        self.log_sparsity = log_sparsity
        self._layers = []
        self._steps = []

    def on_train_begin(self, logs=None):
        from tf_sparse.layers.surgery import sparse_layers  # layers import the schedules

        self._layers = sparse_layers(self.model)
        if not self._layers:
            raise ValueError(
                "UpdateMasks: the model has no tf_sparse layers; use tfs.sparsify(model, ...) or "
                "tfs.SparseDense first"
            )
        self._steps = [int(layer.pruning_step.numpy()) for layer in self._layers]

    def on_train_batch_begin(self, batch, logs=None):
        for i, layer in enumerate(self._layers):
            if layer.hardened:
                continue
            should_prune, sparsity = layer.schedule(self._steps[i])
            if should_prune:
                layer.update_mask(sparsity)

    def on_train_batch_end(self, batch, logs=None):
        for i, layer in enumerate(self._layers):
            self._steps[i] += 1
            layer.pruning_step.assign(self._steps[i])

    def on_train_end(self, logs=None):
        from tf_sparse.notices import UnprunedWarning

        waiting = [(layer, step) for layer, step in zip(self._layers, self._steps)
                   if not layer.hardened and step <= layer.schedule.begin_step]
        if waiting:
            shown = ", ".join(f"'{layer.sparse_name}' (begin_step={layer.schedule.begin_step})"
                              for layer, _ in waiting[:10])
            shown += f", ... ({len(waiting) - 10} more)" if len(waiting) > 10 else ""
            warnings.warn(
                f"UpdateMasks: training stopped at step {max(step for _, step in waiting)} before the pruning "
                f"schedule of {len(waiting)} sparse layer(s) began, so their masks never changed: {shown}. "
                "Train longer or give the schedules an earlier begin_step",
                UnprunedWarning,
                stacklevel=2,
            )

    def on_epoch_end(self, epoch, logs=None):
        if self.log_sparsity and logs is not None:
            for layer in self._layers:
                logs[f"sparsity/{layer.sparse_name}"] = layer.sparsity()
