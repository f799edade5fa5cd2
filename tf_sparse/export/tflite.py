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

    Raises:
      TypeError: ``model`` is not a Keras model, ``path`` not a path, ``compact`` not a bool.
      ValueError: the model is not built, or ``path`` does not end in ``.tflite`` or names a
        directory.

    Example:
      >>> tfs.export_tflite(sparse_model, "/tmp/model.tflite")
    """
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"export_tflite: `model` must be a keras.Model, got {type(model).__name__}: {model!r:.80}")
    if not model.built:
        raise ValueError(f"export_tflite: model '{model.name}' is not built; call it or build it first")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"export_tflite: `path` must be a file path (str or os.PathLike), got {path!r}")
    path = os.fspath(path)
    if not str(path).endswith(".tflite"):
        raise ValueError(f"export_tflite: `path` must name a .tflite file, got {path!r}")
    if os.path.isdir(path):
        raise ValueError(f"export_tflite: `path` {path!r} is a directory; give a .tflite file name")
    if not isinstance(compact, bool):
        raise TypeError(f"export_tflite: `compact` must be True or False, got {compact!r}")

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
