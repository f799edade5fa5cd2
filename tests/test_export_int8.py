"""int8 ``.tflite`` export that keeps learned weight grids exactly (tf_sparse/export/int8.py).

Small Keras models (an MLP and a Conv2D + DepthwiseConv2D + Dense CNN on scikit-learn's 8x8
digits, pixels / 16) are trained briefly, their kernels put on per-channel grids (4-bit with 80%
zeros and a fully pruned channel, powers of two, ternary, binary, full int8), converted by the
stock full-integer converter, dense and compact, and pinned. Each file must store the codes
and steps bit for bit, keep every zero, carry biases at input_scale * weight_scale, and run in
the stock interpreter with the Keras model's argmax on >= 99% of 200 held-out digits (those
whose top-2 margin exceeds two output quanta; >= 97% of all of them).
"""

import os

import keras
import numpy as np
import pytest

from tf_sparse.export.int8 import (
    WeightGrid,
    check_int8_grids,
    convert_int8,
    pin_weight_grids,
    sparse_positions,
)

try:
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
except ImportError:  # pragma: no cover
    pytest.skip("ai_edge_litert is not installed", allow_module_level=True)


# ---- Grids, computed per channel on the TFLite-layout kernel (channels along `axis`)


def _per_channel(a, axis):
    return np.moveaxis(a, axis, 0).reshape(a.shape[axis], -1)


def _bcast(v, ndim, axis):
    shape = [1] * ndim
    shape[axis] = -1
    return np.asarray(v, np.float32).reshape(shape)


def _grid(kind, w, axis, rng):
    """(step, codes) for kernel `w` (TFLite layout) on grid `kind`."""
    ndim = w.ndim
    mags = np.abs(_per_channel(w, axis))
    if kind == "4bit":  # 80% of weights zeroed, one output channel entirely
        w = w * (rng.random(w.shape) >= 0.8)
        w = np.moveaxis(w, axis, 0).copy()
        w[1] = 0
        w = np.moveaxis(w, 0, axis)
        mx = np.abs(_per_channel(w, axis)).max(axis=1)
        step = (mx / 7 / 1.3).astype(np.float32)
        safe = np.where(step > 0, step, 1)
        codes = np.clip(np.round(w / _bcast(safe, ndim, axis)), -7, 7)
    elif kind == "int8":  # 80% zeroed, codes up to 127
        w = w * (rng.random(w.shape) >= 0.8)
        step = (np.abs(_per_channel(w, axis)).max(axis=1) / 127).astype(np.float32)
        codes = np.clip(np.round(w / _bcast(step, ndim, axis)), -127, 127)
    elif kind == "pow2":  # codes 0, +-1, +-2, ..., +-64
        step = (mags.max(axis=1) / 64).astype(np.float32)
        r = np.abs(w) / _bcast(step, ndim, axis)
        e = np.clip(np.round(np.log2(np.maximum(r, 1e-30))), 0, 6)
        codes = np.where(r < 0.5, 0, np.sign(w) * 2.0**e)
    elif kind == "ternary":
        thr = 0.7 * mags.mean(axis=1)
        keep = np.abs(w) > _bcast(thr, ndim, axis)
        codes = np.sign(w) * keep
        kept = np.abs(_per_channel(w * keep, axis))
        step = (kept.sum(axis=1) / np.maximum((kept > 0).sum(axis=1), 1)).astype(np.float32)
    elif kind == "binary":  # +-1, 0 where pruned (half)
        keep = rng.random(w.shape) >= 0.5
        codes = np.where(w >= 0, 1.0, -1.0) * keep
        step = mags.mean(axis=1).astype(np.float32)
    else:
        raise AssertionError(kind)
    codes = codes.astype(np.int8)
    return step, codes


def _to_tflite(layer, k):
    """Keras kernel -> (TFLite layout, quantized axis)."""
    if isinstance(layer, keras.layers.DepthwiseConv2D):  # (kh, kw, in, mult) -> (1, kh, kw, in*mult)
        return k.reshape(k.shape[0], k.shape[1], -1)[None], 3
    if isinstance(layer, keras.layers.Conv2D):  # (kh, kw, in, out) -> (out, kh, kw, in)
        return np.transpose(k, (3, 0, 1, 2)), 0
    return k.T, 0  # Dense (in, out) -> (out, in)


