"""``.tflite`` export of Keras 3 recurrent layers (tf_sparse/export/rnn.py).

Tiny LSTM, GRU and SimpleRNN models, Sequential and Functional, are exported and run in the
stock interpreter (built-in kernels only, so the op list is the file's own) on random inputs;
outputs must equal Keras' (rtol 1e-5). LSTMs must become UNIDIRECTIONAL_SEQUENCE_LSTM ops,
GRU and SimpleRNN a WHILE loop, or unrolled steps for layers built with ``unroll=True``.
"""

import keras
import numpy as np
import pytest

import tf_sparse as tfs

try:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
except ImportError:  # pragma: no cover
    pytest.skip("ai_edge_litert is not installed", allow_module_level=True)

FUSED = "UNIDIRECTIONAL_SEQUENCE_LSTM"
RTOL, ATOL = 1e-5, 1e-6


def _interpreter(path, delegates=False):
    kind = OpResolverType.AUTO if delegates else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    it = Interpreter(model_path=str(path), experimental_op_resolver_type=kind)
    it.allocate_tensors()
    return it


def _ops(it):
    return [op["op_name"] for op in it._get_ops_details()]


def _run(it, model, xs):
    """The file's outputs for inputs ``xs`` (one array per model input), in Keras' order."""
    runner = it.get_signature_runner()
    out = runner(**{t.name: x for t, x in zip(model.inputs, xs)})
    return [out[k] for k in sorted(out, key=lambda k: int(k.rsplit("_", 1)[-1]))]


def _keras(model, xs):
    y = model(xs if len(xs) > 1 else xs[0], training=False)
    return [np.asarray(t) for t in (y if isinstance(y, (list, tuple)) else [y])]


def _check_outputs(it, model, inputs):
    for xs in inputs:
        got, want = _run(it, model, xs), _keras(model, xs)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL)


def _randomize(model, rng, zeros=0.0):
    for w in model.weights:
        v = rng.normal(0, 0.5, size=w.shape).astype(np.float32)
        if zeros:
            v[rng.random(v.shape) < zeros] = 0
        w.assign(v)


def _layer(kind, **kw):
    return {"LSTM": keras.layers.LSTM, "GRU": keras.layers.GRU, "SimpleRNN": keras.layers.SimpleRNN}[kind](**kw)


# (functional, return_sequences, steps, go_backwards); steps None: undefined length, run at 1 and 7.
CONFIGS = [
    (False, True, 5, False),
    (True, False, 5, True),
    (False, False, 1, False),
    (True, True, None, False),
]


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
@pytest.mark.parametrize("functional,return_sequences,steps,go_backwards", CONFIGS)
def test_recurrent_layer_matches_keras(tmp_path, rng, kind, functional, return_sequences, steps, go_backwards):
    features = 3
    rnn = _layer(kind, units=4, return_sequences=return_sequences, go_backwards=go_backwards)
    if functional:
        x = keras.Input((steps, features), name="x")
        model = keras.Model(x, keras.layers.Dense(2)(rnn(x)))
    else:
        model = keras.Sequential([keras.Input((steps, features)), rnn, keras.layers.Dense(2)])
    _randomize(model, rng)
    path = tmp_path / "m.tflite"
    tfs.export_tflite(model, path)

    it = _interpreter(path)
    ops = _ops(it)
    if kind == "LSTM":
        assert ops.count(FUSED) == 1 and "WHILE" not in ops, ops
        assert ("REVERSE_V2" in ops) == go_backwards, ops
    else:
        assert "WHILE" in ops and FUSED not in ops, ops
    assert it.get_input_details()[0]["shape_signature"][0] == 1  # batch fixed to 1
    lengths = [steps] if steps else [1, 7]
    inputs = [[rng.normal(size=(1, t, features)).astype(np.float32)] for t in lengths for _ in range(2)]
    _check_outputs(it, model, inputs)
    # The default runtime (XNNPACK delegate) runs the file too.
    _check_outputs(_interpreter(path, delegates=True), model, inputs[:1])


@pytest.mark.parametrize("kind", ["GRU", "SimpleRNN"])
def test_unrolled_layers_have_no_loop(tmp_path, rng, kind):
    model = keras.Sequential([keras.Input((4, 3)), _layer(kind, units=5, unroll=True, return_sequences=True),
                              _layer(kind, units=3, unroll=True)])
    _randomize(model, rng)
    tfs.export_tflite(model, tmp_path / "m.tflite")
    it = _interpreter(tmp_path / "m.tflite")
    ops = _ops(it)
    assert "WHILE" not in ops and ops.count("FULLY_CONNECTED") >= 4, ops
    _check_outputs(it, model, [[rng.normal(size=(1, 4, 3)).astype(np.float32)] for _ in range(3)])


