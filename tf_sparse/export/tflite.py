"""Writing ``.tflite`` files from (sparse) Keras models."""

from __future__ import annotations

import os
import tempfile

from tf_sparse.layers.surgery import sparse_layers, strip


def export_tflite(model, path, *, compact: bool = False) -> int:
    """Converts a Keras model to a float32 ``.tflite`` file.

    Sparse layers are stripped first, so pruned weights are stored as exact zeros.

    Args:
      model: a Keras model (sparse or plain).
      path: output file.
      compact: store pruned weights in TFLite's sparse encoding
        (``tf.lite.Optimize.EXPERIMENTAL_SPARSITY``): smaller files that stock TFLite still loads.

    Returns:
      The file's size in bytes.

    Example:
      >>> tfs.export_tflite(sparse_model, "/tmp/model.tflite")
    """
    import tensorflow as tf

    if sparse_layers(model):
        model = strip(model)
    with tempfile.TemporaryDirectory() as tmp:
        # Keras 3 models convert through a SavedModel with a fixed serving signature.
        saved = os.path.join(tmp, "saved_model")
        model.export(saved, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved)
        if compact:
            converter.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
        flatbuffer = converter.convert()
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "wb") as f:
        f.write(flatbuffer)
    return len(flatbuffer)
