"""TensorBoard summaries of pruning state (tfmot's ``PruningSummaries`` convention)."""

from __future__ import annotations

import os

import keras
import numpy as np


class PruningSummaries(keras.callbacks.Callback):
    """Writes per-layer pruning scalars to TensorBoard at each epoch's start and end.

    Like tfmot's ``PruningSummaries``, scalars go to ``<log_dir>/metrics`` keyed by the layer:
    ``<layer>/sparsity`` (zeros of the effective kernel), and where present
    ``<layer>/admm_residual`` (``||W - Z||_F``), ``<layer>/admm_rho`` and
    ``<layer>/group_penalty``. The step is the optimizer's iteration count.

    Args:
      log_dir: TensorBoard log directory (non-empty string).

    Example:
      >>> model.fit(x, y, callbacks=[tfs.UpdateMasks(), tfs.PruningSummaries("/tmp/logs")])
    """

    def __init__(self, log_dir):
        super().__init__()
        if not isinstance(log_dir, (str, os.PathLike)) or not os.fspath(log_dir):
            raise ValueError(f"PruningSummaries: `log_dir` must be a non-empty path, got {log_dir!r}")
        if os.path.isfile(log_dir):
            raise ValueError(f"PruningSummaries: `log_dir` {str(log_dir)!r} is a file; give a directory")
        self.log_dir = str(log_dir)
        self._writer = None

    def _scalars(self):
        from tf_sparse.layers.surgery import sparse_layers

        out = {}
        for layer in sparse_layers(self.model):
            out[f"{layer.sparse_name}/sparsity"] = layer.sparsity()
            if layer.admm_enabled:
                out[f"{layer.sparse_name}/admm_residual"] = layer.admm_residual()
                out[f"{layer.sparse_name}/admm_rho"] = float(np.asarray(layer.admm_rho))
            if getattr(layer, "_group_reg", False):
                out[f"{layer.sparse_name}/group_penalty"] = float(keras.ops.convert_to_numpy(layer.group_penalty()))
        return out

    def _write(self):
        import tensorflow as tf

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "metrics"))
        step = int(np.asarray(self.model.optimizer.iterations))
        with self._writer.as_default():
            for name, value in self._scalars().items():
                tf.summary.scalar(name, value, step=step)
        self._writer.flush()

    def on_epoch_begin(self, epoch, logs=None):
        self._write()

    def on_epoch_end(self, epoch, logs=None):
        self._write()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
