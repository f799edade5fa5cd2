"""Per-layer control for ``tfs.sparsify`` configs: what a layer gets (``LayerSpec``), which layers
a rule reaches (``select``) and a ready-made config (``fastest``).

* ``tfs.LayerSpec(structure, schedule=...)`` (or the tuple ``(structure, schedule)``) as a config
  value gives a layer its own pruning schedule: layers ramp to different targets at different
  times, and ``tfs.UpdateMasks`` runs each layer's own schedule.
* ``tfs.select(kernel_size=(3, 3), cls=keras.layers.Conv2D, min_params=..., ...)`` as a config
  key reaches the layers that satisfy every given condition: a class cannot tell a 3x3 from a 1x1
  convolution, a selector can.
* ``tfs.fastest(sparsity=0.9)`` (or the config ``"fastest"``) picks, layer by layer, the
  structure the delegate runs fastest.
"""

from __future__ import annotations

import fnmatch
import numbers

import keras

from tf_sparse.structures.base import Structure
from tf_sparse.training.schedules import PruningSchedule


class LayerSpec:
    """What one layer (or every layer a config key reaches) gets: a structure and its own schedule.

    Args:
      structure: a ``Structure``, ``None`` (left dense) or ``{kernel name: Structure or None}``
        for layers with several kernels.
      schedule: the pruning schedule of this layer's kernels (``tfs.PolynomialDecay``,
        ``tfs.ConstantSparsity``, ...); ``None``: the ``schedule`` given to ``sparsify``, if any.
        The schedule's sparsity is the target the masks are recomputed to (as with ``sparsify``'s
        ``schedule``), so two layers with the same structure can ramp to different targets.

    The tuple ``(structure, schedule)`` is the same thing.

    Example:
      >>> sparse = tfs.sparsify(model, {
      ...     "conv*": tfs.LayerSpec(tfs.Block(0.9, block=(16, 1)),
      ...                            schedule=tfs.PolynomialDecay(0.0, 0.9, begin_step=0, end_step=1000)),
      ...     "dense": (tfs.Block(0.5, block=(1, 4)), tfs.ConstantSparsity(0.5, begin_step=500)),
      ... })
    """

    def __init__(self, structure, schedule=None):
        if structure is not None and not isinstance(structure, (Structure, dict)):
            raise TypeError(
                f"LayerSpec: `structure` must be a tf_sparse Structure (e.g. tfs.Block(0.9, block=(1, 4))), "
                f"None or {{kernel name: Structure or None}}, got {structure!r}"
            )
        if isinstance(structure, dict):
            for role, value in structure.items():
                if not isinstance(role, str) or (value is not None and not isinstance(value, Structure)):
                    raise TypeError(
                        f"LayerSpec: `structure` as a dict maps kernel names ('kernel', 'recurrent_kernel', ...) "
                        f"to Structures or None; got {role!r}: {value!r}"
                    )
        if schedule is not None and not isinstance(schedule, PruningSchedule):
            raise TypeError(
                f"LayerSpec: `schedule` must be None or a pruning schedule (tfs.ConstantSparsity, "
                f"tfs.PolynomialDecay, ...), got {schedule!r}"
            )
        self.structure = structure
        self.schedule = schedule

    def __eq__(self, other):
        return isinstance(other, LayerSpec) and (self.structure, self.schedule) == (other.structure, other.schedule)

    __hash__ = object.__hash__

    def __repr__(self):
        return f"LayerSpec({self.structure!r}, schedule={self.schedule!r})"


class _LeftDense:
    """A config's answer "leave this layer dense, and say why" (the preset's, for layers it has
    no fast structure for): listed in the left-dense warning, unlike a plain ``None``."""

    def __init__(self, why):
        self.why = why


def as_spec(value, where):
    """``(structure, schedule)`` of a config value: a Structure, None, a per-kernel dict, a
    ``LayerSpec`` or a ``(structure, schedule)`` tuple. Raises TypeError naming ``where``."""
    if isinstance(value, LayerSpec):
        return value.structure, value.schedule
    if isinstance(value, tuple):
        if len(value) != 2 or not (value[1] is None or isinstance(value[1], PruningSchedule)):
            raise TypeError(
                f"sparsify: {where} as a tuple must be (structure, schedule) with a pruning schedule "
                f"(tfs.PolynomialDecay, tfs.ConstantSparsity, ...) second, got {value!r}"
            )
        try:
            spec = LayerSpec(*value)
        except TypeError as err:
            raise TypeError(f"sparsify: {where}: {err}") from None
        return spec.structure, spec.schedule
    return value, None


