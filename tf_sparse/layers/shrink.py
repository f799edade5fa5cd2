"""Physical filter and channel removal: ``tfs.shrink`` and the channel dependency graph.

Filter pruning (``tfs.Filter``, ``tfs.prune_filter_groups``) zeroes whole filters; the model keeps
its shapes and its cost. ``shrink`` returns a smaller plain Keras model with those channels gone,
computing the same outputs.

The channel graph
-----------------
Every position along the last (channel) axis of every tensor of the Functional graph carries a
*slot*: a Conv2D / Dense / SeparableConv2D output channel is a new slot; layers that work channel
by channel (BatchNormalization, activations, pooling, padding, Dropout, DepthwiseConv2D with
``depth_multiplier=1``, a Reshape keeping the last axis) pass their input's slots through;
``Flatten`` of ``(h, w, c)`` repeats the ``c`` slots ``h * w`` times (channel fastest);
``Concatenate`` on the last axis concatenates the slot lists; elementwise merges (Add, Subtract,
Multiply, Average, Maximum, Minimum) *couple* the slots at equal positions (a union-find). A
coupled class of slots is one channel that must go everywhere or nowhere.

The constant rule
-----------------
A filter whose kernel slice is zero outputs ``act(bias)`` at every pixel: a constant, not zero.
Constants are propagated exactly through the channel-by-channel layers (each layer is applied to
the constant), merges (all operands constant), DepthwiseConv2D and ZeroPadding2D (only when the
value stays uniform over the image: a zero value, a 1x1 kernel or ``'valid'`` padding; zero
padding around a non-zero constant makes the borders differ). Values nothing depends on do not
count (a batch norm with a zero gamma outputs its beta whatever its input; a zero depthwise
kernel slice its bias). A channel class is removed when every occurrence of it that can reach a
model output is a constant and every layer consuming it can absorb the constant into its bias:
Dense always (``bias += v * kernel[k]``, summed over the Flatten positions), Conv2D /
SeparableConv2D when the value is 0, the kernel is 1x1 or the padding is ``'valid'``. Otherwise the channel is kept and the reason is reported. Channels reaching a model
output or a layer shrink does not know (anything not listed above: it names the layer) are kept.
"""

from __future__ import annotations

import copy
import dataclasses
import warnings

import keras
import numpy as np

