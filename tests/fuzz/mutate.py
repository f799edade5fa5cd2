"""Deterministic mutations of .tflite files.

Flatbuffer-aware mutations go through the schema's object API (unpack, change one field, pack):
sparsity traversal_order / block_map / dim_metadata (format, dense_size, segments, indices),
tensor shapes and types, buffer contents and lengths, operator inputs and options. Raw mutations
flip bytes or truncate the file. ``mutant(seeds, seed, case)`` is a pure function of its
arguments: the same case id gives the same bytes on every machine.
"""

from __future__ import annotations

import copy
import functools

import numpy as np

try:  # The schema module ships with both runtimes' wheels.
    from ai_edge_litert import schema_py_generated as schema
except ImportError:  # pragma: no cover
    from tensorflow.lite.python import schema_py_generated as schema

import flatbuffers


@functools.lru_cache(maxsize=None)
def _unpacked(data: bytes):
    return schema.ModelT.InitFromPackedBuf(bytearray(data), 0)


def _pack(model) -> bytes:
    builder = flatbuffers.Builder(4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _len(a):
    return 0 if a is None else len(a)


def _tensors(model):
    return [t for g in (model.subgraphs if model.subgraphs is not None else []) for t in (g.tensors if g.tensors is not None else [])]


def _sparse_tensors(model):
    return [t for t in _tensors(model) if t.sparsity is not None]


def _int_values(rng, current, size):
    """A replacement int: off by one, zero, negative, huge or random in range."""
    choice = rng.integers(7)
    if choice == 0:
        return int(current) + 1
    if choice == 1:
        return int(current) - 1
    if choice == 2:
        return 0
    if choice == 3:
        return -1
    if choice == 4:
        return int(rng.choice([2**15, 2**16 - 1, 2**31 - 1, -(2**31), 255, 65535]))
    if choice == 5:
        return int(current) * 2
    return int(rng.integers(0, max(2, size + 2)))


def _mutate_list(rng, values, size_hint):
    """values -> a changed copy (list of ints): one entry changed, swapped, duplicated,
    dropped or appended."""
    out = [int(v) for v in (values if values is not None else [])]
    op = rng.integers(5) if out else 4
    if op == 0:
        i = rng.integers(len(out))
        out[i] = _int_values(rng, out[i], size_hint)
    elif op == 1 and len(out) >= 2:
        i, j = rng.choice(len(out), 2, replace=False)
        out[i], out[j] = out[j], out[i]
    elif op == 2 and len(out) >= 2:
        i = rng.integers(1, len(out))
        out[i] = out[i - 1]
    elif op == 3:
        del out[rng.integers(len(out))]
    else:
        out.append(_int_values(rng, out[-1] if out else 0, size_hint))
    return out


def _set_index_vector(vec_type, vec, values):
    """Writes ints into a SparseIndexVector union member, widening it when they do not fit."""
    arr = np.asarray(values, dtype=np.int64)
    fits16 = arr.size == 0 or (arr.min() >= 0 and arr.max() < 2**16)
    fits8 = arr.size == 0 or (arr.min() >= 0 and arr.max() < 2**8)
    if vec_type == schema.SparseIndexVector.Uint8Vector and fits8:
        vec.values = arr.astype(np.uint8)
        return vec_type, vec
    if vec_type == schema.SparseIndexVector.Uint16Vector and fits16:
        vec.values = arr.astype(np.uint16)
        return vec_type, vec
    out = schema.Int32VectorT()
    out.values = np.clip(arr, -(2**31), 2**31 - 1).astype(np.int32)
    return schema.SparseIndexVector.Int32Vector, out


# ---- Mutations: each takes (rng, model) and changes model in place; returns a label or None
# when it does not apply to this model.


def m_traversal_order(rng, model):
    ts = _sparse_tensors(model)
    if not ts:
        return None
    sp = ts[rng.integers(len(ts))].sparsity
    sp.traversalOrder = _mutate_list(rng, sp.traversalOrder, _len(sp.traversalOrder))
    return "traversal_order"


def m_block_map(rng, model):
    ts = _sparse_tensors(model)
    if not ts:
        return None
    t = ts[rng.integers(len(ts))]
    t.sparsity.blockMap = _mutate_list(rng, t.sparsity.blockMap, _len(t.shape))
    return "block_map"


def _some_dim_metadata(rng, model):
    ts = _sparse_tensors(model)
    ts = [t for t in ts if t.sparsity.dimMetadata is not None and len(t.sparsity.dimMetadata)]
    if not ts:
        return None
    dm = ts[rng.integers(len(ts))].sparsity.dimMetadata
    return dm, dm[rng.integers(len(dm))]


def m_dim_format(rng, model):
    found = _some_dim_metadata(rng, model)
    if not found:
        return None
    _, md = found
    md.format = int(rng.choice([0, 1, 2, -1])) if rng.random() < 0.3 else 1 - md.format
    return "dim_metadata.format"


def m_dense_size(rng, model):
    found = _some_dim_metadata(rng, model)
    if not found:
        return None
    _, md = found
    md.denseSize = _int_values(rng, md.denseSize, md.denseSize)
    return "dim_metadata.dense_size"


def _sparse_level(rng, model):
    found = _some_dim_metadata(rng, model)
    if not found:
        return None
    dm, _ = found
    sparse = [md for md in dm if md.arraySegments is not None and md.arrayIndices is not None]
    return sparse[rng.integers(len(sparse))] if sparse else None


def m_segments(rng, model):
    md = _sparse_level(rng, model)
    if md is None:
        return None
    values = [int(v) for v in md.arraySegments.values]
    if rng.random() < 0.3 and values:  # the last segment off by one
        values[-1] += int(rng.choice([-1, 1]))
    else:
        values = _mutate_list(rng, values, max(values) if values else 1)
    md.arraySegmentsType, md.arraySegments = _set_index_vector(
        md.arraySegmentsType, md.arraySegments, values
    )
    return "dim_metadata.segments"


def m_indices(rng, model):
    md = _sparse_level(rng, model)
    if md is None:
        return None
    values = [int(v) for v in md.arrayIndices.values]
    values = _mutate_list(rng, values, max(values) + 1 if values else 1)
    md.arrayIndicesType, md.arrayIndices = _set_index_vector(
        md.arrayIndicesType, md.arrayIndices, values
    )
    return "dim_metadata.indices"


def m_drop_sparsity_field(rng, model):
    ts = _sparse_tensors(model)
    if not ts:
        return None
    sp = ts[rng.integers(len(ts))].sparsity
    field = rng.choice(["traversalOrder", "blockMap", "dimMetadata", "segments", "indices"])
    if field in ("segments", "indices"):
        md = _sparse_level(rng, model)
        if md is None:
            return None
        setattr(md, "arraySegments" if field == "segments" else "arrayIndices", None)
        setattr(md, "arraySegmentsType" if field == "segments" else "arrayIndicesType", 0)
    else:
        setattr(sp, field, None)
    return "sparsity.drop_" + str(field)


def m_add_sparsity(rng, model):
    """Copies a sparse tensor's sparsity onto another (dense) tensor."""
    ts = _sparse_tensors(model)
    dense = [t for t in _tensors(model) if t.sparsity is None]
    if not ts or not dense:
        return None
    dense[rng.integers(len(dense))].sparsity = copy.deepcopy(ts[rng.integers(len(ts))].sparsity)
    return "sparsity.copy_to_dense"


def m_shape(rng, model):
    ts = _tensors(model)
    t = ts[rng.integers(len(ts))]
    shape = [int(v) for v in (t.shape if t.shape is not None else [])]
    op = rng.integers(3)
    if op == 0 and shape:
        i = rng.integers(len(shape))
        shape[i] = int(rng.choice([shape[i] + 1, shape[i] - 1, 0, -1, 1, 2 * shape[i], 4]))
    elif op == 1 and shape:
        del shape[rng.integers(len(shape))]
    else:
        shape.insert(int(rng.integers(len(shape) + 1)), int(rng.choice([1, 2, 3])))
    t.shape = np.asarray(shape, dtype=np.int32)
    if t.shapeSignature is not None and rng.random() < 0.5:
        t.shapeSignature = np.asarray(shape, dtype=np.int32)
    return "tensor.shape"


def m_type(rng, model):
    ts = _tensors(model)
    t = ts[rng.integers(len(ts))]
    t.type = int(rng.choice([0, 2, 3, 4, 6, 7, 9, 10, 16, 17, 40]))
    return "tensor.type"


def _buffer_of(rng, model, sparse_only=False):
    ts = _sparse_tensors(model) if sparse_only else _tensors(model)
    with_data = [
        t for t in ts if model.buffers[t.buffer].data is not None and len(model.buffers[t.buffer].data)
    ]
    if not with_data:
        return None
    return model.buffers[with_data[rng.integers(len(with_data))].buffer]


def m_buffer_length(rng, model):
    buf = _buffer_of(rng, model, sparse_only=rng.random() < 0.5)
    if buf is None:
        return None
    data = np.asarray(buf.data, dtype=np.uint8)
    op = rng.integers(4)
    if op == 0:
        data = data[: int(rng.integers(len(data)))]
    elif op == 1:
        data = data[: len(data) - 4]
    elif op == 2:
        data = np.concatenate([data, np.zeros(int(rng.choice([4, 16, 1000])), np.uint8)])
    else:
        data = data[: len(data) - 1]
    buf.data = data
    return "buffer.length"


def m_buffer_values(rng, model):
    buf = _buffer_of(rng, model)
    if buf is None:
        return None
    data = np.array(buf.data, dtype=np.uint8)
    if len(data) >= 4 and rng.random() < 0.6:
        floats = data[: len(data) // 4 * 4].view(np.float32)
        special = np.float32(rng.choice([np.nan, np.inf, -np.inf, 3e38, 1e-40, 0.0, -0.0]))
        idx = rng.integers(len(floats), size=int(rng.integers(1, 4)))
        floats[idx] = special
    else:
        idx = rng.integers(len(data), size=int(rng.integers(1, 5)))
        data[idx] ^= rng.integers(1, 256, size=len(idx)).astype(np.uint8)
    buf.data = data
    return "buffer.values"


def m_operator_inputs(rng, model):
    ops = [op for g in model.subgraphs for op in (g.operators if g.operators is not None else [])]
    op = ops[rng.integers(len(ops))]
    n_tensors = len(model.subgraphs[0].tensors)
    which = rng.choice(["inputs", "outputs"]) if rng.random() < 0.3 else "inputs"
    setattr(op, which, np.asarray(_mutate_list(rng, getattr(op, which), n_tensors), np.int32))
    return "operator." + str(which)


_OPTION_FIELDS = {
    "FullyConnectedOptionsT": ["fusedActivationFunction", "weightsFormat", "keepNumDims"],
    "Conv2DOptionsT": [
        "padding", "strideW", "strideH", "fusedActivationFunction", "dilationWFactor",
        "dilationHFactor",
    ],
    "DepthwiseConv2DOptionsT": [
        "padding", "strideW", "strideH", "depthMultiplier", "fusedActivationFunction",
        "dilationWFactor", "dilationHFactor",
    ],
}


def m_operator_options(rng, model):
    ops = [
        op
        for g in model.subgraphs
        for op in (g.operators if g.operators is not None else [])
        if type(op.builtinOptions).__name__ in _OPTION_FIELDS
    ]
    if not ops:
        return None
    op = ops[rng.integers(len(ops))]
    opts = op.builtinOptions
    field = str(rng.choice(_OPTION_FIELDS[type(opts).__name__]))
    current = getattr(opts, field)
    if isinstance(current, bool):
        setattr(opts, field, not current)
    else:
        setattr(opts, field, int(rng.choice([current + 1, 0, 2, 3, 5, 7, 100, -1])))
    return "options." + field


def m_opcode(rng, model):
    ops = [op for g in model.subgraphs for op in (g.operators if g.operators is not None else [])]
    op = ops[rng.integers(len(ops))]
    op.opcodeIndex = int(rng.integers(len(model.operatorCodes) + 1))
    return "operator.opcode"


STRUCTURED = [
    # (weight, mutation): sparse-encoding fields get most of the draws.
    (4, m_traversal_order),
    (3, m_block_map),
    (3, m_dim_format),
    (3, m_dense_size),
    (5, m_segments),
    (5, m_indices),
    (2, m_drop_sparsity_field),
    (1, m_add_sparsity),
    (3, m_shape),
    (2, m_type),
    (3, m_buffer_length),
    (4, m_buffer_values),
    (2, m_operator_inputs),
    (3, m_operator_options),
    (1, m_opcode),
]


def _raw(rng, data: bytes):
    data = bytearray(data)
    if rng.random() < 0.3:
        return bytes(data[: int(rng.integers(8, len(data)))]), "raw.truncate"
    for i in rng.integers(len(data), size=int(rng.integers(1, 9))):
        data[i] ^= int(rng.integers(1, 256))
    return bytes(data), "raw.flip"


def mutant(seeds: dict, seed: int, case: int):
    """(bytes, seed model name, [mutation labels]) for case `case` of run `seed`. `seeds` maps
    seed names to file bytes."""
    rng = np.random.default_rng([seed, case])
    names = sorted(seeds)
    name = names[rng.integers(len(names))]
    data = seeds[name]
    if rng.random() < 0.15:
        out, label = _raw(rng, data)
        return out, name, [label]
    model = copy.deepcopy(_unpacked(data))
    weights = np.array([w for w, _ in STRUCTURED], dtype=np.float64)
    labels = []
    for _ in range(int(rng.choice([1, 1, 1, 2, 3]))):
        for _attempt in range(8):
            fn = STRUCTURED[rng.choice(len(STRUCTURED), p=weights / weights.sum())][1]
            label = fn(rng, model)
            if label is not None:
                labels.append(label)
                break
    try:
        return _pack(model), name, labels
    except Exception as e:  # a mutation the packer cannot write: fall back to raw flips
        out, label = _raw(rng, data)
        return out, name, labels + ["unpackable:" + type(e).__name__, label]
