"""Model surgery: swap Keras layers for sparse ones (``sparsify``) and back (``strip``)."""

from __future__ import annotations

import warnings

import keras
import numpy as np

from tf_sparse.layers.base import SparseLayerMixin
from tf_sparse.layers.sparse_conv import SparseConv1D, SparseConv2D, SparseDepthwiseConv2D
from tf_sparse.layers.sparse_dense import SparseDense
from tf_sparse.structures.base import Structure

# Keras layer class -> its sparse drop-in.
_CONVERTIBLE = {
    keras.layers.Dense: SparseDense,
    keras.layers.Conv2D: SparseConv2D,
    keras.layers.Conv1D: SparseConv1D,
    keras.layers.DepthwiseConv2D: SparseDepthwiseConv2D,
}


def _resolve(config, layer):
    """Structure requested for ``layer`` by a sparsify config, or None."""
    if config is None:
        return None
    if isinstance(config, Structure):
        return config if type(layer) in _CONVERTIBLE else None
    if isinstance(config, dict):
        if layer.name in config:
            return config[layer.name]
        for key, value in config.items():
            if isinstance(key, type) and isinstance(layer, key):
                return value
        return config.get("default") if type(layer) in _CONVERTIBLE else None
    if callable(config):
        return config(layer)
    raise TypeError(
        "sparsify: `config` must be a Structure, a dict {layer name | layer class | 'default': "
        f"Structure or None}}, or a callable(layer) -> Structure or None; got {config!r}"
    )


def _walk(model, prefix=""):
    """Yields (path, layer) for every layer, nested models included, in a stable order."""
    for layer in model.layers:
        path = f"{prefix}{layer.name}"
        yield path, layer
        if isinstance(layer, keras.Model):
            yield from _walk(layer, path + "/")


def _is_rewritable(model):
    return isinstance(model, keras.Sequential) or type(model).__name__ == "Functional"


def _check_model(model, fn_name):
    if not isinstance(model, keras.Model):
        raise TypeError(f"{fn_name}: expected a keras.Model, got {type(model).__name__}")
    if not _is_rewritable(model):
        raise TypeError(
            f"{fn_name}: model '{model.name}' is a subclassed {type(model).__name__}; only Sequential "
            "and Functional models can be rewritten. Build it functionally, or use tf_sparse layers "
            "(tfs.SparseDense, ...) directly in its code."
        )
    if not model.built:
        raise ValueError(f"{fn_name}: model '{model.name}' is not built; call it or build it first")


def _copy_weights(src_model, dst_model, transform):
    src = dict(_walk(src_model))
    for path, dst in _walk(dst_model):
        if isinstance(dst, keras.Model) or path not in src or not dst.weights:
            continue
        transform(src[path], dst)


def _fit_libraries(model, config):
    """Structures that learn a library from the weights (kernel patterns) without one get it
    now, once, from all the layers they are requested for: one library per network, as in
    PatDNN, fixed for the whole of training."""
    groups = {}
    for _, layer in _walk(model):
        structure = _resolve(config, layer)
        sparse_cls = _CONVERTIBLE.get(type(layer))
        if sparse_cls is None or not hasattr(structure, "fit_library") or getattr(structure, "library", 1) is not None:
            continue
        kernel = keras.ops.convert_to_numpy(layer.kernel)
        view = sparse_cls.structure_view_of(kernel)
        if view.ndim == 4 and view.shape[:2] == (3, 3):
            groups.setdefault(id(structure), (structure, []))[1].append(view)
    return {key: structure.fit_library(views) for key, (structure, views) in groups.items()}


