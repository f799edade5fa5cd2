"""TensorBoard summaries of pruning state (tfmot's ``PruningSummaries`` convention)."""

from __future__ import annotations

import numbers
import os

import keras
import numpy as np


def z_sparsity(layer) -> float:
    """Fraction of the kernel's entries that are zero in the layer's ADMM target: zero in at
    least one ``Z_i`` (what ``tfs.harden`` gives when ``W`` has reached ``Z``)."""
    from tf_sparse.layers.base import _var_numpy

    active = layer._admm_active()
    if not active:
        return layer.sparsity()
    zero = np.zeros(tuple(layer.admm_z[active[0]].shape), dtype=bool)
    for i in active:
        zero |= np.asarray(_var_numpy(layer.admm_z[i])) == 0
    return float(np.count_nonzero(zero)) / max(1, zero.size)


def admm_active(layer) -> bool:
    """Whether an ADMM phase is running on the layer (its rho is positive)."""
    return layer.admm_enabled and bool(layer._admm_active()) and float(np.asarray(layer.admm_rho)) > 0


def pruning_scalars(model) -> dict:
    """Per-layer pruning state as ``{"<layer>/<quantity>": float}``.

    ``sparsity``: zeros of the kernel the layer computes with now. During ADMM the kernel is
    dense until ``tfs.harden``, so the layer's ``admm_z_sparsity`` (zeros of the target ``Z``,
    the sparsity hardening gives), ``admm_residual`` (``||W - Z||_F``) and ``admm_rho`` are
    added; ``group_penalty`` while group regularization runs.
    """
    from tf_sparse.layers.surgery import sparse_layers

    out = {}
    for layer in sparse_layers(model):
        out[f"{layer.sparse_name}/sparsity"] = layer.sparsity()
        if admm_active(layer):
            out[f"{layer.sparse_name}/admm_z_sparsity"] = z_sparsity(layer)
            out[f"{layer.sparse_name}/admm_residual"] = layer.admm_residual()
            out[f"{layer.sparse_name}/admm_rho"] = float(np.asarray(layer.admm_rho))
        if getattr(layer, "_group_reg", False):
            out[f"{layer.sparse_name}/group_penalty"] = float(keras.ops.convert_to_numpy(layer.group_penalty()))
    return out


class PruningSummaries(keras.callbacks.Callback):
    """Writes per-layer pruning scalars for TensorBoard's scalars dashboard.

    Like tfmot's ``PruningSummaries``, scalars go to ``<log_dir>/metrics`` keyed by the layer
    (see ``pruning_scalars``): ``<layer>/sparsity`` (zeros of the kernel the layer computes
    with), and during ADMM ``<layer>/admm_z_sparsity`` (zeros of the ADMM target Z: the
    sparsity ``tfs.harden`` will give; the kernel itself stays dense until then),
    ``<layer>/admm_residual`` (``||W - Z||_F``) and ``<layer>/admm_rho``; ``<layer>/group_penalty``
    with group regularization. The step is the optimizer's iteration count. Values are written
    once per step: at the start of training, then at the end of every epoch (``update_freq=
    "epoch"``) or every ``update_freq`` batches, as plain scalar summaries (``simple_value``),
    which TensorBoard's scalars dashboard and its ``EventAccumulator`` list under ``scalars``.

    Args:
      log_dir: TensorBoard log directory (non-empty string).
      update_freq: ``"epoch"`` (default) or a number of batches.

    Example:
      >>> model.fit(x, y, callbacks=[tfs.UpdateMasks(), tfs.PruningSummaries("/tmp/logs")])
    """

    def __init__(self, log_dir, update_freq="epoch"):
        super().__init__()
        if not isinstance(log_dir, (str, os.PathLike)) or not os.fspath(log_dir):
            raise ValueError(f"PruningSummaries: `log_dir` must be a non-empty path, got {log_dir!r}")
        if os.path.isfile(log_dir):
            raise ValueError(f"PruningSummaries: `log_dir` {str(log_dir)!r} is a file; give a directory")
        if update_freq != "epoch" and (
            isinstance(update_freq, bool) or not isinstance(update_freq, numbers.Integral) or update_freq < 1
        ):
            raise ValueError(f"PruningSummaries: `update_freq` must be 'epoch' or an integer >= 1, got {update_freq!r}")
        self.log_dir = str(log_dir)
        self.update_freq = update_freq
        self._writer = None
        self._last_step = None
        self._batches = 0

    def _step(self):
        return int(np.asarray(self.model.optimizer.iterations))

    def _write(self):
        import tensorflow as tf

        step = self._step()
        if step == self._last_step:
            return
        self._last_step = step
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "metrics"))
        summary = tf.compat.v1.Summary(value=[
            tf.compat.v1.Summary.Value(tag=name, simple_value=float(value))
            for name, value in pruning_scalars(self.model).items()
        ])
        with self._writer.as_default():
            tf.summary.experimental.write_raw_pb(summary.SerializeToString(), step=step)
        self._writer.flush()

    def on_train_begin(self, logs=None):
        self._last_step = None
        self._batches = 0
        self._write()

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1
        if self.update_freq != "epoch" and self._batches % self.update_freq == 0:
            self._write()

    def on_epoch_end(self, epoch, logs=None):
        self._write()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
