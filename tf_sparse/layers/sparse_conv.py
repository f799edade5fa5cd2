"""Sparse convolution layers: drop-in ``Conv1D``, ``Conv2D`` and ``DepthwiseConv2D``."""

from __future__ import annotations

import keras
import numpy as np

from tf_sparse.layers.base import SparseLayerMixin


def _config_without_lora(layer):
    config = layer.get_config()
    for key in ("lora_rank", "lora_alpha"):
        if config.pop(key, None) is not None:
            raise ValueError(f"{type(layer).__name__} '{layer.name}': `{key}` is not supported by sparse layers")
    return config


class _SparseConvBase(SparseLayerMixin):
    """Shared code: the Keras base class computes with ``self.kernel``, which is masked here."""

    keras_class = None

    def __init__(
        self, *args, structure=None, schedule=None, admm=False, hardened=False, group_reg=False,
        quantizer=None, quant_hardened=False, **kwargs
    ):
        if kwargs.get("lora_rank"):
            raise ValueError(f"{type(self).__name__}: `lora_rank` is not supported by sparse layers")
        super().__init__(*args, **kwargs)
        self._init_sparse(structure, schedule, admm, hardened, group_reg, quantizer, quant_hardened)

    def build(self, input_shape):
        super().build(input_shape)
        self._build_sparse(tuple(self._kernel.shape))

    @property
    def kernel(self):
        return self.masked_kernel

    def call(self, inputs):
        self._add_sparse_losses()
        return super().call(inputs)

    def keras_config(self):
        """Config of the plain Keras layer this layer strips to."""
        return self.keras_class.get_config(self)

    def get_config(self):
        config = self.keras_config()
        config.update(self._sparse_config())
        return config

    @classmethod
    def from_keras(cls, layer, structure, schedule=None, quantizer=None):
        """A sparse layer with the configuration of a Keras layer of the matching class."""
        return cls(structure=structure, schedule=schedule, quantizer=quantizer, **_config_without_lora(layer))


@keras.saving.register_keras_serializable(package="tf_sparse")
class SparseConv2D(_SparseConvBase, keras.layers.Conv2D):
    """Drop-in ``keras.layers.Conv2D`` whose kernel ``(kh, kw, in, out)`` is masked by a structure.

    Takes Conv2D's arguments plus ``structure`` (e.g. ``tfs.Block(0.75, block=(4, 1))``),
    ``schedule``, ``admm`` and ``hardened`` (see ``tfs.SparseDense``). The structure sees the
    kernel in Keras's layout; its GEMM view is ``out x (kh * kw * in)``, input channel fastest.

    Example:
      >>> conv = SparseConv2D(32, 3, padding="same", structure=Block(0.5, block=(4, 1)))
    """

    keras_class = keras.layers.Conv2D


@keras.saving.register_keras_serializable(package="tf_sparse")
class SparseConv1D(_SparseConvBase, keras.layers.Conv1D):
    """Drop-in ``keras.layers.Conv1D``; the structure sees its kernel ``(k, in, out)`` as a
    Conv2D kernel ``(1, k, in, out)``."""

    keras_class = keras.layers.Conv1D

    @staticmethod
    def structure_view_of(kernel):
        return np.reshape(kernel, (1,) + tuple(kernel.shape))


@keras.saving.register_keras_serializable(package="tf_sparse")
class SparseDepthwiseConv2D(_SparseConvBase, keras.layers.DepthwiseConv2D):
    """Drop-in ``keras.layers.DepthwiseConv2D`` with a masked depthwise kernel.

    The depthwise kernel ``(kh, kw, in, multiplier)`` has one ``kh x kw`` filter per output
    channel, so the structure sees it as a Conv2D kernel ``(kh, kw, 1, in * multiplier)``: GEMM
    rows are output channels, columns the ``kh * kw`` taps. Filter, block-over-filters and kernel
    patterns apply; input-channel structures have nothing to prune here.
    """

    keras_class = keras.layers.DepthwiseConv2D

    # Keras's DepthwiseConv2D stores its kernel in ``self.kernel``; keep the variable in
    # ``self._kernel`` and hand out the masked value.
    @property
    def kernel(self):
        if not hasattr(self, "mask"):  # during Keras's own build, before the mask exists
            return self._kernel
        return self.masked_kernel

    @kernel.setter
    def kernel(self, value):
        self._kernel = value

    @staticmethod
    def structure_view_of(kernel):
        kh, kw, cin, mult = kernel.shape
        return np.reshape(kernel, (kh, kw, 1, cin * mult))

    def _channel_shape(self, kernel_shape):
        kh, kw, cin, mult = kernel_shape
        return (1, 1, cin, mult)
