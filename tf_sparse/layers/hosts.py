"""Sparse versions of Keras layers whose kernels are held by ``SparseKernel`` units.

``SparseEinsumDense``, ``SparseConv2DTranspose``, ``SparseEmbedding``, ``SparseSeparableConv2D``,
``SparseLSTM``, ``SparseGRU`` and ``SparseSimpleRNN`` are the Keras layers themselves (subclasses,
same arguments, same variables, same computation) with each pruned kernel read through its unit's
mask. They are made by ``tfs.sparsify`` (in place, or from a config: ``tfs_kernels`` maps a kernel's
name to its unit's structure, schedule and state flags) and turned back into the Keras layer by
``tfs.strip``.
"""

from __future__ import annotations

import keras

from tf_sparse.layers.kernel_unit import SparseKernel, einsum_layout


class SparseHostMixin:
    """A Keras layer whose kernels (``_tfs_roles``) may each carry a ``SparseKernel`` unit."""

    keras_class = None
    _tfs_roles = ("kernel",)
    # Roles stored by Keras as plain attributes (``self.kernel = self.add_weight(...)``): here they
    # become properties backed by ``_tfs_raw_<role>``.
    _tfs_property_roles = ()

    def __init__(self, *args, tfs_kernels=None, **kwargs):
        super().__init__(*args, **kwargs)
        _init_host(self, tfs_kernels)

    # --- units -------------------------------------------------------------------------------
    def _tfs_raw(self, role):
        if role in self._tfs_property_roles:
            return self.__dict__.get(f"_tfs_raw_{role}")
        if role == "kernel":
            return self._kernel
        if role == "embeddings":
            return self._embeddings
        raise AttributeError(role)

    def _tfs_layout(self, role, shape):
        return "dense", None

    def tfs_unit(self, role):
        return self.__dict__.get(f"_tfs_unit_{role}")

    def tfs_units(self):
        return [u for u in (self.tfs_unit(role) for role in self._tfs_roles) if u is not None]

    def _tfs_adopt(self):
        """After a class swap of a built Keras layer: moves plain kernel attributes into the
        property storage."""
        for role in self._tfs_property_roles:
            if role in self.__dict__:
                self.__dict__[f"_tfs_raw_{role}"] = self.__dict__.pop(role)

    def _tfs_attach(self, kernels):
        """Creates a unit for every ``{role: unit config}`` entry (None: the kernel stays dense)."""
        unknown = sorted(set(kernels) - set(self._tfs_roles))
        if unknown:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': unknown kernel(s) {unknown}; this layer's kernels "
                f"are {list(self._tfs_roles)}"
            )
        tracker = self._tracker
        was_locked = tracker.locked
        tracker.unlock()
        try:
            for role in self._tfs_roles:
                config = kernels.get(role)
                if config is None or self.tfs_unit(role) is not None:
                    continue
                raw = self._tfs_raw(role)
                layout, spec = self._tfs_layout(role, tuple(raw.shape))
                config = {k: v for k, v in dict(config).items() if k not in ("role", "layout", "layout_spec", "name")}
                unit = SparseKernel(role=role, layout=layout, layout_spec=spec, name=f"{self.name}_{role}", **config)
                setattr(self, f"_tfs_unit_{role}", unit)
                unit.attach(self, raw)
        finally:
            if was_locked:
                tracker.lock()

    def _tfs_masked(self, role, raw):
        unit = self.tfs_unit(role)
        return unit.masked_kernel if unit is not None else raw

    def _tfs_add_losses(self):
        for unit in self.tfs_units():
            unit._add_sparse_losses()

    def tfs_kernels_config(self) -> dict:
        return {unit.role: unit.sparse_config() for unit in self.tfs_units()}

    def _tfs_build_pending(self):
        pending = self.__dict__.pop("_tfs_pending", None)
        if pending:
            self._tfs_attach(pending)

    # --- stripping ---------------------------------------------------------------------------
    def keras_config(self):
        """Config of the plain Keras layer this layer strips to."""
        config = self.keras_class.get_config(self)
        config.pop("tfs_kernels", None)
        return config


def _role_property(role):
    storage = f"_tfs_raw_{role}"

    def getter(self):
        raw = self.__dict__.get(storage)
        return self._tfs_masked(role, raw) if raw is not None else raw

    def setter(self, value):
        self.__dict__[storage] = value

    return property(getter, setter, doc=f"The layer's {role} as it computes with it (masked when pruned).")


def _init_host(self, tfs_kernels):
    # Not a Keras-tracked attribute: a plain entry, removed once the units exist.
    self.__dict__["_tfs_pending"] = dict(tfs_kernels) if tfs_kernels else None


def _host_config(self, base, owner=None):
    """``base``'s config of the layer plus the units' configs of ``owner`` (the layer, or an RNN's
    cell) under ``tfs_kernels``."""
    config = base.get_config(self)
    config["tfs_kernels"] = (owner or self).tfs_kernels_config()
    return config