def _from_tflite(layer, t, keras_shape):
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return t[0].reshape(keras_shape)
    if isinstance(layer, keras.layers.Conv2D):
        return np.transpose(t, (1, 2, 3, 0))
    return t.T


def _put_on_grids(model, kinds, x, y, seed=0):
    """Sets each weighted layer's kernel to step * codes, one layer at a time, retraining the
    layers not yet on a grid (and every bias) after each; returns the WeightGrids."""
    rng = np.random.default_rng(seed)
    grids = []
    for layer, kind in zip([l for l in model.layers if l.weights], kinds):
        kernel, *bias = layer.get_weights()
        t, axis = _to_tflite(layer, kernel)
        step, codes = _grid(kind, t, axis, rng)
        exact = _bcast(step, t.ndim, axis) * codes.astype(np.float32)
        layer.set_weights([_from_tflite(layer, exact, kernel.shape), *bias])
        layer.kernel.trainable = False
        _trained(model, x, y, seed, epochs=2)
        assert np.array_equal(layer.get_weights()[0], _from_tflite(layer, exact, kernel.shape))
        grids.append(WeightGrid(layer.name, exact, axis, step, codes))
    return grids


# ---- Models and data


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    return x, d.target


def _trained(model, x, y, seed, epochs=6):
    keras.utils.set_random_seed(seed)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss)
    model.fit(x, y, epochs=epochs, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="module")
def cases(digits):
    x, y = digits
    keras.utils.set_random_seed(0)
    mlp = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(48, activation="relu"),
        keras.layers.Dense(32, activation="relu", use_bias=False),  # an op without bias
        keras.layers.Dense(10),
    ])
    _trained(mlp, x[:-200], y[:-200], 0)
    mlp_grids = _put_on_grids(mlp, ["4bit", "pow2", "ternary"], x[:-200], y[:-200], seed=1)
    keras.utils.set_random_seed(1)
    cnn = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
        keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(10),
    ])
    _trained(cnn, x[:-200].reshape(-1, 8, 8, 1), y[:-200], 1)
    cnn_grids = _put_on_grids(cnn, ["4bit", "binary", "int8", "pow2"], x[:-200].reshape(-1, 8, 8, 1), y[:-200], seed=2)
    out = {}
    for name, model, grids, shape in (("mlp", mlp, mlp_grids, (64,)), ("cnn", cnn, cnn_grids, (8, 8, 1))):
        calib = x[:200].reshape((-1,) + shape)
        test = x[-200:].reshape((-1,) + shape)
        files = {c: convert_int8(model, calib, compact=c) for c in (False, True)}
        out[name] = dict(model=model, grids=grids, calib=calib, test=test, files=files,
                         pinned={c: pin_weight_grids(f, grids) for c, f in files.items()},
                         keras=model.predict(test, verbose=0))
    return out


def _run(flatbuffer, x, delegates=True):
    """Outputs of the stock interpreter on batch x (float or int8 I/O)."""
    kwargs = {} if delegates else {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
    it = Interpreter(model_content=flatbuffer, **kwargs)
    inp = it.get_input_details()[0]
    it.resize_tensor_input(inp["index"], list(x.shape))
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    if inp["dtype"] == np.int8:
        s, z = inp["quantization"]
        x = np.clip(np.round(x / s + z), -128, 127).astype(np.int8)
    it.set_tensor(inp["index"], x)
    it.invoke()
    y = it.get_tensor(out["index"])
    if out["dtype"] == np.int8:
        s, z = out["quantization"]
        y = (y.astype(np.float32) - z) * s
    return y


def _output_quantum(flatbuffer):
    """The int8 output's scale (before a trailing DEQUANTIZE, if any)."""
    model = _unpack(flatbuffer)
    g = model.subgraphs[0]
    out = g.outputs[0]
    for name, op in zip(_op_names(model), g.operators):
        if name == "DEQUANTIZE" and op.outputs[0] == out:
            out = op.inputs[0]
    return float(g.tensors[out].quantization.scale[0])


def _agreement(y, ref, quantum):
    """(fraction of all inputs with Keras's argmax, the same over inputs whose Keras top-2
    margin exceeds two output quanta: closer ties are below the file's output resolution)."""
    same = np.argmax(y, 1) == np.argmax(ref, 1)
    top = np.sort(ref, 1)
    clear = top[:, -1] - top[:, -2] > 2 * quantum
    return float(np.mean(same)), float(np.mean(same[clear]))


def _unpack(flatbuffer):
    return schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)


