"""Model surgery: swap Keras layers for sparse ones (``sparsify``) and back (``strip``)."""

from __future__ import annotations

import difflib
import warnings

import keras
import numpy as np

from tf_sparse.layers.base import SparseLayerMixin
from tf_sparse.layers.sparse_conv import SparseConv1D, SparseConv2D, SparseDepthwiseConv2D
from tf_sparse.layers.sparse_dense import SparseDense
from tf_sparse.quantization.quantizers import Quantizer
from tf_sparse.structures.base import Structure, check_sparsity
from tf_sparse.training.schedules import PruningSchedule

# Keras layer class -> its sparse drop-in.
_CONVERTIBLE = {
    keras.layers.Dense: SparseDense,
    keras.layers.Conv2D: SparseConv2D,
    keras.layers.Conv1D: SparseConv1D,
    keras.layers.DepthwiseConv2D: SparseDepthwiseConv2D,
}


_SUPPORTED = ", ".join(cls.__name__ for cls in _CONVERTIBLE)

_QUANT_FORMS = (
    "None, a quantizer (tfs.Uniform(4), tfs.Ternary(), tfs.Binary(), ...) for every supported layer, a "
    "dict {layer name | layer class | 'default': quantizer or None}, or a callable(layer) -> quantizer or None"
)

_CONFIG_FORMS = (
    "a Structure for every supported layer, a dict {layer name | layer class | 'default': Structure "
    "or None}, or a callable(layer) -> Structure or None"
)


def _check_config(config, names, kind=Structure, arg="config"):
    """Validates a sparsify config (or quantize config: ``kind=Quantizer``) against the model's
    layer names before anything is cloned."""
    forms = _CONFIG_FORMS if kind is Structure else _QUANT_FORMS
    if isinstance(config, kind) or (callable(config) and not isinstance(config, (dict, type))):
        return
    if isinstance(config, type) and issubclass(config, kind):
        raise TypeError(
            f"sparsify: `{arg}` is the class {config.__name__}; pass a "
            f"{'structure' if kind is Structure else 'quantizer'} object, e.g. tfs.{config.__name__}(...)"
        )
    if not isinstance(config, dict):
        raise TypeError(f"sparsify: `{arg}` must be {forms}; got {config!r}")
    unmatched = []
    for key, value in config.items():
        if isinstance(key, type):
            if not issubclass(key, keras.layers.Layer):
                raise TypeError(f"sparsify: `config` key {key.__name__} is a class but not a Keras layer class")
        elif not isinstance(key, str):
            raise TypeError(
                f"sparsify: `{arg}` keys must be layer names, Keras layer classes or 'default'; got {key!r}"
            )
        elif key != "default" and key not in names:
            unmatched.append(key)
        if value is not None and not isinstance(value, kind):
            example = "Structure (e.g. tfs.Block(0.9, block=(1, 4)))" if kind is Structure else "quantizer (e.g. tfs.Uniform(4))"
            raise TypeError(
                f"sparsify: `{arg}[{key if isinstance(key, str) else key.__name__}]` must be a tf_sparse "
                f"{example} or None, got {value!r}"
            )
    if unmatched:
        hints = []
        for key in unmatched:
            close = difflib.get_close_matches(key, names, n=3, cutoff=0.6)
            hints.append(f"{key!r}" + (f" (did you mean {', '.join(map(repr, close))}?)" if close else ""))
        shown = ", ".join(map(repr, names[:40])) + (", ..." if len(names) > 40 else "")
        raise ValueError(
            f"sparsify: `{arg}` names layers that the model does not have: {', '.join(hints)}; "
            f"the model's layers are: {shown}"
        )