def _kernel_size(layer):
    size = getattr(layer, "kernel_size", None)
    if size is None:
        return None
    return tuple(size) if isinstance(size, (tuple, list)) else (size,)


def _kernel_shape(layer):
    owner = layer.cell if isinstance(layer, keras.layers.RNN) else layer
    for attr in ("_kernel", "kernel", "depthwise_kernel", "embeddings"):
        value = owner.__dict__.get(attr)
        if value is not None and hasattr(value, "shape"):
            return tuple(value.shape)
    return None


def _check_size(value, owner, arg):
    if value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1:
        return int(value)
    if isinstance(value, (tuple, list)) and value and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in value):
        return tuple(int(v) for v in value)
    raise ValueError(f"{owner}: `{arg}` must be a positive int or a tuple of positive ints (e.g. (3, 3)), got {value!r}")


class Select:
    """A config key reaching the layers that satisfy every condition given (see ``tfs.select``)."""

    def __init__(self, cls=None, kernel_size=None, kernel_shape=None, min_params=None, max_params=None,
                 path=None, where=None):
        owner = "select"
        if cls is not None:
            classes = cls if isinstance(cls, tuple) else (cls,)
            if not classes or not all(isinstance(c, type) and issubclass(c, keras.layers.Layer) for c in classes):
                raise TypeError(f"{owner}: `cls` must be a Keras layer class or a tuple of them, got {cls!r}")
            cls = classes
        self.cls = cls
        self.kernel_size = _check_size(kernel_size, owner, "kernel_size")
        if kernel_shape is not None:
            if not isinstance(kernel_shape, (tuple, list)) or not all(
                    v is None or (isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1)
                    for v in kernel_shape):
                raise ValueError(
                    f"{owner}: `kernel_shape` must be a tuple of positive ints or None (any size), e.g. "
                    f"(3, 3, None, None), got {kernel_shape!r}"
                )
            kernel_shape = tuple(kernel_shape)
        self.kernel_shape = kernel_shape
        for arg, value in (("min_params", min_params), ("max_params", max_params)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0):
                raise ValueError(f"{owner}: `{arg}` must be None or an int >= 0, got {value!r}")
        if min_params is not None and max_params is not None and min_params > max_params:
            raise ValueError(f"{owner}: `min_params` ({min_params}) is larger than `max_params` ({max_params})")
        self.min_params, self.max_params = min_params, max_params
        if path is not None and not isinstance(path, str):
            raise TypeError(f"{owner}: `path` must be a glob over layer paths (e.g. 'block4_*'), got {path!r}")
        self.path = path
        if where is not None and not callable(where):
            raise TypeError(f"{owner}: `where` must be a callable(layer) -> bool, got {where!r}")
        self.where = where
        if all(v is None for v in (cls, kernel_size, kernel_shape, min_params, max_params, path, where)):
            raise ValueError(
                f"{owner}: give at least one condition (cls, kernel_size, kernel_shape, min_params, max_params, "
                "path or where); a key for every layer is 'default'"
            )

    def matches(self, layer, path) -> bool:
        if self.cls is not None and not isinstance(layer, self.cls):
            return False
        if self.kernel_size is not None:
            size = _kernel_size(layer)
            if size is None:
                return False
            if isinstance(self.kernel_size, int):
                if any(k != self.kernel_size for k in size):
                    return False
            elif size != self.kernel_size:
                return False
        if self.kernel_shape is not None:
            shape = _kernel_shape(layer)
            if shape is None or len(shape) != len(self.kernel_shape) or any(
                    want is not None and want != got for want, got in zip(self.kernel_shape, shape)):
                return False
        if self.min_params is not None or self.max_params is not None:
            if not isinstance(layer, keras.layers.RNN) and layer._flatten_layers(include_self=False, recursive=False):
                return False  # a container: its layers are sized one by one
            params = layer.count_params() if layer.built else 0
            if self.min_params is not None and params < self.min_params:
                return False
            if self.max_params is not None and params > self.max_params:
                return False
        if self.path is not None and not fnmatch.fnmatchcase(path, self.path):
            return False
        return self.where is None or bool(self.where(layer))

    def __repr__(self):
        args = []
        if self.cls is not None:
            names = [c.__name__ for c in self.cls]
            args.append(f"cls={names[0] if len(names) == 1 else '(' + ', '.join(names) + ')'}")
        for arg in ("kernel_size", "kernel_shape", "min_params", "max_params", "path"):
            value = getattr(self, arg)
            if value is not None:
                args.append(f"{arg}={value!r}")
        if self.where is not None:
            args.append(f"where={getattr(self.where, '__name__', self.where)!r}")
        return f"select({', '.join(args)})"