def _op_names(model):
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    codes = [model.operatorCodes[op.opcodeIndex] for op in model.subgraphs[0].operators]
    return [names[max(c.builtinCode, c.deprecatedBuiltinCode)] for c in codes]


# ---- Exactness


@pytest.mark.parametrize("compact", [False, True], ids=["dense", "compact"])
@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_codes_and_zeros_survive(cases, name, compact):
    case = cases[name]
    before = check_int8_grids(case["files"][compact], case["grids"])
    after = check_int8_grids(case["pinned"][compact], case["grids"])
    # The converter's own file loses the 4-bit grid (its scale is max|w_c| / 127; a grid whose
    # largest code is 1 or 127 may survive it by luck) ...
    assert not before[case["grids"][0].name]["exact"], before
    # ... the pinned one stores them bit for bit, with every zero where it was.
    for grid in case["grids"]:
        r = after[grid.name]
        assert r["exact"] and r["codes_exact"] and r["max_abs_error"] == 0.0, (grid.name, r)
        assert r["zeros_file"] == r["zeros_kernel"] == int(np.count_nonzero(grid.codes == 0))
    if compact:  # the 80%-zero kernels really are stored in the sparse encoding
        assert after[case["grids"][0].name]["sparse"], after
        assert "DENSIFY" in _op_names(_unpack(case["pinned"][compact]))


@pytest.mark.parametrize("compact", [False, True], ids=["dense", "compact"])
@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_scales_and_biases(cases, name, compact):
    """Weight scales are the steps (zero points 0; a pruned channel keeps a positive scale),
    biases sit at input_scale * weight_scale per channel, the sparse pattern is untouched."""
    case = cases[name]
    old, new = _unpack(case["files"][compact]), _unpack(case["pinned"][compact])
    g_old, g = old.subgraphs[0], new.subgraphs[0]
    steps = {tuple(gr.kernel.shape): gr for gr in case["grids"]}
    checked = 0
    for op_name, op in zip(_op_names(new), g.operators):
        if op_name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        x, w = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]]
        grid = steps[tuple(w.shape)]
        scale = np.asarray(w.quantization.scale)
        assert np.all(scale > 0) and not np.any(w.quantization.zeroPoint)
        live = grid.step > 0
        assert np.array_equal(scale[live], grid.step[live])
        assert w.quantization.quantizedDimension == grid.axis
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            b = g.tensors[op.inputs[2]]
            expect = np.float64(x.quantization.scale[0]) * scale.astype(np.float64)
            np.testing.assert_allclose(np.asarray(b.quantization.scale, np.float64), expect, rtol=1e-6)
            # The bias's float value moved by at most one new unit (plus the old rounding).
            b_old = g_old.tensors[op.inputs[2]]
            f_old = np.frombuffer(bytes(old.buffers[b_old.buffer].data), np.int32)
            f_old = f_old * np.asarray(b_old.quantization.scale)
            f_new = np.frombuffer(bytes(new.buffers[b.buffer].data), np.int32) * np.asarray(b.quantization.scale)
            assert np.all(np.abs(f_new - f_old) <= 0.5 * np.asarray(b.quantization.scale) * 1.001 + 1e-12)
            checked += 1
    assert checked >= 2
    # Same sparsity parameters before and after (only values and scales changed).
    for t_old, t_new in zip(g_old.tensors, g.tensors):
        assert (t_old.sparsity is None) == (t_new.sparsity is None)
        if t_new.sparsity is not None:
            for a, b in zip(t_old.sparsity.dimMetadata, t_new.sparsity.dimMetadata):
                assert a.format == b.format and a.denseSize == b.denseSize
                if a.arrayIndices is not None:
                    assert np.array_equal(a.arrayIndices.values, b.arrayIndices.values)
                    assert np.array_equal(a.arraySegments.values, b.arraySegments.values)


