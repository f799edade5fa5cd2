"""Pruning schedules with tfmot's ``PruningSchedule`` protocol.

A schedule is a pure function of the training step: ``schedule(step) -> (should_prune, sparsity)``.
``should_prune`` says whether masks are recomputed at this step and ``sparsity`` is the target
they are recomputed to. The semantics follow ``tfmot.sparsity.keras`` (0.8.1) so that the same
numbers come out of both libraries; these classes are plain Python and need neither TensorFlow nor
tfmot (``tf_sparse.tfmot`` offers them as real tfmot subclasses).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from tf_sparse.structures.base import check_sparsity

_REGISTRY: dict[str, type] = {}


def _register(cls):
    _REGISTRY[cls.__name__] = cls
    return cls


def _check_int(value, name, owner, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{owner}: `{name}` must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _to_step(step):
    if isinstance(step, bool):
        raise TypeError(f"schedule: `step` must be an integer training step >= 0, got {step!r}")
    if isinstance(step, numbers.Integral):
        return int(step)
    try:  # a scalar tensor or NumPy scalar of an integer type
        value = np.asarray(step)
    except Exception:  # noqa: BLE001 - anything that is not array-like is reported below
        value = None
    if value is None or value.shape != () or not np.issubdtype(value.dtype, np.integer):
        raise TypeError(f"schedule: `step` must be an integer training step >= 0, got {step!r}")
    return int(value)


class PruningSchedule:
    """Base class: validates the pruning window and the frequency.

    Args:
      begin_step: first step at which masks may be updated.
      end_step: last such step, or -1 for no end.
      frequency: masks are updated every ``frequency`` steps from ``begin_step``.
    """

    def __init__(self, begin_step: int, end_step: int, frequency: int):
        owner = type(self).__name__
        self.begin_step = _check_int(begin_step, "begin_step", owner, 0)
        if isinstance(end_step, bool) or not isinstance(end_step, numbers.Integral) or (
            end_step != -1 and end_step < self.begin_step
        ):
            raise ValueError(
                f"{owner}: `end_step` must be -1 (no end) or an integer >= begin_step "
                f"({self.begin_step}), got {end_step!r}"
            )
        self.end_step = int(end_step)
        self.frequency = _check_int(frequency, "frequency", owner, 1)

    def _should_prune_in_step(self, step: int) -> bool:
        in_range = step >= self.begin_step and (self.end_step == -1 or step <= self.end_step)
        return in_range and (step - self.begin_step) % self.frequency == 0

    def __call__(self, step):
        raise NotImplementedError

    def get_config(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config()["config"].items())
        return f"{type(self).__name__}({args})"


@_register
class ConstantSparsity(PruningSchedule):
    """Prunes to a constant ``target_sparsity`` every ``frequency`` steps in the window.

    Example:
      >>> ConstantSparsity(0.9, begin_step=0, frequency=100)(200)
      (True, 0.9)
    """

    def __init__(self, target_sparsity, begin_step=0, end_step=-1, frequency=100):
        super().__init__(begin_step, end_step, frequency)
        self.target_sparsity = check_sparsity(target_sparsity, "target_sparsity", "ConstantSparsity")

    def __call__(self, step):
        step = _to_step(step)
        return self._should_prune_in_step(step), self.target_sparsity

    def get_config(self):
        return {
            "class_name": type(self).__name__,
            "config": {
                "target_sparsity": self.target_sparsity,
                "begin_step": self.begin_step,
                "end_step": self.end_step,
                "frequency": self.frequency,
            },
        }


@_register
class PolynomialDecay(PruningSchedule):
    """Gradual pruning (Zhu & Gupta 2017): sparsity rises polynomially from initial to final.

    ``s(t) = final + (initial - final) * (1 - p) ** power`` with
    ``p = clip((t - begin_step) / (end_step - begin_step), 0, 1)``; ``power=3`` is the cubic of the
    paper. After ``end_step`` the sparsity stays at ``final_sparsity`` and masks are frozen.

    Example:
      >>> PolynomialDecay(0.0, 0.8, begin_step=0, end_step=100, frequency=10)(50)
      (True, 0.7)
    """

    def __init__(
        self, initial_sparsity, final_sparsity, begin_step, end_step, power=3, frequency=100
    ):
        super().__init__(begin_step, end_step, frequency)
        owner = "PolynomialDecay"
        if self.end_step == -1 or self.end_step <= self.begin_step:
            raise ValueError(
                f"{owner}: `end_step` must be > begin_step ({self.begin_step}), got {end_step!r}"
            )
        self.initial_sparsity = check_sparsity(initial_sparsity, "initial_sparsity", owner)
        self.final_sparsity = check_sparsity(final_sparsity, "final_sparsity", owner)
        if isinstance(power, bool) or not isinstance(power, numbers.Real) or not (0 < power < math.inf):
            raise ValueError(f"{owner}: `power` must be a positive finite number, got {power!r}")
        self.power = power

    def sparsity_at(self, step) -> float:
        step = _to_step(step)
        p = (step - self.begin_step) / float(self.end_step - self.begin_step)
        p = min(1.0, max(0.0, p))
        s = self.final_sparsity + (self.initial_sparsity - self.final_sparsity) * (1.0 - p) ** self.power
        return float(round(s, 12))

    def __call__(self, step):
        step = _to_step(step)
        return self._should_prune_in_step(step), self.sparsity_at(step)

    def get_config(self):
        return {
            "class_name": type(self).__name__,
            "config": {
                "initial_sparsity": self.initial_sparsity,
                "final_sparsity": self.final_sparsity,
                "begin_step": self.begin_step,
                "end_step": self.end_step,
                "power": self.power,
                "frequency": self.frequency,
            },
        }


def serialize_schedule(schedule) -> dict:
    return schedule.get_config()


def deserialize_schedule(config):
    if config is None or isinstance(config, PruningSchedule):
        return config
    if not isinstance(config, dict) or config.get("class_name") not in _REGISTRY:
        raise ValueError(
            f"schedule: expected one of {sorted(_REGISTRY)} or its config, got {config!r}"
        )
    return _REGISTRY[config["class_name"]].from_config(dict(config["config"]))
