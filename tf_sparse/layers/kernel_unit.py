"""``SparseKernel``: the mask, schedule and ADMM/regularization state of one kernel of a layer.

Layers with several kernels (``SeparableConv2D``'s depthwise and pointwise kernels, an RNN cell's
input and recurrent kernels) and layers whose kernel needs a layout of its own (``EinsumDense``,
``Conv2DTranspose``, ``Embedding``) keep their Keras variables; each pruned kernel gets a
``SparseKernel`` child that holds the mask and the training state and reads and writes the
host's variable. The host hands the masked kernel to its own Keras computation.

A ``SparseKernel`` is a sparse layer like ``SparseDense`` for every training path
(``tfs.UpdateMasks``, ``tfs.ADMM``, ``tfs.ReweightedGroupLasso``, ``tfs.harden``, summaries):
``tfs.sparse_layers(model)`` lists it under its host's path and the kernel's name.
"""

from __future__ import annotations

import weakref

import keras
import numpy as np

from tf_sparse.layers.base import SparseLayerMixin


# How a structure sees a kernel:
#   dense       Keras (in, out) layout as is (Dense, RNN kernels, Embedding (vocab, dim));
#   conv        (kh, kw, in, out) as is;
#   conv1d      (k, in, out) seen as (1, k, in, out);
#   transpose   Conv2DTranspose (kh, kw, out, in) seen as (kh, kw, in, out);
#   depthwise   (kh, kw, in, mult) seen as (kh, kw, 1, in * mult);
#   einsum      EinsumDense: contracted kernel axes x output kernel axes flattened to a Dense
#               (in, out) kernel (``perm`` orders the kernel's axes, ``split`` = number of
#               contracted axes).
LAYOUTS = ("dense", "conv", "conv1d", "transpose", "depthwise", "einsum")


def einsum_layout(equation: str, kernel_shape) -> dict:
    """The Dense view of an ``EinsumDense`` kernel: ``{"perm": [...], "split": k}``.

    Kernel axes whose label is in the output are GEMM rows (output units); the others are summed
    over (the reduction). ``"abc,cde->abde"`` (BERT's query/key/value, kernel (hidden, heads,
    head_dim)) is a Dense kernel (hidden, heads * head_dim); ``"abcd,cde->abe"`` (attention
    output, kernel (heads, head_dim, hidden)) is (heads * head_dim, hidden). Labels shared by the
    input, the kernel and the output (a separate weight per group) count as output axes.
    """
    try:
        lhs, out = equation.replace(" ", "").split("->")
        inp, ker = lhs.split(",")
    except ValueError:
        raise ValueError(f"EinsumDense equation {equation!r} is not of the form 'in,kernel->out'") from None
    if "." in equation:
        raise ValueError(f"EinsumDense equation {equation!r}: ellipses are not supported by sparse layers")
    if len(ker) != len(tuple(kernel_shape)):
        raise ValueError(f"EinsumDense equation {equation!r} does not match a kernel of shape {tuple(kernel_shape)}")
    reduce_axes = [i for i, c in enumerate(ker) if c not in out]
    out_axes = [i for i, c in enumerate(ker) if c in out]
    if not reduce_axes or not out_axes:
        raise ValueError(
            f"EinsumDense equation {equation!r}: the kernel needs both summed axes and output axes "
            "to be seen as a matrix"
        )
    return {"perm": reduce_axes + out_axes, "split": len(reduce_axes)}


def layout_view(kernel: np.ndarray, layout: str, spec=None) -> np.ndarray:
    """``kernel`` in the layout a structure works on (see ``LAYOUTS``)."""
    if layout in ("dense", "conv"):
        return kernel
    if layout == "conv1d":
        return np.reshape(kernel, (1,) + tuple(kernel.shape))
    if layout == "transpose":
        return np.transpose(kernel, (0, 1, 3, 2))
    if layout == "depthwise":
        kh, kw, cin, mult = kernel.shape
        return np.reshape(kernel, (kh, kw, 1, cin * mult))
    if layout == "einsum":
        perm, split = spec["perm"], spec["split"]
        t = np.transpose(kernel, perm)
        return np.reshape(t, (int(np.prod(t.shape[:split])), int(np.prod(t.shape[split:]))))
    raise ValueError(f"unknown kernel layout {layout!r}; expected one of {LAYOUTS}")


