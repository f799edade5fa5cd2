"""Full-integer int8 ``.tflite`` files whose weights keep the grids they were trained on.

A quantization-aware layer learns weights on a per-output-channel grid ``w = step_c * code``
with integer codes ``|code| <= 127`` (n-bit uniform, ternary, binary, powers of two written as
integer codes with a smaller step). TFLite's full-integer converter ignores that grid: it picks
each channel's scale as ``max|w_c| / 127``, so a 4-bit channel whose largest code is 7 is stored
with int8 codes ``round(127 * k / 7)``, and the learned levels are gone.

The converter's file is therefore rewritten afterwards (``pin_weight_grids``): each grid is
matched to the int8 constant weight of a CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED op that
holds it (same shape, values within the converter's own rounding), its codes and per-channel
scales are replaced by the grid's, and the op's int32 bias is requantized to the scale the
kernels require, ``input_scale * weight_scale_c``. Nothing else in the file changes: activation
scales, output multipliers (computed by the kernels at prepare time from those scales), op
order, and, in compact files, the sparse encoding.

Compact files (``Optimize.EXPERIMENTAL_SPARSITY`` next to ``Optimize.DEFAULT``): TF 2.21 stores
pruned int8 weights with ``tensor.sparsity`` set and the buffer holding only the stored values,
in traversal order. What it writes, measured:
  - unstructured zeros (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED): traversal order
    ``0..rank-1``, no block map, every dimension DENSE but the last, which is SPARSE_CSR; a
    DENSIFY op turns the tensor back into a dense one before the consuming op, and that
    DENSIFY output carries the same per-channel quantization as the sparse tensor;
  - FULLY_CONNECTED weights pruned in 1x16 blocks: block map ``[1]``, traversal ``[0, 1, 2]``,
    levels DENSE(rows), SPARSE_CSR(block columns), DENSE(16); no DENSIFY (TFLite's int8
    fully-connected kernel reads that encoding itself);
  - 1x4 or 4x1 blocks are not kept as blocks for int8: they come out as the unstructured
    encoding above, with DENSIFY;
  - tensors that are not sparse enough stay dense.
The stock runtimes run these files, with one exception measured on ai_edge_litert 2.3.0: its
default XNNPACK delegate fails to prepare a FULLY_CONNECTED fed by DENSIFY in an int8 file
("failed to delegate FULLY_CONNECTED node"), the converter's file as much as a pinned one;
TensorFlow 2.21's ``tf.lite.Interpreter`` and the built-in kernels
(``OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES``) run them. CONV_2D and DEPTHWISE_CONV_2D
behind DENSIFY, and the 1x16 fully-connected encoding, run under XNNPACK too.

The converter also stores identical constants once: layers with identical grids (tied
weights) share one tensor, which both grids then name.

The decoder here handles any traversal order and block map whose block levels are DENSE
(which covers all of the above) and rewrites the stored values one by one; since a nonzero
grid code always converts to a nonzero int8 value (``|w| >= step_c >= max|w_c| / 127``), the
stored pattern never has to change.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from typing import Any

import numpy as np

_MAX_CODE = 127
_MAX_SAMPLES = 200
_WEIGHT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
# The converter rounds w / scale_c to the nearest integer: its error is at most scale_c / 2, up
# to float32 rounding of the division and of scale_c itself.
_ROUNDING_SLACK = 1e-4


@dataclasses.dataclass
class WeightGrid:
    """One layer's weight as it sits on a per-channel integer grid.

    Attributes:
      name: how messages name this weight (e.g. the Keras layer's name); unique among the
        grids passed together.
      kernel: float32 weight in TFLite's layout: FULLY_CONNECTED ``[out, in]``, CONV_2D
        ``[out, kh, kw, in]``, DEPTHWISE_CONV_2D ``[1, kh, kw, in * multiplier]``.
      axis: the quantized (output channel) dimension: 0, or 3 for depthwise.
      step: float32 grid step per channel along ``axis``, >= 0 (0 for a fully pruned channel).
      codes: integers in [-127, 127], ``kernel``'s shape, with ``kernel == step * codes``
        exactly in float32 (pruned weights are code 0).
      bias: optional float bias of the op, per channel. When given, the int32 bias is
        requantized from it instead of from the converter's already rounded int32 bias.

    Example:
      >>> WeightGrid("dense", kernel=w.T, axis=0, step=s, codes=c.T)
    """

    name: str
    kernel: Any
    axis: int
    step: Any
    codes: Any
    bias: Any = None


@dataclasses.dataclass
class _Grid:
    name: str
    kernel: np.ndarray  # float32
    axis: int
    step: np.ndarray  # float32, one per channel
    codes: np.ndarray  # int32
    bias: np.ndarray | None  # float64


def _checked_grids(grids, fn: str) -> list[_Grid]:
    if isinstance(grids, WeightGrid):
        grids = [grids]
    if isinstance(grids, (str, bytes)) or not hasattr(grids, "__iter__"):
        raise TypeError(f"{fn}: `grids` must be a list of WeightGrid, got {type(grids).__name__}")
    out = []
    names = set()
    for i, g in enumerate(grids):
        if not isinstance(g, WeightGrid):
            raise TypeError(f"{fn}: `grids[{i}]` must be a WeightGrid, got {type(g).__name__}")
        if not isinstance(g.name, str) or not g.name:
            raise TypeError(f"{fn}: `grids[{i}].name` must be a non-empty str, got {g.name!r}")
        where = f"{fn}: grid '{g.name}'"
        if g.name in names:
            raise ValueError(f"{where}: names must be unique among the grids")
        names.add(g.name)
        kernel = np.asarray(g.kernel)
        if kernel.dtype.kind != "f" or kernel.ndim not in (2, 4) or kernel.size == 0:
            raise ValueError(
                f"{where}: `kernel` must be a non-empty float array of rank 2 (FULLY_CONNECTED) or 4 "
                f"(CONV_2D / DEPTHWISE_CONV_2D), got dtype {kernel.dtype} shape {kernel.shape}"
            )
        kernel = kernel.astype(np.float32)
        if not np.all(np.isfinite(kernel)):
            raise ValueError(f"{where}: `kernel` holds NaN or Inf")
        if isinstance(g.axis, bool) or not isinstance(g.axis, (int, np.integer)) or g.axis not in (0, 3):
            raise ValueError(f"{where}: `axis` must be 0, or 3 for depthwise, got {g.axis!r}")
        axis = int(g.axis)
        if axis >= kernel.ndim:
            raise ValueError(f"{where}: `axis` {axis} is not a dimension of `kernel` of shape {kernel.shape}")
        channels = kernel.shape[axis]
        step = np.asarray(g.step)
        if step.dtype.kind not in "fiu" or step.shape != (channels,):
            raise ValueError(
                f"{where}: `step` must be {channels} numbers (one per channel along axis {axis}), "
                f"got dtype {step.dtype} shape {step.shape}"
            )
        step = step.astype(np.float32)
        if not np.all(np.isfinite(step)) or np.any(step < 0):
            raise ValueError(f"{where}: `step` must be finite and >= 0, got min {step.min()!r}")
        codes = np.asarray(g.codes)
        if codes.dtype.kind not in "iu" or codes.shape != kernel.shape:
            raise ValueError(
                f"{where}: `codes` must be an integer array of the kernel's shape {kernel.shape}, "
                f"got dtype {codes.dtype} shape {codes.shape}"
            )
        codes = codes.astype(np.int64)
        lo, hi = int(codes.min()), int(codes.max())
        if lo < -_MAX_CODE or hi > _MAX_CODE:
            raise ValueError(
                f"{where}: `codes` must lie in [-{_MAX_CODE}, {_MAX_CODE}] (symmetric int8), got [{lo}, {hi}]"
            )
        codes = codes.astype(np.int32)
        shape = [1] * kernel.ndim
        shape[axis] = channels
        step_b = step.reshape(shape)
        exact = step_b * codes.astype(np.float32)
        if not np.array_equal(exact, kernel):
            bad = int(np.count_nonzero(exact != kernel))
            raise ValueError(
                f"{where}: `kernel` must equal step * codes exactly in float32; {bad} of {kernel.size} "
                f"weights differ (max |difference| {float(np.max(np.abs(exact - kernel))):.3g})"
            )
        moved = np.moveaxis(codes, axis, 0).reshape(channels, -1)
        dead = (step == 0) & np.any(moved != 0, axis=1)
        if np.any(dead):
            raise ValueError(
                f"{where}: channels {np.flatnonzero(dead)[:8].tolist()} have step 0 but nonzero codes; "
                "a pruned channel's codes must be 0"
            )
        bias = None
        if g.bias is not None:
            bias = np.asarray(g.bias)
            if bias.dtype.kind not in "fiu" or bias.shape != (channels,) or not np.all(np.isfinite(bias)):
                raise ValueError(
                    f"{where}: `bias` must be None or {channels} finite numbers, got dtype {bias.dtype} "
                    f"shape {bias.shape}"
                )
            bias = bias.astype(np.float64)
        out.append(_Grid(g.name, kernel, axis, step, codes, bias))
    return out


# ---- Reading the flatbuffer


def _schema():
    try:  # The schema module ships with both runtimes' wheels.
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:  # pragma: no cover
        from tensorflow.lite.python import schema_py_generated as schema
    return schema


def _unpack(flatbuffer, fn: str):
    if not isinstance(flatbuffer, (bytes, bytearray, memoryview)):
        raise TypeError(f"{fn}: `flatbuffer` must be the bytes of a .tflite file, got {type(flatbuffer).__name__}")
    data = bytes(flatbuffer)
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ValueError(f"{fn}: `flatbuffer` is not a TFLite model (no 'TFL3' file identifier)")
    schema = _schema()
    try:
        model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    except Exception as e:  # a truncated or corrupt flatbuffer fails anywhere inside the unpacker
        raise ValueError(f"{fn}: `flatbuffer` could not be parsed as a TFLite model: {e}") from None
    return model


def _pack(model) -> bytes:
    import flatbuffers

    builder = flatbuffers.Builder(1 << 16)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _op_name(model, op) -> str:
    schema = _schema()
    code = model.operatorCodes[op.opcodeIndex]
    builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
    for name, value in vars(schema.BuiltinOperator).items():
        if not name.startswith("_") and value == builtin:
            return name
    return str(builtin)


def _buffer_bytes(model, tensor) -> bytes:
    buf = model.buffers[tensor.buffer]
    if getattr(buf, "offset", 0) > 1:
        raise ValueError(
            f"tensor '{_name(tensor)}' keeps its data outside the flatbuffer (a model over 2 GB); "
            "such files are not supported"
        )
    if buf.data is None:
        return b""
    return np.asarray(buf.data, dtype=np.uint8).tobytes()


def _name(tensor) -> str:
    n = tensor.name
    return n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n)


def _index_values(vec_type, vec) -> np.ndarray:
    schema = _schema()
    allowed = (schema.SparseIndexVector.Int32Vector, schema.SparseIndexVector.Uint16Vector,
               schema.SparseIndexVector.Uint8Vector)
    if vec is None or vec_type not in allowed or vec.values is None:
        raise ValueError("a SPARSE_CSR level has no segments or indices vector")
    return np.asarray(vec.values, dtype=np.int64).reshape(-1)


def sparse_positions(shape, sparsity, n_values: int) -> np.ndarray:
    """Dense flat (C-order) index of each stored value of a sparse tensor, in storage order.

    Follows TFLite's sparsity parameters: ``traversal_order`` lists the dimensions, original
    ones (``0..rank-1``, each divided by its block size when blocked) then block ones
    (``rank..rank+len(block_map)-1``, block ``k`` splitting dimension ``block_map[k]``);
    ``dim_metadata[i]`` describes the ``i``-th dimension in that order, DENSE (``dense_size``
    entries) or SPARSE_CSR (``array_segments`` / ``array_indices`` into that level). The
    stored value of a leaf is the leaf's position in the last level.

    Args:
      shape: the tensor's dense shape.
      sparsity: a ``SparsityParametersT`` (flatbuffer object API).
      n_values: how many values the buffer stores.

    Returns:
      int64 array of ``n_values`` flat indices into the dense tensor, all distinct.

    Raises:
      ValueError: parameters this decoder does not support (a SPARSE_CSR block level, a
        block size that does not divide its dimension) or that are inconsistent (out of range
        segments or indices, a value count that does not match, a position stored twice).
    """
    schema = _schema()
    shape = [int(d) for d in shape]
    rank = len(shape)
    order = [int(d) for d in (sparsity.traversalOrder if sparsity.traversalOrder is not None else [])]
    block_map = [int(d) for d in (sparsity.blockMap if sparsity.blockMap is not None else [])]
    levels = list(sparsity.dimMetadata if sparsity.dimMetadata is not None else [])
    total = rank + len(block_map)
    if sorted(order) != list(range(total)) or len(levels) != total:
        raise ValueError(
            f"sparsity: traversal_order {order} must be a permutation of 0..{total - 1} and "
            f"dim_metadata must have {total} entries (rank {rank} + {len(block_map)} block dims), got {len(levels)}"
        )
    if sorted(set(block_map)) != sorted(block_map) or any(not 0 <= d < rank for d in block_map):
        raise ValueError(f"sparsity: block_map {block_map} must list distinct dimensions of a rank-{rank} tensor")
    # Size of every expanded dimension.
    sizes = list(shape)
    block = [1] * rank
    for k, d in enumerate(block_map):
        md = levels[order.index(rank + k)]
        if md.format != schema.DimensionType.DENSE:
            raise ValueError(
                f"sparsity: block dimension {rank + k} is SPARSE_CSR; only DENSE block levels are supported"
            )
        b = int(md.denseSize)
        if b <= 0 or shape[d] % b:
            raise ValueError(f"sparsity: block size {b} does not divide dimension {d} of size {shape[d]}")
        block[d] = b
        sizes[d] = shape[d] // b
        sizes.append(b)
    # Every expanded dimension adds coordinate * weight to the dense flat index: an original
    # dimension d counts in blocks (block[d] * stride[d]), a block dimension in elements.
    strides = [int(np.prod(shape[d + 1 :])) for d in range(rank)]
    weight = [block[d] * strides[d] for d in range(rank)] + [strides[d] for d in block_map]
    count = 1  # positions in the current level; a level's positions are always 0..count-1
    flat = np.zeros(1, dtype=np.int64)
    for level, md in enumerate(levels):
        dim = order[level]
        if md.format == schema.DimensionType.DENSE:
            n = int(md.denseSize)
            if n != sizes[dim]:
                raise ValueError(f"sparsity: DENSE level {level} has dense_size {n}, dimension {dim} has {sizes[dim]}")
            flat = (flat[:, None] + np.arange(n, dtype=np.int64) * weight[dim]).reshape(-1)
            count *= n
        elif md.format == schema.DimensionType.SPARSE_CSR:
            seg = _index_values(md.arraySegmentsType, md.arraySegments)
            idx = _index_values(md.arrayIndicesType, md.arrayIndices)
            if len(seg) != count + 1:
                raise ValueError(
                    f"sparsity: level {level} has {len(seg)} segments for {count} parents (needs {count + 1})"
                )
            if seg[0] != 0 or np.any(np.diff(seg) < 0) or seg[-1] != len(idx):
                raise ValueError(
                    f"sparsity: level {level} segments must start at 0, not decrease and end at {len(idx)} "
                    "(the number of indices)"
                )
            stored = int(seg[-1])
            if stored and (idx[:stored].min() < 0 or idx[:stored].max() >= sizes[dim]):
                raise ValueError(f"sparsity: level {level} indices must lie in [0, {sizes[dim]})")
            # Parent p owns the children seg[p]..seg[p+1]-1, in order.
            flat = np.repeat(flat, np.diff(seg)) + idx[:stored] * weight[dim]
            count = stored
        else:
            raise ValueError(f"sparsity: level {level} has unknown format {md.format}")
    if count != n_values:
        raise ValueError(f"sparsity: the encoding describes {count} stored values, the buffer holds {n_values}")
    if len(np.unique(flat)) != len(flat):
        raise ValueError("sparsity: the encoding stores some position twice")
    return flat


@dataclasses.dataclass
class _Site:
    """One int8 constant weight and everything that depends on its scales."""

    subgraph: int
    tensor: int  # the constant (possibly sparse) tensor holding the data
    quant_tensors: list  # tensors whose quantization must follow: it and any DENSIFY outputs
    ops: list  # (op index, op name) of the consuming CONV_2D / DEPTHWISE / FULLY_CONNECTED ops
    shape: tuple = ()
    values: np.ndarray | None = None  # dense int32 values
    stored: np.ndarray | None = None  # flat dense index of each stored value (sparse only)
    scale: np.ndarray | None = None  # float64, per channel (or 1)
    zero_point: np.ndarray | None = None
    axis: int = 0
    error: str = ""  # why the tensor could not be read (reported only if a grid of its shape misses)


def _weight_sites(model) -> list[_Site]:
    schema = _schema()
    sites: dict[tuple, _Site] = {}
    for si, g in enumerate(model.subgraphs or []):
        tensors = g.tensors or []
        producers = {}
        for oi, op in enumerate(g.operators or []):
            for t in op.outputs if op.outputs is not None else []:
                producers[int(t)] = oi
        for oi, op in enumerate(g.operators or []):
            name = _op_name(model, op)
            inputs = [int(i) for i in (op.inputs if op.inputs is not None else [])]
            if name not in _WEIGHT_OPS or len(inputs) < 2 or inputs[1] < 0:
                continue
            filt = inputs[1]
            quant = [filt]
            src = filt
            if not _buffer_bytes(model, tensors[filt]) and filt in producers:
                prod = g.operators[producers[filt]]
                if _op_name(model, prod) == "DENSIFY":
                    src = int(prod.inputs[0])
            t = tensors[src]
            if t.type != schema.TensorType.INT8 or not _buffer_bytes(model, t):
                continue
            key = (si, src)
            if key not in sites:
                sites[key] = _Site(si, src, [src], [])
            site = sites[key]
            for q in quant:
                if q not in site.quant_tensors:
                    site.quant_tensors.append(q)
            site.ops.append((oi, name))
    out = list(sites.values())
    for site in out:
        try:
            _read_site(model, site)
        except ValueError as e:
            site.error = str(e)
    return out


def _read_site(model, site: _Site) -> None:
    t = model.subgraphs[site.subgraph].tensors[site.tensor]
    shape = tuple(int(d) for d in (t.shape if t.shape is not None else []))
    site.shape = shape
    raw = np.frombuffer(_buffer_bytes(model, t), dtype=np.int8).astype(np.int32)
    size = int(np.prod(shape)) if shape else 1
    if t.sparsity is None:
        if raw.size != size:
            raise ValueError(f"tensor '{_name(t)}': buffer holds {raw.size} int8 values, shape {shape} needs {size}")
        values = raw.reshape(shape)
        stored = None
    else:
        try:
            stored = sparse_positions(shape, t.sparsity, raw.size)
        except ValueError as e:
            raise ValueError(f"tensor '{_name(t)}': {e}") from None
        values = np.zeros(size, dtype=np.int32)
        values[stored] = raw
        values = values.reshape(shape)
    q = t.quantization
    if q is None or q.scale is None or len(q.scale) == 0:
        raise ValueError(f"tensor '{_name(t)}': int8 weight without quantization scales")
    scale = np.asarray(q.scale, dtype=np.float64).reshape(-1)
    zp = np.asarray(q.zeroPoint if q.zeroPoint is not None else np.zeros(len(scale)), dtype=np.int64).reshape(-1)
    site.shape, site.values, site.stored = shape, values, stored
    site.scale, site.zero_point, site.axis = scale, zp, int(q.quantizedDimension)


def _per_channel(site: _Site, arr: np.ndarray) -> np.ndarray:
    """A per-channel (or per-tensor) array broadcast against the site's values."""
    if len(arr) == 1:
        return arr.reshape([1] * len(site.shape))
    shape = [1] * len(site.shape)
    shape[site.axis] = len(arr)
    return arr.reshape(shape)


def _dequantized(site: _Site) -> np.ndarray:
    return (site.values - _per_channel(site, site.zero_point)) * _per_channel(site, site.scale)


def _fit(grid: _Grid, site: _Site):
    """(cost, reason): cost = max |deq - kernel| in units of half a quantization step, or
    None with why the site cannot hold the grid."""
    if site.shape != grid.kernel.shape:
        return None, f"shape {site.shape}"
    if site.error:
        return None, site.error
    if len(site.scale) != 1 and (site.axis != grid.axis or len(site.scale) != site.shape[site.axis]):
        return None, f"quantized along dimension {site.axis}, the grid along {grid.axis}"
    err = np.abs(_dequantized(site) - grid.kernel.astype(np.float64))
    half = 0.5 * np.broadcast_to(_per_channel(site, site.scale), site.shape)
    allowed = half * (1 + _ROUNDING_SLACK) + 1e-6 * np.abs(grid.kernel)
    if np.any(err > allowed):
        return None, f"values off by up to {float(err.max()):.3g} (allowed {float(allowed.max()):.3g})"
    cost = float(np.max(err / np.maximum(half, 1e-30))) if err.size else 0.0
    return cost, ""


def _same_grid(a: _Grid, b: _Grid) -> bool:
    same_bias = (a.bias is None and b.bias is None) or (
        a.bias is not None and b.bias is not None and np.array_equal(a.bias, b.bias)
    )
    return (a.axis == b.axis and same_bias and np.array_equal(a.kernel, b.kernel)
            and np.array_equal(a.step, b.step) and np.array_equal(a.codes, b.codes))


def _match(grids: list[_Grid], sites: list[_Site], fn: str) -> list[_Site]:
    """Each grid's site, no site used twice, minimising the total rounding distance."""
    from scipy.optimize import linear_sum_assignment

    infeasible = 1e12
    cost = np.full((len(grids), max(len(sites), 1)), infeasible)
    reasons = [[] for _ in grids]
    for gi, g in enumerate(grids):
        for si, s in enumerate(sites):
            c, why = _fit(g, s)
            if c is None:
                reasons[gi].append(why)
            else:
                cost[gi, si] = c
    rows, cols = linear_sum_assignment(cost)
    chosen = {r: c for r, c in zip(rows.tolist(), cols.tolist()) if sites and cost[r, c] < infeasible}
    # The converter stores identical constants once: layers whose grids are identical (tied
    # weights) may share one tensor.
    for gi, g in enumerate(grids):
        if gi not in chosen:
            for gj, si in list(chosen.items()):
                if _same_grid(g, grids[gj]):
                    chosen[gi] = si
                    break
    out = []
    for gi, g in enumerate(grids):
        si = chosen.get(gi)
        if si is None:
            feasible = int(np.sum(cost[gi] < infeasible))
            if feasible:
                detail = "every int8 weight that fits it is already taken by another grid"
            else:
                same = [r for r in reasons[gi] if not r.startswith("shape")]
                detail = (
                    f"no int8 weight of shape {g.kernel.shape} fits it ({'; '.join(same[:3])})"
                    if same
                    else f"no int8 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED weight has shape {g.kernel.shape} "
                    f"(the file's: {sorted({s.shape for s in sites})})"
                )
            raise ValueError(f"{fn}: grid '{g.name}' matches no weight in the file: {detail}")
        out.append(sites[si])
    return out


# ---- Rewriting


def _own_buffer(model, tensor, counts) -> Any:
    """The tensor's buffer, copied first when other tensors share it."""
    schema = _schema()
    b = tensor.buffer
    if counts.get(b, 0) > 1:
        counts[b] -= 1
        new = schema.BufferT()
        model.buffers.append(new)
        tensor.buffer = len(model.buffers) - 1
        counts[tensor.buffer] = 1
        return new
    return model.buffers[b]


def _set_quant(tensor, scale: np.ndarray, axis: int) -> None:
    schema = _schema()
    q = tensor.quantization if tensor.quantization is not None else schema.QuantizationParametersT()
    q.scale = np.asarray(scale, dtype=np.float32)
    q.zeroPoint = np.zeros(len(scale), dtype=np.int64)
    q.quantizedDimension = int(axis)
    q.min = None
    q.max = None
    tensor.quantization = q


def pin_weight_grids(flatbuffer: bytes, grids) -> bytes:
    """Rewrites an int8 ``.tflite`` file so that each grid's codes and steps are stored exactly.

    Args:
      flatbuffer: a full-integer int8 model as the converter wrote it (dense or compact).
      grids: ``WeightGrid`` objects (or one), at most one per weight in the file.

    Returns:
      The rewritten model's bytes: each matched weight holds ``codes`` (int8) with per-channel
      scales ``step`` and zero points 0 (a channel whose step is 0 keeps its previous, positive
      scale), and the consuming op's int32 bias is requantized to ``input_scale * step_c``.

    Raises:
      TypeError: ``flatbuffer`` is not bytes or ``grids`` not WeightGrid objects.
      ValueError: naming the grid: codes outside [-127, 127], ``kernel != step * codes``, no
        int8 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED weight holds it, its codes need a
        different sparse pattern, or a requantized bias leaves the int32 range. Also a file that
        is not a TFLite model or carries sparsity parameters this module does not decode.

    Example:
      >>> pinned = pin_weight_grids(convert_int8(model, x_calib), grids)
    """
    fn = "pin_weight_grids"
    grids = _checked_grids(grids, fn)
    model = _unpack(flatbuffer, fn)
    sites = _weight_sites(model)
    if not grids:
        return bytes(flatbuffer)
    matched = _match(grids, sites, fn)
    schema = _schema()
    counts: dict[int, int] = {}
    for g in model.subgraphs or []:
        for t in g.tensors or []:
            counts[t.buffer] = counts.get(t.buffer, 0) + 1
    rewritten_bias: dict[tuple, np.ndarray] = {}
    for grid, site in zip(grids, matched):
        where = f"{fn}: grid '{grid.name}'"
        sg = model.subgraphs[site.subgraph]
        tensor = sg.tensors[site.tensor]
        channels = grid.kernel.shape[grid.axis]
        old_scale = np.broadcast_to(site.scale, (channels,)).astype(np.float64)
        keep = (grid.step == 0) & ~(np.isfinite(old_scale) & (old_scale > 0))
        new_scale = np.where(grid.step > 0, grid.step.astype(np.float64), np.where(keep, 1.0, old_scale))
        new_scale = new_scale.astype(np.float32)
        # Data.
        if site.stored is None:
            data = grid.codes.astype(np.int8).reshape(-1)
        else:
            flat = grid.codes.reshape(-1)
            outside = np.ones(flat.size, dtype=bool)
            outside[site.stored] = False
            if np.any(flat[outside] != 0):
                raise ValueError(
                    f"{where}: {int(np.count_nonzero(flat[outside]))} nonzero codes fall where the file's sparse "
                    f"encoding of tensor '{_name(tensor)}' stores nothing; the pattern would have to change"
                )
            data = flat[site.stored].astype(np.int8)
        buf = _own_buffer(model, tensor, counts)
        buf.data = np.frombuffer(data.tobytes(), dtype=np.uint8).copy()
        for ti in site.quant_tensors:
            _set_quant(sg.tensors[ti], new_scale, grid.axis)
        # Biases of the consuming ops.
        for oi, op_name in site.ops:
            op = sg.operators[oi]
            inputs = [int(i) for i in op.inputs]
            if len(inputs) < 3 or inputs[2] < 0:
                continue
            x, bias_t = sg.tensors[inputs[0]], sg.tensors[inputs[2]]
            xq = x.quantization
            if x.type != schema.TensorType.INT8 or xq is None or xq.scale is None or len(xq.scale) != 1:
                raise ValueError(
                    f"{where}: {op_name} input '{_name(x)}' is not a per-tensor int8 activation; "
                    "only full-integer int8 files are supported"
                )
            if bias_t.type != schema.TensorType.INT32:
                raise ValueError(f"{where}: {op_name} bias '{_name(bias_t)}' is not int32")
            s_in = float(np.float32(xq.scale[0]))
            bias_scale = (s_in * new_scale.astype(np.float64)).astype(np.float32)
            key = (site.subgraph, inputs[2])
            if key in rewritten_bias:
                if not np.array_equal(rewritten_bias[key], bias_scale):
                    raise ValueError(
                        f"{where}: bias '{_name(bias_t)}' is shared by ops whose inputs have different scales"
                    )
                continue
            if grid.bias is not None:
                b_float = grid.bias
            else:
                q_old = np.frombuffer(_buffer_bytes(model, bias_t), dtype=np.int32).astype(np.float64)
                bq = bias_t.quantization
                if q_old.size != channels or bq is None or bq.scale is None or len(bq.scale) not in (1, channels):
                    raise ValueError(
                        f"{where}: {op_name} bias '{_name(bias_t)}' has {q_old.size} values and "
                        f"{0 if bq is None or bq.scale is None else len(bq.scale)} scales, expected {channels}"
                    )
                b_float = q_old * np.broadcast_to(np.asarray(bq.scale, dtype=np.float64), (channels,))
            q_new = np.round(b_float / bias_scale.astype(np.float64))
            limit = 2**31 - 1
            if np.any(np.abs(q_new) > limit):
                c = int(np.argmax(np.abs(q_new)))
                raise ValueError(
                    f"{where}: {op_name} bias of channel {c} ({b_float[c]:.6g}) needs {q_new[c]:.0f} units of "
                    f"input_scale * step = {bias_scale[c]:.3g}, outside the int32 range; the step is too small "
                    "for this bias"
                )
            bbuf = _own_buffer(model, bias_t, counts)
            bbuf.data = np.frombuffer(q_new.astype(np.int32).tobytes(), dtype=np.uint8).copy()
            _set_quant(bias_t, bias_scale, 0)
            rewritten_bias[key] = bias_scale
    return _pack(model)


def check_int8_grids(flatbuffer: bytes, grids) -> dict:
    """How exactly an int8 ``.tflite`` file stores each grid.

    Re-reads the file (dense or compact), matches each grid to its weight as
    ``pin_weight_grids`` does, and dequantizes that weight.

    Args:
      flatbuffer: an int8 model's bytes.
      grids: ``WeightGrid`` objects (or one).

    Returns:
      ``{grid name: {"exact": bool, "codes_exact": bool, "zeros_file": int, "zeros_kernel": int,
      "max_abs_error": float, "tensor": str, "ops": [op names]}}``; ``exact`` means the
      dequantized weight equals ``kernel`` bit for bit (in float32) and ``codes_exact`` that the
      stored int8 values are ``codes``.

    Raises:
      TypeError, ValueError: as ``pin_weight_grids``, including a grid the file does not hold.

    Example:
      >>> assert all(r["exact"] for r in check_int8_grids(pinned, grids).values())
    """
    fn = "check_int8_grids"
    grids = _checked_grids(grids, fn)
    model = _unpack(flatbuffer, fn)
    sites = _weight_sites(model)
    if not grids:
        return {}
    out = {}
    for grid, site in zip(grids, _match(grids, sites, fn)):
        deq32 = (site.values - _per_channel(site, site.zero_point)).astype(np.float32) * _per_channel(
            site, site.scale.astype(np.float32)
        )
        tensor = model.subgraphs[site.subgraph].tensors[site.tensor]
        out[grid.name] = {
            "exact": bool(np.array_equal(deq32, grid.kernel)),
            "codes_exact": bool(np.array_equal(site.values, grid.codes)),
            "zeros_file": int(np.count_nonzero(site.values == 0)),
            "zeros_kernel": int(np.count_nonzero(grid.kernel == 0)),
            "max_abs_error": float(np.max(np.abs(deq32.astype(np.float64) - grid.kernel))),
            "tensor": _name(tensor),
            "sparse": tensor.sparsity is not None,
            "ops": [name for _, name in site.ops],
        }
    return out


# ---- Conversion


def _model_inputs(model):
    try:
        inputs = list(model.inputs)
    except (AttributeError, ValueError):
        return None
    return inputs or None


def _input_names(model):
    specs = _model_inputs(model)
    if specs is None:
        return None
    names = [getattr(t, "name", None) for t in specs]
    if any(not isinstance(n, str) for n in names) or len(set(names)) != len(names):
        return None
    return names


def _sample_arrays(sample, specs, i: int, n_inputs: int):
    where = f"convert_int8: `representative_data` sample {i}"
    if isinstance(sample, np.ndarray) or np.isscalar(sample):
        sample = [sample]
    if not isinstance(sample, (list, tuple)):
        raise TypeError(f"{where} must be a list of arrays (one per model input), got {type(sample).__name__}")
    if len(sample) != n_inputs:
        raise ValueError(f"{where} has {len(sample)} arrays; the model takes {n_inputs} inputs")
    out = []
    for j, a in enumerate(sample):
        a = np.asarray(a)
        if a.dtype.kind not in "fiu":
            raise TypeError(f"{where}, input {j}: must be numeric, got dtype {a.dtype}")
        # The model input's own dtype (token ids stay integers), else float32.
        dtype = getattr(specs[j], "dtype", None) if specs is not None else None
        try:
            dtype = np.dtype(str(dtype)) if dtype is not None else np.dtype(np.float32)
        except TypeError:
            dtype = np.dtype(np.float32)
        a = a.astype(dtype if dtype.kind in "fiu" else np.float32)
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{where}, input {j}: holds NaN or Inf")
        if specs is not None:
            want = tuple(specs[j].shape)
            if a.ndim == len(want) - 1:
                a = a[None]
            ok = a.ndim == len(want) and a.shape[0] == 1 and all(
                w is None or w == s for w, s in zip(want[1:], a.shape[1:])
            )
            if not ok:
                raise ValueError(
                    f"{where}, input {j}: shape {a.shape}, the model takes {(1,) + tuple(want[1:])} (batch 1)"
                )
        out.append(a)
    return out


def _representative_samples(model, data) -> list:
    specs = _model_inputs(model)
    n_inputs = len(specs) if specs is not None else 1
    allowed = (
        "a NumPy array of samples along axis 0 (single-input models), or a callable returning an "
        "iterable (or an iterator) of samples, each a list of arrays, one per model input, batch 1"
    )
    if isinstance(data, np.ndarray):
        if n_inputs != 1:
            raise TypeError(f"convert_int8: `representative_data` for a model of {n_inputs} inputs must be {allowed}")
        if data.ndim < 1 or len(data) == 0:
            raise ValueError(
                f"convert_int8: `representative_data` is an empty array (shape {data.shape}); pass samples"
            )
        iterable = (data[i : i + 1] for i in range(min(len(data), _MAX_SAMPLES)))
    elif callable(data):
        iterable = data()
        if not hasattr(iterable, "__iter__"):
            raise TypeError(
                f"convert_int8: `representative_data()` returned {type(iterable).__name__}, not an iterable; "
                f"allowed: {allowed}"
            )
    elif hasattr(data, "__next__"):
        iterable = data
    else:
        raise TypeError(f"convert_int8: `representative_data` must be {allowed}; got {type(data).__name__}")
    samples = []
    for i, sample in enumerate(iterable):
        if i >= _MAX_SAMPLES:
            break
        samples.append(_sample_arrays(sample, specs, i, n_inputs))
    if not samples:
        raise ValueError("convert_int8: `representative_data` yielded no samples")
    return samples


def convert_int8(keras_model, representative_data, *, compact: bool = False, int8_io: bool = False,
                 input_signature=None) -> bytes:
    """Converts a Keras model to a full-integer int8 ``.tflite`` flatbuffer (stock converter).

    Weights are int8 per channel, activations int8 per tensor with scales calibrated on
    ``representative_data``, biases int32. The file does not yet keep learned weight grids:
    pass it to ``pin_weight_grids``.

    Args:
      keras_model: a built, plain Keras model (sparse layers stripped).
      representative_data: calibration inputs: a NumPy array with samples along axis 0 (the
        first 200 are used, batch 1 each), or a callable returning an iterable of samples, or an
        iterator of samples, each a list of arrays (one per model input, batch 1 or no batch
        axis); at most 200 are used.
      compact: also store pruned weights in TFLite's sparse encoding
        (``Optimize.EXPERIMENTAL_SPARSITY``).
      int8_io: int8 model input and output; otherwise float32 with QUANTIZE / DEQUANTIZE ops
        at the ends.
      input_signature: passed to ``keras_model.export`` (see ``export_tflite``).

    Returns:
      The flatbuffer's bytes.

    Raises:
      TypeError: ``keras_model`` is not a Keras model, ``compact`` / ``int8_io`` not bools,
        ``representative_data`` of a kind not listed above.
      ValueError: the model is not built; empty representative data, samples of the wrong
        shape or count, NaN / Inf in them.

    Example:
      >>> flatbuffer = convert_int8(model, x_train[:200])
    """
    import keras

    if not isinstance(keras_model, keras.Model):
        raise TypeError(f"convert_int8: `keras_model` must be a keras.Model, got {type(keras_model).__name__}")
    if not keras_model.built:
        raise ValueError(f"convert_int8: model '{keras_model.name}' is not built; call it or build it first")
    for arg, value in (("compact", compact), ("int8_io", int8_io)):
        if not isinstance(value, bool):
            raise TypeError(f"convert_int8: `{arg}` must be True or False, got {value!r}")
    samples = _representative_samples(keras_model, representative_data)

    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        saved = os.path.join(tmp, "saved_model")
        keras_model.export(saved, format="tf_saved_model", verbose=False, input_signature=input_signature)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if compact:
            converter.optimizations.append(tf.lite.Optimize.EXPERIMENTAL_SPARSITY)
        # Keyed by input name: the SavedModel's signature lists its inputs by name, in an order
        # of its own (sorted), which a positional list would silently mismatch.
        names = _input_names(keras_model)
        if names is not None:
            samples = [dict(zip(names, s)) for s in samples]
        converter.representative_dataset = lambda: iter(samples)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if int8_io:
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        return converter.convert()