# ---- Running


@pytest.mark.parametrize("compact", [False, True], ids=["dense", "compact"])
@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_int8_model_agrees_with_keras(cases, name, compact):
    case = cases[name]
    ref = case["keras"]
    # ai_edge_litert's XNNPACK delegate fails to prepare a FULLY_CONNECTED fed by DENSIFY
    # in these int8 files (the stock converter's and ours alike): compact files run on the
    # built-in kernels.
    delegates = not compact
    errors = {}
    for which in ("files", "pinned"):
        y = _run(case[which][compact], case["test"], delegates)
        agree_all, agree_clear = _agreement(y, ref, _output_quantum(case[which][compact]))
        assert agree_clear >= 0.99 and agree_all >= 0.97, (which, agree_all, agree_clear)
        errors[which] = float(np.mean(np.abs(y - ref)))
    # Pinning removes the weight rounding; what remains is activation rounding.
    scale = float(np.mean(np.abs(ref)))
    assert errors["pinned"] <= 1.25 * errors["files"] + 1e-3 * scale, errors
    assert errors["pinned"] <= 0.05 * scale, errors
    if not compact:  # the same file on the built-in kernels
        y = _run(case["pinned"][compact], case["test"], delegates=False)
        assert _agreement(y, ref, _output_quantum(case["pinned"][compact]))[1] >= 0.99


def test_int8_io(cases):
    case = cases["cnn"]
    flatbuffer = pin_weight_grids(convert_int8(case["model"], case["calib"], int8_io=True), case["grids"])
    model = _unpack(flatbuffer)
    g = model.subgraphs[0]
    assert g.tensors[g.inputs[0]].type == schema.TensorType.INT8
    assert g.tensors[g.outputs[0]].type == schema.TensorType.INT8
    assert all(r["exact"] for r in check_int8_grids(flatbuffer, case["grids"]).values())
    y = _run(flatbuffer, case["test"])
    assert _agreement(y, case["keras"], _output_quantum(flatbuffer))[1] >= 0.99


def test_per_tensor_weights_become_per_channel(cases, tmp_path):
    """A file with per-tensor weight scales (the converter's per-channel quantization turned
    off) is pinned to per-channel scales and biases, and still runs."""
    import tensorflow as tf

    case = cases["cnn"]
    case["model"].export(str(tmp_path / "sm"), format="tf_saved_model", verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path / "sm"))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([c[None]] for c in case["calib"])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter._experimental_disable_per_channel = True
    flatbuffer = converter.convert()
    sg = _unpack(flatbuffer).subgraphs[0]
    weights = [sg.tensors[op.inputs[1]] for op in sg.operators if len(op.inputs) > 1 and op.inputs[1] >= 0]
    assert all(len(w.quantization.scale) == 1 for w in weights if w.type == schema.TensorType.INT8)
    pinned = pin_weight_grids(flatbuffer, case["grids"])
    assert all(r["exact"] for r in check_int8_grids(pinned, case["grids"]).values())
    y = _run(pinned, case["test"])
    assert _agreement(y, case["keras"], _output_quantum(pinned))[1] >= 0.99


def test_fc_blocks_1x16_read_without_densify(digits):
    """FULLY_CONNECTED weights pruned in 1x16 blocks: the converter keeps the blocks (block map
    [1], DENSE / SPARSE_CSR / DENSE(16)) and no DENSIFY; the pinned values follow the blocks."""
    x, y = digits
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10)])
    _trained(model, x[:-200], y[:-200], 3)
    rng = np.random.default_rng(3)
    kernel, bias = model.layers[0].get_weights()
    t = kernel.T  # (32, 64): 32 rows of 4 blocks of 16
    keep = np.kron(rng.random((32, 4)) >= 0.75, np.ones((1, 16))) > 0
    step = (np.abs(t * keep).max(axis=1) / 15 / 1.1).astype(np.float32)
    step[step == 0] = 1e-3
    codes = np.clip(np.round(t * keep / step[:, None]), -15, 15).astype(np.int8)
    exact = step[:, None] * codes.astype(np.float32)
    model.layers[0].set_weights([exact.T, bias])
    grids = [WeightGrid("blocks", exact, 0, step, codes)]
    flatbuffer = convert_int8(model, x[:200], compact=True)
    m = _unpack(flatbuffer)
    assert "DENSIFY" not in _op_names(m)
    sparse = [t for t in m.subgraphs[0].tensors if t.sparsity is not None]
    assert len(sparse) == 1 and list(sparse[0].sparsity.blockMap) == [1]
    pinned = pin_weight_grids(flatbuffer, grids)
    r = check_int8_grids(pinned, grids)["blocks"]
    assert r["exact"] and r["sparse"] and r["zeros_file"] == r["zeros_kernel"]
    ref = model.predict(x[-200:], verbose=0)
    for delegates in (True, False):
        out = _run(pinned, x[-200:], delegates)
        assert _agreement(out, ref, _output_quantum(pinned))[1] >= 0.99