def layout_unview(view: np.ndarray, shape, layout: str, spec=None) -> np.ndarray:
    """Inverse of :func:`layout_view` for a kernel of Keras shape ``shape``."""
    shape = tuple(shape)
    if layout in ("dense", "conv", "conv1d", "depthwise"):
        return np.reshape(view, shape)
    if layout == "transpose":
        return np.transpose(view, (0, 1, 3, 2))
    if layout == "einsum":
        perm = spec["perm"]
        t = np.reshape(view, tuple(shape[i] for i in perm))
        return np.transpose(t, np.argsort(perm))
    raise ValueError(f"unknown kernel layout {layout!r}; expected one of {LAYOUTS}")


def output_axes(shape, layout: str, spec=None) -> tuple:
    """Axes of the Keras kernel that index output units (one quantizer scale per unit)."""
    rank = len(tuple(shape))
    if layout == "transpose":
        return (2,)
    if layout == "depthwise":
        return (2, 3)
    if layout == "einsum":
        return tuple(spec["perm"][spec["split"]:])
    return (rank - 1,)


@keras.saving.register_keras_serializable(package="tf_sparse")
class SparseKernel(SparseLayerMixin, keras.layers.Layer):
    """The sparse state of one kernel of a host layer (see the module docstring).

    Args:
      role: the host's attribute for this kernel (``"kernel"``, ``"recurrent_kernel"``,
        ``"depthwise_kernel"``, ``"pointwise_kernel"``, ``"embeddings"``).
      layout: how the structure sees the kernel (``LAYOUTS``); ``layout_spec`` its parameters.
      structure, schedule, admm, hardened, group_reg, quantizer, quant_hardened: as
        ``tfs.SparseDense``.
    """

    def __init__(self, role="kernel", layout="dense", layout_spec=None, structure=None, schedule=None,
                 admm=False, hardened=False, group_reg=False, quantizer=None, quant_hardened=False, **kwargs):
        super().__init__(**kwargs)
        if layout not in LAYOUTS:
            raise ValueError(f"SparseKernel '{self.name}': `layout` must be one of {LAYOUTS}, got {layout!r}")
        self.role = str(role)
        self.layout = layout
        self.layout_spec = dict(layout_spec) if layout_spec else None
        self._host_ref = None
        self.sparse_path = self.name
        self._init_sparse(structure, schedule, admm, hardened, group_reg, quantizer, quant_hardened)

    def attach(self, host, variable):
        """Takes ``variable`` (the host's kernel, which stays the host's) as this unit's kernel and
        creates the mask and state for it."""
        # Neither the host nor its variable become tracked state of the unit: the host saves and
        # trains its own variable; the unit saves its mask and state.
        object.__setattr__(self, "_host_ref", weakref.ref(host))
        object.__setattr__(self, "_kernel", variable)
        self._tracker.unlock()
        try:
            self._build_sparse(tuple(variable.shape))
        finally:
            self._tracker.lock()
        self.built = True

    def host_layer(self):
        """The layer whose kernel this is (a method, not an attribute: saving walks attributes)."""
        return self._host_ref() if self._host_ref is not None else None

    @property
    def kernel(self):
        return self._kernel

    @property
    def bias(self):
        host = self.host_layer()
        return getattr(host, "bias", None) if host is not None and self.role in ("kernel", "pointwise_kernel") else None

    def build(self, input_shape=None):
        # Built by ``attach``; Keras's own build call has nothing to add.
        self.built = True

    def call(self, inputs=None):
        raise TypeError(f"SparseKernel '{self.name}' holds the state of a kernel of its host layer and is not called")

    # --- layout --------------------------------------------------------------------------------
    def structure_view(self, kernel):
        return layout_view(np.asarray(kernel), self.layout, self.layout_spec)

    def from_structure_view(self, view, kernel_shape):
        return layout_unview(np.asarray(view), kernel_shape, self.layout, self.layout_spec)

    def _channel_shape(self, kernel_shape):
        axes = output_axes(kernel_shape, self.layout, self.layout_spec)
        return tuple(s if i in axes else 1 for i, s in enumerate(tuple(kernel_shape)))

    def get_config(self):
        config = super().get_config()
        config.update({"role": self.role, "layout": self.layout, "layout_spec": self.layout_spec})
        config.update(self._sparse_config())
        return config

    def sparse_config(self) -> dict:
        """Structure, schedule, quantizer and state flags: what a host needs to rebuild this unit."""
        return self._sparse_config()
