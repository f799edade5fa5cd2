"""Model surgery: make the layers of any Keras model sparse (``sparsify``) and back (``strip``).

Works on Sequential, Functional and subclassed models, keras_hub backbones and tasks included:
the layer tree is walked (nested layers too) and every prunable layer is turned, in place, into its
sparse version (the same object, its class swapped for a subclass that masks its kernels), so the
model keeps its own class, its call and its other layers. ``sparsify`` works on a copy unless asked
to work in place.

Layers are addressed by *path*: the names from the model down to the layer, joined by ``/``
(``"transformer_layer_0/self_attention_layer/query"``); ``tfs.layer_paths(model)`` lists them.
"""

from __future__ import annotations

import difflib
import fnmatch
import warnings

import keras
import numpy as np

from tf_sparse.layers import hosts
from tf_sparse import notices
from tf_sparse.layers.base import SparseLayerMixin, _var_numpy
from tf_sparse.layers.kernel_unit import SparseKernel, layout_view
from tf_sparse.layers.selectors import Fastest, LayerSpec, Select, _LeftDense, as_spec
from tf_sparse.layers.sparse_conv import SparseConv1D, SparseConv2D, SparseDepthwiseConv2D
from tf_sparse.layers.sparse_dense import SparseDense
from tf_sparse.quantization.quantizers import Quantizer
from tf_sparse.structures.base import Structure, check_sparsity
from tf_sparse.training.schedules import PruningSchedule

# Keras layer class -> its sparse version holding the mask itself (one kernel, Keras's layout).
_CONVERTIBLE = {
    keras.layers.Dense: SparseDense,
    keras.layers.Conv2D: SparseConv2D,
    keras.layers.Conv1D: SparseConv1D,
    keras.layers.DepthwiseConv2D: SparseDepthwiseConv2D,
}
# Keras layer class -> its sparse version whose kernels are held by SparseKernel units.
_HOSTS = dict(hosts.HOSTS)
# Embedding tables are pruned only when asked for by name, path or class (for size).
_OPT_IN = (keras.layers.Embedding,)

_SUPPORTED = ", ".join(cls.__name__ for cls in list(_CONVERTIBLE) + list(_HOSTS)) + " (and MultiHeadAttention, " \
    "TransformerEncoder or any layer holding these, through its projections)"

_QUANT_FORMS = (
    "None, a quantizer (tfs.Uniform(4), tfs.Ternary(), tfs.Binary(), ...) for every supported layer, a "
    "dict {layer path | layer name | glob over paths | layer class | 'default': quantizer or None}, or a "
    "callable(layer) -> quantizer or None"
)

_CONFIG_FORMS = (
    "a Structure for every supported layer, a dict {layer path | layer name | glob over paths | tfs.select(...) | "
    "layer class | 'default': Structure, None, {kernel name: Structure or None}, tfs.LayerSpec(structure, "
    "schedule=...) or (structure, schedule)}, a callable(layer) -> any of these values, or tfs.fastest() / 'fastest'"
)


# --- the layer tree ---------------------------------------------------------------------------
def _children(layer):
    if isinstance(layer, SparseLayerMixin):
        return []
    return layer._flatten_layers(include_self=False, recursive=False)


def _is_graph(layer) -> bool:
    """Sequential and Functional models rebuild their layers from the layers' own configs."""
    return type(layer).__name__ in ("Functional", "Sequential") and type(layer).__module__.startswith("keras.")


def _walk(model, prefix="", reachable=None, seen=None):
    """Yields ``(path, layer, reachable)`` for every layer under ``model`` (each once, in a stable
    order). ``reachable``: the layer is rebuilt from its own config when the model is loaded (every
    container above it is a Sequential or Functional model)."""
    if seen is None:
        seen = {id(model)}
    if reachable is None:
        reachable = _is_graph(model)
    counts = {}
    for layer in _children(model):
        if id(layer) in seen or isinstance(layer, keras.layers.InputLayer):
            continue
        seen.add(id(layer))
        name = layer.name
        counts[name] = counts.get(name, 0) + 1
        path = prefix + (name if counts[name] == 1 else f"{name}#{counts[name]}")
        yield path, layer, reachable
        if isinstance(layer, hosts.SparseHostMixin):
            for unit in layer.tfs_units():
                seen.add(id(unit))
                yield f"{path}/{unit.role}", unit, False
            continue
        yield from _walk(layer, path + "/", reachable and _is_graph(layer), seen)


def layer_units(layer):
    """The ``SparseKernel`` units of a sparse layer (its cell's for RNN layers)."""
    if isinstance(layer, (hosts.SparseHostMixin, hosts._SparseRNNMixin)):
        return layer.tfs_units()
    return []


