"""State and behaviour shared by every sparse layer (``SparseDense``, ``SparseConv2D``, ...)."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from tf_sparse.quantization.quantizers import Quantizer, deserialize_quantizer, serialize_quantizer
from tf_sparse.structures.base import Structure, deserialize_structure, serialize_structure, from_gemm, to_gemm
from tf_sparse.training.schedules import (
    ConstantSparsity,
    PruningSchedule,
    deserialize_schedule,
    serialize_schedule,
)


def _var_numpy(variable) -> np.ndarray:
    """A variable's value as a NumPy array (without NumPy 2's copy-keyword fallback warning)."""
    return np.asarray(variable.numpy() if hasattr(variable, "numpy") else keras.ops.convert_to_numpy(variable))


def _named(err: Exception, owner: str) -> Exception:
    """``err`` (a TypeError or ValueError) as the same kind of error prefixed with ``owner``."""
    return (TypeError if isinstance(err, TypeError) else ValueError)(f"{owner}: {err}")


class SparseLayerMixin:
    """Mask, pruning step and optional ADMM state of a sparse layer.

    A sparse layer computes with ``kernel * mask``: a pruned weight contributes nothing and gets
    no gradient, whatever the optimizer (momentum, weight decay) does to the stored value. Its
    state is held in weights, so ``.keras`` files and checkpoints carry it:

    * ``mask`` (kernel's shape) and ``pruning_step`` (int64), always;
    * ``admm_z``, ``admm_u`` (kernel's shape, one pair per constraint set) and ``admm_rho``,
      once ADMM is enabled (``enable_admm``; the ``tfs.ADMM`` callback does it). While
      ``admm_rho > 0`` the layer adds ``rho / 2 * sum_i ||W - Z_i + U_i||_F^2`` to its losses;
    * ``group_alpha`` (kernel's shape) and ``group_lambda``, once group regularization is enabled
      (``tfs.ReweightedGroupLasso``, ``tfs.DynamicRegularization``): the loss
      ``lambda * sum_g alpha_g ||W_g||_F^2``.

    * ``quant_scale`` (one per output channel), when the layer has a ``quantizer``: the frozen
      scale of its grid once quantization is hardened.

    The structure says how to project and mask; the schedule says when and to what sparsity
    ``tfs.UpdateMasks`` recomputes the mask. A *hardened* layer (``tfs.harden``) keeps its mask.
    A layer with a quantizer constrains its weights to the quantizer's grid during ADMM; once
    its quantization is hardened it computes with the kernel on the grid (the scale frozen) and
    trains the float kernel underneath by the straight-through estimator.

    Subclasses call ``_init_sparse`` in ``__init__`` and ``_build_sparse`` in ``build``, keep the
    raw kernel variable in ``self._kernel``, and may override the static ``structure_view_of``
    / ``from_structure_view`` when the structure should see the kernel in another layout.
    """

    def _init_sparse(self, structure, schedule, admm=False, hardened=False, group_reg=False,
                     quantizer=None, quant_hardened=False):
        owner = f"{type(self).__name__} '{self.name}'"
        if structure is None:
            raise ValueError(f"{owner}: `structure` is required, e.g. tfs.Block(0.9, block=(1, 4))")
        if not isinstance(structure, (Structure, dict)):
            raise TypeError(
                f"{owner}: `structure` must be a tf_sparse structure "
                f"(e.g. tfs.Block(0.9, block=(1, 4))), got {structure!r}"
            )
        try:
            structure = deserialize_structure(structure)
        except (TypeError, ValueError) as err:
            raise _named(err, owner) from None
        if schedule is not None and not isinstance(schedule, (PruningSchedule, dict)):
            raise TypeError(
                f"{owner}: `schedule` must be None or a pruning schedule (tfs.ConstantSparsity, "
                f"tfs.PolynomialDecay, ...), got {schedule!r}"
            )
        try:
            schedule = deserialize_schedule(schedule)
        except (TypeError, ValueError) as err:
            raise _named(err, owner) from None
        if quantizer is not None and not isinstance(quantizer, (Quantizer, dict)):
            raise TypeError(
                f"{owner}: `quantizer` must be None or a tf_sparse quantizer (tfs.Uniform(4), "
                f"tfs.Ternary(), tfs.Binary(), ...), got {quantizer!r}"
            )
        try:
            quantizer = deserialize_quantizer(quantizer)
        except (TypeError, ValueError) as err:
            raise _named(err, owner) from None
        for name, value in (("admm", admm), ("hardened", hardened), ("group_reg", group_reg),
                            ("quant_hardened", quant_hardened)):
            if not isinstance(value, (bool, np.bool_)) and value not in (0, 1):
                raise TypeError(f"{owner}: `{name}` must be True or False, got {value!r}")
        self.structure = structure
        self._schedule_given = schedule is not None
        # Without a schedule the layer is pruned once, at step 0, to the structure's target.
        self.schedule = schedule if schedule is not None else ConstantSparsity(
            structure.sparsity, begin_step=0, end_step=0, frequency=1
        )
        self._admm = bool(admm)
        self._group_reg = bool(group_reg)
        self.hardened = bool(hardened)
        self.quantizer = quantizer
        if quant_hardened and quantizer is None:
            raise ValueError(f"{owner}: `quant_hardened=True` needs a `quantizer`")
        self.quant_hardened = bool(quant_hardened)
        # ADMM projects onto the quantizer's grid as well while this is set (tfs.ADMM decides).
        self._admm_quantize = False
        # Optional callable (layer, kernel tensor) -> kernel tensor applied in training calls
        # (device variation models set it for noise-aware training).
        self.weight_noise = None

    def _build_sparse(self, kernel_shape):
        # Shape checks only (ranks, 3x3, divisibility): no projection of a kernel at build time.
        try:
            self.structure._check_kernel(self.structure_view(np.zeros(kernel_shape, dtype=np.float32)))
        except ValueError as err:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': structure {self.structure!r} does not accept "
                f"this layer's kernel of shape {tuple(kernel_shape)}: {err}"
            ) from None
        self.mask = self.add_weight(
            name="mask", shape=kernel_shape, initializer="ones", trainable=False
        )
        self.pruning_step = self.add_weight(
            name="pruning_step", shape=(), initializer="zeros", trainable=False, dtype="int64"
        )
        if self._admm:
            self._build_admm(kernel_shape)
        if self._group_reg:
            self._build_group_reg(kernel_shape)
        if self.quantizer is not None:
            self._build_quant(kernel_shape)
        if self._sign_constrained:
            # +1 / -1: the side of zero a weight must stay on once hardened; 0: free.
            self.sign_mask = self.add_weight(name="sign_mask", shape=kernel_shape, initializer="zeros", trainable=False)

    @property
    def _sign_constrained(self) -> bool:
        return bool(getattr(self.structure, "single_sign", False))

    def _build_quant(self, kernel_shape):
        rows = int(np.prod(self._channel_shape(kernel_shape)))
        self.quant_scale = self.add_weight(name="quant_scale", shape=(rows,), initializer="zeros", trainable=False)

    def _admm_constraints(self):
        constraints = getattr(self.structure, "admm_constraints", None)
        return list(constraints()) if constraints is not None else [self.structure]

    def _build_admm(self, kernel_shape):
        # One (Z, U) pair per constraint set: a structure made of several constraints (kernel
        # pattern + connectivity) gets a pair for each, as in extended ADMM.
        self.admm_z, self.admm_u = [], []
        for i, _ in enumerate(self._admm_constraints()):
            suffix = "" if i == 0 else f"_{i}"
            self.admm_z.append(self.add_weight(name=f"admm_z{suffix}", shape=kernel_shape, initializer="zeros", trainable=False))
            self.admm_u.append(self.add_weight(name=f"admm_u{suffix}", shape=kernel_shape, initializer="zeros", trainable=False))
        self.admm_rho = self.add_weight(name="admm_rho", shape=(), initializer="zeros", trainable=False)

    def _build_group_reg(self, kernel_shape):
        self.group_alpha = self.add_weight(name="group_alpha", shape=kernel_shape, initializer="zeros", trainable=False)
        self.group_lambda = self.add_weight(name="group_lambda", shape=(), initializer="zeros", trainable=False)

    # --- views ------------------------------------------------------------------------------
    @staticmethod
    def structure_view_of(kernel: np.ndarray) -> np.ndarray:
        """The kernel in the layout the structure works on (Keras's own layout by default)."""
        return kernel

    def structure_view(self, kernel: np.ndarray) -> np.ndarray:
        return self.structure_view_of(kernel)

    def from_structure_view(self, view: np.ndarray, kernel_shape) -> np.ndarray:
        return np.reshape(view, kernel_shape)

    def _channel_shape(self, kernel_shape) -> tuple:
        """Shape that broadcasts one value per output channel (GEMM row) over the kernel."""
        kernel_shape = tuple(kernel_shape)
        return (1,) * (len(kernel_shape) - 1) + (kernel_shape[-1],)

    def to_layer_gemm(self, kernel: np.ndarray) -> np.ndarray:
        """The kernel's GEMM view (rows = output channels) as the structure sees it."""
        return to_gemm(self.structure_view(kernel))

    def from_layer_gemm(self, w2: np.ndarray, kernel_shape) -> np.ndarray:
        view_shape = self.structure_view(np.zeros(kernel_shape, dtype=np.float32)).shape
        return self.from_structure_view(from_gemm(w2, view_shape), kernel_shape)

    # --- values -----------------------------------------------------------------------------
    @property
    def masked_kernel(self):
        kernel = ops.multiply(self._kernel, self.mask)
        if self._sign_constrained and hasattr(self, "sign_mask"):
            # single-sign structures: a weight on the wrong side of its tile's sign reads as 0
            kernel = ops.multiply(ops.relu(ops.multiply(kernel, self.sign_mask)), self.sign_mask)
            kernel = ops.where(ops.equal(self.sign_mask, 0.0), ops.multiply(self._kernel, self.mask), kernel)
        if self.quant_hardened:
            # Straight-through: the forward pass sees the grid, the gradient reaches the float kernel.
            # q + (k - k): exactly q in value (k - k is exactly 0; k + (q - k) would not be).
            kernel = ops.add(ops.stop_gradient(self._quantize_tensor(kernel)),
                             ops.subtract(kernel, ops.stop_gradient(kernel)))
        if self.weight_noise is not None and self._in_training_call():
            kernel = self.weight_noise(self, kernel)
        return kernel

    @staticmethod
    def _in_training_call() -> bool:
        # The call context Keras keeps while a model is called (read, never created here).
        from keras.src.backend.common import global_state

        context = global_state.get_global_attribute("current_call_ctx")
        return bool(context is not None and context.get_value("training"))

    def _quantize_tensor(self, kernel):
        """The kernel on the quantizer's grid with the frozen per-channel scale (same float32
        arithmetic as ``Quantizer.quantize``), zero where the mask is zero."""
        q = self.quantizer
        scale = ops.reshape(self.quant_scale, self._channel_shape(tuple(self._kernel.shape)))
        safe = ops.where(ops.greater(scale, 0.0), scale, ops.ones_like(scale))
        r = ops.divide(ops.abs(kernel), safe)
        mags = q.magnitudes
        if not q.has_zero:
            level = ops.ones_like(r)
            sign = ops.where(ops.less(kernel, 0.0), -1.0, 1.0)
        elif q._uniform:
            level = ops.minimum(ops.ceil(ops.subtract(r, 0.5)), float(len(mags) - 1))
            sign = ops.sign(kernel)
        else:
            level = ops.zeros_like(r)
            for lo, hi in zip(mags[:-1], mags[1:]):
                step = ops.cast(ops.greater(r, np.float32((lo + hi) / 2)), r.dtype)
                level = ops.add(level, ops.multiply(step, float(hi - lo)))
            sign = ops.sign(kernel)
        value = ops.multiply(ops.multiply(sign, level), scale)
        return ops.multiply(value, self.mask)

    def kernel_numpy(self) -> np.ndarray:
        """The effective kernel (``kernel * mask``) as a NumPy array.

        Projections start from it, so a weight pruned earlier stays pruned (masks are nested)
        whatever an optimizer's momentum did to the stored value.
        """
        kernel = np.asarray(_var_numpy(self._kernel)) * np.asarray(_var_numpy(self.mask))
        if self._sign_constrained and hasattr(self, "sign_mask"):
            sign = np.asarray(_var_numpy(self.sign_mask))
            kernel = np.where(sign == 0, kernel, np.maximum(kernel * sign, 0) * sign)
        return kernel.astype(np.float32)

    def _structure_call(self, method, structure, kernel, sparsity):
        """``structure.<method>(view of kernel, sparsity)`` in the kernel's layout; errors (NaN
        weights, a bad sparsity) name this layer."""
        try:
            view = getattr(structure, method)(self.structure_view(kernel), sparsity)
        except (TypeError, ValueError) as err:
            raise _named(err, f"{type(self).__name__} '{self.name}'") from None
        return self.from_structure_view(view, kernel.shape)

    def _kernel_arg(self, kernel):
        if kernel is None:
            return self.kernel_numpy()
        kernel = np.asarray(kernel, dtype=np.float32)
        expected = tuple(self._kernel.shape)
        if kernel.shape != expected:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': `kernel` must have the layer's kernel shape "
                f"{expected}, got {kernel.shape}"
            )
        return kernel

    def project_kernel(self, kernel=None, sparsity=None) -> np.ndarray:
        """Projection of ``kernel`` (default: the current kernel) onto the layer's structure."""
        return self._structure_call("project", self.structure, self._kernel_arg(kernel), sparsity)

    def mask_for(self, kernel=None, sparsity=None) -> np.ndarray:
        return self._structure_call("mask", self.structure, self._kernel_arg(kernel), sparsity)

    def update_mask(self, sparsity=None) -> np.ndarray:
        """Recomputes the mask from the current kernel and zeroes the pruned weights."""
        kernel = self.kernel_numpy()
        mask = self.mask_for(kernel, sparsity)
        self.mask.assign(mask)
        self._kernel.assign(kernel * mask)
        return mask

    def harden(self, sparsity=None, quantize=True):
        """Projects the kernel onto the structure and freezes the mask (masked retraining next).

        With ``quantize`` and a quantizer, the kept weights then go onto the grid with the
        optimal scale, which is frozen: retraining keeps both the mask and the levels. A
        single-sign structure (``Crossbar(single_sign=True)``) also freezes each tile's sign:
        retraining keeps every weight on its side of zero.
        """
        if self._sign_constrained:
            self.sign_mask.assign(np.zeros(tuple(self._kernel.shape), dtype=np.float32))
        self.update_mask(sparsity)
        if self._sign_constrained:
            kernel = self.kernel_numpy()
            signs = self._structure_call("tile_signs", self.structure, kernel, None)
            self.sign_mask.assign(signs.astype(np.float32))
        if self._admm:
            self.admm_rho.assign(0.0)
        if self._group_reg:
            self.group_lambda.assign(0.0)
        self.hardened = True
        if quantize and self.quantizer is not None:
            self.harden_quantization()

    def harden_quantization(self):
        """Puts the kept weights on the quantizer's grid with the optimal scale and freezes it."""
        if self.quantizer is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': the layer has no quantizer")
        kernel = self.kernel_numpy()
        mask = np.asarray(_var_numpy(self.mask)) != 0
        w2, keep = self.to_layer_gemm(kernel), self.to_layer_gemm(mask)
        z, scale = self.quantizer.project(w2, keep)
        self.quant_scale.assign(scale)
        self._kernel.assign(self.from_layer_gemm(z, kernel.shape))
        self.quant_hardened = True
        if self._admm:
            self.admm_rho.assign(0.0)

    def set_quantizer(self, quantizer):
        """Gives a built layer a quantizer (or another one: its quantization is un-hardened)."""
        owner = f"{type(self).__name__} '{self.name}'"
        if quantizer is not None and not isinstance(quantizer, Quantizer):
            raise TypeError(f"{owner}: `quantizer` must be None or a tf_sparse quantizer, got {quantizer!r}")
        if quantizer is not None and self.quantizer is None:
            self._add_state(self._build_quant)
        if quantizer is None and self.quantizer is not None:
            raise ValueError(f"{owner}: a quantizer cannot be removed from a built layer; tfs.strip the model")
        self.quantizer = quantizer
        self.quant_hardened = False

    def effective_kernel_numpy(self) -> np.ndarray:
        """The kernel the layer computes with (masked, and on the grid once quantization is
        hardened), without device noise."""
        kernel = self.kernel_numpy()
        if not self.quant_hardened:
            return kernel
        mask = np.asarray(_var_numpy(self.mask)) != 0
        scale = np.asarray(_var_numpy(self.quant_scale))
        z = self.quantizer.quantize(self.to_layer_gemm(kernel), scale, self.to_layer_gemm(mask))
        return self.from_layer_gemm(z, kernel.shape)

    def quantized_codes(self):
        """``(codes, step)`` of a layer with hardened quantization: integer codes in the
        kernel's layout and the per-output-channel step, ``kernel == step * codes``."""
        if not self.quant_hardened:
            raise ValueError(f"{type(self).__name__} '{self.name}': quantization is not hardened; call tfs.harden first")
        kernel = self.kernel_numpy()
        mask = np.asarray(_var_numpy(self.mask)) != 0
        scale = np.asarray(_var_numpy(self.quant_scale))
        codes, step = self.quantizer.integer_codes(self.to_layer_gemm(kernel), scale, self.to_layer_gemm(mask))
        return self.from_layer_gemm(codes, kernel.shape), step

    @property
    def sparse_name(self) -> str:
        """The name training logs use for this layer: its name, or its path when several sparse
        layers of the model share a name (set by ``tfs.sparse_layers``)."""
        return self.__dict__.get("_tfs_sparse_name", self.name)

    @sparse_name.setter
    def sparse_name(self, value):
        self.__dict__["_tfs_sparse_name"] = str(value)

    @property
    def sparse_path(self) -> str:
        """The layer's path in its model (set by ``tfs.sparse_layers``)."""
        return self.__dict__.get("_tfs_sparse_path", self.name)

    @sparse_path.setter
    def sparse_path(self, value):
        self.__dict__["_tfs_sparse_path"] = str(value)

    def sparsity(self) -> float:
        """Fraction of zero entries of the effective (masked) kernel."""
        k = self.kernel_numpy()
        return float(np.count_nonzero(k == 0)) / max(1, k.size)

    # --- ADMM ---------------------------------------------------------------------------------
    @property
    def admm_enabled(self) -> bool:
        return self._admm

    def _add_state(self, builder):
        """Adds weights to a built layer (Keras locks a layer's state after ``build``)."""
        if not self.built:
            raise ValueError(f"{type(self).__name__} '{self.name}': build the layer first")
        self._tracker.unlock()
        try:
            builder(tuple(self._kernel.shape))
        finally:
            self._tracker.lock()

    def enable_admm(self):
        """Adds the ADMM variables to a built layer if needed; ``rho`` starts at 0 (inactive)."""
        if not self._admm:
            self._add_state(self._build_admm)
            self._admm = True

    def admm_configure(self, quantize: bool):
        """Which constraint sets the ADMM phase projects onto: the structure's while the mask is
        not hardened, the quantizer's grid (when ``quantize`` and not hardened yet) on the kept
        weights; both at once when both are open."""
        self._admm_quantize = bool(quantize and self.quantizer is not None and not self.quant_hardened)

    def _admm_active(self):
        """Indices of the (Z, U) pairs in use: every structure constraint while the mask is open;
        only the first pair (the grid on the fixed mask) once it is hardened."""
        n = len(self._admm_constraints())
        if not self.hardened:
            return list(range(n))
        return [0] if self._admm_quantize else []

    def _admm_project(self, index, value, sparsity=None):
        """``Z`` of pair ``index`` for ``value = W + U``."""
        if not self.hardened:
            z = self._project_with(self._admm_constraints()[index], value, sparsity)
            keep = z != 0
        else:
            keep = np.asarray(_var_numpy(self.mask)) != 0
            z = value * keep
        if self._admm_quantize:
            # Prune, then put the kept weights on the grid: a point of both constraint sets.
            q, _ = self.quantizer.project(self.to_layer_gemm(z), self.to_layer_gemm(keep))
            z = self.from_layer_gemm(q, value.shape)
        return z.astype(np.float32)

    def admm_reset(self, sparsity=None):
        """``Z_i = project_i(W)``, ``U_i = 0`` for every constraint set in use."""
        kernel = self.kernel_numpy()
        for i in self._admm_active():
            self.admm_z[i].assign(self._admm_project(i, kernel, sparsity))
            self.admm_u[i].assign(np.zeros(kernel.shape, dtype=np.float32))

    def admm_update(self, sparsity=None):
        """The Z- and U-steps: ``Z_i = project_i(W + U_i)``, ``U_i += W - Z_i``.

        Returns ``(primal, dual)``: ``sum_i ||W - Z_i||_F`` and ``rho * sum_i ||Z_i - Z_i_prev||_F``.
        """
        kernel = self.kernel_numpy()
        rho = float(_var_numpy(self.admm_rho))
        primal = dual = 0.0
        for i in self._admm_active():
            z, u = self.admm_z[i], self.admm_u[i]
            u_val = np.asarray(_var_numpy(u))
            z_prev = np.asarray(_var_numpy(z))
            z_new = self._admm_project(i, kernel + u_val, sparsity)
            z.assign(z_new)
            u.assign(u_val + kernel - z_new)
            primal += float(np.linalg.norm(kernel - z_new))
            dual += rho * float(np.linalg.norm(z_new - z_prev))
        return primal, dual

    def admm_residual(self) -> float:
        """Primal residual ``sum_i ||W - Z_i||_F``."""
        kernel = self.kernel_numpy()
        return float(sum(np.linalg.norm(kernel - np.asarray(_var_numpy(self.admm_z[i])))
                         for i in self._admm_active()))

    def _project_with(self, structure, kernel, sparsity=None):
        return self._structure_call("project", structure, kernel, sparsity)

    def admm_penalty(self):
        """``rho / 2 * sum_i ||W - Z_i + U_i||_F^2`` (squared Frobenius norms)."""
        total = 0.0
        for i in self._admm_active():
            z, u = self.admm_z[i], self.admm_u[i]
            diff = ops.add(ops.subtract(self._kernel, z), u)
            total = ops.add(total, ops.sum(ops.square(diff)))
        return ops.multiply(0.5 * self.admm_rho, total)

    # --- group regularization ----------------------------------------------------------------
    def enable_group_reg(self):
        """Adds the per-weight group coefficients ``alpha`` and the scalar ``lambda`` (both 0)."""
        if not self._group_reg:
            self._add_state(self._build_group_reg)
            self._group_reg = True

    def group_ids(self) -> np.ndarray:
        """Group index of every kernel entry, from the structure (element groups by default)."""
        kernel = self.kernel_numpy()
        fn = getattr(self.structure, "group_ids", None)
        if fn is None:
            return np.arange(kernel.size).reshape(kernel.shape)
        return self.from_structure_view(fn(self.structure_view(kernel)), kernel.shape)

    def group_penalty(self):
        """``lambda * sum_g alpha_g ||W_g||_F^2``, with alpha stored per weight."""
        return ops.multiply(self.group_lambda, ops.sum(ops.multiply(self.group_alpha, ops.square(self._kernel))))

    def _add_sparse_losses(self):
        if self._admm:
            self.add_loss(self.admm_penalty())
        if self._group_reg:
            self.add_loss(self.group_penalty())

    # --- config -----------------------------------------------------------------------------
    def _sparse_config(self):
        return {
            "structure": serialize_structure(self.structure),
            "schedule": serialize_schedule(self.schedule) if self._schedule_given else None,
            "admm": self._admm,
            "group_reg": self._group_reg,
            "hardened": self.hardened,
            "quantizer": serialize_quantizer(self.quantizer),
            "quant_hardened": self.quant_hardened,
        }

    # Weights are saved by name (kernel, bias, mask, admm_z, ...), not by creation order: ADMM
    # and group-regularization state may be added after build, in either order.
    def _own_variables(self):
        return {v.name: v for v in self._trainable_variables + self._non_trainable_variables}

    def save_own_variables(self, store):
        if not self.built:
            return
        for name, variable in self._own_variables().items():
            store[name] = variable

    def load_own_variables(self, store):
        if not self.built:
            return
        own = self._own_variables()
        keys = set(store.keys())
        # Files written before single-sign layers kept their signs have no sign_mask: free signs.
        missing = sorted(set(own) - keys - {"sign_mask"})
        extra = sorted(keys - set(own))
        if missing or extra:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': saved weights do not match the layer "
                f"(missing: {missing}, unexpected: {extra})"
            )
        for name, variable in own.items():
            if name in keys:
                variable.assign(store[name])