def _resolve(config, layer, kind=Structure):
    """``(structure or None, explicit)`` requested for ``layer`` by a sparsify config.

    ``explicit`` is True when the layer was asked for by its name or its exact class: such a
    request for a layer that cannot be made sparse is an error, while a broad rule (one
    structure, ``"default"``, a base class, a callable) leaves it dense with a warning.
    """
    if config is None:
        return None, False
    if isinstance(config, kind):
        return config, False
    if isinstance(config, dict):
        if layer.name in config:
            return config[layer.name], True
        for key, value in config.items():
            if isinstance(key, type) and isinstance(layer, key):
                return value, key is type(layer)
        return config.get("default"), False
    return config(layer), False


def _has_weight_matrix(layer) -> bool:
    """Layers with a weight of rank >= 2 (kernels, embeddings): what a user would expect pruned.
    Normalization layers (rank-1 weights) and weightless layers are never reported."""
    return any(len(w.shape) >= 2 for w in layer.weights)


def _walk(model, prefix=""):
    """Yields (path, layer) for every layer, nested models included, in a stable order."""
    for layer in model.layers:
        path = f"{prefix}{layer.name}"
        yield path, layer
        if isinstance(layer, keras.Model):
            yield from _walk(layer, path + "/")


def _is_rewritable(model):
    return isinstance(model, keras.Sequential) or type(model).__name__ == "Functional"


def _check_model_type(model, fn_name):
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"{fn_name}: `model` must be a keras.Model (Sequential or Functional), got "
            f"{type(model).__name__}: {model!r:.80}"
        )


def _check_model(model, fn_name):
    _check_model_type(model, fn_name)
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


def _plan(model, config, quantize=None):
    """``({id(layer): (structure, quantizer)}, [left-dense notes])`` for every layer of ``model``.

    Raises for explicit requests (by name or exact class) that cannot be honoured; broad rules
    leave unsupported layers dense and note why. A layer that only a quantizer reaches gets the
    structure ``Unstructured(0.0)`` (nothing pruned).
    """
    layers = [layer for _, layer in _walk(model) if not isinstance(layer, keras.Model)]
    names = [layer.name for layer in layers]
    if config is not None:
        _check_config(config, names)
    if quantize is not None:
        _check_config(quantize, names, kind=Quantizer, arg="quantize")
    plan, left_dense = {}, []
    for layer in layers:
        structure, explicit = _resolve(config, layer)
        quantizer, q_explicit = _resolve(quantize, layer, kind=Quantizer)
        explicit = explicit or q_explicit
        kind = type(layer).__name__
        if structure is None and quantizer is None:
            continue
        if structure is not None and not isinstance(structure, Structure):
            raise TypeError(
                f"sparsify: the structure for layer '{layer.name}' must be a tf_sparse Structure or None, "
                f"got {structure!r}"
            )
        if quantizer is not None and not isinstance(quantizer, Quantizer):
            raise TypeError(
                f"sparsify: the quantizer for layer '{layer.name}' must be a tf_sparse quantizer or None, "
                f"got {quantizer!r}"
            )
        sparse_cls = _CONVERTIBLE.get(type(layer))
        if sparse_cls is None:
            if isinstance(layer, SparseLayerMixin):
                why = f"{kind}: already a tf_sparse layer; tfs.strip(model) first to re-sparsify it"
            else:
                why = f"{kind}: no sparse version"
            if explicit:
                raise ValueError(
                    f"sparsify: layer '{layer.name}' cannot be made sparse ({why}); layers with a sparse "
                    f"version: {_SUPPORTED}"
                )
            # A broad rule reports the layers a user would expect pruned; a callable that picked
            # this very layer is reported whatever it is.
            picked = callable(config) and not isinstance(config, (Structure, dict)) and config is not None
            picked = picked or (callable(quantize) and not isinstance(quantize, (Quantizer, dict)) and quantize is not None)
            if picked or _has_weight_matrix(layer) or isinstance(layer, SparseLayerMixin):
                left_dense.append(f"'{layer.name}' ({why})")
            continue
        if structure is None:
            from tf_sparse.structures.unstructured import Unstructured

            structure = Unstructured(0.0)
        view = sparse_cls.structure_view_of(np.zeros(tuple(layer.kernel.shape), dtype=np.float32))
        try:
            structure._check_kernel(view)
        except ValueError as err:
            if explicit:
                raise ValueError(
                    f"sparsify: layer '{layer.name}' ({kind}) cannot take {structure!r}: {err}"
                ) from None
            left_dense.append(f"'{layer.name}' ({kind}: {err})")
            continue
        plan[id(layer)] = (structure, quantizer)
    return plan, left_dense