def test_check_reports_pinned_vs_converter(cases):
    case = cases["mlp"]
    before = check_int8_grids(case["files"][False], case["grids"])
    for grid in case["grids"][:2]:  # 4-bit and powers of two (ternary may survive by luck)
        r = before[grid.name]
        assert not r["exact"] and 0 < r["max_abs_error"] <= float(grid.step.max())
    for r in before.values():
        assert r["zeros_file"] == r["zeros_kernel"]  # the converter never rounds a nonzero code to 0


def test_tied_weights_share_one_tensor():
    """The converter stores identical kernels once; identical grids then pin that one tensor,
    and both ops' biases follow."""
    rng = np.random.default_rng(5)
    inp = keras.Input((8,), name="x")
    first, second = keras.layers.Dense(8, activation="relu"), keras.layers.Dense(8)
    model = keras.Model(inp, second(first(inp)))
    k = rng.standard_normal((8, 8)).astype(np.float32)
    step = (np.abs(k).max(axis=0) / 7 / 1.2).astype(np.float32)
    codes = np.clip(np.round(k / step), -7, 7).astype(np.int8)
    exact = step * codes.astype(np.float32)
    first.set_weights([exact, np.full(8, 0.5, np.float32)])
    second.set_weights([exact, np.full(8, -0.25, np.float32)])
    grids = [WeightGrid(n, exact.T, 0, step, codes.T) for n in ("first", "second")]
    x = rng.random((200, 8)).astype(np.float32)
    flatbuffer = convert_int8(model, x)
    sg = _unpack(flatbuffer).subgraphs[0]
    assert len({op.inputs[1] for op in sg.operators if len(op.inputs) > 1}) == 1  # one tensor
    pinned = pin_weight_grids(flatbuffer, grids)
    report = check_int8_grids(pinned, grids)
    assert all(r["exact"] and r["ops"] == ["FULLY_CONNECTED"] * 2 for r in report.values()), report
    ref = model.predict(x, verbose=0)
    for f in (flatbuffer, pinned):
        assert np.max(np.abs(_run(f, x) - ref)) <= 4 * _output_quantum(f)


def test_multi_input_calibration_by_name():
    """Samples are lists in the model's input order; the converter sees them by input name (its
    signature sorts them), so each input gets its own range."""
    rng = np.random.default_rng(6)
    small, big = keras.Input((4,), name="small"), keras.Input((6,), name="big")
    out = keras.layers.Concatenate()([keras.layers.Dense(3)(small), keras.layers.Dense(3)(big)])
    model = keras.Model([small, big], out)
    data = [[rng.random((1, 4)).astype(np.float32), 100 * rng.random((1, 6)).astype(np.float32)] for _ in range(50)]
    flatbuffer = convert_int8(model, lambda: iter(data))
    it = Interpreter(model_content=flatbuffer)
    scales = {}
    for d in it.get_tensor_details():
        if d["dtype"] == np.int8 and len(d["shape"]) == 2 and d["shape"][1] in (4, 6) and d["quantization"][0] > 0:
            scales.setdefault(int(d["shape"][1]), d["quantization"][0])
    assert scales[4] < 1.5 / 255 and scales[6] > 80 / 255, scales
    with pytest.raises(TypeError, match="for a model of 2 inputs"):
        convert_int8(model, np.zeros((4, 4), np.float32))


# ---- The sparse decoder against a plain encoder