def layer_paths(model) -> dict:
    """``{path: layer}`` for every layer of ``model``, nested layers included (the keys
    ``tfs.sparsify`` configs accept)."""
    _check_model_type(model, "layer_paths")
    return {path: layer for path, layer, _ in _walk(model) if not isinstance(layer, SparseKernel)}


def _check_model_type(model, fn_name):
    if not isinstance(model, keras.Model):
        hint = ""
        if type(model).__module__.startswith("tf_keras"):
            hint = " (a tf_keras / Keras 2 model: tf_sparse works on Keras 3 models)"
        raise TypeError(
            f"{fn_name}: `model` must be a keras.Model{hint}, got {type(model).__name__}: {model!r:.80}"
        )


def _check_model(model, fn_name):
    _check_model_type(model, fn_name)
    if not model.built:
        raise ValueError(f"{fn_name}: model '{model.name}' is not built; call it or build it first")


# --- configs ----------------------------------------------------------------------------------
def _is_pattern(key: str) -> bool:
    return any(c in key for c in "*?[")


def _check_value(value, kind, arg, key):
    if kind is Structure and isinstance(value, (LayerSpec, tuple)):
        value, _ = as_spec(value, f"`{arg}[{key}]`")
    if value is None or isinstance(value, kind):
        return
    if kind is Structure and isinstance(value, dict):
        for role, v in value.items():
            if not isinstance(role, str) or (v is not None and not isinstance(v, Structure)):
                raise TypeError(
                    f"sparsify: `{arg}[{key}]` as a dict maps kernel names ('kernel', 'recurrent_kernel', "
                    f"'depthwise_kernel', 'pointwise_kernel', 'embeddings') to Structures or None; got {role!r}: {v!r}"
                )
        return
    example = "Structure (e.g. tfs.Block(0.9, block=(1, 4)))" if kind is Structure else "quantizer (e.g. tfs.Uniform(4))"
    raise TypeError(f"sparsify: `{arg}[{key}]` must be a tf_sparse {example} or None, got {value!r}")


def _check_config(config, paths, names, kind=Structure, arg="config"):
    """Validates a sparsify config (or quantize config: ``kind=Quantizer``) against the model's
    layer paths and names before anything is changed."""
    forms = _CONFIG_FORMS if kind is Structure else _QUANT_FORMS
    if isinstance(config, kind) or (callable(config) and not isinstance(config, (dict, type))):
        return
    if kind is Structure and isinstance(config, (Fastest, LayerSpec, tuple)):
        if not isinstance(config, Fastest):
            as_spec(config, f"`{arg}`")
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
        elif isinstance(key, Select):
            pass
        elif not isinstance(key, str):
            raise TypeError(
                f"sparsify: `{arg}` keys must be layer paths, layer names, glob patterns over paths, "
                f"tfs.select(...) selectors, Keras layer classes or 'default'; got {key!r}"
            )
        elif key != "default" and key not in paths and key not in names:
            if not (_is_pattern(key) and any(fnmatch.fnmatchcase(p, key) for p in paths)):
                unmatched.append(key)
        _check_value(value, kind, arg, key if isinstance(key, (str, Select)) else key.__name__)
    if unmatched:
        hints = []
        known = sorted(set(names) | set(paths))
        for key in unmatched:
            close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
            hints.append(f"{key!r}" + (f" (did you mean {', '.join(map(repr, close))}?)" if close else ""))
        shown = ", ".join(map(repr, paths[:40])) + (", ..." if len(paths) > 40 else "")
        raise ValueError(
            f"sparsify: `{arg}` names layers that the model does not have: {', '.join(hints)}; "
            f"the model's layers are: {shown}"
        )


def _resolve(config, path, layer, kind=Structure):
    """``(value, explicit, found)`` requested for the layer at ``path`` by a sparsify config.

    ``explicit``: asked for by path, name or exact class: such a request for a layer that cannot
    be made sparse is an error, while a broad rule (one structure, ``"default"``, a glob, a
    selector, a base class, a callable) leaves it dense with a warning. Precedence: path, name,
    glob, selector (in the dict's order), class, ``"default"``. ``found``: a rule matched this very layer
    (not only ``"default"`` or a whole-model structure), which also reaches the layers inside it.
    """
    if config is None:
        return None, False, False
    if isinstance(config, kind) or (kind is Structure and isinstance(config, (LayerSpec, tuple))):
        return config, False, False
    if isinstance(config, dict):
        if path in config:
            return config[path], True, True
        if layer.name in config:
            return config[layer.name], True, True
        for key, value in config.items():
            if isinstance(key, str) and key != "default" and _is_pattern(key) and fnmatch.fnmatchcase(path, key):
                return value, False, True
        for key, value in config.items():
            if isinstance(key, Select) and key.matches(layer, path):
                return value, False, True
        for key, value in config.items():
            if isinstance(key, type) and isinstance(layer, key):
                return value, key is type(layer), True
        return config.get("default"), False, False
    return config(layer), False, True