def _fit_libraries(model, plan):
    """Structures that learn a library from the weights (kernel patterns) without one get it
    now, once, from all the layers they are requested for: one library per network, as in
    PatDNN, fixed for the whole of training."""
    groups = {}
    for _, layer in _walk(model):
        structure = plan.get(id(layer), (None, None))[0]
        if not hasattr(structure, "fit_library") or getattr(structure, "library", 1) is not None:
            continue
        kernel = keras.ops.convert_to_numpy(layer.kernel)
        view = _CONVERTIBLE[type(layer)].structure_view_of(kernel)
        if view.ndim == 4 and view.shape[:2] == (3, 3):
            groups.setdefault(id(structure), (structure, []))[1].append(view)
    return {key: structure.fit_library(views) for key, (structure, views) in groups.items()}


def sparsify(model, config, schedule=None, quantize=None):
    """Returns a copy of ``model`` whose Dense and convolution layers are sparse layers, weights kept.

    Args:
      model: a built Sequential or Functional ``keras.Model`` (nested models are rewritten too).
      config: which layers get which structure: a ``Structure`` for every supported layer; a dict
        whose keys are layer names, layer classes or ``"default"`` and whose values are structures
        (or None to leave a layer alone); or a callable ``layer -> Structure or None``.
        ``None`` prunes nothing (with ``quantize``: quantization only).
      schedule: optional pruning schedule for every converted layer (see ``tfs.UpdateMasks``).
      quantize: optional weight grids, in the same forms as ``config`` with quantizers as values
        (``tfs.Uniform(4)``, ``tfs.PowerOfTwo(4)``, ``tfs.Ternary()``, ``tfs.Binary()``,
        ``tfs.DeviceLevels(16)``). ``tfs.ADMM`` then projects onto the structure and the grid,
        ``tfs.harden`` puts the kept weights on the grid, and retraining keeps mask and levels.

    Returns:
      A new model; the input model is left unchanged. Layers with weights that a broad rule (one
      structure, ``"default"``, a base class, a callable) reaches but that have no sparse version
      (Conv3D, Conv2DTranspose, SeparableConv2D, EinsumDense, MultiHeadAttention, LSTM, ...) or
      whose kernel the structure cannot take are left dense, with one warning listing them all.

    Raises:
      TypeError: ``model`` is not a Sequential/Functional model, or ``config``/``schedule`` has
        the wrong type.
      ValueError: ``config`` names a layer the model does not have (the message lists close
        matches and the layer names), names a layer or exact class that cannot be made sparse,
        or no layer at all would be made sparse.

    Example:
      >>> sparse = tfs.sparsify(model, tfs.Block(0.9, block=(1, 4)))
    """
    _check_model(model, "sparsify")
    if schedule is not None and not isinstance(schedule, PruningSchedule):
        raise TypeError(
            f"sparsify: `schedule` must be None or a pruning schedule (tfs.ConstantSparsity, "
            f"tfs.PolynomialDecay, ...), got {schedule!r}"
        )
    if config is None and quantize is None:
        raise ValueError(f"sparsify: give a `config` (structures), a `quantize` config, or both; `config` must be {_CONFIG_FORMS}")
    plan, left_dense = _plan(model, config, quantize)
    if not plan:
        raise ValueError(
            f"sparsify: no layer of model '{model.name}' would be made sparse"
            + (f"; left dense: {'; '.join(left_dense)}" if left_dense else "")
            + f". Supported layers: {_SUPPORTED}; `config` must be {_CONFIG_FORMS}"
        )
    fitted = _fit_libraries(model, plan)

    def clone_fn(layer):
        if id(layer) not in plan:
            return layer.__class__.from_config(layer.get_config())
        structure, quantizer = plan[id(layer)]
        structure = fitted.get(id(structure), structure)
        return _CONVERTIBLE[type(layer)].from_keras(layer, structure, schedule, quantizer)

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
    if left_dense:
        warnings.warn(
            f"sparsify: {len(left_dense)} layer(s) left dense: {'; '.join(left_dense)}. Layers with a "
            f"sparse version: {_SUPPORTED}",
            UserWarning,
            stacklevel=2,
        )
    return new_model


