"""``SparseDense``: a Keras 3 Dense layer that computes with a masked kernel."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from tf_sparse.layers.base import SparseLayerMixin


@keras.saving.register_keras_serializable(package="tf_sparse")
class SparseDense(SparseLayerMixin, keras.layers.Layer):
    """Drop-in ``keras.layers.Dense`` whose kernel is masked by a sparsity structure.

    Takes Dense's arguments, computes ``activation(inputs @ (kernel * mask) + bias)`` and holds
    ``kernel``, ``bias``, ``mask`` and ``pruning_step`` as weights (the last two non-trainable),
    all saved in ``.keras`` files.

    Args:
      units, activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint: as
        ``keras.layers.Dense``.
      structure: a tf_sparse structure, e.g. ``tfs.Block(0.9, block=(1, 4))``.
      schedule: optional pruning schedule (``tfs.PolynomialDecay``, ...). Without one, the layer
        is pruned once to ``structure.sparsity`` at the first training step.
      admm: create the ADMM state (Z, U, rho) at build time (``tfs.ADMM`` enables it on demand).
      hardened: the mask is frozen (set by ``tfs.harden``).
      quantizer: optional weight grid (``tfs.Uniform(4)``, ``tfs.Ternary()``, ...), see
        ``tfs.quantize``; ``quant_hardened``: the grid's scale is frozen (set by ``tfs.harden``).

    Masks are updated by the ``tfs.UpdateMasks`` callback during ``model.fit``.

    Example:
      >>> layer = SparseDense(64, structure=Block(0.75, block=(1, 4)), activation="relu")
    """

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        structure=None,
        schedule=None,
        admm=False,
        hardened=False,
        group_reg=False,
        quantizer=None,
        quant_hardened=False,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"SparseDense '{self.name}': `units` must be a positive integer, got {units!r}")
        self.units = int(units)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.input_spec = keras.layers.InputSpec(min_ndim=2)
        self.supports_masking = True
        self._init_sparse(structure, schedule, admm, hardened, group_reg, quantizer, quant_hardened)

    def build(self, input_shape):
        in_dim = input_shape[-1]
        if in_dim is None:
            raise ValueError(f"SparseDense '{self.name}': the last input dimension must be known")
        self._kernel = self.add_weight(
            name="kernel",
            shape=(in_dim, self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(self.units,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None
        self._build_sparse((in_dim, self.units))
        self.input_spec = keras.layers.InputSpec(min_ndim=2, axes={-1: in_dim})

    @property
    def kernel(self):
        return self._kernel

    def call(self, inputs, training=None):
        self._add_sparse_losses()
        x = ops.matmul(inputs, self.masked_kernel)
        if self.bias is not None:
            x = ops.add(x, self.bias)
        if self.activation is not None:
            x = self.activation(x)
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    keras_class = keras.layers.Dense

    def keras_config(self):
        """Config of the plain ``keras.layers.Dense`` this layer strips to."""
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
                "bias_constraint": keras.constraints.serialize(self.bias_constraint),
            }
        )
        return config

    def get_config(self):
        config = self.keras_config()
        config.update(self._sparse_config())
        return config

    @classmethod
    def from_keras(cls, layer, structure, schedule=None, quantizer=None):
        """A ``SparseDense`` with the configuration of a built or unbuilt ``keras.layers.Dense``."""
        config = layer.get_config()
        for key in ("lora_rank", "lora_alpha", "quantization_config"):
            if config.pop(key, None) is not None:
                raise ValueError(f"SparseDense: layer '{layer.name}' uses `{key}`, which is not supported")
        return cls(structure=structure, schedule=schedule, quantizer=quantizer, **config)