def test_stacked_lstms_and_batch_size(tmp_path, rng):
    """Three LSTMs, the last two in a nested model, with a fixed batch of 3."""
    inner = keras.Sequential([
        keras.Input((6, 8)),
        keras.layers.LSTM(5, return_sequences=True, go_backwards=True),
        keras.layers.LSTM(4, use_bias=False),
    ])
    model = keras.Sequential([keras.Input((6, 3)), keras.layers.LSTM(8, return_sequences=True), inner,
                              keras.layers.Dense(2)])
    _randomize(model, rng)
    tfs.export_tflite(model, tmp_path / "m.tflite", batch_size=3)
    it = _interpreter(tmp_path / "m.tflite")
    ops = _ops(it)
    assert ops.count(FUSED) == 3 and "WHILE" not in ops, ops
    assert list(it.get_input_details()[0]["shape_signature"]) == [3, 6, 3]
    _check_outputs(it, model, [[rng.normal(size=(3, 6, 3)).astype(np.float32)] for _ in range(2)])


def test_lstms_after_bidirectional_and_concatenation(tmp_path, rng):
    """Every LSTM fuses when its input comes from fused LSTMs through Bidirectional and
    Concatenate."""
    x = keras.Input((6, 3), name="x")
    a = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True))(x)
    b = keras.layers.LSTM(5, return_sequences=True)(a)
    y = keras.layers.LSTM(3)(keras.layers.Concatenate()([a, b]))
    model = keras.Model(x, y)
    _randomize(model, rng)
    tfs.export_tflite(model, tmp_path / "m.tflite")
    it = _interpreter(tmp_path / "m.tflite")
    ops = _ops(it)
    assert ops.count(FUSED) == 4 and "WHILE" not in ops, ops
    _check_outputs(it, model, [[rng.normal(size=(1, 6, 3)).astype(np.float32)] for _ in range(3)])