# --- layer kinds ------------------------------------------------------------------------------
_PASS = (  # identity on a channel's value (inference), slots pass through
    keras.layers.Dropout, keras.layers.SpatialDropout1D, keras.layers.SpatialDropout2D,
    keras.layers.SpatialDropout3D, keras.layers.GaussianNoise, keras.layers.GaussianDropout,
    keras.layers.AlphaDropout, keras.layers.ActivityRegularization, keras.layers.Identity,
    keras.layers.MaxPooling2D, keras.layers.AveragePooling2D, keras.layers.MaxPooling1D,
    keras.layers.AveragePooling1D, keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D, keras.layers.GlobalAveragePooling1D,
    keras.layers.GlobalMaxPooling1D, keras.layers.Cropping2D, keras.layers.UpSampling2D,
)
_CALL = (  # elementwise per channel: the layer is applied to the constants
    keras.layers.Activation, keras.layers.ReLU, keras.layers.LeakyReLU, keras.layers.ELU,
    keras.layers.BatchNormalization, keras.layers.Rescaling,
)
_MERGE = {
    keras.layers.Add: np.add, keras.layers.Subtract: np.subtract, keras.layers.Multiply: np.multiply,
    keras.layers.Maximum: np.maximum, keras.layers.Minimum: np.minimum, keras.layers.Average: None,
}
_MIXING_ACTIVATIONS = ("softmax", "log_softmax")
# The weights shrink knows how to slice, per layer class (others, e.g. LoRA or quantized
# kernels, make the layer a barrier).
_KNOWN_WEIGHTS = {
    keras.layers.Conv2D: {"kernel", "bias"},
    keras.layers.Dense: {"kernel", "bias"},
    keras.layers.DepthwiseConv2D: {"kernel", "bias"},
    keras.layers.SeparableConv2D: {"depthwise_kernel", "pointwise_kernel", "bias"},
    keras.layers.BatchNormalization: {"gamma", "beta", "moving_mean", "moving_variance"},
}
_FLOP_LAYERS = (keras.layers.Conv2D, keras.layers.Dense, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _act_name(layer):
    try:
        name = keras.activations.serialize(layer.activation)
    except Exception:  # a custom callable
        return None
    return name if isinstance(name, str) else (name.get("config") if isinstance(name, dict) else None)


class _UnionFind:
    def __init__(self):
        self.parent = []

    def new(self, n):
        start = len(self.parent)
        self.parent.extend(range(start, start + n))
        return list(range(start, start + n))

    def find(self, a):
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@dataclasses.dataclass
class _T:
    """A tensor of the graph: its channel-axis slots and, per position, the constant it holds
    (None: varies)."""

    shape: tuple
    slots: list
    const: list


@dataclasses.dataclass
class ShrinkGroup:
    """Filters coupled by the graph: filter ``k`` of every layer in ``layers`` is removed together
    (or not at all).

    Attributes:
      layers: paths of the layers whose output channels (kernel axis ``axis``) are coupled: the
        Conv2D / Dense / SeparableConv2D filters feeding the same channels (the branches of a
        residual Add, the squeeze-excitation convolution of a Multiply).
      axis: the kernel axis of those filters (``-1``).
      channels: the number of channels.
      followers: paths of the layers whose per-channel weights follow (BatchNormalization,
        DepthwiseConv2D, the consumers' input channels).
      reason: why the group cannot shrink (model output, a layer shrink does not know, filters
        not aligned), or None.
    """

    layers: list
    axis: int
    channels: int
    followers: list
    reason: str | None = None

    @property
    def name(self):
        return self.layers[0]


class _Analysis:
    """The channel graph of a flat Functional or Sequential model and its removable channels."""

    def __init__(self, model, fn_name):
        self.model = model
        self.fn = fn_name
        self.uf = _UnionFind()
        self.pins = {}  # slot -> reason it must stay
        self.blocks = {}  # slot -> reason a constant channel stays
        self.n_outputs = {}
        self.back = {}  # layer name -> (needed output positions -> needed positions of each input)
        self.tensors = {}  # (layer name, index) -> _T
        self.entries = _entries(model, fn_name)
        self.layers = {e["name"]: model.get_layer(e["name"]) if e["class_name"] != "InputLayer" else None
                       for e in self.entries}
        self.inputs = {}
        self.producers = []
        self.followers = {}  # layer name -> input slots it follows
        self.weights = {name: {_wname(w): _np(w) for w in layer.weights}
                        for name, layer in self.layers.items() if layer is not None}
        for e in self.entries:
            self._visit(e)
        for name, idx in _output_refs(model, self.entries):
            for s in self.tensors[(name, idx)].slots:
                self.pins.setdefault(s, f"'{name}' is a model output")
        self._decide()

    # --- building ---------------------------------------------------------------------------
    def _pin(self, slots, reason):
        for s in slots:
            self.pins.setdefault(s, reason)

    def _new(self, shape, reason=None, const=None):
        n = int(shape[-1]) if len(shape) > 1 else 1
        slots = self.uf.new(n)
        if reason:
            self._pin(slots, reason)
        return _T(tuple(shape), slots, list(const) if const is not None else [None] * n)

    def _out_shapes(self, layer):
        return [tuple(t.shape) for t in keras.tree.flatten(layer.output)]

    def _visit(self, e):
        name = e["name"]
        if e["class_name"] == "InputLayer":
            shape = tuple(e["config"].get("batch_shape") or e["config"].get("batch_input_shape"))
            self.tensors[(name, 0)] = self._new(shape, reason=f"'{name}' is a model input")
            return
        layer = self.layers[name]
        ins = [self.tensors[ref] for ref in e["inputs"]]
        self.inputs[name] = e["inputs"]
        shapes = self._out_shapes(layer)
        self._back = None
        try:
            out = self._through(name, layer, ins, shapes)
        except _Unknown as err:
            reason = f"'{name}' ({type(layer).__name__}): {err}"
            for t in ins:
                self._pin(t.slots, reason)
            outs = [self._new(s, reason=reason) for s in shapes]
            self._back = None
        else:
            outs = [out]
        sizes = [len(t.slots) for t in ins]
        self.back[name] = self._back or (lambda needed: [[True] * n for n in sizes])
        self.n_outputs[name] = len(outs)
        for i, t in enumerate(outs):
            self.tensors[(name, i)] = t

    def _channelwise(self, absorbed=()):
        """Backward map of a layer working channel by channel; ``absorbed``: the channels whose
        output does not depend on the input (a batch norm's zero gamma, a zero depthwise kernel)."""
        absorbed = set(absorbed)
        self._back = lambda needed: [[n and k not in absorbed for k, n in enumerate(needed)]]

    def _through(self, name, layer, ins, shapes):
        cls = type(layer)
        if len(shapes) != 1:
            raise _Unknown("a layer with several outputs")
        shape = shapes[0]
        known = _KNOWN_WEIGHTS.get(cls)
        if known is not None:
            names = [_wname(v) for v in layer.weights]
            if not set(names) <= known or len(set(names)) != len(names):
                raise _Unknown(f"weights {sorted(set(names) - known)} that shrink cannot slice (quantized or LoRA)")
        if cls in _MERGE:
            out = self._merge(layer, ins, shape)
            n = len(out.slots)
            self._back = lambda needed: [list(needed) if len(t.slots) == n else [any(needed)] for t in ins]
            return out
        if cls is keras.layers.Concatenate:
            if layer.axis not in (-1, len(shape) - 1):
                raise _Unknown(f"Concatenate on axis {layer.axis}, not the channel (last) axis")
            bounds = np.cumsum([0] + [len(t.slots) for t in ins])
            self._back = lambda needed: [list(needed[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
            return _T(shape, [s for t in ins for s in t.slots], [c for t in ins for c in t.const])
        if len(ins) != 1:
            raise _Unknown("a layer with several inputs")
        x = ins[0]
        fmt = getattr(layer, "data_format", "channels_last")
        if fmt == "channels_first":
            raise _Unknown("data_format='channels_first'")
        if cls in (keras.layers.Conv2D, keras.layers.Dense, keras.layers.SeparableConv2D):
            n_in = len(x.slots)
            self._back = lambda needed: [[any(needed)] * n_in]
            return self._producer(name, layer, x, shape)
        if cls is keras.layers.DepthwiseConv2D:
            return self._depthwise(name, layer, x, shape)
        if cls in _PASS:
            self._channelwise()
            return _T(shape, list(x.slots), list(x.const))
        if cls in _CALL:
            if cls is keras.layers.BatchNormalization and layer.axis not in (-1, len(x.shape) - 1):
                raise _Unknown(f"BatchNormalization on axis {layer.axis}, not the channel (last) axis")
            if cls is keras.layers.Activation and _act_name(layer) in _MIXING_ACTIVATIONS + (None,):
                raise _Unknown("an activation mixing channels (or not known)")
            if cls is keras.layers.Rescaling and (np.ndim(layer.scale) or np.ndim(layer.offset)):
                raise _Unknown("per-channel Rescaling")
            self.followers[name] = x.slots
            const = self._call_on(layer, x.const, len(shape))
            absorbed = []
            if cls is keras.layers.BatchNormalization and layer.scale:
                w = self.weights[name]
                absorbed = [int(k) for k in np.flatnonzero(w["gamma"] == 0)]
                for k in absorbed:  # gamma = 0: beta whatever the input
                    const[k] = float(w["beta"][k]) if layer.center else 0.0
            self._channelwise(absorbed)
            return _T(shape, list(x.slots), const)
        if cls is keras.layers.ZeroPadding2D:
            self._channelwise()
            return _T(shape, list(x.slots), [c if c == 0 else None for c in x.const])
        if cls is keras.layers.Flatten:
            reps = int(np.prod(x.shape[1:-1])) if len(x.shape) > 2 else 1
            if None in x.shape[1:]:
                raise _Unknown("Flatten of an input with unknown dimensions")
            n_in = len(x.slots)
            self._back = lambda needed: [[any(needed[k::n_in]) for k in range(n_in)]]
            return _T(shape, list(x.slots) * reps, list(x.const) * reps)
        if cls is keras.layers.Reshape:
            if len(x.shape) < 2 or shape[-1] != x.shape[-1]:
                raise _Unknown("a Reshape that does not keep the channel (last) axis")
            self._channelwise()
            return _T(shape, list(x.slots), list(x.const))
        raise _Unknown("not a layer shrink can see through (supported: Conv2D, Dense, DepthwiseConv2D, "
                       "SeparableConv2D, BatchNormalization, activations, pooling, padding, Dropout, Flatten, "
                       "Reshape keeping the last axis, Add/Subtract/Multiply/Average/Maximum/Minimum, Concatenate)")

    def _merge(self, layer, ins, shape):
        n = int(shape[-1])
        if any(len(t.shape) != len(shape) for t in ins):
            raise _Unknown("operands of different ranks")
        slots, const = [None] * n, [None] * n
        full = [t for t in ins if len(t.slots) == n]
        for t in ins:
            if len(t.slots) != n:  # broadcast along the channels: its single slot stays
                self._pin(t.slots, f"'{layer.name}' broadcasts a 1-channel operand over the channels")
        for k in range(n):
            first = full[0].slots[k]
            for t in full[1:]:
                self.uf.union(first, t.slots[k])
            slots[k] = first
            vals = [t.const[k] if len(t.slots) == n else t.const[0] for t in ins]
            if all(v is not None for v in vals):
                op = _MERGE[type(layer)]
                if op is None:
                    const[k] = float(np.mean(np.asarray(vals, np.float32)))
                else:
                    v = np.float32(vals[0])
                    for w in vals[1:]:
                        v = op(v, np.float32(w))
                    const[k] = float(v)
        return _T(shape, slots, const)

    def _call_on(self, layer, const, rank):
        if all(c is None for c in const):
            return list(const)
        vals = np.asarray([0.0 if c is None else c for c in const], np.float32).reshape((1,) * (rank - 1) + (-1,))
        if isinstance(layer, keras.layers.BatchNormalization):
            out = _np(layer(vals, training=False)).reshape(-1)
        else:
            out = _np(layer(vals)).reshape(-1)
        return [None if c is None else float(o) for c, o in zip(const, out)]

    def _check_fold(self, name, layer, x, kernel_hw):
        """Marks the constant input channels this layer cannot absorb into its bias."""
        uniform = layer.padding == "valid" or all(k == 1 for k in kernel_hw)
        for s, c in zip(x.slots, x.const):
            if c is not None and c != 0 and not uniform:
                self.blocks.setdefault(s, (
                    f"'{name}': a non-zero constant channel meets the zero padding of a "
                    f"{'x'.join(map(str, kernel_hw))} kernel with padding='same' (it would vary at the borders)"))

    def _producer(self, name, layer, x, shape):
        cls = type(layer)
        w = self.weights[name]
        if cls is keras.layers.Conv2D:
            if layer.groups != 1:
                raise _Unknown(f"a grouped convolution (groups={layer.groups})")
            self._check_fold(name, layer, x, w["kernel"].shape[:2])
            filt = w["kernel"].reshape(-1, w["kernel"].shape[-1])
        elif cls is keras.layers.SeparableConv2D:
            self._check_fold(name, layer, x, w["depthwise_kernel"].shape[:2])
            filt = w["pointwise_kernel"].reshape(-1, w["pointwise_kernel"].shape[-1])
        else:
            filt = w["kernel"]
        self.followers[name] = x.slots
        zero = ~np.any(filt != 0, axis=0)
        act = _act_name(layer)
        out = self._new(shape)
        self.producers.append(name)
        if act in _MIXING_ACTIVATIONS or act is None:
            self._pin(out.slots, f"'{name}' has the channel-mixing activation {act!r}")
            return out
        if zero.any():
            bias = w.get("bias", np.zeros(len(zero), np.float32))
            vals = _np(layer.activation(keras.ops.convert_to_tensor(bias.astype(np.float32))))
            out.const = [float(vals[k]) if zero[k] else None for k in range(len(zero))]
        return out

    def _depthwise(self, name, layer, x, shape):
        w = self.weights[name]
        dk = w["kernel"]
        if dk.shape[-1] != 1:
            raise _Unknown(f"DepthwiseConv2D with depth_multiplier={dk.shape[-1]} (only 1 is supported)")
        act = _act_name(layer)
        if act in _MIXING_ACTIVATIONS or act is None:
            raise _Unknown(f"the channel-mixing activation {act!r}")
        self.followers[name] = x.slots
        uniform = layer.padding == "valid" or dk.shape[0] == dk.shape[1] == 1
        bias = w.get("bias", np.zeros(dk.shape[2], np.float32))
        pre = [None] * len(x.slots)
        absorbed = []
        for k, c in enumerate(x.const):
            if not np.any(dk[..., k, 0]):
                pre[k] = float(bias[k])
                absorbed.append(k)
            elif c is not None and (c == 0 or uniform):
                pre[k] = float(np.float32(c) * dk[..., k, 0].sum(dtype=np.float32) + bias[k])
            elif c is not None:
                self.blocks.setdefault(x.slots[k], (
                    f"'{name}': a non-zero constant channel meets the zero padding of a {dk.shape[0]}x{dk.shape[1]} "
                    "depthwise kernel with padding='same' (it would vary at the borders)"))
        self._channelwise(absorbed)
        vals = _np(layer.activation(keras.ops.convert_to_tensor(np.asarray([0 if p is None else p for p in pre],
                                                                           np.float32))))
        return _T(shape, list(x.slots), [None if p is None else float(v) for p, v in zip(pre, vals)])

    # --- deciding ---------------------------------------------------------------------------
    def _needed(self):
        """Per tensor, the channel positions whose value can reach a model output."""
        needed = {ref: [False] * len(t.slots) for ref, t in self.tensors.items()}
        for name, idx in _output_refs(self.model, self.entries):
            needed[(name, idx)] = [True] * len(self.tensors[(name, idx)].slots)
        for e in reversed(self.entries):
            if not e["inputs"]:
                continue
            outs = [needed[(e["name"], i)] for i in range(self.n_outputs[e["name"]])]
            out = [any(col) for col in zip(*outs)] if len(outs) > 1 else outs[0]
            for ref, flags in zip(e["inputs"], self.back[e["name"]](out)):
                needed[ref] = [a or bool(b) for a, b in zip(needed[ref], flags)]
        return needed

    def _decide(self):
        find = self.uf.find
        self.class_pin, self.class_block, live = {}, {}, set()
        for s, r in self.pins.items():
            self.class_pin.setdefault(find(s), r)
        for s, r in self.blocks.items():
            self.class_block.setdefault(find(s), r)
        # A channel varies when a varying value of it can reach an output; values that a later
        # batch norm (zero gamma) or depthwise kernel (zero slice) ignores do not count.
        for ref, flags in self._needed().items():
            t = self.tensors[ref]
            for s, c, n in zip(t.slots, t.const, flags):
                if c is None and n:
                    live.add(find(s))
        self.removed = set()
        for t in self.tensors.values():
            for s in t.slots:
                r = find(s)
                if r not in live and r not in self.class_pin and r not in self.class_block:
                    self.removed.add(r)
        # Constant classes kept: their reasons.
        self.kept_constant = {}
        for t in self.tensors.values():
            for s in t.slots:
                r = find(s)
                if r not in live and r not in self.removed:
                    self.kept_constant.setdefault(r, self.class_pin.get(r) or self.class_block.get(r))

    def keep(self, ref):
        return np.array([self.uf.find(s) not in self.removed for s in self.tensors[ref].slots], bool)

    def groups(self):
        """Producers coupled through their output channels, as ShrinkGroups."""
        find = self.uf.find
        roots = {p: tuple(find(s) for s in self.tensors[(p, 0)].slots) for p in self.producers}
        owner = {}
        parent = {p: p for p in self.producers}

        def top(p):
            while parent[p] != p:
                p = parent[p]
            return p

        for p in self.producers:
            for r in roots[p]:
                if r in owner:
                    a, b = top(owner[r]), top(p)
                    if a != b:
                        parent[b] = a
                else:
                    owner[r] = p
        members = {}
        for p in self.producers:
            members.setdefault(top(p), []).append(p)
        groups = []
        for ps in members.values():
            rs = set(r for p in ps for r in roots[p])
            reason = None
            if len({roots[p] for p in ps}) != 1:
                reason = "its filters are coupled at different channel positions (a Concatenate feeding a merge)"
            else:
                for r in roots[ps[0]]:
                    if r in self.class_pin:
                        reason = self.class_pin[r]
                        break
            followers = [n for n, slots in self.followers.items() if any(find(s) in rs for s in slots)]
            groups.append(ShrinkGroup(layers=ps, axis=-1, channels=len(roots[ps[0]]), followers=followers,
                                      reason=reason))
        return groups


class _Unknown(Exception):
    pass


def _wname(w):
    return w.path.split("/")[-1] if hasattr(w, "path") else w.name.split("/")[-1].split(":")[0]


def _tensor_refs(obj, out):
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            h = obj["config"]["keras_history"]
            out.append((h[0], h[2]))
            return out
        for v in obj.values():
            _tensor_refs(v, out)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _tensor_refs(v, out)
    return out


def _entries(model, fn):
    """The model's layers in graph order: ``{name, class_name, config, inputs}``."""
    kind = type(model).__name__
    if kind not in ("Functional", "Sequential") or not type(model).__module__.startswith("keras."):
        raise TypeError(
            f"{fn}: `model` must be a Functional or Sequential Keras model (its layers are rebuilt from "
            f"their configs), got {type(model).__name__}; a subclassed model cannot be rewired"
        )
    if not model.built:
        raise ValueError(f"{fn}: model '{model.name}' is not built; call it or build it first")
    config = model.get_config()
    entries = []
    if kind == "Sequential":
        prev = None
        for i, layer_cfg in enumerate(config["layers"]):
            name = layer_cfg["config"]["name"]
            if layer_cfg["class_name"] == "InputLayer":
                entries.append({"name": name, "class_name": "InputLayer", "config": layer_cfg["config"], "inputs": []})
                prev = (name, 0)
                continue
            if prev is None:
                shape = model.layers[0].input.shape
                inp = f"{model.name}_input"
                entries.append({"name": inp, "class_name": "InputLayer", "config": {"batch_shape": shape},
                                "inputs": []})
                prev = (inp, 0)
            entries.append({"name": name, "class_name": layer_cfg["class_name"], "config": layer_cfg["config"],
                            "inputs": [prev]})
            prev = (name, 0)
    else:
        for layer_cfg in config["layers"]:
            nodes = layer_cfg.get("inbound_nodes", [])
            if len(nodes) > 1:
                raise ValueError(
                    f"{fn}: layer '{layer_cfg['name']}' is called {len(nodes)} times (a shared layer); shrink "
                    "rewires each layer once, so models sharing layers cannot shrink")
            inputs = _tensor_refs(nodes[0], []) if nodes else []
            entries.append({"name": layer_cfg["name"], "class_name": layer_cfg["class_name"],
                            "config": layer_cfg["config"], "inputs": inputs})
    for e in entries:
        if e["class_name"] in ("Functional", "Sequential", "Model"):
            raise ValueError(
                f"{fn}: layer '{e['name']}' is a nested model; shrink works on flat models (build the model from "
                "the nested model's layers, or shrink the nested model on its own)")
    return entries


def _output_refs(model, entries):
    if type(model).__name__ == "Sequential":
        return [(entries[-1]["name"], 0)]
    outs = model.get_config()["output_layers"]
    if outs and not isinstance(outs[0], (list, tuple)):
        outs = [outs]
    return [(o[0], o[2]) for o in outs]


def _prepare(model, fn):
    from tf_sparse.layers.surgery import _check_model_type, sparse_layers, strip

    _check_model_type(model, fn)
    if sparse_layers(model):
        model = strip(model)
    return model


# --- the rewrite ------------------------------------------------------------------------------
def _shrunk_weights(an, name, layer, cfg):
    """New weights {name: array} of one layer (None: unchanged) and its config edits (in place on
    ``cfg``)."""
    w = {k: v.copy() for k, v in an.weights[name].items()}
    cls = type(layer)
    refs = an.inputs.get(name, [])
    if cls not in _KNOWN_WEIGHTS:
        if cls is keras.layers.Reshape and an.removed:
            out = an.keep((name, 0))
            cfg["target_shape"] = list(cfg["target_shape"][:-1]) + [int(out.sum())]
        return None
    x = an.tensors[refs[0]]
    keep_in = an.keep(refs[0])
    if keep_in.all() and all(an.keep((name, i)).all() for i in range(an.n_outputs[name])):
        return None  # untouched (barriers such as a depthwise with a depth multiplier end here)
    if cls is keras.layers.BatchNormalization:
        return {k: v[keep_in] for k, v in w.items()}
    if cls is keras.layers.DepthwiseConv2D:
        w["kernel"] = w["kernel"][:, :, keep_in, :]
        if "bias" in w:
            w["bias"] = w["bias"][keep_in]
        return w
    key = "pointwise_kernel" if cls is keras.layers.SeparableConv2D else "kernel"
    n_out = w[key].shape[-1]
    bias = w.get("bias", np.zeros(n_out, np.float32)).astype(np.float64)
    dropped = [(k, c) for k, (c, kept) in enumerate(zip(x.const, keep_in)) if not kept]
    for k, c in dropped:
        if c is None or c == 0:  # None: a value no output depends on
            continue
        if cls is keras.layers.Dense:
            bias += c * w["kernel"][k].astype(np.float64)
        elif cls is keras.layers.Conv2D:
            bias += c * w["kernel"][:, :, k, :].astype(np.float64).sum(axis=(0, 1))
        else:
            dk, pk = w["depthwise_kernel"], w["pointwise_kernel"]
            m = dk.shape[-1]
            for j in range(m):
                bias += c * dk[:, :, k, j].astype(np.float64).sum() * pk[0, 0, k * m + j].astype(np.float64)
    keep_out = an.keep((name, 0))
    if cls is keras.layers.Dense:
        w["kernel"] = w["kernel"][keep_in][:, keep_out]
        cfg["units"] = int(keep_out.sum())
    elif cls is keras.layers.Conv2D:
        w["kernel"] = w["kernel"][:, :, keep_in][..., keep_out]
        cfg["filters"] = int(keep_out.sum())
    else:
        m = w["depthwise_kernel"].shape[-1]
        w["depthwise_kernel"] = w["depthwise_kernel"][:, :, keep_in]
        w["pointwise_kernel"] = w["pointwise_kernel"][:, :, np.repeat(keep_in, m)][..., keep_out]
        cfg["filters"] = int(keep_out.sum())
    folded = any(c is not None and c != 0 for _, c in dropped)
    if "bias" in w or folded:
        w["bias"] = bias[keep_out].astype(np.float32)
        cfg["use_bias"] = True
    return w


def _rebuild(an):
    model = an.model
    config = copy.deepcopy(model.get_config())
    new_weights = {}
    for layer_cfg in config["layers"]:
        name = layer_cfg["config"]["name"] if "name" not in layer_cfg else layer_cfg["name"]
        layer_cfg.pop("build_config", None)
        layer_cfg.pop("compile_config", None)
        layer = an.layers.get(name)
        if layer is None:
            continue
        new_weights[name] = _shrunk_weights(an, name, layer, layer_cfg["config"])
    cls = keras.Sequential if type(model).__name__ == "Sequential" else keras.Model
    new = cls.from_config(config)
    for name, w in new_weights.items():
        layer = new.get_layer(name)
        if not layer.weights:
            continue
        if w is None:
            layer.set_weights(an.layers[name].get_weights())
        else:
            layer.set_weights([w[_wname(v)] for v in layer.weights])
    return new


# --- cost ---------------------------------------------------------------------------------------
def _macs(layer):
    out = [int(d) for d in layer.output.shape[1:]]
    inp = [int(d) for d in keras.tree.flatten(layer.input)[0].shape[1:]]
    if isinstance(layer, keras.layers.SeparableConv2D):
        dk, pk = layer.depthwise_kernel.shape, layer.pointwise_kernel.shape
        hw = out[0] * out[1]
        return hw * int(np.prod(dk)) + hw * int(pk[2]) * int(pk[3])
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return out[0] * out[1] * int(np.prod(layer.kernel.shape))
    if isinstance(layer, keras.layers.Conv2D):
        return out[0] * out[1] * int(np.prod(layer.kernel.shape))
    if isinstance(layer, keras.layers.Dense):
        return int(np.prod(inp[:-1] or [1])) * int(np.prod(layer.kernel.shape))
    return 0


def _costs(model):
    rows = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        rows[layer.name] = {
            "class": type(layer).__name__,
            "params": int(layer.count_params()),
            "macs": _macs(layer) if isinstance(layer, _FLOP_LAYERS) else 0,
            "channels": int(layer.output.shape[-1]) if not isinstance(layer.output, (list, tuple)) else None,
        }
    return rows


@dataclasses.dataclass
class ShrinkReport:
    """Parameters and multiply-adds (Conv / Dense) per layer, before and after ``shrink``.

    Attributes:
      layers: ``[{layer, class, params_before, params_after, macs_before, macs_after,
        channels_before, channels_after}]`` for every layer whose cost or width changed.
      params_before, params_after, macs_before, macs_after: whole-model totals.
      groups: ``[{layers, channels, removed, reason}]`` per coupled group of filters.
      kept_constant: reasons why constant (zero-filter) channels were kept, with counts.
    """

    layers: list
    params_before: int
    params_after: int
    macs_before: int
    macs_after: int
    groups: list
    kept_constant: dict

    def to_dict(self):
        return dataclasses.asdict(self)

    def __str__(self):
        lines = [f"{'layer':32s} {'channels':>11s} {'params':>19s} {'MACs':>23s}"]
        for r in self.layers:
            lines.append(
                f"{r['layer'][:32]:32s} {r['channels_before']!s:>5}->{r['channels_after']!s:<5} "
                f"{r['params_before']:>9}->{r['params_after']:<9} {r['macs_before']:>11}->{r['macs_after']:<11}")
        lines.append(
            f"{'total':32s} {'':11s} {self.params_before:>9}->{self.params_after:<9} "
            f"{self.macs_before:>11}->{self.macs_after:<11}  "
            f"(params x{self.params_before / max(self.params_after, 1):.2f}, "
            f"MACs x{self.macs_before / max(self.macs_after, 1):.2f})")
        for reason, n in self.kept_constant.items():
            lines.append(f"kept {n} constant channel(s): {reason}")
        return "\n".join(lines)


def shrink_report(before, after, analysis=None) -> ShrinkReport:
    """Compares a model with its shrunk version (same layer names): parameters and multiply-adds
    of every Conv2D / DepthwiseConv2D / SeparableConv2D / Dense layer and of the whole model.
    ``groups`` and ``kept_constant`` are filled by ``shrink(model, report=True)`` only."""
    a, b = _costs(before), _costs(after)
    rows = []
    for name, r in a.items():
        s = b.get(name)
        if s is None:
            continue
        if (r["params"], r["macs"], r["channels"]) != (s["params"], s["macs"], s["channels"]):
            rows.append({"layer": name, "class": r["class"], "params_before": r["params"],
                         "params_after": s["params"], "macs_before": r["macs"], "macs_after": s["macs"],
                         "channels_before": r["channels"], "channels_after": s["channels"]})
    groups, kept = [], {}
    if analysis is not None:
        for g in analysis.groups():
            first = analysis.tensors[(g.layers[0], 0)]
            removed = int(len(first.slots) - analysis.keep((g.layers[0], 0)).sum())
            groups.append({"layers": g.layers, "channels": g.channels, "removed": removed, "reason": g.reason})
        for reason in analysis.kept_constant.values():
            kept[reason] = kept.get(reason, 0) + 1
    return ShrinkReport(rows, sum(r["params"] for r in a.values()), sum(r["params"] for r in b.values()),
                        sum(r["macs"] for r in a.values()), sum(r["macs"] for r in b.values()), groups, kept)


# --- public API -------------------------------------------------------------------------------
def shrink(model, report: bool = False):
    """Returns a smaller plain Keras model without the pruned filters and channels.

    Channels whose every occurrence in the graph is a constant (a zero filter, a zeroed batch-norm
    channel) are removed: the filter from its layer, the channel from every consumer
    (BatchNormalization's vectors, DepthwiseConv2D, the input channels of Conv2D /
    SeparableConv2D / Dense, Dense rows after Flatten), and the constant folded into the
    consumers' biases. Channels coupled by an Add / Multiply / ... go only when removable in every
    branch. The result computes the same outputs (to float rounding), has the same layer names
    and loads without tf_sparse. See ``docs/shrink.md`` for the rules.

    Args:
      model: a built Functional or Sequential model, plain (pruned filters are exact zeros, e.g.
        after ``tfs.strip``) or sparse (stripped first).
      report: also return a :class:`ShrinkReport` (parameters and multiply-adds before / after).

    Returns:
      The shrunk model, or ``(model, report)``.

    Raises:
      TypeError: ``model`` is not a Functional or Sequential Keras model.
      ValueError: the model is not built, shares a layer between calls or nests a model.

    Warns:
      UserWarning: constant (zero-filter) channels that had to stay, with the layer and the reason.

    Example:
      >>> tfs.prune_filter_groups(model, 0.5)
      >>> small, rep = tfs.shrink(model, report=True); print(rep)
    """
    if not isinstance(report, bool):
        raise TypeError(f"shrink: `report` must be True or False, got {report!r}")
    model = _prepare(model, "shrink")
    an = _Analysis(model, "shrink")
    new = _rebuild(an)
    counts = {}
    for reason in an.kept_constant.values():
        counts[reason] = counts.get(reason, 0) + 1
    if counts:
        listed = "; ".join(f"{n} x {r}" for r, n in list(counts.items())[:5])
        more = f"; and {len(counts) - 5} more reason(s)" if len(counts) > 5 else ""
        warnings.warn(f"shrink: kept {sum(counts.values())} constant channel(s) it could not remove: {listed}{more}",
                      UserWarning, stacklevel=2)
    if report:
        return new, shrink_report(model, new, an)
    return new


def shrink_groups(model) -> list:
    """The coupled groups of filters of ``model``: list of :class:`ShrinkGroup`.

    Filter ``k`` of every layer of a group feeds the same channel (residual branches, the
    squeeze-excitation convolution of a Multiply), so it can only be removed in all of them at
    once. A group with a ``reason`` cannot shrink (it reaches a model output or a layer shrink does
    not know). Paths are the layer names of the flat model (``tfs.layer_paths``).
    """
    model = _prepare(model, "shrink_groups")
    return _Analysis(model, "shrink_groups").groups()


def _filter_weights(layer):
    return "pointwise_kernel" if isinstance(layer, keras.layers.SeparableConv2D) else "kernel"


def prune_filter_groups(model, ratio, batchnorm: bool = True) -> dict:
    """Zeroes the weakest filters of every coupled group, the same indices in all its layers.

    Filter ``k`` of a group is ranked by the sum over the group's layers of the L2 norm of its
    filter ``kernel[..., k]``; the ``floor(ratio * n + 0.5)`` weakest go (at least one filter
    stays). Each pruned filter gets a zero kernel slice and bias, and with ``batchnorm`` the
    BatchNormalization right after it a zero gamma and beta, so that the channel is an exact zero
    (a constant ``act(0)`` after the activation) and ``tfs.shrink`` can remove it. Works in place
    on a plain model (``tfs.strip`` a sparse model first).

    Args:
      model: a built Functional or Sequential model.
      ratio: fraction of filters pruned per group, in [0, 1): a number, a ``tfs.Filter`` (its
        sparsity), or a callable ``ShrinkGroup -> ratio or None`` (None leaves the group alone).
      batchnorm: also zero the gamma and beta of the BatchNormalization following a pruned filter.

    Returns:
      ``{group name (its first layer): sorted pruned filter indices}``.
    """
    from tf_sparse.layers.surgery import _check_model_type, sparse_layers
    from tf_sparse.structures.base import check_sparsity
    from tf_sparse.structures.filter import Filter

    _check_model_type(model, "prune_filter_groups")
    if sparse_layers(model):
        raise ValueError("prune_filter_groups: the model has tf_sparse layers; tfs.strip(model) it first")
    if not isinstance(batchnorm, bool):
        raise TypeError(f"prune_filter_groups: `batchnorm` must be True or False, got {batchnorm!r}")
    if isinstance(ratio, Filter):
        ratio = ratio.sparsity
    if not callable(ratio):
        ratio = check_sparsity(ratio, "ratio", owner="prune_filter_groups")
    an = _Analysis(model, "prune_filter_groups")
    consumers = {}
    for name, refs in an.inputs.items():
        for ref in refs:
            consumers.setdefault(ref[0], []).append(name)
    result = {}
    for g in an.groups():
        if g.reason:
            continue
        r = ratio(g) if callable(ratio) else ratio
        if r is None:
            continue
        r = check_sparsity(r, "ratio", owner=f"prune_filter_groups (group '{g.name}')")
        n_prune = min(int(np.floor(r * g.channels + 0.5)), g.channels - 1)
        if n_prune <= 0:
            continue
        score = np.zeros(g.channels)
        for p in g.layers:
            k = an.weights[p][_filter_weights(model.get_layer(p))]
            score += np.sqrt((k.reshape(-1, k.shape[-1]).astype(np.float64) ** 2).sum(axis=0))
        pruned = np.sort(np.argsort(score, kind="stable")[:n_prune])
        for p in g.layers:
            layer = model.get_layer(p)
            key = _filter_weights(layer)
            for v in layer.weights:
                if _wname(v) in (key, "bias"):
                    a = _np(v).copy()
                    a[..., pruned] = 0
                    v.assign(a)
            if batchnorm:
                for c in consumers.get(p, []):
                    bn = model.get_layer(c)
                    if type(bn) is keras.layers.BatchNormalization:
                        for v in bn.weights:
                            if _wname(v) in ("gamma", "beta"):
                                a = _np(v).copy()
                                a[pruned] = 0
                                v.assign(a)
        result[g.name] = pruned.tolist()
    return result