@keras.saving.register_keras_serializable(package="tf_sparse")
class SparseEinsumDense(SparseHostMixin, keras.layers.EinsumDense):
    """``keras.layers.EinsumDense`` with a pruned kernel.

    The structure sees the kernel as a Dense ``(in, out)`` matrix: the kernel axes summed over
    (labels absent from the output) flattened into ``in``, the output axes into ``out``, each in
    the kernel's order (``tf_sparse.layers.kernel_unit.einsum_layout``). A block ``(16, 1)``
    therefore spans 16 consecutive output units, e.g. 16 consecutive ``head_dim`` entries of one
    head in BERT's query/key/value projections.
    """

    keras_class = keras.layers.EinsumDense

    def build(self, input_shape):
        super().build(input_shape)
        self._tfs_build_pending()

    @property
    def kernel(self):
        return self._tfs_masked("kernel", keras.layers.EinsumDense.kernel.fget(self))

    def _tfs_layout(self, role, shape):
        return "einsum", einsum_layout(self.equation, shape)

    def call(self, inputs, training=None):
        self._tfs_add_losses()
        return super().call(inputs, training=training)

    def get_config(self):
        return _host_config(self, keras.layers.EinsumDense)


@keras.saving.register_keras_serializable(package="tf_sparse")
class SparseConv2DTranspose(SparseHostMixin, keras.layers.Conv2DTranspose):
    """``keras.layers.Conv2DTranspose`` with a pruned kernel; the structure sees the kernel
    ``(kh, kw, out, in)`` as a Conv2D kernel ``(kh, kw, in, out)``."""

    keras_class = keras.layers.Conv2DTranspose
    _tfs_property_roles = ("kernel",)
    kernel = _role_property("kernel")

    def build(self, input_shape):
        super().build(input_shape)
        self._tfs_build_pending()

    def _tfs_layout(self, role, shape):
        return "transpose", None

    def call(self, inputs):
        self._tfs_add_losses()
        return super().call(inputs)

    def get_config(self):
        return _host_config(self, keras.layers.Conv2DTranspose)


@keras.saving.register_keras_serializable(package="tf_sparse")
class SparseSeparableConv2D(SparseHostMixin, keras.layers.SeparableConv2D):
    """``keras.layers.SeparableConv2D`` with its depthwise and/or pointwise kernel pruned, each
    with its own structure: the depthwise kernel is seen as a ``DepthwiseConv2D`` kernel (one
    ``kh x kw`` filter per channel), the pointwise kernel as a 1x1 Conv2D kernel."""

    keras_class = keras.layers.SeparableConv2D
    _tfs_roles = ("depthwise_kernel", "pointwise_kernel")
    _tfs_property_roles = ("depthwise_kernel", "pointwise_kernel")
    depthwise_kernel = _role_property("depthwise_kernel")
    pointwise_kernel = _role_property("pointwise_kernel")

    def build(self, input_shape):
        super().build(input_shape)
        self._tfs_build_pending()

    def _tfs_layout(self, role, shape):
        return ("depthwise", None) if role == "depthwise_kernel" else ("conv", None)

    def call(self, inputs):
        self._tfs_add_losses()
        return super().call(inputs)

    def get_config(self):
        return _host_config(self, keras.layers.SeparableConv2D)


@keras.saving.register_keras_serializable(package="tf_sparse")
class SparseEmbedding(SparseHostMixin, keras.layers.Embedding):
    """``keras.layers.Embedding`` with a pruned table (for size: a pruned row entry reads as 0).
    The structure sees the table ``(vocabulary, dim)`` as a Dense kernel (in = vocabulary)."""

    keras_class = keras.layers.Embedding
    _tfs_roles = ("embeddings",)

    def build(self, input_shape=None):
        super().build(input_shape)
        self._tfs_build_pending()

    @property
    def embeddings(self):
        return self._tfs_masked("embeddings", keras.layers.Embedding.embeddings.fget(self))

    def call(self, inputs):
        self._tfs_add_losses()
        return super().call(inputs)

    def get_config(self):
        return _host_config(self, keras.layers.Embedding)


# --- recurrent layers -------------------------------------------------------------------------
class _SparseCellMixin(SparseHostMixin):
    """An RNN cell whose input kernel and recurrent kernel may each be pruned. Gates are
    concatenated along the output axis as Keras stores them (LSTM: i, f, c, o; GRU: z, r, h), so a
    block of ``(b, 1)`` output units lies inside one gate when ``units`` is a multiple of ``b``."""

    _tfs_roles = ("kernel", "recurrent_kernel")
    _tfs_property_roles = ("kernel", "recurrent_kernel")
    kernel = _role_property("kernel")
    recurrent_kernel = _role_property("recurrent_kernel")


class SparseLSTMCell(_SparseCellMixin, keras.layers.LSTMCell):
    keras_class = keras.layers.LSTMCell


class SparseGRUCell(_SparseCellMixin, keras.layers.GRUCell):
    keras_class = keras.layers.GRUCell


class SparseSimpleRNNCell(_SparseCellMixin, keras.layers.SimpleRNNCell):
    keras_class = keras.layers.SimpleRNNCell