def strip(model):
    """Returns a plain Keras copy of ``model``: sparse layers become their Keras layers with the
    mask baked into the kernel (pruned weights are exact zeros) and, where quantization is
    hardened, the kernel exactly on its grid.

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
            weights = [src.effective_kernel_numpy()]
            if src.bias is not None:
                weights.append(keras.ops.convert_to_numpy(src.bias))
            dst.set_weights(weights)
        else:
            dst.set_weights(src.get_weights())

    _copy_weights(model, new_model, transfer)
    return new_model


def sparse_layers(model):
    """All sparse layers of ``model`` (nested models included), in order."""
    _check_model_type(model, "sparse_layers")
    return [layer for _, layer in _walk(model) if isinstance(layer, SparseLayerMixin)]


def harden(model, sparsity=None, quantize=True):
    """Projects every sparse layer's kernel onto its structure and freezes its mask.

    The end of an ADMM or regularization phase: from here on ``model.fit`` is masked retraining
    (pruned weights stay zero, ``tfs.UpdateMasks`` leaves hardened layers alone) and the ADMM
    term is switched off.

    Args:
      model: a model with sparse layers.
      sparsity: override of every layer's target (default: each structure's own).
      quantize: also put the kept weights of layers with a quantizer on their grid (frozen
        scale; retraining then keeps mask and levels). ``False`` hardens the masks only, for
        "prune first, quantize the survivors later".

    Returns:
      ``{layer name: sparsity after hardening}``.
    """
    _check_model_type(model, "harden")
    if sparsity is not None:
        sparsity = check_sparsity(sparsity, owner="harden")
    layers = sparse_layers(model)
    if not layers:
        raise ValueError(
            f"harden: model '{model.name}' has no tf_sparse layers; use tfs.sparsify(model, ...) first"
        )
    if not isinstance(quantize, bool):
        raise TypeError(f"harden: `quantize` must be True or False, got {quantize!r}")
    result = {}
    for layer in layers:
        layer.harden(sparsity, quantize=quantize)
        result[layer.name] = layer.sparsity()
    # Layers whose quantization was just hardened compute differently (straight-through on the
    # grid): functions traced before would not know.
    from tf_sparse.training.admm import _retrace

    _retrace(model)
    return result


def quantize(model, config):
    """Returns a copy of ``model`` whose Dense and convolution layers learn weights on a grid.

    The same as ``tfs.sparsify(model, None, quantize=config)``: nothing is pruned. Train with
    ``tfs.ADMM`` (the grid is the constraint set), ``tfs.harden`` (weights onto the grid, scale
    frozen), then retrain: the straight-through estimator keeps the levels.

    Args:
      model: a built Sequential or Functional model.
      config: a quantizer for every supported layer (``tfs.Binary()`` binarizes every layer, the
        first and the last included), a dict ``{layer name | layer class | 'default': quantizer
        or None}``, or a callable ``layer -> quantizer or None``.

    Example:
      >>> q = tfs.quantize(model, tfs.Uniform(4))
      >>> q.compile(...); q.fit(x, y, epochs=5, callbacks=[tfs.ADMM(rho=1e-3)])
      >>> tfs.harden(q); q.fit(x, y, epochs=2)
    """
    if config is None:
        raise ValueError(f"quantize: `config` must be {_QUANT_FORMS}, got None")
    return sparsify(model, None, quantize=config)
