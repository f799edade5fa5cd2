"""Recurrent layers (LSTM, GRU, SimpleRNN) in ``.tflite`` files.

A Keras 3 recurrent layer traces to a ``tf.while_loop`` over a ``TensorList`` whose element
shape holds the batch size; with the batch left undefined (Keras' default serving signature)
TF 2.21's converter refuses it ("'tf.TensorListReserve' op requires element_shape to be
static"). Exporting with a fixed batch size (1 by default) makes every such loop convert to
TFLite's ``WHILE`` op, which the stock interpreter runs.

LSTMs get more: TF's converter replaces a function whose ``api_implements`` attribute starts
with ``lstm_`` (the attribute the legacy Keras LSTM put on its implementation) by one fused
``UNIDIRECTIONAL_SEQUENCE_LSTM`` op, provided the function has the legacy signature
``(inputs, init_h, init_c, kernel, recurrent_kernel, bias) -> (last_output, outputs, h, c,
runtime)`` with Keras' gate order (i, f, c, o), and ``time_major`` / ``go_backwards``
attributes saying how the time axis is read (``go_backwards`` becomes a ``REVERSE_V2`` of the
input in front of the fused op). While exporting, each LSTM layer whose maths the fused op
computes (tanh activation, sigmoid recurrent activation, no mask, a constant initial state)
runs its loop through such a function; the function's own body, which the converter drops when
it fuses, is the same recurrence, so the SavedModel stays correct on its own. An LSTM with
``return_state=True`` stays Keras' loop: the fused op does not output its cell state. The fused
op works on its state in place in the tensors feeding it; ``_own_state`` keeps one run of the
file from starting where the last one ended.

GRU and SimpleRNN have no fused op the converter produces from a SavedModel in TF 2.21, so
they stay Keras' own loop: ``WHILE`` with the step in a subgraph, or, for a layer built with
``unroll=True``, one copy of the step per time step (``FULLY_CONNECTED`` and element-wise ops in
the main graph, which delegates can take).

Full-integer int8: the converter quantizes the fused LSTM (int8 weights; with the computed
state of ``_own_state`` an int8 cell state, TFLite's 8x8_8 kernel), but TF 2.21's quantizer
crashes the process on a ``WHILE`` loop, so int8 files unroll every
recurrent layer that is not fused, which needs a fixed sequence length.
"""

from __future__ import annotations

import contextlib
import itertools
import types
import uuid


def recurrent_layers(model) -> list:
    """Every Keras recurrent layer (LSTM, GRU, SimpleRNN, generic RNN) of ``model``, nested
    models and wrappers such as ``Bidirectional`` included, in a stable order."""
    import keras

    return [layer for layer in model._flatten_layers(include_self=False, recursive=True)
            if isinstance(layer, keras.layers.RNN)]


def check_recurrent_layers(model, fn: str = "export_tflite") -> None:
    """Raises ``ValueError`` naming the first recurrent layer a ``.tflite`` file cannot hold."""
    for layer in recurrent_layers(model):
        if getattr(layer, "stateful", False):
            raise ValueError(
                f"{fn}: layer '{layer.name}' ({type(layer).__name__}) has stateful=True: it carries its "
                f"state in variables from one call to the next, which a .tflite file does not keep; "
                f"export a copy of the model built with stateful=False (same weights)"
            )


def fusable_lstm(layer) -> bool:
    """Whether TFLite's fused LSTM op computes ``layer``'s maths exactly (given no mask)."""
    import keras

    # Subclasses that only change where the kernels come from (tf_sparse's SparseLSTM reads them
    # through masks) keep the maths; a different loop or cell step does not.
    if not isinstance(layer, keras.layers.LSTM) or type(layer).inner_loop is not keras.layers.LSTM.inner_loop:
        return False
    cell = layer.cell
    if not isinstance(cell, keras.layers.LSTMCell) or type(cell).call is not keras.layers.LSTMCell.call:
        return False
    return (
        keras.activations.serialize(cell.activation) == "tanh"
        and keras.activations.serialize(cell.recurrent_activation) == "sigmoid"
        and not layer.stateful
    )


def _fused_lstm_function(go_backwards: bool):
    """A ``tf.function`` the converter turns into ``UNIDIRECTIONAL_SEQUENCE_LSTM``.

    Batch-major inputs ``[batch, time, features]``; the body is the same recurrence as the
    fused op (gates i, f, c, o; tanh cell activation; sigmoid gates; no clipping, peepholes or
    projection), used only where the function is not replaced.
    """
    import tensorflow as tf

    def lstm(inputs, init_h, init_c, kernel, recurrent_kernel, bias):
        def step(x, states):
            h, c = states
            z = tf.matmul(x, kernel) + tf.matmul(h, recurrent_kernel) + bias
            zi, zf, zc, zo = tf.split(z, 4, axis=1)
            c = tf.sigmoid(zf) * c + tf.sigmoid(zi) * tf.tanh(zc)
            h = tf.sigmoid(zo) * tf.tanh(c)
            return h, (h, c)

        # Outputs in the order the steps are taken, as Keras returns them (reversed input
        # order for go_backwards).
        xs = tf.transpose(inputs, (1, 0, 2))
        if go_backwards:
            xs = tf.reverse(xs, axis=[0])
        steps = tf.shape(xs)[0]
        outputs = tf.TensorArray(inputs.dtype, size=steps, element_shape=init_h.shape)

        def body(t, h, c, outputs):
            out, (h, c) = step(xs[t], (h, c))
            return t + 1, h, c, outputs.write(t, out)

        _, h, c, outputs = tf.while_loop(lambda t, *_: t < steps, body, (0, init_h, init_c, outputs))
        outputs = tf.transpose(outputs.stack(), (1, 0, 2))
        # The stacked TensorArray forgets the length; later layers (and the converter's fusing of
        # the next LSTM) need it where the input has it.
        outputs.set_shape((inputs.shape[0], inputs.shape[1], init_h.shape[-1]))
        return outputs[:, -1], outputs, h, c, tf.constant(1.0)

    # The converter recognises the legacy Keras LSTM by this attribute's prefix; the suffix
    # only has to keep distinct layers' functions apart.
    attributes = {
        "api_implements": f"lstm_{uuid.uuid4()}",
        "api_preferred_device": "CPU",
        "time_major": False,
        "go_backwards": bool(go_backwards),
    }
    return tf.function(lstm, autograph=False, experimental_attributes=attributes)