def _encode(dense, order, block_map, formats):
    """TFLite-style encoding of `dense` (reference, recursive): (stored values, dim metadata)."""
    rank = dense.ndim
    block = [1] * rank
    sizes = list(dense.shape)
    for k, d in enumerate(block_map):
        block[d] = formats[order.index(rank + k)][1]
        sizes[d] //= block[d]
        sizes.append(block[d])

    def value(coord):
        idx = [coord[d] * block[d] for d in range(rank)]
        for k, d in enumerate(block_map):
            idx[d] += coord[rank + k]
        return dense[tuple(idx)]

    def subtree_nonzero(coord, level):
        if level == len(order):
            return value(coord) != 0
        return any(subtree_nonzero({**coord, order[level]: i}, level + 1) for i in range(sizes[order[level]]))

    segments = [[0] for _ in order]
    indices = [[] for _ in order]
    values = []

    def walk(coord, level):
        if level == len(order):
            values.append(value(coord))
            return
        dim = order[level]
        for i in range(sizes[dim]):
            c = {**coord, dim: i}
            if formats[level][0] == "sparse":
                if not subtree_nonzero(c, level + 1):
                    continue
                indices[level].append(i)
            walk(c, level + 1)
        if formats[level][0] == "sparse":
            segments[level].append(len(indices[level]))

    walk({}, 0)
    metadata = []
    for level, (fmt, size) in enumerate(formats):
        md = schema.DimensionMetadataT()
        if fmt == "dense":
            md.format, md.denseSize = schema.DimensionType.DENSE, size
        else:
            md.format = schema.DimensionType.SPARSE_CSR
            md.arraySegmentsType = md.arrayIndicesType = schema.SparseIndexVector.Int32Vector
            md.arraySegments, md.arrayIndices = schema.Int32VectorT(), schema.Int32VectorT()
            md.arraySegments.values = np.asarray(segments[level], np.int32)
            md.arrayIndices.values = np.asarray(indices[level], np.int32)
        metadata.append(md)
    sp = schema.SparsityParametersT()
    sp.traversalOrder, sp.blockMap, sp.dimMetadata = list(order), list(block_map), metadata
    return np.asarray(values), sp


@pytest.mark.parametrize(
    "shape,order,block_map,formats",
    [
        ((5, 7), [0, 1], [], [("dense", 5), ("sparse", 0)]),  # what the converter writes
        ((3, 2, 2, 5), [0, 1, 2, 3], [], [("dense", 3), ("dense", 2), ("dense", 2), ("sparse", 0)]),
        ((4, 32), [0, 1, 2], [1], [("dense", 4), ("sparse", 0), ("dense", 16)]),  # 1x16 blocks
        ((6, 8), [0, 1, 2, 3], [0, 1], [("dense", 3), ("sparse", 0), ("dense", 2), ("dense", 4)]),
        ((6, 5), [1, 0], [], [("dense", 5), ("sparse", 0)]),  # column-major CSC
        ((4, 6), [0, 1], [], [("sparse", 0), ("sparse", 0)]),  # doubly compressed
        ((1, 1), [0, 1], [], [("dense", 1), ("sparse", 0)]),
    ],
)
def test_sparse_positions_against_reference(shape, order, block_map, formats):
    rng = np.random.default_rng(len(order) * 10 + len(shape))
    dense = (rng.integers(-3, 4, shape) * (rng.random(shape) < 0.4)).astype(np.int32)
    dense[0] = 0  # an empty row
    values, sp = _encode(dense, order, block_map, formats)
    pos = sparse_positions(shape, sp, len(values))
    assert np.array_equal(dense.reshape(-1)[pos], values)
    assert np.count_nonzero(values) == np.count_nonzero(dense)