def sparsify(model, config, schedule=None):
    """Returns a copy of ``model`` whose Dense and convolution layers are sparse layers, weights kept.

    Args:
      model: a built Sequential or Functional ``keras.Model`` (nested models are rewritten too).
      config: which layers get which structure: a ``Structure`` for every supported layer; a dict
        whose keys are layer names, layer classes or ``"default"`` and whose values are structures
        (or None to leave a layer alone); or a callable ``layer -> Structure or None``.
      schedule: optional pruning schedule for every converted layer (see ``tfs.UpdateMasks``).

    Returns:
      A new model; the input model is left unchanged. Layers that a structure was requested for
      but that cannot be converted are left dense, with one warning naming them.

    Example:
      >>> sparse = tfs.sparsify(model, tfs.Block(0.9, block=(1, 4)))
    """
    _check_model(model, "sparsify")
    skipped = []

    fitted = _fit_libraries(model, config)

    def clone_fn(layer):
        structure = _resolve(config, layer)
        structure = fitted.get(id(structure), structure)
        sparse_cls = _CONVERTIBLE.get(type(layer))
        if structure is not None and sparse_cls is None:
            skipped.append(f"{layer.name} ({type(layer).__name__}: no sparse version)")
        if structure is None or sparse_cls is None:
            return layer.__class__.from_config(layer.get_config())
        if not isinstance(structure, Structure):
            raise TypeError(f"sparsify: structure for layer '{layer.name}' must be a Structure, got {structure!r}")
        probe = sparse_cls.from_keras(layer, structure, schedule)
        view = sparse_cls.structure_view_of(np.zeros(tuple(layer.kernel.shape), dtype=np.float32))
        try:
            structure.mask(view)
        except ValueError as err:
            skipped.append(f"{layer.name} ({err})")
            return layer.__class__.from_config(layer.get_config())
        return probe

    new_model = keras.models.clone_model(model, clone_function=clone_fn, recursive=True)

    def transfer(src, dst):
        if isinstance(dst, SparseLayerMixin) and not isinstance(src, SparseLayerMixin):
            dst._kernel.assign(src.kernel)
            if dst.bias is not None:
                dst.bias.assign(src.bias)
            # Weights that are already zero stay masked; a dense layer starts with a full mask.
            dst.mask.assign((keras.ops.convert_to_numpy(src.kernel) != 0).astype(dst.mask.dtype))
        else:
            dst.set_weights(src.get_weights())

    _copy_weights(model, new_model, transfer)
    if skipped:
        warnings.warn("sparsify: left dense: " + "; ".join(skipped), stacklevel=2)
    return new_model


def strip(model):
    """Returns a plain Keras copy of ``model``: sparse layers become their Keras layers with the
    mask baked into the kernel (pruned weights are exact zeros).

    Example:
      >>> deploy = tfs.strip(sparse_model)
    """
    _check_model(model, "strip")

    def clone_fn(layer):
        if isinstance(layer, SparseLayerMixin):
            return layer.keras_class.from_config(layer.keras_config())
        return layer.__class__.from_config(layer.get_config())

    new_model = keras.models.clone_model(model, clone_function=clone_fn, recursive=True)

    def transfer(src, dst):
        if isinstance(src, SparseLayerMixin):
            weights = [keras.ops.convert_to_numpy(src.masked_kernel)]
            if src.bias is not None:
                weights.append(keras.ops.convert_to_numpy(src.bias))
            dst.set_weights(weights)
        else:
            dst.set_weights(src.get_weights())

    _copy_weights(model, new_model, transfer)
    return new_model


def sparse_layers(model):
    """All sparse layers of ``model`` (nested models included), in order."""
    return [layer for _, layer in _walk(model) if isinstance(layer, SparseLayerMixin)]


def harden(model, sparsity=None):
    """Projects every sparse layer's kernel onto its structure and freezes its mask.

    The end of an ADMM or regularization phase: from here on ``model.fit`` is masked retraining
    (pruned weights stay zero, ``tfs.UpdateMasks`` leaves hardened layers alone) and the ADMM
    term is switched off.

    Args:
      model: a model with sparse layers.
      sparsity: override of every layer's target (default: each structure's own).

    Returns:
      ``{layer name: sparsity after hardening}``.
    """
    layers = sparse_layers(model)
    if not layers:
        raise ValueError("harden: the model has no tf_sparse layers")
    result = {}
    for layer in layers:
        layer.harden(sparsity)
        result[layer.name] = layer.sparsity()
    return result