class _SparseRNNMixin:
    """The RNN layer of a sparse cell: its config carries the cell's units (``tfs_kernels``)."""

    keras_class = None
    cell_class = None

    def __init__(self, *args, tfs_kernels=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._tfs_wrap_cell(tfs_kernels)

    def _tfs_wrap_cell(self, tfs_kernels=None):
        cell = self.cell
        if not isinstance(cell, self.cell_class):
            cell.__class__ = self.cell_class
            cell._tfs_adopt()
        _init_host(cell, tfs_kernels)

    def build(self, sequences_shape, initial_state_shape=None):
        super().build(sequences_shape, initial_state_shape)
        self.cell._tfs_build_pending()

    def call(self, sequences, initial_state=None, mask=None, training=False):
        self.cell._tfs_add_losses()
        return super().call(sequences, initial_state=initial_state, mask=mask, training=training)

    def tfs_units(self):
        return self.cell.tfs_units()

    keras_config = SparseHostMixin.keras_config

    def get_config(self):
        return _host_config(self, self.keras_class, self.cell)


@keras.saving.register_keras_serializable(package="tf_sparse")
class SparseLSTM(_SparseRNNMixin, keras.layers.LSTM):
    """``keras.layers.LSTM`` whose input kernel ``(in, 4 units)`` and recurrent kernel
    ``(units, 4 units)`` may each be pruned with its own structure (BLK-REW's blocks over the gate
    matrices). Exported, the layer becomes TFLite's fused LSTM op with the pruned gate matrices."""

    keras_class = keras.layers.LSTM
    cell_class = SparseLSTMCell


@keras.saving.register_keras_serializable(package="tf_sparse")
class SparseGRU(_SparseRNNMixin, keras.layers.GRU):
    """``keras.layers.GRU`` with prunable input and recurrent kernels (see ``SparseLSTM``)."""

    keras_class = keras.layers.GRU
    cell_class = SparseGRUCell


@keras.saving.register_keras_serializable(package="tf_sparse")
class SparseSimpleRNN(_SparseRNNMixin, keras.layers.SimpleRNN):
    """``keras.layers.SimpleRNN`` with prunable input and recurrent kernels."""

    keras_class = keras.layers.SimpleRNN
    cell_class = SparseSimpleRNNCell


# Keras layer class -> (sparse class, kernel roles)
HOSTS = {
    keras.layers.EinsumDense: SparseEinsumDense,
    keras.layers.Conv2DTranspose: SparseConv2DTranspose,
    keras.layers.SeparableConv2D: SparseSeparableConv2D,
    keras.layers.Embedding: SparseEmbedding,
    keras.layers.LSTM: SparseLSTM,
    keras.layers.GRU: SparseGRU,
    keras.layers.SimpleRNN: SparseSimpleRNN,
}


def host_of(layer):
    """The object that owns the kernels (the cell for RNN layers)."""
    return layer.cell if isinstance(layer, _SparseRNNMixin) else layer


def roles_of(sparse_cls):
    return sparse_cls.cell_class._tfs_roles if issubclass(sparse_cls, _SparseRNNMixin) else sparse_cls._tfs_roles


def layout_of(sparse_cls, layer, role, shape):
    """Layout the structure would see for ``role`` of the (not yet converted) Keras ``layer``."""
    if issubclass(sparse_cls, _SparseRNNMixin):
        return "dense", None
    if sparse_cls is SparseEinsumDense:
        return "einsum", einsum_layout(layer.equation, shape)
    return sparse_cls._tfs_layout(layer, role, shape)


def raw_kernel(layer, role):
    """The Keras variable of kernel ``role`` of a built plain Keras layer."""
    owner = layer.cell if isinstance(layer, keras.layers.RNN) else layer
    if role == "kernel" and hasattr(owner, "_kernel"):
        return owner._kernel
    if role == "embeddings":
        return owner._embeddings
    return owner.__dict__.get(role, getattr(owner, role, None))


def convert_in_place(layer, sparse_cls, kernels):
    """Turns the built Keras ``layer`` into ``sparse_cls`` with units for ``{role: config}``."""
    owner = layer.cell if isinstance(layer, keras.layers.RNN) else layer
    if getattr(owner, "lora_enabled", False):
        raise ValueError(f"sparsify: layer '{layer.name}' uses LoRA (`lora_rank`), which sparse layers do not support")
    if getattr(owner, "quantization_mode", None):
        raise ValueError(
            f"sparsify: layer '{layer.name}' is quantized by Keras ({owner.quantization_mode}); sparsify the float "
            "model, then quantize with tf_sparse (quantize=...) or at export (int8=True)"
        )
    if issubclass(sparse_cls, _SparseRNNMixin):
        layer.__class__ = sparse_cls
        layer._tfs_wrap_cell(kernels)
        layer.cell._tfs_build_pending()
    else:
        layer.__class__ = sparse_cls
        layer._tfs_adopt()
        _init_host(layer, kernels)
        layer._tfs_build_pending()
    return layer