def _has_weight_matrix(layer) -> bool:
    """Layers with a weight of rank >= 2 (kernels, embeddings): what a user would expect pruned.
    Normalization layers (rank-1 weights) and weightless layers are never reported."""
    return any(len(w.shape) >= 2 for w in layer.weights)


def _kernel_roles(layer, sparse_cls):
    if sparse_cls in _CONVERTIBLE.values():
        return ("kernel",)
    return hosts.roles_of(sparse_cls)


def _view_for(layer, sparse_cls, role):
    kernel = hosts.raw_kernel(layer, role) if sparse_cls not in _CONVERTIBLE.values() else layer.kernel
    zeros = np.zeros(tuple(kernel.shape), dtype=np.float32)
    if sparse_cls in _CONVERTIBLE.values():
        return sparse_cls.structure_view_of(zeros)
    layout, spec = hosts.layout_of(sparse_cls, layer, role, zeros.shape)
    return layout_view(zeros, layout, spec)


def _plan(model, config, quantize=None):
    """``({path: (sparse class, {role: (structure, quantizer)}, schedule)}, [left-dense notes])``.

    Raises for explicit requests (by path, name or exact class) that cannot be honoured; broad
    rules leave unsupported layers dense and note why. A kernel that only a quantizer reaches gets
    the structure ``Unstructured(0.0)`` (nothing pruned). A rule that names a layer without a
    sparse version of its own (MultiHeadAttention, a keras_hub TransformerEncoder, a custom
    block) applies to the prunable layers inside it. ``schedule``: the layer's own (a
    ``LayerSpec``'s), None for ``sparsify``'s.
    """
    if isinstance(config, str) and config == "fastest":
        config = Fastest()
    entries = list(_walk(model))
    paths = [p for p, layer, _ in entries if not isinstance(layer, SparseKernel)]
    names = sorted({layer.name for _, layer, _ in entries})
    if config is not None:
        _check_config(config, paths, names)
    if quantize is not None:
        _check_config(quantize, paths, names, kind=Quantizer, arg="quantize")
    if isinstance(config, Fastest):
        config = config.bind(model)
    plan, left_dense = {}, []
    inherited = {}  # path prefix -> (structure, quantizer, explicit, schedule) from a container rule
    callable_config = callable(config) and not isinstance(config, (Structure, dict))
    callable_quant = callable(quantize) and not isinstance(quantize, (Quantizer, dict))

    whole = []  # paths of layers handled as a whole (their inner layers, e.g. an RNN's cell, are not visited)
    for path, layer, _ in entries:
        if isinstance(layer, SparseKernel) or any(path.startswith(p + "/") for p in whole):
            continue
        rnn = isinstance(layer, keras.layers.RNN)  # its cell is reported as the RNN layer
        if type(layer) in _CONVERTIBLE or type(layer) in _HOSTS or rnn or isinstance(
                layer, (SparseLayerMixin, hosts.SparseHostMixin, hosts._SparseRNNMixin)):
            whole.append(path)
        kind = type(layer).__name__
        structure, explicit, found = _resolve(config, path, layer)
        if isinstance(structure, _LeftDense):
            if _has_weight_matrix(layer):
                left_dense.append(f"'{path}' ({kind}: {structure.why})")
            continue
        structure, layer_schedule = as_spec(structure, f"the value for layer '{path}'")
        quantizer, q_explicit, q_found = _resolve(quantize, path, layer, kind=Quantizer)
        parent = next((inherited[p] for p in _prefixes(path) if p in inherited), None)
        if parent is not None:
            if not found:
                # Inside a container asked for as a whole: its layers without a sparse version
                # are left dense (noted when they hold a weight matrix), not an error.
                structure, explicit, layer_schedule = parent[0], False, parent[3]
            if not q_found:
                quantizer = parent[1]
        explicit = explicit or q_explicit
        if structure is not None and not isinstance(structure, (Structure, dict)):
            raise TypeError(
                f"sparsify: the structure for layer '{path}' must be a tf_sparse Structure or None, got {structure!r}"
            )
        if quantizer is not None and not isinstance(quantizer, Quantizer):
            raise TypeError(
                f"sparsify: the quantizer for layer '{path}' must be a tf_sparse quantizer or None, got {quantizer!r}"
            )
        sparse_cls = _CONVERTIBLE.get(type(layer)) or _HOSTS.get(type(layer))
        if sparse_cls is None:
            if _children(layer) and not rnn and not isinstance(layer, SparseLayerMixin) and (
                    found or q_found or parent):
                # A container asked for as a whole: its prunable layers take the rule.
                if structure is not None or quantizer is not None:
                    inherited[path] = (structure, quantizer, explicit, layer_schedule)
                continue
            if structure is None and quantizer is None:
                continue
            if isinstance(layer, (SparseLayerMixin, hosts.SparseHostMixin, hosts._SparseRNNMixin)):
                why = f"{kind}: already a tf_sparse layer; tfs.strip(model) first to re-sparsify it"
            elif _children(layer) and not rnn:
                continue  # a container reached by a broad rule: its layers are visited on their own
            else:
                why = f"{kind}: no sparse version"
            if explicit:
                raise ValueError(
                    f"sparsify: layer '{path}' cannot be made sparse ({why}); layers with a sparse "
                    f"version: {_SUPPORTED}"
                )
            picked = callable_config or callable_quant
            if picked or _has_weight_matrix(layer) or isinstance(layer, SparseLayerMixin):
                left_dense.append(f"'{path}' ({why})")
            continue
        if isinstance(layer, SparseLayerMixin) or isinstance(layer, (hosts.SparseHostMixin, hosts._SparseRNNMixin)):
            continue
        if structure is None and quantizer is None:
            continue
        if isinstance(layer, _OPT_IN) and not (explicit or found):
            left_dense.append(f"'{path}' ({kind}: embeddings are pruned only when asked for by path, name or class)")
            continue
        roles = _kernel_roles(layer, sparse_cls)
        per_role = structure if isinstance(structure, dict) else {role: structure for role in roles}
        unknown = sorted(set(per_role) - set(roles))
        if unknown:
            raise ValueError(
                f"sparsify: layer '{path}' ({kind}) has no kernel(s) {unknown}; its kernels are {list(roles)}"
            )
        kernels, notes = {}, []
        for role in roles:
            s = per_role.get(role)
            if s is None and quantizer is None:
                continue
            if s is None:
                from tf_sparse.structures.unstructured import Unstructured

                s = Unstructured(0.0)
            try:
                s._check_kernel(_view_for(layer, sparse_cls, role))
            except ValueError as err:
                where = "" if roles == ("kernel",) else f" {role}"
                if explicit:
                    raise ValueError(f"sparsify: layer '{path}' ({kind}){where} cannot take {s!r}: {err}") from None
                notes.append(f"'{path}'{' ' + role if where else ''} ({kind}: {err})")
                continue
            kernels[role] = (s, quantizer)
        left_dense.extend(notes)
        if kernels:
            plan[path] = (sparse_cls, kernels, layer_schedule)
    return plan, left_dense