def test_sparse_positions_rejects_bad_parameters():
    dense = np.array([[0, 1, 0, 2], [3, 0, 0, 0]])
    values, sp = _encode(dense, [0, 1], [], [("dense", 2), ("sparse", 0)])
    with pytest.raises(ValueError, match="buffer holds 4"):
        sparse_positions((2, 4), sp, 4)
    sp.dimMetadata[1].arrayIndices.values = np.asarray([0, 7, 0], np.int32)
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 4\)"):
        sparse_positions((2, 4), sp, len(values))
    sp.dimMetadata[1].arrayIndices.values = np.asarray([1, 1, 0], np.int32)
    with pytest.raises(ValueError, match="twice"):
        sparse_positions((2, 4), sp, len(values))
    sp.dimMetadata[1].arraySegments.values = np.asarray([0, 2, 9], np.int32)
    with pytest.raises(ValueError, match="segments"):
        sparse_positions((2, 4), sp, len(values))
    sp.traversalOrder = [0, 0]
    with pytest.raises(ValueError, match="permutation"):
        sparse_positions((2, 4), sp, len(values))
    _, sp = _encode(np.ones((2, 4)), [0, 1, 2], [1], [("dense", 2), ("dense", 2), ("dense", 2)])
    sp.dimMetadata[2].format = schema.DimensionType.SPARSE_CSR
    with pytest.raises(ValueError, match="only DENSE block levels"):
        sparse_positions((2, 4), sp, 8)
    _, sp = _encode(np.ones((2, 6)), [0, 1, 2], [1], [("dense", 2), ("dense", 2), ("dense", 3)])
    sp.dimMetadata[2].denseSize = 4
    with pytest.raises(ValueError, match="does not divide"):
        sparse_positions((2, 6), sp, 12)


# ---- Errors


def _one(grid, **changes):
    fields = dict(name=grid.name, kernel=grid.kernel, axis=grid.axis, step=grid.step, codes=grid.codes, bias=grid.bias)
    fields.update(changes)
    return WeightGrid(**fields)


def test_unmatched_grids_are_named(cases):
    case = cases["mlp"]
    fb = case["files"][False]
    g = case["grids"][0]
    odd = WeightGrid("odd", np.zeros((3, 5), np.float32), 0, np.ones(3, np.float32), np.zeros((3, 5), np.int8))
    with pytest.raises(ValueError, match=r"grid 'odd'.*no int8 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED weight has shape"):
        pin_weight_grids(fb, [odd])
    # Right shape, other values (a kernel the file does not hold).
    codes = np.roll(g.codes, 1, axis=1)
    moved = _one(g, name="moved", codes=codes, kernel=g.step[:, None] * codes.astype(np.float32))
    with pytest.raises(ValueError, match=r"grid 'moved' matches no weight.*values off by"):
        pin_weight_grids(fb, [moved])
    # The same weight twice (another bias, so not a tied copy): the second grid finds it taken.
    with pytest.raises(ValueError, match=r"grid 'again'.*already taken"):
        pin_weight_grids(fb, [g, _one(g, name="again", bias=np.zeros(len(g.step)))])
    with pytest.raises(ValueError, match=r"grid 'moved' matches no weight"):
        check_int8_grids(fb, [moved])


def test_undecodable_sparsity_is_reported_for_its_grid_only(cases):
    import flatbuffers

    case = cases["cnn"]
    model = _unpack(case["files"][True])
    dw = case["grids"][1]
    hit = [t for t in model.subgraphs[0].tensors if t.sparsity is not None and tuple(t.shape) == dw.kernel.shape]
    assert len(hit) == 1
    hit[0].sparsity.traversalOrder = [0, 0, 1, 2]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    broken = bytes(builder.Output())
    with pytest.raises(ValueError, match=rf"grid '{dw.name}'.*traversal_order \[0, 0, 1, 2\] must be a permutation"):
        pin_weight_grids(broken, case["grids"])
    others = [g for g in case["grids"] if g is not dw]
    assert all(r["exact"] for r in check_int8_grids(pin_weight_grids(broken, others), others).values())