def _keras_loop(layer, original, sequences, initial_state, mask, training, unroll: bool):
    """The layer's own loop; with ``unroll`` unrolled where the time axis is known (traces with
    an undefined length, which Keras' export makes besides the serving one, keep the loop)."""
    if not unroll or layer.unroll or sequences.shape[1] is None:
        return original(sequences, initial_state, mask, training=training)
    # RNN.call has checked `unroll` already; inner_loop reads it again to pick the loop.
    layer.unroll = True
    try:
        return original(sequences, initial_state, mask, training=training)
    finally:
        layer.unroll = False


def _export_inner_loop(original, function, unroll: bool, counter):
    """``inner_loop`` of a layer while exporting: the fused LSTM function where it applies
    (``function`` not None), else Keras' loop, unrolled when asked (int8 files have no WHILE)."""

    def inner_loop(self, sequences, initial_state, mask, training=False):
        import tensorflow as tf

        # The fused op starts from constant states only (see _own_state); a masked loop, or one
        # started from computed states (an encoder's), is Keras' own.
        if function is None or mask is not None or any(tf.get_static_value(s) is None for s in initial_state):
            return _keras_loop(self, original, sequences, initial_state, mask, training, unroll)
        cell = self.cell
        kernel = tf.convert_to_tensor(cell.kernel)
        recurrent_kernel = tf.convert_to_tensor(cell.recurrent_kernel)
        if cell.use_bias:
            bias = tf.convert_to_tensor(cell.bias)
        else:
            bias = tf.zeros((4 * cell.units,), kernel.dtype)
        init_h = _own_state(initial_state[0], sequences, next(counter))
        init_c = _own_state(initial_state[1], sequences, next(counter))
        last, outputs, h, c, _ = function(sequences, init_h, init_c, kernel, recurrent_kernel, bias)
        return last, outputs, [h, c]

    return inner_loop


def _own_state(state, sequences, k: int):
    """Constant initial ``state`` as a tensor of its own, computed on every invocation.

    The fused op works on its state in place, in the tensors that feed it, which the converter
    marks variable: a constant initial state would become a variable tensor that carries the
    last step's state over to the next invocation (Keras starts every call from zeros), and the
    converter refuses one tensor feeding two state operands (the zeros of two layers). Adding a
    zero that the converter cannot fold (it depends on the input), scaled by a number unique to
    the operand, gives each state operand a fresh tensor, rewritten before every run.

    States computed by other ops are not fused: measured with ai_edge_litert 2.3.0, a fused op
    whose variable state tensors are written by an unrolled encoder's last step crashes the
    interpreter at invoke.
    """
    import tensorflow as tf

    zero = tf.minimum(tf.abs(sequences[:, 0, :1]), 0.0)  # 0 for finite inputs
    return state + zero * float(k)


def _fuses(layer) -> bool:
    # With return_state the cell state leaves the layer, and the fused op does not output it.
    return fusable_lstm(layer) and not layer.return_state


@contextlib.contextmanager
def export_mode(model, *, unroll: bool = False):
    """While open, every fusable LSTM layer of ``model`` computes its loop through a function
    the TFLite converter fuses (see the module docstring), and with ``unroll`` every other
    recurrent loop is unrolled wherever its length is known. Yields the names of the layers
    that may fuse."""
    patched = []
    counter = itertools.count(1)
    try:
        for layer in recurrent_layers(model):
            function = _fused_lstm_function(layer.go_backwards) if _fuses(layer) else None
            if function is None and not unroll:
                continue
            inner_loop = _export_inner_loop(layer.inner_loop, function, unroll, counter)
            object.__setattr__(layer, "inner_loop", types.MethodType(inner_loop, layer))
            patched.append((layer, function is not None))
        yield [layer.name for layer, fuses in patched if fuses]
    finally:
        for layer, _ in patched:
            object.__delattr__(layer, "inner_loop")


def serving_signature(model, batch_size: int, sequence_length, fn: str = "export_tflite"):
    """The model's input signature with the batch fixed to ``batch_size`` and, where the time
    axis (axis 1) is undefined, ``sequence_length`` in it (``None`` leaves it undefined).
    Returns the signature and whether some input's axis 1 stays undefined."""
    import keras
    from keras.src.export.export_utils import get_input_signature

    signature = get_input_signature(model)
    declared = []

    def fix(spec):
        shape = list(spec.shape)
        if not shape:
            return spec
        shape[0] = batch_size
        if len(shape) >= 2:
            declared.append(shape[1])
            if shape[1] is None:
                shape[1] = sequence_length
        return keras.InputSpec(shape=tuple(shape), dtype=spec.dtype, name=getattr(spec, "name", None))

    signature = keras.tree.map_structure(fix, signature)
    if sequence_length is not None and None not in declared:
        raise ValueError(
            f"{fn}: `sequence_length`={sequence_length} but model '{model.name}' declares the length of "
            f"every input ({declared}); leave `sequence_length` None"
        )
    return signature, sequence_length is None and None in declared
