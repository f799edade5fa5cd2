"""Training: pruning schedules, mask updates, ADMM and group regularization callbacks."""

from tf_sparse.training.admm import ADMM, progressive_admm
from tf_sparse.training.callbacks import UpdateMasks
from tf_sparse.training.regularization import DynamicRegularization, ReweightedGroupLasso
from tf_sparse.training.summaries import PruningSummaries
from tf_sparse.training.schedules import ConstantSparsity, PolynomialDecay, PruningSchedule

__all__ = [
    "ADMM",
    "ConstantSparsity",
    "DynamicRegularization",
    "PolynomialDecay",
    "PruningSummaries",
    "PruningSchedule",
    "ReweightedGroupLasso",
    "UpdateMasks",
    "progressive_admm",
]