def _prefixes(path):
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]


def _fit_libraries(layers_by_path, plan):
    """Structures that learn a library from the weights (kernel patterns) without one get it
    now, once, from all the layers they are requested for: one library per network, as in
    PatDNN, fixed for the whole of training."""
    groups = {}
    for path, (sparse_cls, kernels, _) in plan.items():
        layer = layers_by_path[path]
        for role, (structure, _) in kernels.items():
            if not hasattr(structure, "fit_library") or getattr(structure, "library", 1) is not None:
                continue
            if sparse_cls in _CONVERTIBLE.values():
                view = sparse_cls.structure_view_of(_var_numpy(layer.kernel))
            else:
                raw = _var_numpy(hosts.raw_kernel(layer, role))
                layout, spec = hosts.layout_of(sparse_cls, layer, role, raw.shape)
                view = layout_view(raw, layout, spec)
            if view.ndim == 4 and view.shape[:2] == (3, 3):
                groups.setdefault(id(structure), (structure, []))[1].append(view)
    return {key: structure.fit_library(views) for key, (structure, views) in groups.items()}


# --- conversion -------------------------------------------------------------------------------
def _convert_mixin(layer, sparse_cls, structure, schedule, quantizer, flags=None):
    """Turns a built Dense / Conv layer into ``sparse_cls`` in place."""
    if sparse_cls is SparseDense:
        for key in ("lora_rank",):
            if getattr(layer, key, None):
                raise ValueError(f"sparsify: layer '{layer.name}' uses `{key}`, which is not supported")
    elif getattr(layer, "lora_rank", None):
        raise ValueError(f"sparsify: layer '{layer.name}' uses `lora_rank`, which is not supported by sparse layers")
    if getattr(layer, "quantization_mode", None):
        raise ValueError(
            f"sparsify: layer '{layer.name}' is quantized by Keras ({layer.quantization_mode}); sparsify the float "
            "model, then quantize with tf_sparse (quantize=...) or at export (int8=True)"
        )
    kernel = layer.__dict__.pop("kernel", None) if "kernel" in layer.__dict__ else None
    layer.__class__ = sparse_cls
    if kernel is not None:
        object.__setattr__(layer, "_kernel", kernel)
    flags = dict(flags or {})
    layer._init_sparse(structure, schedule, flags.get("admm", False), flags.get("hardened", False),
                       flags.get("group_reg", False), quantizer, flags.get("quant_hardened", False))
    layer._add_state(layer._build_sparse)
    return layer


