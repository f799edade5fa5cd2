"""Training: pruning schedules and the callbacks that apply them."""

from tf_sparse.training.callbacks import UpdateMasks
from tf_sparse.training.schedules import ConstantSparsity, PolynomialDecay, PruningSchedule

__all__ = ["ConstantSparsity", "PolynomialDecay", "PruningSchedule", "UpdateMasks"]
