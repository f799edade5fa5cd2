"""State and behaviour shared by every sparse layer (``SparseDense``, ``SparseConv2D``, ...)."""

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
    """Mask, pruning step and optional ADMM state of a sparse layer.

    A sparse layer computes with ``kernel * mask``: a pruned weight contributes nothing and gets
    no gradient, whatever the optimizer (momentum, weight decay) does to the stored value. Its
    state is held in weights, so ``.keras`` files and checkpoints carry it:

    * ``mask`` (kernel's shape) and ``pruning_step`` (int64), always;
    * ``admm_z``, ``admm_u`` (kernel's shape) and ``admm_rho`` (scalar), once ADMM is enabled
      (``enable_admm``; the ``tfs.ADMM`` callback does it). While ``admm_rho > 0`` the layer adds
      the ADMM term ``rho / 2 * ||W - Z + U||_F^2`` to the model's losses.

    The structure says how to project and mask; the schedule says when and to what sparsity
    ``tfs.UpdateMasks`` recomputes the mask. A *hardened* layer (``tfs.harden``) keeps its mask.

    Subclasses call ``_init_sparse`` in ``__init__`` and ``_build_sparse`` in ``build``, keep the
    raw kernel variable in ``self._kernel``, and may override ``structure_view`` /
    ``from_structure_view`` when the structure should see the kernel in another layout.
    """

    def _init_sparse(self, structure, schedule, admm=False, hardened=False):
        owner = f"{type(self).__name__} '{self.name}'"
        if structure is None:
            raise ValueError(f"{owner}: `structure` is required, e.g. tfs.Block(0.9, block=(1, 4))")
        structure = deserialize_structure(structure)
        if not isinstance(structure, Structure):
            raise TypeError(
                f"{owner}: `structure` must be a tf_sparse structure "
                f"(e.g. tfs.Block(0.9, block=(1, 4))), got {structure!r}"
            )
        schedule = deserialize_schedule(schedule)
        if schedule is not None and not isinstance(schedule, PruningSchedule):
            raise TypeError(
                f"{owner}: `schedule` must be a pruning schedule (tfs.ConstantSparsity, "
                f"tfs.PolynomialDecay, ...), got {schedule!r}"
            )
        self.structure = structure
        self._schedule_given = schedule is not None
        # Without a schedule the layer is pruned once, at step 0, to the structure's target.
        self.schedule = schedule if schedule is not None else ConstantSparsity(
            structure.sparsity, begin_step=0, end_step=0, frequency=1
        )
        self._admm = bool(admm)
        self.hardened = bool(hardened)

    def _build_sparse(self, kernel_shape):
        view_shape = self.structure_view(np.zeros(kernel_shape, dtype=np.float32)).shape
        if len(view_shape) not in self.structure.kernel_ranks:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': structure {self.structure!r} does not accept "
                f"this layer's kernel of shape {tuple(kernel_shape)}"
            )
        self.mask = self.add_weight(
            name="mask", shape=kernel_shape, initializer="ones", trainable=False
        )
        self.pruning_step = self.add_weight(
            name="pruning_step", shape=(), initializer="zeros", trainable=False, dtype="int64"
        )
        if self._admm:
            self._build_admm(kernel_shape)

    def _build_admm(self, kernel_shape):
        self.admm_z = self.add_weight(name="admm_z", shape=kernel_shape, initializer="zeros", trainable=False)
        self.admm_u = self.add_weight(name="admm_u", shape=kernel_shape, initializer="zeros", trainable=False)
        self.admm_rho = self.add_weight(name="admm_rho", shape=(), initializer="zeros", trainable=False)

    # --- views ------------------------------------------------------------------------------
    def structure_view(self, kernel: np.ndarray) -> np.ndarray:
        """The kernel in the layout the structure works on (Keras's own layout by default)."""
        return kernel

    def from_structure_view(self, view: np.ndarray, kernel_shape) -> np.ndarray:
        return np.reshape(view, kernel_shape)

    # --- values -----------------------------------------------------------------------------
    @property
    def masked_kernel(self):
        return ops.multiply(self._kernel, self.mask)

    def kernel_numpy(self) -> np.ndarray:
        return np.asarray(keras.ops.convert_to_numpy(self._kernel))

    def project_kernel(self, kernel=None, sparsity=None) -> np.ndarray:
        """Projection of ``kernel`` (default: the current kernel) onto the layer's structure."""
        kernel = self.kernel_numpy() if kernel is None else np.asarray(kernel, dtype=np.float32)
        view = self.structure.project(self.structure_view(kernel), sparsity)
        return self.from_structure_view(view, kernel.shape)

    def mask_for(self, kernel=None, sparsity=None) -> np.ndarray:
        kernel = self.kernel_numpy() if kernel is None else np.asarray(kernel, dtype=np.float32)
        view = self.structure.mask(self.structure_view(kernel), sparsity)
        return self.from_structure_view(view, kernel.shape)

    def update_mask(self, sparsity=None) -> np.ndarray:
        """Recomputes the mask from the current kernel and zeroes the pruned weights."""
        kernel = self.kernel_numpy()
        mask = self.mask_for(kernel, sparsity)
        self.mask.assign(mask)
        self._kernel.assign(kernel * mask)
        return mask

    def harden(self, sparsity=None):
        """Projects the kernel onto the structure and freezes the mask (masked retraining next)."""
        kernel = self.kernel_numpy()
        mask = self.mask_for(kernel, sparsity)
        self.mask.assign(mask)
        self._kernel.assign(kernel * mask)
        if self._admm:
            self.admm_rho.assign(0.0)
        self.hardened = True

    def sparsity(self) -> float:
        """Fraction of zero entries of the effective (masked) kernel."""
        k = np.asarray(keras.ops.convert_to_numpy(self.masked_kernel))
        return float(np.count_nonzero(k == 0)) / max(1, k.size)

    # --- ADMM -------------------------------------------------------------------------------
    @property
    def admm_enabled(self) -> bool:
        return self._admm

    def enable_admm(self):
        """Adds the ADMM variables to a built layer (``Z = project(W)``, ``U = 0``, ``rho = 0``)."""
        if not self.built:
            raise ValueError(f"{type(self).__name__} '{self.name}': build the layer before enabling ADMM")
        if not self._admm:
            self._tracker.unlock()
            self._build_admm(tuple(self._kernel.shape))
            self._tracker.lock()
            self._admm = True
        self.admm_z.assign(self.project_kernel())
        self.admm_u.assign(np.zeros(self._kernel.shape, dtype=np.float32))

    def admm_penalty(self):
        """``rho / 2 * ||W - Z + U||_F^2`` (the squared Frobenius norm)."""
        diff = ops.add(ops.subtract(self._kernel, self.admm_z), self.admm_u)
        return ops.multiply(0.5 * self.admm_rho, ops.sum(ops.square(diff)))

    def _add_sparse_losses(self):
        if self._admm:
            self.add_loss(self.admm_penalty())

    # --- config -----------------------------------------------------------------------------
    def _sparse_config(self):
        return {
            "structure": serialize_structure(self.structure),
            "schedule": serialize_schedule(self.schedule) if self._schedule_given else None,
            "admm": self._admm,
            "hardened": self.hardened,
        }

    # Keras's conv layers save only kernel and bias; sparse layers save every weight.
    def save_own_variables(self, store):
        keras.layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store):
        keras.layers.Layer.load_own_variables(self, store)