def select(cls=None, *, kernel_size=None, kernel_shape=None, min_params=None, max_params=None, path=None,
           where=None):
    """A ``sparsify`` / ``quantize`` config key for the layers that satisfy every given condition.

    Args:
      cls: a Keras layer class or a tuple of them (subclasses included).
      kernel_size: the layer's ``kernel_size`` (convolutions): ``(3, 3)`` exactly, or an int ``k``
        for every dimension equal to ``k`` (``1``: 1x1 and 1-wide convolutions). Layers without a
        ``kernel_size`` (Dense, EinsumDense, RNNs) never match.
      kernel_shape: the shape of the layer's kernel weight, ``None`` for any size:
        ``(3, 3, None, 64)``; ``(None, None)`` is every 2-D kernel (Dense).
      min_params, max_params: bounds on ``layer.count_params()`` (e.g. leave small layers dense
        with ``{tfs.select(max_params=4096): None}``); containers (MultiHeadAttention, nested
        models) never match them, their layers are sized one by one.
      path: a glob over the layer's path (``"block4_*"``).
      where: any further predicate ``callable(layer) -> bool``.

    Precedence in a config dict: layer path, layer name, glob, **selectors** (the first that
    matches, in the dict's order), layer class, ``"default"``. A selector is a broad rule: a layer
    it reaches that cannot take the structure is left dense with a warning, not an error.

    Example:
      >>> sparse = tfs.sparsify(model, {
      ...     tfs.select(keras.layers.Conv2D, kernel_size=(3, 3)): tfs.KernelPattern(8, connectivity=0.5),
      ...     tfs.select(keras.layers.Conv2D, kernel_size=1): tfs.Block(0.9, block=(16, 1)),
      ...     tfs.select(max_params=4096): None,
      ... })
    """
    return Select(cls=cls, kernel_size=kernel_size, kernel_shape=kernel_shape, min_params=min_params,
                  max_params=max_params, path=path, where=where)


# --- the "fastest" preset --------------------------------------------------------------------
def _input_rank(layer):
    """Rank of the input the layer was built for (None when unknown)."""
    shapes = getattr(layer, "_build_shapes_dict", None)
    if shapes:
        shape = next(iter(shapes.values()))
        if isinstance(shape, (tuple, list)) and all(d is None or isinstance(d, int) for d in shape):
            return len(shape)
    return None


def _has_weight_matrix(layer):
    return any(len(w.shape) >= 2 for w in layer.weights)


def output_layers(model):
    """The layers with weights that compute ``model``'s outputs (through weightless layers such
    as Activation, Softmax, Reshape), nested models entered; empty for subclassed models."""
    found, seen = [], set()
    try:
        stack = list(keras.tree.flatten(model.outputs))
    except (AttributeError, ValueError, TypeError):
        return found
    while stack:
        tensor = stack.pop()
        history = getattr(tensor, "_keras_history", None)
        if history is None:
            continue
        op, node_index = history.operation, history.node_index
        if id(op) in seen or isinstance(op, keras.layers.InputLayer):
            continue
        seen.add(id(op))
        if isinstance(op, keras.Model):
            found.extend(output_layers(op))
        elif _has_weight_matrix(op):
            found.append(op)
        else:
            try:
                stack.extend(keras.tree.flatten(op._inbound_nodes[node_index].input_tensors))
            except (AttributeError, IndexError):
                continue
    return found


