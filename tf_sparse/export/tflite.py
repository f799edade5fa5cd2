"""Writing ``.tflite`` files from (sparse) Keras models."""

from __future__ import annotations

import os
import tempfile

from tf_sparse import notices
from tf_sparse.layers.surgery import _strip, layer_paths, sparse_layers


def layer_grids(model):
    """``WeightGrid`` of every sparse layer of ``model`` whose quantization is hardened: its
    kernel in TFLite's layout with the integer codes and the per-channel step of its grid."""
    import keras
    import numpy as np

    from tf_sparse.export.int8 import WeightGrid
    from tf_sparse.layers.sparse_conv import SparseConv1D, SparseDepthwiseConv2D

    from tf_sparse.layers.kernel_unit import SparseKernel

    grids = []
    for layer in sparse_layers(model):
        if not layer.quant_hardened:
            continue
        if isinstance(layer, SparseKernel):
            raise ValueError(
                f"export_tflite: layer '{layer.sparse_path}' ({type(layer.host_layer()).__name__}) has a hardened "
                "quantizer; int8 files pin learned grids of Dense and Conv layers only. Export with int8=False "
                "(the float file holds the weights exactly on the grid), or quantize only Dense/Conv layers"
            )
        kernel = layer.effective_kernel_numpy()
        codes, step = layer.quantized_codes()
        ints, div = layer.quantizer.int_grid()
        if div == 0 or ints[-1] > 127:
            raise ValueError(
                f"export_tflite: layer '{layer.name}' uses {layer.quantizer!r}, whose levels do not fit "
                f"int8 codes exactly (at most 127 steps of one size); use int8=False, or a grid of at most "
                f"8 bits (PowerOfTwo: at most 4 bits, DeviceLevels: at most 128 levels)"
            )
        if isinstance(layer, SparseDepthwiseConv2D):
            kh, kw, cin, mult = kernel.shape
            to_tfl = lambda a: np.reshape(a, (1, kh, kw, cin * mult))  # noqa: E731
            axis = 3
        elif isinstance(layer, SparseConv1D):
            to_tfl = lambda a: np.transpose(a, (2, 0, 1))[:, None, :, :]  # noqa: E731  [out, 1, k, in]
            axis = 0
        elif kernel.ndim == 2:
            to_tfl = lambda a: np.ascontiguousarray(a.T)  # noqa: E731
            axis = 0
        else:
            to_tfl = lambda a: np.ascontiguousarray(np.transpose(a, (3, 0, 1, 2)))  # noqa: E731
            axis = 0
        bias = keras.ops.convert_to_numpy(layer.bias) if getattr(layer, "bias", None) is not None else None
        grids.append(WeightGrid(layer.name, kernel=to_tfl(kernel).astype(np.float32), axis=axis,
                                step=step, codes=to_tfl(codes), bias=bias))
    return grids


