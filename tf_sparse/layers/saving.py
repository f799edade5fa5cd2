"""Saving models whose sparse layers live inside layers that rebuild them from arguments.

A Sequential or Functional model stores each of its layers' configs, so its sparse layers come
back from a ``.keras`` file by themselves. A subclassed model, a keras_hub backbone or a
``TransformerEncoder`` rebuilds its inner layers from its own arguments instead, as plain Keras
layers. For such models ``tfs.sparsify`` gives the model's object a subclass of its own class (same
name, same behaviour) whose config wraps the model's config with the sparse layers' configs by
path; loading (``keras.saving.load_model``, with tf_sparse imported) rebuilds the model from its
own config, makes those layers sparse again, and then Keras loads every weight, masks and ADMM
state included.
"""

from __future__ import annotations

import keras

from tf_sparse.layers import hosts
from tf_sparse.layers.base import SparseLayerMixin
from tf_sparse.layers.sparse_conv import SparseConv1D, SparseConv2D, SparseDepthwiseConv2D
from tf_sparse.layers.sparse_dense import SparseDense

LOADER_NAME = "tf_sparse>SparsifiedModel"
_MIXIN_CLASSES = {cls.__name__: cls for cls in (SparseDense, SparseConv1D, SparseConv2D, SparseDepthwiseConv2D)}
_HOST_CLASSES = {cls.__name__: cls for cls in hosts.HOSTS.values()}
_WRAPPED = {}


def base_class(model):
    """The model's own class (the class it had before ``sparsify`` wrapped it)."""
    return getattr(type(model), "_tfs_base_class", type(model))


def records(model) -> dict:
    """``{path: record}`` of the sparse layers that the model's own config does not rebuild."""
    from tf_sparse.layers.surgery import _walk

    out = {}
    for path, layer, reachable in _walk(model):
        if reachable:
            continue
        if isinstance(layer, SparseLayerMixin) and type(layer).__name__ in _MIXIN_CLASSES:
            out[path] = {"class": type(layer).__name__, "sparse": layer._sparse_config()}
        elif type(layer).__name__ in _HOST_CLASSES:
            owner = layer.cell if isinstance(layer, hosts._SparseRNNMixin) else layer
            out[path] = {"class": type(layer).__name__, "kernels": owner.tfs_kernels_config()}
    return out


def restore(model, saved: dict):
    """Makes the layers at the recorded paths sparse again (state flags as saved, so that every
    saved variable has a place to load into)."""
    from tf_sparse.layers.surgery import _convert_mixin, _walk

    layers = {path: layer for path, layer, _ in _walk(model)}
    for path, record in saved.items():
        layer = layers.get(path)
        if layer is None:
            raise ValueError(
                f"load: model '{model.name}' has no layer at path '{path}', which the file's sparse layers name; "
                "was the model's code changed since it was saved?"
            )
        cls_name = record.get("class")
        if isinstance(layer, (SparseLayerMixin, hosts.SparseHostMixin, hosts._SparseRNNMixin)):
            continue
        if cls_name in _MIXIN_CLASSES:
            sparse = dict(record["sparse"])
            flags = {k: sparse.pop(k, False) for k in ("admm", "hardened", "group_reg", "quant_hardened")}
            _convert_mixin(layer, _MIXIN_CLASSES[cls_name], sparse.get("structure"), sparse.get("schedule"),
                           sparse.get("quantizer"), flags)
        elif cls_name in _HOST_CLASSES:
            hosts.convert_in_place(layer, _HOST_CLASSES[cls_name], dict(record["kernels"]))
        else:
            raise ValueError(f"load: unknown sparse layer class {cls_name!r} at path '{path}'")
    return model


def _wrapped_class(base):
    cls = _WRAPPED.get(base)
    if cls is not None:
        return cls

    def get_config(self):
        from tf_sparse.layers.surgery import _serialized_as

        return {"model": _serialized_as(self, base), "build": self.get_build_config(), "sparse": records(self)}

    cls = type(base.__name__, (base,), {
        "get_config": get_config,
        "_tfs_base_class": base,
        "__module__": base.__module__,
        "__qualname__": getattr(base, "__qualname__", base.__name__),
        "__doc__": base.__doc__,
    })
    # Serialized under the loader's name; ``SparsifiedModel.from_config`` rebuilds it.
    from keras.src.saving import object_registration

    object_registration.GLOBAL_CUSTOM_NAMES[cls] = LOADER_NAME
    _WRAPPED[base] = cls
    return cls


def wrap_if_needed(model):
    """Gives ``model`` the wrapping subclass when some of its sparse layers would not come back
    from its own config."""
    if type(model) is not base_class(model):
        return model
    if records(model):
        model.__class__ = _wrapped_class(type(model))
    return model


class SparsifiedModel:
    """Loader of models saved after ``tfs.sparsify`` wrapped them (see the module docstring)."""

    @classmethod
    def from_config(cls, config):
        if not isinstance(config, dict) or "model" not in config:
            raise ValueError("SparsifiedModel: the config must hold the model's own config under 'model'")
        model = keras.saving.deserialize_keras_object(config["model"])
        if not model.built and config.get("build"):
            # A subclassed model builds its layers when first called: they must exist to be made sparse.
            model.build_from_config(config["build"])
        restore(model, config.get("sparse", {}))
        return wrap_if_needed(model)


def _register():
    from keras.src.saving import object_registration

    object_registration.GLOBAL_CUSTOM_OBJECTS[LOADER_NAME] = SparsifiedModel


_register()