class Fastest:
    """The ``tfs.fastest`` preset: a per-layer choice of the structures the delegate runs fastest.

    Not a callable config itself: ``sparsify`` binds it to the model (to find the output layers).
    """

    def __init__(self, sparsity=0.9, connectivity=0.5, num_patterns=8, filter_block=16, classifier=False):
        from tf_sparse.structures import Block, KernelPattern
        from tf_sparse.structures.base import check_sparsity

        self.sparsity = check_sparsity(sparsity, "sparsity", "fastest")
        if not isinstance(classifier, bool):
            raise TypeError(f"fastest: `classifier` must be True or False, got {classifier!r}")
        self.classifier = classifier
        # Built now, so that a bad argument fails here, naming the preset.
        try:
            self._pattern = KernelPattern(num_patterns, connectivity=connectivity, filter_block=filter_block)
        except (TypeError, ValueError) as err:
            raise type(err)(f"fastest: {err}") from None
        self.connectivity, self.num_patterns, self.filter_block = connectivity, num_patterns, filter_block
        self._column = Block(self.sparsity, block=(16, 1))
        self._row = Block(self.sparsity, block=(1, 4))

    def __repr__(self):
        return (f"fastest(sparsity={self.sparsity}, connectivity={self.connectivity}, "
                f"num_patterns={self.num_patterns}, filter_block={self.filter_block}, classifier={self.classifier})")

    def bind(self, model):
        """``callable(layer) -> Structure, {kernel: Structure}, None or a left-dense note`` for
        ``model``; one KernelPattern object for every 3x3 layer (one pattern library per network)."""
        from tf_sparse.structures import KernelPattern

        pattern = KernelPattern.from_config(self._pattern.get_config())
        outputs = set() if self.classifier else {id(layer) for layer in output_layers(model)}
        conv = (keras.layers.Conv1D, keras.layers.Conv2D)

        def choose(layer):
            kind = type(layer).__name__
            if id(layer) in outputs:
                return None
            if isinstance(layer, keras.layers.SeparableConv2D):
                if tuple(layer.kernel_size) == (3, 3):
                    return {"depthwise_kernel": pattern, "pointwise_kernel": self._column}
                return {"pointwise_kernel": self._column}
            if isinstance(layer, (keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose)):
                return _LeftDense("fastest: the delegate does not run transposed convolutions")
            if isinstance(layer, keras.layers.DepthwiseConv2D):
                if _kernel_size(layer) == (3, 3):
                    return pattern
                return _LeftDense("fastest: the delegate's depthwise fast path is 3x3 kernels")
            if isinstance(layer, conv):
                size = _kernel_size(layer)
                if size == (3, 3):
                    return pattern
                taps = 1
                for k in size:
                    taps *= k
                if taps <= 64:
                    return self._column  # 1x1, 5x5, 7x7, Conv1D: filter-vector taps over 16 filters
                return _LeftDense(f"fastest: a {'x'.join(map(str, size))} kernel has more than the 64 taps the "
                                  "delegate's convolutions take")
            if isinstance(layer, keras.layers.EinsumDense):
                return self._column
            if isinstance(layer, keras.layers.Dense):
                rank = _input_rank(layer)
                return self._column if rank is not None and rank > 2 else self._row
            if isinstance(layer, keras.layers.LSTM):
                return {"kernel": self._column, "recurrent_kernel": self._column}
            if isinstance(layer, keras.layers.Embedding) or not _has_weight_matrix(layer):
                return None  # embeddings are opt-in (as with any broad rule)
            if not isinstance(layer, keras.layers.RNN) and layer._flatten_layers(include_self=False, recursive=False):
                return None  # a container: its layers are asked one by one
            return _LeftDense(f"fastest: no delegate fast path for {kind}; give it a structure by path, name or class")

        return choose


def fastest(sparsity=0.9, *, connectivity=0.5, num_patterns=8, filter_block=16, classifier=False):
    """A ``sparsify`` config: for each layer, the structure the tf_sparse delegate runs fastest.

    * 3x3 convolutions and 3x3 depthwise convolutions (and a SeparableConv2D's 3x3 depthwise
      kernel): ``tfs.KernelPattern(num_patterns, connectivity=connectivity, filter_block=filter_block)``
      (weight sparsity ``1 - 4/9 * (1 - connectivity)``: 0.78 at 0.5), one pattern library for
      the whole network;
    * other convolutions of at most 64 taps (1x1, 5x5, 7x7, Conv1D; pointwise kernels), Dense
      layers on sequences (input rank > 2), EinsumDense layers (transformer projections) and
      LSTM gate matrices (input and recurrent): ``tfs.Block(sparsity, block=(16, 1))``;
    * Dense layers on one row at a time: ``tfs.Block(sparsity, block=(1, 4))``;
    * the layers that compute the model's outputs (the classifier: found by following a
      Functional or Sequential model's outputs back through weightless layers) stay dense
      unless ``classifier=True``; embeddings stay dense (as with any broad rule);
    * other layers with weights (transposed convolutions, depthwise kernels other than 3x3,
      GRU, SimpleRNN, custom layers) stay dense and are listed, with why, in the left-dense
      warning; so is a layer whose shape the chosen structure cannot take.

    A ``schedule`` (``sparsify``'s) sets the sparsity the masks are recomputed to: it overrides
    ``sparsity``, and for KernelPattern layers the connectivity (``1 - 9/4 * (1 - s)``).

    ``tfs.sparsify(model, "fastest")`` is ``tfs.sparsify(model, tfs.fastest())``.

    Example:
      >>> sparse = tfs.sparsify(resnet, tfs.fastest(0.9),
      ...                       schedule=tfs.PolynomialDecay(0.0, 0.9, begin_step=0, end_step=2000))
    """
    return Fastest(sparsity, connectivity=connectivity, num_patterns=num_patterns, filter_block=filter_block,
                   classifier=classifier)