def _unit_config(structure, schedule, quantizer):
    return {"structure": structure, "schedule": schedule, "quantizer": quantizer}


def _mask_from_zeros(layer):
    for unit in [layer] if isinstance(layer, SparseLayerMixin) else layer_units(layer):
        unit.mask.assign((unit.kernel_numpy() != 0).astype(np.float32))


def _apply_plan(model, plan, schedule, fitted, progress=None):
    layers = {path: layer for path, layer, _ in _walk(model)}
    converted = []
    for path, (sparse_cls, kernels, own_schedule) in plan.items():
        layer = layers[path]
        schedule_here = own_schedule if own_schedule is not None else schedule
        if sparse_cls in _CONVERTIBLE.values():
            structure, quantizer = kernels["kernel"]
            _convert_mixin(layer, sparse_cls, fitted.get(id(structure), structure), schedule_here, quantizer)
        else:
            units = {role: _unit_config(fitted.get(id(s), s), schedule_here, q) for role, (s, q) in kernels.items()}
            hosts.convert_in_place(layer, sparse_cls, units)
        _mask_from_zeros(layer)
        converted.append(layer)
        if progress is not None:
            progress.add()
    return converted


def _numpy(variable):
    return np.array(variable.numpy() if hasattr(variable, "numpy") else variable)


def _own_variables(layer):
    return list(layer._trainable_variables) + list(layer._non_trainable_variables)


def _transfer(src_model, dst_model, overrides=None, fn_name="sparsify", progress=None):
    """Copies every layer's own variables from ``src_model`` to the layer at the same path in
    ``dst_model``, by variable name; ``overrides`` maps ``id(source variable)`` to a value."""
    overrides = overrides or {}
    dst = {path: layer for path, layer, _ in _walk(dst_model)}
    pairs = [("", src_model, dst_model)] + [(p, s, dst.get(p)) for p, s, _ in _walk(src_model)]
    for path, s, d in pairs:
        if progress is not None:
            progress.add()
        if d is None:
            continue
        src_vars = _own_variables(s)
        by_name = {}
        for v in src_vars:
            by_name.setdefault(v.name, []).append(v)
        for v in _own_variables(d):
            candidates = by_name.get(v.name)
            if not candidates:
                continue
            source = candidates.pop(0)
            value = overrides.get(id(source))
            if value is None:
                value = _numpy(source)
            if tuple(np.shape(value)) != tuple(v.shape):
                raise ValueError(
                    f"{fn_name}: layer '{path or dst_model.name}' variable '{v.name}' has shape {tuple(v.shape)} "
                    f"in the copy but {tuple(np.shape(value))} in the model"
                )
            v.assign(value)


def _serialized_as(model, cls):
    """``model`` serialized as an instance of ``cls`` (its own class, for wrapped models)."""
    from keras.saving import get_registered_name

    return {
        "module": cls.__module__,
        "class_name": cls.__name__,
        "config": cls.get_config(model),
        "registered_name": get_registered_name(cls),
    }


def _copy(model, fn_name, as_plain=False, progress=None):
    """A new model of the same architecture with the same weights (sparse layers included unless
    ``as_plain``: then their plain Keras versions, kernels as they compute). ``progress`` advances
    by about two units per layer (one cloned, one whose weights are copied)."""
    from tf_sparse.layers import saving

    start = progress._current if progress is not None else 0
    layer_count = sum(1 for _ in _walk(model)) if progress is not None else 0
    if _is_graph(model):
        def clone_fn(layer):
            if progress is not None:
                progress.add()
            if as_plain and isinstance(layer, (SparseLayerMixin, hosts.SparseHostMixin, hosts._SparseRNNMixin)):
                return layer.keras_class.from_config(layer.keras_config())
            config = layer.get_config()
            # Wrappers (Bidirectional, TimeDistributed) carry their inner layers' configs.
            return layer.__class__.from_config(_plain_config(config) if as_plain else config)

        copy = keras.models.clone_model(model, clone_function=clone_fn, recursive=True)
        if not as_plain and saving.records(model):
            saving.restore(copy, saving.records(model))
            saving.wrap_if_needed(copy)
    else:
        base = saving.base_class(model)
        try:
            copy = base.from_config(base.get_config(model))
            if not copy.built:
                build_config = model.get_build_config()
                if build_config is None:
                    raise ValueError("the model has no build config (it was built by calling it)")
                copy.build_from_config(build_config)
            if not as_plain and base is not type(model):
                saving.restore(copy, saving.records(model))
                saving.wrap_if_needed(copy)
        except Exception as err:  # noqa: BLE001 - any failure of the model's own (de)serialization
            raise TypeError(
                f"{fn_name}: model '{model.name}' (subclassed {type(model).__name__}) cannot be copied through "
                f"its config ({type(err).__name__}: {' '.join(str(err).split())[:240]}); give it get_config/from_config"
                + (", or pass inplace=True to change it in place" if fn_name == "sparsify" else "")
            ) from None
    overrides = {}
    if as_plain:
        for _, layer, _ in _walk(model):
            if isinstance(layer, SparseLayerMixin):  # SparseDense & co. and SparseKernel units
                overrides[id(layer._kernel)] = layer.effective_kernel_numpy()
    if progress is not None:
        progress.update(start + layer_count)
    _transfer(model, copy, overrides, fn_name, progress)
    _transfer_assets(model, copy)
    if progress is not None:
        progress.update(start + 2 * layer_count)
    return copy


