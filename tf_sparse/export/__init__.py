"""Export of sparse Keras models to TFLite."""

from tf_sparse.export.tflite import export_tflite

__all__ = ["export_tflite"]