def test_bad_grids(cases):
    fb = cases["mlp"]["files"][False]
    g = cases["mlp"]["grids"][0]
    big = g.codes.astype(np.int32)
    big[0, 0] = 128
    with pytest.raises(ValueError, match=rf"grid '{g.name}'.*\[-127, 127\].*128"):
        pin_weight_grids(fb, [_one(g, codes=big)])
    with pytest.raises(ValueError, match=rf"grid '{g.name}'.*\[-127, 127\]"):
        pin_weight_grids(fb, [_one(g, codes=np.full_like(big, -128))])
    with pytest.raises(ValueError, match=rf"grid '{g.name}'.*step \* codes exactly"):
        pin_weight_grids(fb, [_one(g, kernel=g.kernel * 1.01)])
    with pytest.raises(ValueError, match=rf"grid '{g.name}'.*`codes` must be an integer array"):
        pin_weight_grids(fb, [_one(g, codes=g.codes.astype(np.float32))])
    with pytest.raises(ValueError, match=rf"grid '{g.name}'.*`step` must be 48 numbers"):
        pin_weight_grids(fb, [_one(g, step=g.step[:5])])
    with pytest.raises(ValueError, match=rf"grid '{g.name}'.*`axis` must be 0, or 3"):
        pin_weight_grids(fb, [_one(g, axis=1)])
    with pytest.raises(ValueError, match=r"names must be unique"):
        pin_weight_grids(fb, [g, g])
    with pytest.raises(TypeError, match=r"`grids\[0\]` must be a WeightGrid"):
        pin_weight_grids(fb, [{"name": "x"}])
    with pytest.raises(TypeError, match="`flatbuffer` must be the bytes"):
        pin_weight_grids("model.tflite", [g])
    with pytest.raises(ValueError, match="not a TFLite model"):
        pin_weight_grids(b"\0" * 64, [g])
    # A bias that the grid's step cannot represent in int32.
    huge = _one(g, bias=np.full(len(g.step), 1e12))
    with pytest.raises(ValueError, match=rf"grid '{g.name}'.*outside the int32 range"):
        pin_weight_grids(fb, [huge])


def test_float_bias_is_used_when_given(cases):
    case = cases["mlp"]
    g = case["grids"][2]
    bias = case["model"].layers[2].get_weights()[1].astype(np.float64)
    pinned = pin_weight_grids(case["files"][False], [_one(g, bias=bias)])
    m = _unpack(pinned)
    sg = m.subgraphs[0]
    fc = [op for name, op in zip(_op_names(m), sg.operators) if name == "FULLY_CONNECTED"][-1]
    b = sg.tensors[fc.inputs[2]]
    q = np.frombuffer(bytes(m.buffers[b.buffer].data), np.int32)
    assert np.array_equal(q, np.round(bias / np.asarray(b.quantization.scale, np.float64)).astype(np.int32))


def test_bad_representative_data(cases):
    model, calib = cases["cnn"]["model"], cases["cnn"]["calib"]
    for data, exc, pattern in [
        (list(calib), TypeError, r"`representative_data` must be a NumPy array of samples"),
        ("digits", TypeError, r"`representative_data` must be"),
        (None, TypeError, r"`representative_data` must be"),
        (calib[:0], ValueError, "empty array"),
        (calib.reshape(-1, 64), ValueError, r"sample 0, input 0: shape \(1, 64\), the model takes \(1, 8, 8, 1\)"),
        (np.full_like(calib, np.nan), ValueError, "NaN or Inf"),
        (calib.astype(str), TypeError, "must be numeric"),
        (lambda: iter([]), ValueError, "yielded no samples"),
        (lambda: 3, TypeError, r"returned int, not an iterable"),
        (lambda: ([c, c] for c in calib), ValueError, "has 2 arrays; the model takes 1 inputs"),
        (lambda: ({"x": c} for c in calib), TypeError, "must be a list of arrays"),
    ]:
        with pytest.raises(exc, match=pattern):
            convert_int8(model, data)
    with pytest.raises(TypeError, match="`compact` must be True or False"):
        convert_int8(model, calib, compact=1)
    with pytest.raises(TypeError, match="`int8_io` must be True or False"):
        convert_int8(model, calib, int8_io="yes")
    with pytest.raises(TypeError, match="`keras_model` must be a keras.Model"):
        convert_int8(os, calib)


def test_representative_generators(cases):
    """A generator function, a generator object and samples without a batch axis all work."""
    model, calib = cases["cnn"]["model"], cases["cnn"]["calib"][:20]
    for data in (lambda: ([c[None]] for c in calib), (c for c in calib)):
        flatbuffer = convert_int8(model, data)
        assert check_int8_grids(pin_weight_grids(flatbuffer, cases["cnn"]["grids"]), cases["cnn"]["grids"])