_SPARSE_KEYS = ("structure", "schedule", "admm", "hardened", "group_reg", "quantizer", "quant_hardened", "tfs_kernels")


def _plain_config(config):
    """``config`` with every serialized tf_sparse layer inside it replaced by its plain Keras layer."""
    if isinstance(config, list):
        return [_plain_config(c) for c in config]
    if not isinstance(config, dict):
        return config
    name = config.get("registered_name")
    if isinstance(name, str) and name.startswith("tf_sparse>") and isinstance(config.get("config"), dict):
        cls = keras.saving.get_registered_object(name)
        plain = getattr(cls, "keras_class", None)
        if plain is not None:
            inner = {k: _plain_config(v) for k, v in config["config"].items() if k not in _SPARSE_KEYS}
            return {"module": "keras.layers", "class_name": plain.__name__, "config": inner, "registered_name": None,
                    **{k: v for k, v in config.items() if k in ("build_config",)}}
    return {k: _plain_config(v) for k, v in config.items()}


def _transfer_assets(src_model, dst_model):
    """Vocabularies and other assets (tokenizers, lookup layers) are not in configs: Keras saves
    them through ``save_assets``; the copy gets them the same way."""
    import tempfile

    dst = {path: layer for path, layer, _ in _walk(dst_model)}
    for path, src, _ in _walk(src_model):
        target = dst.get(path)
        if target is None or not callable(getattr(src, "save_assets", None)) or not callable(
                getattr(target, "load_assets", None)):
            continue
        with tempfile.TemporaryDirectory() as directory:
            src.save_assets(directory)
            target.load_assets(directory)


