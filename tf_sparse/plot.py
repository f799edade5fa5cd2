"""Plots of pruned models: sparsity per layer, the mask of one layer, accuracy against sparsity.

Matplotlib is imported when a plot is drawn (with the file-only ``Agg`` backend), not with
``tf_sparse``. Every function takes a Keras model, a ``.keras`` file or a ``.tflite`` file where a
model is expected, writes a PNG and returns its path.

    >>> from tf_sparse import plot
    >>> plot.sparsity_per_layer("model.tflite", "sparsity.png")
    >>> plot.layer_mask(sparse, "conv2", "conv2_mask.png")
    >>> plot.accuracy_vs_sparsity("benchmarks/results/accuracy_digits.json", "accuracy.png")

From the shell: ``tf-sparse plot MODEL --out DIR [--layer NAME] [--results FILE.json]``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

_TFLITE_WEIGHT_OPS = {"FULLY_CONNECTED": 1, "CONV_2D": 1, "DEPTHWISE_CONV_2D": 1}


@dataclass
class LayerWeights:
    """One layer's weight as a 2-D matrix: rows are output units / filters (for a convolution,
    each row holds its input channels' kernels one after the other, ``in_ch * kh * kw``; for a
    depthwise convolution one row per channel, ``kh * kw``); columns the inputs."""

    name: str
    kind: str  # "dense", "conv", "depthwise" or "other"
    shape: tuple  # the weight's shape in its source layout
    matrix: np.ndarray  # rows x columns, zeros where pruned
    taps: int = 1  # columns per kernel (kh * kw) for convolutions

    @property
    def sparsity(self) -> float:
        return float(np.count_nonzero(self.matrix == 0)) / max(1, self.matrix.size)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _keras_matrix(kernel, layer):
    import keras

    if kernel.ndim == 2:  # Dense (in, out)
        return "dense", kernel.T, 1
    depthwise = isinstance(layer, keras.layers.DepthwiseConv2D) or "Depthwise" in type(layer).__name__
    if kernel.ndim == 4 and depthwise:
        kh, kw, cin, mult = kernel.shape  # depthwise: (kh, kw, in, multiplier)
        return "depthwise", kernel.reshape(kh * kw, cin * mult).T, kh * kw
    if kernel.ndim >= 3:  # ConvND: (*taps, in, out)
        taps = int(np.prod(kernel.shape[:-2]))
        cin, cout = kernel.shape[-2:]
        m = kernel.reshape(taps, cin, cout).transpose(2, 1, 0).reshape(cout, cin * taps)
        return "conv", m, taps
    return "other", kernel.reshape(1, -1), 1


def _keras_weights(model) -> list:
    """The weights of every layer with a kernel: the effective (masked) kernel of sparse layers."""
    import keras

    from tf_sparse.layers.base import SparseLayerMixin
    from tf_sparse.layers.surgery import sparse_layers

    out = []
    sparse = {id(layer): layer for layer in sparse_layers(model)}
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if id(layer) in sparse or isinstance(layer, SparseLayerMixin):
            layer = sparse.get(id(layer), layer)
            name = layer.sparse_name
            kernel = np.asarray(layer.effective_kernel_numpy())
        else:
            kernel = getattr(layer, "kernel", None)
            if kernel is None or not isinstance(kernel, keras.Variable) or len(kernel.shape) < 2:
                continue
            name = layer.name
            kernel = np.asarray(keras.ops.convert_to_numpy(kernel))
        kind, matrix, taps = _keras_matrix(kernel, layer)
        out.append(LayerWeights(name, kind, tuple(kernel.shape), matrix, taps))
    return out


def _tflite_tensor(model, index):
    """A weight tensor of a ``.tflite`` file as a dense NumPy array (TFLite's sparse encoding
    decoded; int8 weights as integer codes minus their zero point), or None for non-constants."""
    from tf_sparse.export.int8 import _buffer_bytes, _schema, sparse_positions

    schema = _schema()
    tensor = model.subgraphs[0].tensors[index]
    dtypes = {schema.TensorType.FLOAT32: np.float32, schema.TensorType.FLOAT16: np.float16,
              schema.TensorType.INT8: np.int8, schema.TensorType.UINT8: np.uint8}
    raw = _buffer_bytes(model, tensor)
    if not raw or tensor.type not in dtypes:
        return None
    values = np.frombuffer(raw, dtype=dtypes[tensor.type])
    shape = [int(d) for d in tensor.shape]
    if tensor.sparsity is not None:
        dense = np.zeros(int(np.prod(shape)), dtype=values.dtype)
        dense[sparse_positions(shape, tensor.sparsity, values.size)] = values
        values = dense
    values = values.reshape(shape)
    q = tensor.quantization
    if np.issubdtype(values.dtype, np.integer) and q is not None and q.zeroPoint is not None and len(q.zeroPoint):
        zp = np.asarray(q.zeroPoint, dtype=np.int64)
        axis = int(q.quantizedDimension or 0)
        zp = zp.reshape([-1 if i == axis else 1 for i in range(values.ndim)]) if zp.size > 1 else zp[0]
        values = values.astype(np.int64) - zp
    return values


def _tflite_weights(path) -> list:
    """Weights of the FULLY_CONNECTED, CONV_2D and DEPTHWISE_CONV_2D nodes of a ``.tflite`` file,
    read from the flatbuffer (through DENSIFY / DEQUANTIZE nodes; TFLite's sparse encoding
    decoded; int8 weights as their integer codes, zero where pruned)."""
    from tf_sparse.export.int8 import _name, _op_name, _unpack

    with open(path, "rb") as f:
        model = _unpack(f.read(), "plot")
    graph = model.subgraphs[0]
    producer = {}
    for i, op in enumerate(graph.operators or []):
        for t in (op.outputs if op.outputs is not None else []):
            producer[int(t)] = (i, op)
    out = []
    for i, op in enumerate(graph.operators or []):
        kind = _op_name(model, op)
        inputs = [int(t) for t in (op.inputs if op.inputs is not None else [])]
        if kind not in _TFLITE_WEIGHT_OPS or len(inputs) < 2:
            continue
        index = inputs[_TFLITE_WEIGHT_OPS[kind]]
        while index in producer and _op_name(model, producer[index][1]) in ("DENSIFY", "DEQUANTIZE"):
            index = int(producer[index][1].inputs[0])
        w = _tflite_tensor(model, index)
        if w is None:
            continue
        if kind == "FULLY_CONNECTED":  # (out, in)
            form, matrix, taps = "dense", w.reshape(w.shape[0], -1), 1
        elif kind == "CONV_2D":  # (out, kh, kw, in)
            o, kh, kw, cin = w.shape
            form, matrix, taps = "conv", w.transpose(0, 3, 1, 2).reshape(o, cin * kh * kw), kh * kw
        else:  # DEPTHWISE_CONV_2D (1, kh, kw, ch)
            _, kh, kw, ch = w.shape
            form, matrix, taps = "depthwise", w.reshape(kh * kw, ch).T, kh * kw
        # Converter names look like "<model>/<layer>/<op>": the layer's name is the middle part.
        layer = None
        for t in list(op.outputs if op.outputs is not None else []) + [index]:
            parts = _name(graph.tensors[int(t)]).split("/")
            if len(parts) >= 3:
                layer = parts[-2]
                break
        name = f"{layer} ({kind} #{i})" if layer else f"{kind} #{i}"
        out.append(LayerWeights(name, form, tuple(w.shape), matrix, taps))
    return out


def layer_weights(model) -> list:
    """``LayerWeights`` of every weighted layer of ``model``: a Keras model, a ``.keras`` file or a
    ``.tflite`` file (or a list of ``LayerWeights``, returned as is)."""
    if isinstance(model, list) and all(isinstance(w, LayerWeights) for w in model):
        return model
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"plot: no such file: {path!r}")
        if path.endswith(".tflite"):
            return _tflite_weights(path)
        if path.endswith(".keras"):
            import keras

            import tf_sparse  # noqa: F401 - registers the sparse layers for loading

            return _keras_weights(keras.saving.load_model(path, compile=False))
        raise ValueError(f"plot: `model` must be a Keras model, a .keras or a .tflite file, got {path!r}")
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"plot: `model` must be a Keras model, a .keras or a .tflite file, got {type(model).__name__}")
    return _keras_weights(model)


def _find(layers, name):
    matches = [w for w in layers if w.name == name] or [w for w in layers if name.lower() in w.name.lower()]
    if not matches:
        raise ValueError(f"plot: no weighted layer named {name!r}; the model has: "
                         + ", ".join(repr(w.name) for w in layers))
    return matches[0]


def sparsity_per_layer(model, out) -> str:
    """A bar chart of the fraction of zero weights of every weighted layer; returns ``out``."""
    layers = layer_weights(model)
    if not layers:
        raise ValueError("plot: the model has no layer with a weight matrix (Dense, convolutions)")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 0.45 * len(layers) + 2), 4.2))
    names = [w.name for w in layers]
    values = [w.sparsity for w in layers]
    bars = ax.bar(range(len(layers)), values, color=["#4c72b0" if v > 0 else "#bbbbbb" for v in values])
    for bar, w in zip(bars, layers):
        ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 0.01, f"{w.sparsity:.0%}",
                ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(layers)))
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=7)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("fraction of zero weights")
    total = sum(w.matrix.size for w in layers)
    zeros = sum(np.count_nonzero(w.matrix == 0) for w in layers)
    ax.set_title(f"sparsity per layer (all weighted layers: {zeros / max(1, total):.1%})")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return os.fspath(out)


def layer_mask(model, layer, out, max_pixels=1024) -> str:
    """The nonzero pattern of one layer's weight as an image (dark = kept): rows are output units /
    filters, columns the inputs (``in_ch * kh * kw`` for a convolution, each kernel's taps side by
    side, kernels separated by faint lines when there are few enough). Large matrices are shown
    by their fraction of kept weights per pixel (at most ``max_pixels`` per side)."""
    w = _find(layer_weights(model), layer)
    keep = (w.matrix != 0).astype(np.float32)
    rows, cols = keep.shape
    fr, fc = max(1, -(-rows // max_pixels)), max(1, -(-cols // max_pixels))
    if fr > 1 or fc > 1:  # average pooling to a drawable size
        pr, pc = -rows % fr, -cols % fc
        padded = np.pad(keep, ((0, pr), (0, pc)))
        keep = padded.reshape(padded.shape[0] // fr, fr, padded.shape[1] // fc, fc).mean(axis=(1, 3))
    plt = _pyplot()
    aspect = keep.shape[1] / max(1, keep.shape[0])
    width = float(np.clip(3 + 5 * min(aspect, 3), 6, 16))
    fig, ax = plt.subplots(figsize=(width, float(np.clip(width / max(aspect, 0.3), 3, 12))))
    ax.imshow(keep, cmap="Greys", vmin=0, vmax=1, interpolation="nearest", aspect="auto")
    if w.taps > 1 and fc == 1 and cols // w.taps <= 64:
        for c in range(w.taps, cols, w.taps):
            ax.axvline(c - 0.5, color="#4c72b0", lw=0.4, alpha=0.5)
    what = {"dense": "inputs", "conv": f"input channels x {w.taps} taps", "depthwise": f"{w.taps} taps"}.get(w.kind, "")
    ax.set_xlabel(f"{what} ({cols})" + (f", {fc} per pixel" if fc > 1 else ""))
    ax.set_ylabel(("filters" if w.kind in ("conv", "depthwise") else "output units") + f" ({rows})"
                  + (f", {fr} per pixel" if fr > 1 else ""))
    ax.set_title(f"{w.name}\nweight {'x'.join(map(str, w.shape))}, {w.sparsity:.1%} zeros (dark = kept)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return os.fspath(out)


def accuracy_vs_sparsity(results, out) -> str:
    """Accuracy against sparsity from a benchmark's results: a JSON file (or its rows) of records
    with ``accuracy`` and ``sparsity``, optionally ``model``, ``method``, ``structure`` and
    ``seed`` (``benchmarks/accuracy_digits.py`` writes these). One panel per model, one marker
    per method, points averaged over seeds per structure; the dense accuracy as a line."""
    rows = results
    if isinstance(results, (str, os.PathLike)):
        with open(results) as f:
            rows = json.load(f)
    if isinstance(rows, dict):
        rows = rows.get("rows", [])
    rows = [r for r in rows if isinstance(r, dict) and "accuracy" in r and "sparsity" in r]
    if not rows:
        raise ValueError("plot: the results have no records with both 'accuracy' and 'sparsity' "
                         "(e.g. benchmarks/results/accuracy_digits.json)")
    plt = _pyplot()
    models = list(dict.fromkeys(r.get("model", "model") for r in rows))
    fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 4.5), squeeze=False)
    markers = "os^Dv<>pP*"
    for ax, model_name in zip(axes[0], models):
        mine = [r for r in rows if r.get("model", "model") == model_name]
        dense = [r["accuracy"] for r in mine if r.get("structure") == "dense" or r["sparsity"] == 0]
        if dense:
            ax.axhline(float(np.mean(dense)), color="k", ls="--", lw=1, label="dense")
        methods = list(dict.fromkeys(r.get("method", "-") for r in mine if r["sparsity"] > 0))
        for method, marker in zip(methods, markers * 4):
            points = {}
            for r in mine:
                if r.get("method", "-") == method and r["sparsity"] > 0:
                    points.setdefault(r.get("structure", len(points)), []).append((r["sparsity"], r["accuracy"]))
            xs = [np.mean([p[0] for p in v]) for v in points.values()]
            ys = [np.mean([p[1] for p in v]) for v in points.values()]
            ax.scatter(xs, ys, marker=marker, label=str(method))
        ax.set_title(f"{model_name}: accuracy against sparsity")
        ax.set_xlabel("sparsity of the pruned layers")
        ax.set_ylabel("accuracy")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return os.fspath(out)


def plot_model(model, out_dir, layer=None, results=None) -> list:
    """What ``tf-sparse plot`` writes into ``out_dir``: ``sparsity.png``, the mask of ``layer``
    (default: the sparsest weighted layer) as ``mask_<layer>.png``, and with ``results``
    ``accuracy_vs_sparsity.png``. Returns the paths written."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    if model is not None:
        layers = layer_weights(model)
        if not layers:
            raise ValueError("plot: the model has no layer with a weight matrix (Dense, convolutions)")
        paths.append(sparsity_per_layer(layers, os.path.join(out_dir, "sparsity.png")))
        chosen = _find(layers, layer) if layer is not None else max(layers, key=lambda w: w.sparsity)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in chosen.name)
        paths.append(layer_mask(layers, chosen.name, os.path.join(out_dir, f"mask_{safe}.png")))
    if results is not None:
        paths.append(accuracy_vs_sparsity(results, os.path.join(out_dir, "accuracy_vs_sparsity.png")))
    return paths