def export_tflite(model, path, *, compact: bool = False, int8: bool = False, representative_data=None,
                  int8_io: bool = False, batch_size: int | None = None, sequence_length: int | None = None,
                  input_signature=None, verbose=None) -> int:
    """Converts a Keras model to a float32 or full-integer int8 ``.tflite`` file.

    Sparse layers are stripped first, so pruned weights are stored as exact zeros, and the
    weights of layers with hardened quantization sit exactly on their grid (float32 values
    ``scale * level``).

    With ``int8=True`` the stock converter quantizes the model to full integer (int8 weights
    per channel, int8 activations calibrated on ``representative_data``, int32 biases). The
    converter would pick each weight channel's scale as ``max|w| / 127``, which moves a learned
    grid (a 4-bit grid's levels ``k`` would become ``round(127 k / 7)``); here every quantized
    layer's int8 weight is then rewritten to its own codes with its own per-channel step as the
    scale (biases requantized to match), and the file is checked: the int8 weights times their
    scales equal the Keras kernels exactly, and pruned weights are zeros. Layers without a
    quantizer keep the converter's own int8 weights.

    Recurrent layers (stateful=False) are exported with a fixed batch size, 1 unless
    ``batch_size`` says otherwise: an LSTM with tanh / sigmoid activations becomes one
    ``UNIDIRECTIONAL_SEQUENCE_LSTM`` op (unless it returns its state, starts from another
    layer's states or gets a mask); GRU, SimpleRNN and other LSTMs become a ``WHILE`` loop, or
    one copy of the step per time step for layers built with ``unroll=True`` and in int8 files
    (``tf_sparse/export/rnn.py``, docs/export.md).

    Args:
      model: a Keras model (sparse or plain).
      path: output file.
      compact: store pruned weights in TFLite's sparse encoding
        (``tf.lite.Optimize.EXPERIMENTAL_SPARSITY``): smaller files that stock TFLite still loads.
      int8: full-integer int8 file (needs ``representative_data``).
      representative_data: calibration inputs for ``int8``: an array with samples along axis 0
        (up to 200 are used), or a callable / iterator yielding lists of input arrays.
      int8_io: with ``int8``, int8 model inputs and outputs instead of float32.
      batch_size: fixed batch size of the file's inputs. ``None``: 1 for models with recurrent
        layers, otherwise the model's own (undefined) batch size. int8 files take batch 1.
      sequence_length: fixed length of axis 1 (time) of every input that leaves it undefined;
        ``None`` keeps it undefined.
      input_signature: passed to ``model.export`` (a list of ``keras.InputSpec`` or
        ``tf.TensorSpec``, one per model input). Keras otherwise exports every input with an
        unknown batch size, and layers applied to rank-3 activations (a Dense on
        ``[batch, seq, hidden]``) then compute their reshapes at run time (SHAPE, GATHER,
        REDUCE_PROD, PACK before each RESHAPE), which splits XNNPACK's graph; fixed shapes give
        a static graph. Not together with
        ``batch_size`` / ``sequence_length``.
      verbose: progress bar over the stages (strip, trace, convert), as for ``tfs.sparsify``;
        ``"auto"`` shows it for models of 100 layers or more, or once 2 s have passed.

    Returns:
      The file's size in bytes.

    Raises:
      TypeError: ``model`` is not a Keras model, ``path`` not a path, ``compact`` not a bool.
      ValueError: the model is not built, or ``path`` does not end in ``.tflite`` or names a
        directory; ``batch_size`` / ``sequence_length`` not positive integers, or
        ``sequence_length`` given for a model that declares every input's length; a stateful
        recurrent layer; an int8 file that must unroll a layer over an undefined length.

    Example:
      >>> tfs.export_tflite(sparse_model, "/tmp/model.tflite")
      >>> tfs.export_tflite(lstm_model, "/tmp/lstm.tflite", sequence_length=20)
      >>> tfs.export_tflite(encoder, "/tmp/encoder.tflite",
      ...                   input_signature=[keras.InputSpec(shape=(1, 128), dtype="int32")])
    """
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"export_tflite: `model` must be a keras.Model, got {type(model).__name__}: {model!r:.80}")
    if not model.built:
        raise ValueError(f"export_tflite: model '{model.name}' is not built; call it or build it first")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"export_tflite: `path` must be a file path (str or os.PathLike), got {path!r}")
    path = os.fspath(path)
    if not str(path).endswith(".tflite"):
        raise ValueError(f"export_tflite: `path` must name a .tflite file, got {path!r}")
    if os.path.isdir(path):
        raise ValueError(f"export_tflite: `path` {path!r} is a directory; give a .tflite file name")
    for arg, value in (("compact", compact), ("int8", int8), ("int8_io", int8_io)):
        if not isinstance(value, bool):
            raise TypeError(f"export_tflite: `{arg}` must be True or False, got {value!r}")
    if int8 and representative_data is None:
        raise ValueError("export_tflite: `int8=True` needs `representative_data` (calibration inputs, e.g. x_train[:200])")
    if input_signature is not None and not isinstance(input_signature, (list, tuple)):
        raise TypeError(
            "export_tflite: `input_signature` must be a list of keras.InputSpec or tf.TensorSpec "
            f"(one per model input), got {type(input_signature).__name__}: {input_signature!r:.80}"
        )
    if not int8 and (representative_data is not None or int8_io):
        raise ValueError("export_tflite: `representative_data` and `int8_io` apply only with `int8=True`")

    for arg, value in (("batch_size", batch_size), ("sequence_length", sequence_length)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"export_tflite: `{arg}` must be None or a positive int, got {value!r}")
    if int8 and batch_size not in (None, 1):
        raise ValueError(
            f"export_tflite: int8 files take batch 1 (calibration runs one sample at a time), got `batch_size`={batch_size}"
        )

    import tensorflow as tf

    from tf_sparse.export.rnn import (
        check_recurrent_layers,
        export_mode,
        recurrent_layers,
        serving_signature,
    )

    level = notices.resolve(verbose, "export_tflite")
    check_recurrent_layers(model)
    if input_signature is not None and (batch_size is not None or sequence_length is not None):
        raise ValueError(
            "export_tflite: give either `input_signature` or `batch_size` / `sequence_length`, not both"
        )
    if batch_size is None and input_signature is None and recurrent_layers(model):
        batch_size = 1
    grids = layer_grids(model) if int8 and sparse_layers(model) else []
    size = len(layer_paths(model))
    progress = notices.Progress(f"export_tflite '{model.name}' -> {path}: strip, trace, convert", 3, unit="stage",
                                verbose=level, owner="export_tflite", size=size)
    if sparse_layers(model):
        model = _strip(model, "export_tflite", verbose=0)
    progress.update(1)
    # Models without recurrent layers keep Keras' own serving signature unless asked otherwise.
    signature, open_length = None, False
    if input_signature is not None:
        signature = list(input_signature)
        open_length = any(len(getattr(spec, "shape", ()) or ()) >= 2 and spec.shape[1] is None for spec in signature)
    elif batch_size is not None or sequence_length is not None:
        signature, open_length = serving_signature(model, batch_size, sequence_length)
    if int8:
        from tf_sparse.export.int8 import check_int8_grids, convert_int8, pin_weight_grids

        rnns = [layer.name for layer in recurrent_layers(model)]
        if rnns and open_length:
            # Which loops fuse is known only while tracing (a mask, a state from another layer),
            # and a loop left as WHILE crashes TF's quantizer: every length must be fixed.
            raise ValueError(
                f"export_tflite: int8 export of recurrent layer(s) {rnns} needs a fixed sequence length "
                f"(loops that do not fuse are unrolled: TF's quantizer cannot take a WHILE loop); model "
                f"'{model.name}' leaves axis 1 of an input undefined: pass `sequence_length`"
            )
        with export_mode(model, unroll=True):
            flatbuffer = convert_int8(model, representative_data, compact=compact, int8_io=int8_io,
                                      input_signature=signature)
        progress.update(2)
        if grids:
            flatbuffer = pin_weight_grids(flatbuffer, grids)
            checks = check_int8_grids(flatbuffer, grids)
            bad = [name for name, c in checks.items() if not c["exact"] or c["zeros_file"] != c["zeros_kernel"]]
            if bad:
                raise RuntimeError(f"export_tflite: the int8 file does not hold the learned grid of layer(s) {bad}: {checks}")
        size = _write(path, flatbuffer)
        progress.done()
        return size
    with tempfile.TemporaryDirectory() as tmp:
        # Keras 3 models convert through a SavedModel with a fixed serving signature.
        saved = os.path.join(tmp, "saved_model")
        with export_mode(model):
            model.export(saved, format="tf_saved_model", verbose=False, input_signature=signature)
        progress.update(2)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved)
        if compact:
            converter.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
        flatbuffer = converter.convert()
    size = _write(path, flatbuffer)
    progress.done()
    return size


def _write(path, flatbuffer) -> int:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "wb") as f:
        f.write(flatbuffer)
    return len(flatbuffer)