def sparsify(model, config, schedule=None, quantize=None, inplace=False, verbose=None):
    """Makes the Dense, EinsumDense, convolution, attention and recurrent layers of ``model`` sparse.

    Any Keras 3 model: Sequential, Functional, subclassed, keras_hub backbones and tasks. Nested
    layers are reached (a keras_hub ``TransformerEncoder``'s attention projections and feed-forward
    layers, a custom block's layers). Each prunable layer becomes its sparse version in place (same
    object, same computation, its kernel read through a mask): ``SparseDense``, ``SparseConv1D``,
    ``SparseConv2D``, ``SparseDepthwiseConv2D``, ``SparseEinsumDense`` (MultiHeadAttention's
    projections), ``SparseConv2DTranspose``, ``SparseSeparableConv2D`` (depthwise and pointwise
    kernels), ``SparseLSTM``/``SparseGRU``/``SparseSimpleRNN`` (input and recurrent kernels),
    ``SparseEmbedding`` (only when asked for by path, name or class).

    Args:
      model: a built Keras model.
      config: which layers get which structure: a ``Structure`` for every supported layer; a dict
        whose keys are layer paths (``"encoder/block_0/query"``, see ``tfs.layer_paths``), layer
        names (every layer of that name), glob patterns over paths (``"transformer_layer_*/*"``),
        selectors (``tfs.select(keras.layers.Conv2D, kernel_size=(3, 3))``, ``tfs.select(min_params=...)``),
        layer classes or ``"default"``, and whose values are structures, ``None`` (left dense, not
        reported), ``{kernel name: structure or None}`` for layers with several kernels
        (``{"kernel": tfs.Block(0.9, block=(16, 1)), "recurrent_kernel": tfs.Block(0.8, block=(16, 1))}``),
        or ``tfs.LayerSpec(structure, schedule=...)`` / ``(structure, schedule)`` for a layer with
        its own schedule; or a callable ``layer -> any such value``; or ``tfs.fastest(...)`` /
        ``"fastest"``: the structures the delegate runs fastest, layer by layer. A key that
        reaches a layer without a sparse version of its own (MultiHeadAttention,
        TransformerEncoder, a custom block) applies to the prunable layers inside it.
        Precedence: path, name, glob, selector (in the dict's order), class, ``"default"``.
        ``None`` prunes nothing (with ``quantize``: quantization only).
      schedule: optional pruning schedule for every converted kernel without one of its own
        (see ``tfs.UpdateMasks``).
      quantize: optional weight grids, in the same forms as ``config`` with quantizers as values.
      inplace: change ``model`` itself and return it. By default a copy is changed (through the
        model's config: a subclassed model needs ``get_config``/``from_config``, as for saving).
      verbose: progress bar: ``None`` follows ``tfs.set_verbosity`` (``"auto"``: shown for models
        of 100 layers or more, or once the work has taken 2 s), ``0`` silent, ``1`` always,
        ``2`` one line at the end.

    Returns:
      The sparse model, of the model's own class. Layers with weights that a broad rule reaches
      but that have no sparse version, or whose kernel the structure cannot take, are left dense,
      with one ``tfs.LeftDenseWarning`` listing them all by path, with why (layers a config maps
      to ``None`` are not listed).

    Raises:
      TypeError: ``model`` is not a Keras 3 model, or ``config``/``schedule`` has the wrong type.
      ValueError: ``config`` names a layer the model does not have (the message lists close
        matches and the layer paths), names a layer or exact class that cannot be made sparse,
        or no layer at all would be made sparse.

    Example:
      >>> sparse = tfs.sparsify(model, tfs.Block(0.9, block=(1, 4)))
      >>> bert = tfs.sparsify(backbone, {"transformer_layer_*": tfs.Block(0.9, block=(16, 1))})
    """
    _check_model(model, "sparsify")
    if schedule is not None and not isinstance(schedule, PruningSchedule):
        raise TypeError(
            f"sparsify: `schedule` must be None or a pruning schedule (tfs.ConstantSparsity, "
            f"tfs.PolynomialDecay, ...), got {schedule!r}"
        )
    if not isinstance(inplace, bool):
        raise TypeError(f"sparsify: `inplace` must be True or False, got {inplace!r}")
    level = notices.resolve(verbose, "sparsify")
    if config is None and quantize is None:
        raise ValueError(f"sparsify: give a `config` (structures), a `quantize` config, or both; `config` must be {_CONFIG_FORMS}")
    plan, left_dense = _plan(model, config, quantize)
    if not plan:
        raise ValueError(
            f"sparsify: no layer of model '{model.name}' would be made sparse"
            + (f"; left dense: {'; '.join(left_dense)}" if left_dense else "")
            + f". Supported layers: {_SUPPORTED}; `config` must be {_CONFIG_FORMS}"
        )
    layers_by_path = {p: layer for p, layer, _ in _walk(model)}
    copies = 0 if inplace else 2 * len(layers_by_path)
    progress = notices.Progress(
        f"sparsify '{model.name}': {len(plan)} of {len(layers_by_path)} layers made sparse",
        1 + copies + len(plan) + 1, verbose=level, owner="sparsify", size=len(layers_by_path))
    fitted = _fit_libraries(layers_by_path, plan)
    progress.lead_done()
    target = model if inplace else _copy(model, "sparsify", progress=progress)
    _apply_plan(target, plan, schedule, fitted, progress)
    from tf_sparse.layers import saving

    saving.wrap_if_needed(target)
    _retrace_if_compiled(target)
    progress.done()
    if left_dense:
        warnings.warn(
            f"sparsify: {len(left_dense)} layer(s) left dense: {'; '.join(left_dense)}. Layers with a "
            f"sparse version: {_SUPPORTED}",
            notices.LeftDenseWarning,
            stacklevel=2,
        )
    return target


def _retrace_if_compiled(model):
    # A model compiled (and traced) before its layers changed would keep its old functions.
    if getattr(model, "compiled", False):
        for attr in ("train_function", "test_function", "predict_function"):
            if getattr(model, attr, None) is not None:
                setattr(model, attr, None)


def strip(model, verbose=None):
    """Returns a plain Keras copy of ``model``: sparse layers become their Keras layers with the
    mask baked into the kernel (pruned weights are exact zeros) and, where quantization is
    hardened, the kernel exactly on its grid. The copy has the model's own class (a keras_hub
    backbone stays that backbone) and needs no tf_sparse to load.

    A ``tfs.UnprunedWarning`` names the sparse layers that were never pruned although the model
    was trained (its optimizer took steps, but no ``tfs.UpdateMasks``, ADMM, regularization or
    ``tfs.harden`` touched them): their kernels go out as dense as they came in.

    ``verbose``: progress bar, as for ``tfs.sparsify``.

    Example:
      >>> deploy = tfs.strip(sparse_model)
    """
    return _strip(model, "strip", verbose)


