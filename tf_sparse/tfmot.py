"""tf_sparse schedules as real ``tfmot.sparsity.keras.PruningSchedule`` subclasses.

Importing this module imports ``tensorflow_model_optimization``, which sets
``TF_USE_LEGACY_KERAS=1`` for the whole process (tfmot works on ``tf_keras`` models only), so it
is never imported by ``import tf_sparse``; import it explicitly where tfmot is used:

    import tf_keras
    import tensorflow_model_optimization as tfmot
    from tf_sparse import tfmot as tfs_tfmot

    pruned = tfmot.sparsity.keras.prune_low_magnitude(
        model, pruning_schedule=tfs_tfmot.PolynomialDecay(0.0, 0.8, begin_step=0, end_step=1000))

The schedules compute in TensorFlow ops (tfmot calls them inside ``tf.function`` with a step
tensor) and give the same numbers as the pure-Python ``tfs.ConstantSparsity`` and
``tfs.PolynomialDecay``, whose argument checks they reuse.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_model_optimization as _tfmot

from tf_sparse.training import schedules as _schedules

_Base = _tfmot.sparsity.keras.PruningSchedule


class _Mixin:
    _impl_cls = None

    def __init__(self, *args, **kwargs):
        self._impl = self._impl_cls(*args, **kwargs)  # validates the arguments

    def __getattr__(self, name):
        if name == "_impl":
            raise AttributeError(name)
        return getattr(self._impl, name)

    def _should_prune(self, step):
        impl = self._impl
        return self._should_prune_in_step(step, impl.begin_step, impl.end_step, impl.frequency)

    def get_config(self):
        return self._impl.get_config()

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def to_tf_sparse(self):
        """The equivalent pure-Python tf_sparse schedule."""
        return self._impl


class ConstantSparsity(_Mixin, _Base):
    """``tfs.ConstantSparsity`` as a tfmot ``PruningSchedule``."""

    _impl_cls = _schedules.ConstantSparsity

    def __call__(self, step):
        step = tf.convert_to_tensor(step, dtype=tf.int64)
        return self._should_prune(step), tf.constant(self._impl.target_sparsity, tf.float32)


class PolynomialDecay(_Mixin, _Base):
    """``tfs.PolynomialDecay`` as a tfmot ``PruningSchedule``."""

    _impl_cls = _schedules.PolynomialDecay

    def __call__(self, step):
        impl = self._impl
        step = tf.convert_to_tensor(step, dtype=tf.int64)
        p = tf.cast(step - impl.begin_step, tf.float32) / float(impl.end_step - impl.begin_step)
        p = tf.clip_by_value(p, 0.0, 1.0)
        sparsity = impl.final_sparsity + (impl.initial_sparsity - impl.final_sparsity) * tf.pow(1.0 - p, float(impl.power))
        return self._should_prune(step), sparsity


def from_tf_sparse(schedule):
    """The tfmot subclass equivalent to a tf_sparse schedule."""
    if isinstance(schedule, _schedules.ConstantSparsity):
        return ConstantSparsity(**schedule.get_config()["config"])
    if isinstance(schedule, _schedules.PolynomialDecay):
        return PolynomialDecay(**schedule.get_config()["config"])
    raise TypeError(f"from_tf_sparse: no tfmot equivalent for {schedule!r}")


__all__ = ["ConstantSparsity", "PolynomialDecay", "from_tf_sparse"]
