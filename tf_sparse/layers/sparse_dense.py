"""``SparseDense``: a Keras 3 Dense layer that computes with a masked kernel."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from tf_sparse.structures.base import Structure, deserialize_structure, serialize_structure
from tf_sparse.training.schedules import (
    ConstantSparsity,
    PruningSchedule,
    deserialize_schedule,
    serialize_schedule,
)


class SparseLayerMixin:
    """State and helpers shared by every sparse layer.

    A sparse layer owns a non-trainable ``mask`` of its kernel's shape and a non-trainable
    ``pruning_step`` counter; it computes with ``kernel * mask``, so a pruned weight contributes
    nothing and receives no gradient whatever the optimizer does to the stored value. The
    structure says how masks are computed; the schedule says when and to what sparsity.
    """

    def _init_sparse(self, structure, schedule):
        if structure is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': `structure` is required")
        structure = deserialize_structure(structure)
        if not isinstance(structure, Structure):
            raise TypeError(
                f"{type(self).__name__} '{self.name}': `structure` must be a tf_sparse structure "
                f"(e.g. tfs.Block(0.9, block=(1, 4))), got {structure!r}"
            )
        schedule = deserialize_schedule(schedule)
        if schedule is not None and not isinstance(schedule, PruningSchedule) and not callable(schedule):
            raise TypeError(
                f"{type(self).__name__} '{self.name}': `schedule` must be a PruningSchedule "
                f"(e.g. tfs.PolynomialDecay(...)), got {schedule!r}"
            )
        self.structure = structure
        # Without a schedule the layer is pruned once, at step 0, to the structure's target.
        self.schedule = schedule if schedule is not None else ConstantSparsity(
            structure.sparsity, begin_step=0, end_step=0, frequency=1
        )
        self._schedule_given = schedule is not None

    def _build_sparse(self, kernel_shape):
        self.mask = self.add_weight(
            name="mask", shape=kernel_shape, initializer="ones", trainable=False,
            dtype=self.variable_dtype,
        )
        self.pruning_step = self.add_weight(
            name="pruning_step", shape=(), initializer="zeros", trainable=False, dtype="int64"
        )

    @property
    def masked_kernel(self):
        return ops.multiply(self._kernel_variable(), self.mask)

    def _kernel_variable(self):
        return self._kernel

    def update_mask(self, sparsity=None):
        """Recomputes the mask from the current kernel and zeroes the pruned weights."""
        kernel = np.asarray(keras.ops.convert_to_numpy(self._kernel_variable()))
        mask = self.structure.mask(kernel, sparsity)
        self.mask.assign(mask)
        self._kernel_variable().assign(kernel * mask)
        return mask

    def sparsity(self) -> float:
        """Fraction of zero entries of the effective (masked) kernel."""
        k = np.asarray(keras.ops.convert_to_numpy(self.masked_kernel))
        return float(np.count_nonzero(k == 0)) / max(1, k.size)

    def _sparse_config(self):
        config = {"structure": serialize_structure(self.structure)}
        config["schedule"] = serialize_schedule(self.schedule) if self._schedule_given else None
        return config


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
        self._init_sparse(structure, schedule)

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

    def call(self, inputs):
        x = ops.matmul(inputs, self.masked_kernel)
        if self.bias is not None:
            x = ops.add(x, self.bias)
        if self.activation is not None:
            x = self.activation(x)
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def dense_config(self):
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
        config = self.dense_config()
        config.update(self._sparse_config())
        return config

    @classmethod
    def from_dense(cls, layer, structure, schedule=None):
        """A ``SparseDense`` with the configuration of a built or unbuilt ``keras.layers.Dense``."""
        config = layer.get_config()
        for key in ("lora_rank", "lora_alpha", "quantization_config"):
            if config.pop(key, None) is not None:
                raise ValueError(f"SparseDense: layer '{layer.name}' uses `{key}`, which is not supported")
        return cls(structure=structure, schedule=schedule, **config)