def test_gnmt_example_pruned_lstms_all_fuse(tmp_path, rng):
    """examples/gnmt.py's model, small, its LSTMs block-pruned (90%) and stripped: all five LSTMs
    (two of them tf_sparse's SparseLSTM inside Bidirectional, which stripping keeps) become fused
    ops holding the pruned gate matrices."""
    import importlib.util
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.util.spec_from_file_location("gnmt_example", os.path.join(root, "examples", "gnmt.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.gnmt(src_vocab=30, tgt_vocab=20, src_len=8, tgt_len=6, layers=2, units=64)
    sparse = tfs.sparsify(model, {keras.layers.LSTM: tfs.Block(0.9, block=(16, 1))})
    tfs.harden(sparse)
    model = tfs.strip(sparse)
    tfs.export_tflite(model, tmp_path / "m.tflite")
    it = _interpreter(tmp_path / "m.tflite")
    ops = _ops(it)
    assert ops.count(FUSED) == 5 and "WHILE" not in ops, ops
    for op in it._get_ops_details():
        if op["op_name"] == FUSED:
            gates = [it.get_tensor(i) for i in op["inputs"][1:9]]
            zeros = sum(int(np.sum(g == 0)) for g in gates) / sum(g.size for g in gates)
            assert zeros >= 0.89, zeros
    xs = [[rng.integers(1, 30, size=(1, 8)).astype(np.int32), rng.integers(1, 20, size=(1, 6)).astype(np.int32)]
          for _ in range(2)]
    _check_outputs(it, model, xs)


def test_lstm_encoder_decoder(tmp_path, rng):
    """The encoder hands its states to the decoder: an LSTM with return_state stays a loop (the
    fused op does not output its cell state), and so does the decoder, started from computed
    states; the file runs invocation after invocation with nothing carried over."""
    enc_in = keras.Input((5, 3), name="source")
    dec_in = keras.Input((4, 2), name="target")
    _, h, c = keras.layers.LSTM(6, return_state=True, name="encoder")(enc_in)
    y = keras.layers.LSTM(6, return_sequences=True, name="decoder")(dec_in, initial_state=[h, c])
    model = keras.Model([enc_in, dec_in], keras.layers.Dense(3)(y))
    _randomize(model, rng)
    tfs.export_tflite(model, tmp_path / "m.tflite")
    it = _interpreter(tmp_path / "m.tflite")
    ops = _ops(it)
    assert ops.count("WHILE") == 2 and FUSED not in ops, ops
    inputs = [[rng.normal(size=(1, 5, 3)).astype(np.float32), rng.normal(size=(1, 4, 2)).astype(np.float32)]
              for _ in range(3)]
    _check_outputs(it, model, inputs)


def test_lstm_with_90_percent_zeros(tmp_path, rng):
    model = keras.Sequential([keras.Input((5, 8)), keras.layers.LSTM(16), keras.layers.Dense(4)])
    _randomize(model, rng, zeros=0.9)
    lstm = model.layers[0]
    kernel_zeros = int(np.sum(lstm.cell.kernel.numpy() == 0) + np.sum(lstm.cell.recurrent_kernel.numpy() == 0))
    for compact in (False, True):
        path = tmp_path / f"m{compact}.tflite"
        tfs.export_tflite(model, path, compact=compact)
        it = _interpreter(path)
        assert _ops(it).count(FUSED) == 1
        # The fused op's eight gate matrices (inputs 1-8) keep every zero of the Keras kernels.
        op = next(op for op in it._get_ops_details() if op["op_name"] == FUSED)
        file_zeros = sum(int(np.sum(it.get_tensor(i) == 0)) for i in op["inputs"][1:9])
        assert file_zeros == kernel_zeros
        _check_outputs(it, model, [[rng.normal(size=(1, 5, 8)).astype(np.float32)] for _ in range(3)])


def test_masked_and_bidirectional(tmp_path, rng):
    tokens = keras.Input((6,), dtype="int32", name="tokens")
    e = keras.layers.Embedding(10, 3, mask_zero=True)(tokens)
    masked = keras.layers.LSTM(4, return_sequences=True)(e)  # masked: Keras' own loop
    y = keras.layers.Bidirectional(keras.layers.LSTM(3))(keras.layers.Dense(5)(keras.ops.stop_gradient(masked)))
    model = keras.Model(tokens, y)
    _randomize(model, rng)
    tfs.export_tflite(model, tmp_path / "m.tflite")
    it = _interpreter(tmp_path / "m.tflite")
    ops = _ops(it)
    assert "WHILE" in ops, ops
    xs = [[np.array([[3, 1, 4, 1, 0, 0]], np.int32)], [np.array([[9, 2, 6, 5, 3, 5]], np.int32)]]
    _check_outputs(it, model, xs)


def test_int8(tmp_path, rng):
    """Full-integer files: the LSTM is a quantized fused op, the GRU is unrolled (TF's quantizer
    cannot take a WHILE loop); outputs within a few output quanta of Keras (the fused int8 LSTM keeps
    its cell state in int8: a few percent of the output range, docs/export.md)."""
    keras.utils.set_random_seed(3)
    for kind, op in (("LSTM", FUSED), ("GRU", "FULLY_CONNECTED")):
        model = keras.Sequential([keras.Input((5, 3)), _layer(kind, units=6), keras.layers.Dense(2)])
        _randomize(model, rng)
        data = rng.normal(size=(64, 5, 3)).astype(np.float32)
        tfs.export_tflite(model, tmp_path / "q.tflite", int8=True, representative_data=data)
        it = _interpreter(tmp_path / "q.tflite")
        ops = _ops(it)
        assert op in ops and "WHILE" not in ops, (kind, ops)
        fused = [d for d in it._get_ops_details() if d["op_name"] == FUSED]
        if fused:
            assert it._get_tensor_details(fused[0]["inputs"][1], 0)["dtype"] == np.int8
        want = _keras(model, [data[:20]])[0]
        got = np.concatenate([_run(it, model, [data[i : i + 1]])[0] for i in range(20)])
        spread = want.max() - want.min()
        assert np.max(np.abs(got - want)) < 0.08 * spread, (kind, np.max(np.abs(got - want)), spread)


def test_int8_fixes_an_undefined_length(tmp_path, rng):
    model = keras.Sequential([keras.Input((None, 3)), keras.layers.SimpleRNN(6), keras.layers.Dense(2)])
    _randomize(model, rng)
    data = rng.normal(size=(32, 4, 3)).astype(np.float32)
    tfs.export_tflite(model, tmp_path / "q.tflite", int8=True, representative_data=data, sequence_length=4)
    it = _interpreter(tmp_path / "q.tflite")
    assert list(it.get_input_details()[0]["shape_signature"]) == [1, 4, 3]
    assert "WHILE" not in _ops(it)
    want, got = _keras(model, [data[:1]])[0], _run(it, model, [data[:1]])[0]
    assert np.max(np.abs(got - want)) < 0.05 * (np.abs(want).max() + 1e-3)


def test_errors(tmp_path, rng):
    stateful = keras.Sequential([keras.Input((4, 3), batch_size=1), keras.layers.GRU(2, stateful=True, name="memory")])
    with pytest.raises(ValueError, match=r"layer 'memory' \(GRU\) has stateful=True"):
        tfs.export_tflite(stateful, tmp_path / "s.tflite")
    model = keras.Sequential([keras.Input((4, 3)), keras.layers.LSTM(2)])
    for arg, bad in (("batch_size", 0), ("batch_size", 1.0), ("sequence_length", -2), ("sequence_length", True)):
        with pytest.raises(ValueError, match=f"`{arg}` must be None or a positive int"):
            tfs.export_tflite(model, tmp_path / "m.tflite", **{arg: bad})
    with pytest.raises(ValueError, match="declares the length of every input"):
        tfs.export_tflite(model, tmp_path / "m.tflite", sequence_length=4)
    with pytest.raises(ValueError, match="int8 files take batch 1"):
        tfs.export_tflite(model, tmp_path / "m.tflite", int8=True, representative_data=np.zeros((2, 4, 3), np.float32),
                          batch_size=2)
    open_length = keras.Sequential([keras.Input((None, 3)), keras.layers.SimpleRNN(2, name="rnn")])
    with pytest.raises(ValueError, match=r"recurrent layer\(s\) \['rnn'\] needs a fixed sequence length.*pass `sequence_length`"):
        tfs.export_tflite(open_length, tmp_path / "m.tflite", int8=True,
                          representative_data=np.zeros((2, 4, 3), np.float32))


def test_models_without_rnn_keep_their_signature(tmp_path, rng):
    model = keras.Sequential([keras.Input((None, 3)), keras.layers.Conv1D(2, 3), keras.layers.Dense(2)])
    tfs.export_tflite(model, tmp_path / "a.tflite")
    unallocated = Interpreter(model_path=str(tmp_path / "a.tflite"))
    assert list(unallocated.get_input_details()[0]["shape_signature"]) == [-1, -1, 3]
    tfs.export_tflite(model, tmp_path / "b.tflite", batch_size=2, sequence_length=9)
    it = _interpreter(tmp_path / "b.tflite")
    assert list(it.get_input_details()[0]["shape_signature"]) == [2, 9, 3]
    _check_outputs(it, model, [[rng.normal(size=(2, 9, 3)).astype(np.float32)]])


@pytest.mark.parametrize("kind,runtime", [("LSTM", "litert"), ("LSTM", "tf"), ("GRU", "litert")])
def test_tf_sparse_delegate_runs_recurrent_files(tmp_path, kind, runtime):
    """A 90%-pruned recurrent layer feeding a 90%-pruned Dense head: the delegate takes the
    head and the fused LSTM (a GRU stays a WHILE loop) and matches the stock
    interpreter run after run (nothing carried over between runs)."""
    from tf_sparse.runtime import make_interpreter

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6, 8)), _layer(kind, units=64),
                              keras.layers.Dense(96, activation="relu"), keras.layers.Dense(10)])
    rng = np.random.default_rng(0)
    for w in model.weights:
        v = rng.normal(0, 0.3, size=w.shape).astype(np.float32)
        if v.ndim == 2:
            v[rng.random(v.shape) < 0.9] = 0
        w.assign(v)
    path = str(tmp_path / "m.tflite")
    tfs.export_tflite(model, path)
    stock, _ = make_interpreter(path, backend="builtin", runtime=runtime)
    ours, delegate = make_interpreter(path, backend="tf_sparse", runtime=runtime)
    report = tfs.delegate_report(delegate)
    claimed = [r["op"] for r in report if r["claimed"]]
    # (the GRU's pruned step products in the loop body may be claimed too)
    assert claimed.count("FULLY_CONNECTED") >= 2 and (FUSED in claimed) == (kind == "LSTM"), report
    for _ in range(3):
        x = rng.normal(size=(1, 6, 8)).astype(np.float32)
        outs = []
        for it in (stock, ours):
            it.set_tensor(it.get_input_details()[0]["index"], x)
            it.invoke()
            outs.append(it.get_tensor(it.get_output_details()[0]["index"]))
        np.testing.assert_allclose(outs[1], outs[0], rtol=1e-5, atol=1e-5 * np.abs(outs[0]).max())
        np.testing.assert_allclose(outs[0], _keras(model, [x])[0], rtol=RTOL, atol=1e-5)