def _strip(model, fn_name, verbose=None):
    _check_model(model, fn_name)
    level = notices.resolve(verbose, fn_name)
    check_pruning_ran(model, fn_name, stacklevel=4)
    size = sum(1 for _ in _walk(model))
    progress = notices.Progress(f"{fn_name} '{model.name}': {size} layers", 2 * size + 1, verbose=level,
                                owner=fn_name, size=size)
    copy = _copy(model, fn_name, as_plain=True, progress=progress)
    progress.done()
    return copy


def _optimizer_steps(model) -> int:
    optimizer = getattr(model, "optimizer", None)
    iterations = getattr(optimizer, "iterations", None)
    if iterations is None:
        return 0
    try:
        return int(_var_numpy(iterations))
    except (TypeError, ValueError, AttributeError):
        return 0


def _never_pruned(layer) -> bool:
    """No mask update ever ran on the layer: no ``UpdateMasks`` step, not hardened, no ADMM or
    group-regularization state."""
    return not (layer.hardened or layer._admm or layer._group_reg) and int(_var_numpy(layer.pruning_step)) == 0


def check_pruning_ran(model, fn_name, layers=None, scheduled_only=False, stacklevel=3):
    """Warns (``tfs.UnprunedWarning``) when ``model`` was trained (its optimizer took steps) but
    sparse layers were never pruned; ``scheduled_only``: only layers given a schedule."""
    steps = _optimizer_steps(model)
    if not steps:
        return []
    layers = sparse_layers(model) if layers is None else layers
    idle = [layer for layer in layers if _never_pruned(layer) and (layer._schedule_given or not scheduled_only)]
    if not idle:
        return []
    shown = ", ".join(f"'{layer.sparse_name}' ({layer.sparsity():.0%} zeros)" for layer in idle[:10])
    shown += f", ... ({len(idle) - 10} more)" if len(idle) > 10 else ""
    if scheduled_only:
        what = (f"the pruning schedules of {len(idle)} of its {len(layers)} sparse layer(s) never ran: {shown}. "
                "They are pruned now, at once, to their targets; for gradual pruning pass "
                "callbacks=[tfs.UpdateMasks()] to fit (it runs each layer's schedule)")
    else:
        what = (f"{len(idle)} of its {len(layers)} sparse layer(s) were never pruned (masks as tfs.sparsify "
                f"left them): {shown}; they go out as dense as they are. Pass callbacks=[tfs.UpdateMasks()] "
                "to fit (it runs each layer's schedule), or call tfs.harden(model) to prune at once")
    warnings.warn(
        f"{fn_name}: model '{model.name}' was trained for {steps} optimizer step(s) without tfs.UpdateMasks, "
        f"and {what}",
        notices.UnprunedWarning,
        stacklevel=stacklevel,
    )
    return idle


def sparse_layers(model):
    """All sparse layers of ``model`` (nested layers included), in order: ``SparseDense`` and the
    other single-kernel layers, and the ``SparseKernel`` unit of every pruned kernel of the other
    sparse layers. Each gets ``sparse_name``: its name when the names are unique, else its path."""
    _check_model_type(model, "sparse_layers")
    found = [(path, layer) for path, layer, _ in _walk(model) if isinstance(layer, SparseLayerMixin)]
    names = [layer.name for _, layer in found if not isinstance(layer, SparseKernel)]
    unique = len(set(names)) == len(names)
    for path, layer in found:
        layer.sparse_path = path
        layer.sparse_name = layer.name if unique and not isinstance(layer, SparseKernel) else path
    return [layer for _, layer in found]


def harden(model, sparsity=None, quantize=True, verbose=None):
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
      verbose: progress bar, as for ``tfs.sparsify``.

    Returns:
      ``{layer name: sparsity after hardening}``.

    A ``tfs.UnprunedWarning`` names the layers given a schedule that never ran although the model
    was trained (``fit`` without ``tfs.UpdateMasks``): they are pruned here at once instead.
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
    level = notices.resolve(verbose, "harden")
    check_pruning_ran(model, "harden", layers, scheduled_only=True)
    size = sum(1 for _ in _walk(model))
    progress = notices.Progress(f"harden '{model.name}': {len(layers)} sparse kernels", len(layers),
                                unit="kernel", verbose=level, owner="harden", size=size)
    result = {}
    for layer in layers:
        layer.harden(sparsity, quantize=quantize)
        result[layer.sparse_name] = layer.sparsity()
        progress.add()
    progress.done()
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
