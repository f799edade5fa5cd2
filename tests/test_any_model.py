"""Any Keras model, pruned in place: keras_hub backbones, subclassed models with nested layers,
attention (EinsumDense), transposed and separable convolutions, recurrent layers, embeddings.

keras_hub models are built from arguments (tiny sizes); nothing is downloaded."""

import os
import warnings

import keras
import numpy as np
import pytest

import tf_sparse as tfs

keras_hub = pytest.importorskip("keras_hub")

SEQ = 16


def _bert(num_layers=2):
    keras.utils.set_random_seed(1)
    return keras_hub.models.BertBackbone(
        vocabulary_size=64, num_layers=num_layers, num_heads=2, hidden_dim=32, intermediate_dim=64,
        max_sequence_length=SEQ, name="bert")


def _bert_inputs(n=8, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "token_ids": rng.integers(0, 64, (n, SEQ)).astype("int32"),
        "segment_ids": np.zeros((n, SEQ), "int32"),
        "padding_mask": np.ones((n, SEQ), "int32"),
    }


def _max_diff(a, b):
    if isinstance(a, dict):
        return max(float(np.max(np.abs(np.asarray(a[k]) - np.asarray(b[k])))) for k in a)
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def _check_structures(model):
    """Every pruned kernel is a point of its structure's constraint set at its sparsity."""
    for layer in tfs.sparse_layers(model):
        kernel = layer.kernel_numpy()
        view = layer.structure_view(kernel)
        assert layer.structure.is_valid(view), layer.sparse_path


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def test_bert_backbone_prune_train_save_resume_strip_export(tmp_path):
    backbone = _bert()
    x = _bert_inputs()
    ref = backbone.predict(x, verbose=0)
    steps = 4
    schedule = tfs.PolynomialDecay(0.0, 0.75, begin_step=0, end_step=steps, frequency=1)
    config = {"transformer_layer_*": tfs.Block(0.75, block=(16, 1)), "pooled_dense": None}
    sparse = tfs.sparsify(backbone, config, schedule=schedule)
    assert type(sparse).__name__ == "BertBackbone" and isinstance(sparse, keras_hub.models.BertBackbone)
    assert sparse is not backbone and not tfs.sparse_layers(backbone)
    paths = [layer.sparse_path for layer in tfs.sparse_layers(sparse)]
    assert paths[:6] == [
        "transformer_layer_0/self_attention_layer/query/kernel",
        "transformer_layer_0/self_attention_layer/key/kernel",
        "transformer_layer_0/self_attention_layer/value/kernel",
        "transformer_layer_0/self_attention_layer/attention_output/kernel",
        "transformer_layer_0/feedforward_intermediate_dense",
        "transformer_layer_0/feedforward_output_dense",
    ] and len(paths) == 12
    assert _max_diff(sparse.predict(x, verbose=0), ref) == 0.0  # nothing pruned before training

    targets = {"sequence_output": np.zeros((8, SEQ, 32), "float32"), "pooled_output": np.zeros((8, 32), "float32")}
    sparse.compile(keras.optimizers.Adam(1e-3), "mse")
    history = sparse.fit(x, targets, batch_size=4, epochs=3, verbose=0, callbacks=[tfs.UpdateMasks()])
    for layer in tfs.sparse_layers(sparse):
        assert layer.sparsity() == pytest.approx(0.75, abs=0.02), layer.sparse_path
    assert "sparsity/transformer_layer_1/self_attention_layer/value/kernel" in history.history
    _check_structures(sparse)
    # The 16x1 blocks of the query projection (kernel (hidden, heads, head_dim)) run along head_dim.
    query = tfs.sparse_layers(sparse)[0]
    q = query.kernel_numpy().reshape(32, -1)
    blocks = (q.reshape(32, -1, 16) != 0)
    assert np.all(blocks.all(axis=2) | ~blocks.any(axis=2))

    # .keras round trip: same class, same outputs, masks and schedule state kept.
    out = sparse.predict(x, verbose=0)
    path = tmp_path / "bert.keras"
    sparse.save(path)
    again = keras.saving.load_model(path)
    assert type(again).__name__ == "BertBackbone"
    assert _max_diff(again.predict(x, verbose=0), out) == 0.0
    assert [int(layer.pruning_step.numpy()) for layer in tfs.sparse_layers(again)] == [6] * 12
    again.compile(keras.optimizers.Adam(1e-3), "mse")
    again.fit(x, targets, batch_size=4, epochs=1, verbose=0, callbacks=[tfs.UpdateMasks()])
    for a, b in zip(tfs.sparse_layers(again), tfs.sparse_layers(sparse)):
        # masks hold: what was pruned stays pruned
        assert np.all(a.kernel_numpy()[b.kernel_numpy() == 0] == 0)

    # Resume from weights: the same architecture sparsified the same way takes the checkpoint.
    weights = tmp_path / "bert.weights.h5"
    sparse.save_weights(weights)
    fresh = _quiet(tfs.sparsify, _bert(), config, schedule=schedule)
    fresh.load_weights(weights)
    assert _max_diff(fresh.predict(x, verbose=0), out) == 0.0

    # strip: the backbone's own class, plain layers, exact zeros.
    plain = tfs.strip(sparse)
    assert type(plain) is keras_hub.models.BertBackbone and not tfs.sparse_layers(plain)
    assert _max_diff(plain.predict(x, verbose=0), out) < 1e-6
    plain_path = tmp_path / "plain.keras"
    plain.save(plain_path)
    assert type(keras.saving.load_model(plain_path)) is keras_hub.models.BertBackbone

    # .tflite: the stock interpreter matches Keras, the delegate matches the stock interpreter.
    from ai_edge_litert.interpreter import Interpreter

    file = str(tmp_path / "bert.tflite")
    tfs.export_tflite(plain, file)
    one = {k: v[:2] for k, v in x.items()}
    expected = plain.predict(one, verbose=0)
    stock = Interpreter(file).get_signature_runner()(**one)
    assert _max_diff({k: stock[k] for k in expected}, expected) < 1e-4
    delegated = Interpreter(file, experimental_delegates=[tfs.load_delegate()]).get_signature_runner()(**one)
    assert _max_diff({k: delegated[k] for k in expected}, {k: stock[k] for k in expected}) < 1e-4


@pytest.mark.parametrize("family", ["distil_bert", "gpt2"])
def test_second_keras_hub_family(family, tmp_path):
    keras.utils.set_random_seed(2)
    kwargs = dict(vocabulary_size=64, num_layers=1, num_heads=2, hidden_dim=32, intermediate_dim=64,
                  max_sequence_length=SEQ)
    cls = keras_hub.models.DistilBertBackbone if family == "distil_bert" else keras_hub.models.GPT2Backbone
    backbone = cls(**kwargs)
    x = {"token_ids": np.random.default_rng(0).integers(0, 64, (4, SEQ)).astype("int32"),
         "padding_mask": np.ones((4, SEQ), "int32")}
    sparse = _quiet(tfs.sparsify, backbone, tfs.Block(0.5, block=(16, 1)), inplace=True)
    assert sparse is backbone and type(sparse).__name__ == cls.__name__
    assert len(tfs.sparse_layers(sparse)) == 6
    sparse.compile("adam", "mse")
    y = np.zeros((4, SEQ, 32), "float32")
    sparse.fit(x, y, epochs=1, verbose=0, callbacks=[tfs.UpdateMasks()])
    _check_structures(sparse)
    out = sparse.predict(x, verbose=0)
    sparse.save(tmp_path / "m.keras")
    assert _max_diff(keras.saving.load_model(tmp_path / "m.keras").predict(x, verbose=0), out) == 0.0
    plain = tfs.strip(sparse)
    assert type(plain) is cls
    assert _max_diff(plain.predict(x, verbose=0), out) < 1e-6


@keras.saving.register_keras_serializable(package="tf_sparse_tests")
class _Block(keras.layers.Layer):
    def __init__(self, dim, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.attn = keras.layers.MultiHeadAttention(num_heads=2, key_dim=8, name="attn")
        self.ff = keras.layers.Dense(dim, activation="relu", name="ff")

    def build(self, input_shape):
        self.attn.build(input_shape, input_shape)
        self.ff.build(input_shape)

    def call(self, x):
        return self.ff(x + self.attn(x, x))

    def get_config(self):
        return {**super().get_config(), "dim": self.dim}


@keras.saving.register_keras_serializable(package="tf_sparse_tests")
class _Net(keras.Model):
    """A subclassed model with nested custom layers, attention, an LSTM and an embedding."""

    def __init__(self, dim=16, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.emb = keras.layers.Embedding(50, dim, name="emb")
        self.b0 = _Block(dim, name="b0")
        self.b1 = _Block(dim, name="b1")
        self.lstm = keras.layers.LSTM(16, name="lstm")
        self.head = keras.layers.Dense(3, name="head")

    def call(self, ids):
        return self.head(self.lstm(self.b1(self.b0(self.emb(ids)))))

    def get_config(self):
        return {**super().get_config(), "dim": self.dim}


def test_subclassed_model_with_nested_layers(tmp_path):
    keras.utils.set_random_seed(3)
    net = _Net(name="net")
    ids = np.random.default_rng(0).integers(0, 50, (8, 6))
    ref = np.asarray(net(ids))
    assert {"emb", "b0/attn/query", "b1/ff", "lstm", "head"} <= set(tfs.layer_paths(net))
    config = {
        "b*/attn": tfs.Block(0.5, block=(8, 1)),  # a glob over paths; attention: its 4 projections
        "ff": tfs.NM(2, 4),  # a name: every layer called 'ff'
        "lstm": {"kernel": tfs.Block(0.75, block=(16, 1)), "recurrent_kernel": tfs.Unstructured(0.5)},
        keras.layers.Embedding: tfs.Unstructured(0.5),
        "b1/ff": tfs.Unstructured(0.25),  # a path beats a name
    }
    sparse = tfs.sparsify(net, config)
    assert isinstance(sparse, _Net) and type(sparse).__name__ == "_Net"
    got = {layer.sparse_path: layer.structure for layer in tfs.sparse_layers(sparse)}
    assert list(got) == ["emb/embeddings"] + [f"b{i}/{p}" for i in (0, 1) for p in (
        "attn/query/kernel", "attn/key/kernel", "attn/value/kernel", "attn/attention_output/kernel", "ff")] + [
        "lstm/lstm_cell/kernel", "lstm/lstm_cell/recurrent_kernel"]
    assert isinstance(got["b0/ff"], tfs.NM) and isinstance(got["b1/ff"], tfs.Unstructured)
    np.testing.assert_allclose(np.asarray(sparse(ids)), ref, atol=1e-6)

    sparse.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    sparse.fit(ids, np.arange(8) % 3, epochs=2, verbose=0, callbacks=[tfs.UpdateMasks()])
    _check_structures(sparse)
    assert tfs.sparse_layers(sparse)[-2].sparsity() == pytest.approx(0.75)
    out = np.asarray(sparse(ids))
    sparse.save(tmp_path / "net.keras")
    again = keras.saving.load_model(tmp_path / "net.keras")
    np.testing.assert_array_equal(np.asarray(again(ids)), out)
    plain = tfs.strip(sparse)
    assert type(plain) is _Net and not tfs.sparse_layers(plain)
    np.testing.assert_allclose(np.asarray(plain(ids)), out, atol=1e-6)


def _conv_model():
    inp = keras.Input((8, 8, 4))
    x = keras.layers.SeparableConv2D(16, 3, padding="same", name="sep")(inp)
    x = keras.layers.Conv2DTranspose(8, 3, strides=2, padding="same", name="up")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(2, name="head")(x))


def test_separable_and_transposed_convolutions(tmp_path):
    keras.utils.set_random_seed(4)
    model = _conv_model()
    x = np.random.default_rng(0).normal(size=(4, 8, 8, 4)).astype("float32")
    sparse = tfs.sparsify(model, {
        "sep": {"depthwise_kernel": tfs.KernelPattern(num_patterns=4), "pointwise_kernel": tfs.Block(0.75, block=(4, 1))},
        "up": tfs.Block(0.5, block=(4, 1)), "head": None})
    assert [type(layer).__name__ for layer in sparse.layers[1:3]] == ["SparseSeparableConv2D", "SparseConv2DTranspose"]
    sparse.compile("adam", "mse")
    # Dynamic regularization pushes what each structure would remove now towards zero; harden prunes.
    sparse.fit(x, np.zeros((4, 2)), epochs=2, verbose=0, callbacks=[tfs.DynamicRegularization(lam=1e-3)])
    tfs.harden(sparse)
    _check_structures(sparse)
    depthwise = tfs.sparse_layers(sparse)[0].kernel_numpy()
    assert np.count_nonzero(depthwise.reshape(9, -1), axis=0).max() <= 4  # 4-entry patterns per channel
    out = sparse.predict(x, verbose=0)
    sparse.save(tmp_path / "c.keras")  # a Functional model: its sparse layers come back from their own configs
    again = keras.saving.load_model(tmp_path / "c.keras")
    assert type(again.get_layer("up")).__name__ == "SparseConv2DTranspose"
    np.testing.assert_array_equal(again.predict(x, verbose=0), out)
    plain = tfs.strip(sparse)
    assert [type(layer).__name__ for layer in plain.layers[1:3]] == ["SeparableConv2D", "Conv2DTranspose"]
    np.testing.assert_allclose(plain.predict(x, verbose=0), out, atol=1e-6)


def _rnn_model(kind="lstm"):
    inp = keras.Input((5, 16))
    layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "rnn": keras.layers.SimpleRNN}[kind]
    x = layer(32, return_sequences=True, name="r1")(inp)
    x = layer(32, name="r2")(x)
    return keras.Model(inp, keras.layers.Dense(3, name="head")(x))


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_recurrent_masks_hold_through_training_admm_and_harden(kind):
    keras.utils.set_random_seed(5)
    model = _rnn_model(kind)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 5, 16)).astype("float32")
    y = rng.normal(size=(32, 3)).astype("float32")
    sparse = tfs.sparsify(model, {"default": {"kernel": tfs.Block(0.75, block=(16, 1)),
                                              "recurrent_kernel": tfs.Block(0.5, block=(16, 1))}, "head": None})
    sparse.compile(keras.optimizers.Adam(1e-2), "mse")
    sparse.fit(x, y, epochs=2, verbose=0, callbacks=[tfs.ADMM(rho=1e-2)])
    assert all(layer.admm_enabled for layer in tfs.sparse_layers(sparse))
    result = tfs.harden(sparse)
    assert result["r1/" + {"lstm": "lstm_cell", "gru": "gru_cell", "rnn": "simple_rnn_cell"}[kind] + "/kernel"] == 0.75
    _check_structures(sparse)
    before = [layer.kernel_numpy() == 0 for layer in tfs.sparse_layers(sparse)]
    sparse.fit(x, y, epochs=2, verbose=0)  # masked retraining
    for zero, layer in zip(before, tfs.sparse_layers(sparse)):
        assert np.all(layer.kernel_numpy()[zero] == 0), layer.sparse_path
    plain = tfs.strip(sparse)
    np.testing.assert_allclose(plain.predict(x, verbose=0), sparse.predict(x, verbose=0), atol=1e-5)


def test_reweighted_group_lasso_on_lstm_gate_blocks():
    """BLK-REW on an LSTM: group lasso over 16x1 blocks of the gate matrices drives whole blocks
    towards zero; hardening then keeps the strongest blocks."""
    keras.utils.set_random_seed(6)
    model = _rnn_model("lstm")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 5, 16)).astype("float32")
    y = rng.normal(size=(32, 3)).astype("float32")
    sparse = tfs.sparsify(model, {keras.layers.LSTM: tfs.Block(0.75, block=(16, 1)), "head": None})
    units = tfs.sparse_layers(sparse)
    norms0 = [np.linalg.norm(u.kernel_numpy()) for u in units]
    sparse.compile(keras.optimizers.Adam(1e-2), "mse")
    sparse.fit(x, y, epochs=3, verbose=0, callbacks=[tfs.ReweightedGroupLasso(lam=1e-2)])
    assert all(np.linalg.norm(u.kernel_numpy()) < n for u, n in zip(units, norms0))
    ids = units[0].group_ids()
    assert len(np.unique(ids)) == units[0].kernel_numpy().size // 16  # one group per 16x1 block
    tfs.harden(sparse)
    _check_structures(sparse)


def test_einsum_layouts_and_errors():
    from tf_sparse.layers.kernel_unit import einsum_layout, layout_unview, layout_view

    k = np.arange(32 * 2 * 16, dtype=np.float32).reshape(32, 2, 16)
    spec = einsum_layout("abc,cde->abde", k.shape)
    view = layout_view(k, "einsum", spec)
    assert view.shape == (32, 32)
    np.testing.assert_array_equal(layout_unview(view, k.shape, "einsum", spec), k)
    out = np.arange(2 * 16 * 32, dtype=np.float32).reshape(2, 16, 32)
    spec = einsum_layout("abcd,cde->abe", out.shape)
    assert layout_view(out, "einsum", spec).shape == (32, 32)
    np.testing.assert_array_equal(layout_unview(layout_view(out, "einsum", spec), out.shape, "einsum", spec), out)
    with pytest.raises(ValueError, match="ellipses"):
        einsum_layout("...b,bc->...c", (4, 4))
    with pytest.raises(ValueError, match="both summed axes and output axes"):
        einsum_layout("ab,bc->a", (4, 4))


def test_embeddings_are_pruned_only_when_asked_for():
    inp = keras.Input((6,), dtype="int32")
    x = keras.layers.Embedding(40, 8, name="emb")(inp)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inp, keras.layers.Dense(2, name="head")(x))
    with pytest.warns(UserWarning, match=r"'emb' \(Embedding: embeddings are pruned only when asked for"):
        sparse = tfs.sparsify(model, tfs.Unstructured(0.5))
    assert [layer.sparse_path for layer in tfs.sparse_layers(sparse)] == ["head"]
    sparse = tfs.sparsify(model, {"emb": tfs.Unstructured(0.5)})
    assert [layer.sparse_path for layer in tfs.sparse_layers(sparse)] == ["emb/embeddings"]


def test_mirrored_strategy_with_lstm_and_attention():
    """The unit-held kernels train under MirroredStrategy on two logical CPUs (subprocess)."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import numpy as np
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import keras
        import tf_sparse as tfs
        rng = np.random.default_rng(0)
        x = rng.normal(size=(32, 6, 8)).astype("float32")
        y = rng.normal(size=(32, 2)).astype("float32")
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        with strategy.scope():
            inp = keras.Input((6, 8))
            h = keras.layers.MultiHeadAttention(2, 8, name="mha")(inp, inp)
            h = keras.layers.LSTM(16, name="lstm")(h)
            model = keras.Model(inp, keras.layers.Dense(2, name="head")(h))
            sparse = tfs.sparsify(model, {"mha": tfs.Block(0.5, block=(8, 1)), "lstm": tfs.Block(0.5, block=(16, 1))})
            sparse.compile(keras.optimizers.SGD(0.01), "mse")
        sparse.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[tfs.UpdateMasks()])
        sparse.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[tfs.ADMM(rho=1e-2)])
        tfs.harden(sparse)
        sparse.fit(x, y, batch_size=8, epochs=1, verbose=0)
        s = [round(l.sparsity(), 3) for l in tfs.sparse_layers(sparse)]
        assert s == [0.5] * 6, s
        print("OK")
    """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0 and "OK" in result.stdout, result.stderr[-3000:]


def test_keras_hub_task_keeps_its_preprocessor(tmp_path):
    """A keras_hub task (classifier with its tokenizer, built from a vocabulary list) still predicts
    from raw strings after sparsify, after a .keras round trip and after strip."""
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + "the quick brown fox jumps over lazy dog a cat sat on mat".split()
    tokenizer = keras_hub.tokenizers.BertTokenizer(vocabulary=vocab)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=SEQ)
    keras.utils.set_random_seed(7)
    backbone = keras_hub.models.BertBackbone(vocabulary_size=len(vocab), num_layers=1, num_heads=2, hidden_dim=32,
                                             intermediate_dim=64, max_sequence_length=SEQ)
    task = keras_hub.models.BertTextClassifier(backbone, num_classes=2, preprocessor=preprocessor)
    texts = ["the quick brown fox", "a cat sat on the mat"]
    ref = task.predict(texts, verbose=0)
    sparse = _quiet(tfs.sparsify, task, tfs.Block(0.5, block=(16, 1)))
    # 4 projections and 2 feed-forward layers, the pooler and the classifier head
    assert type(sparse).__name__ == "BertTextClassifier" and len(tfs.sparse_layers(sparse)) == 8
    np.testing.assert_allclose(sparse.predict(texts, verbose=0), ref, atol=1e-6)
    sparse.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    sparse.fit(x=texts, y=np.array([0, 1]), epochs=1, verbose=0, callbacks=[tfs.UpdateMasks()])
    assert all(layer.sparsity() == pytest.approx(0.5) for layer in tfs.sparse_layers(sparse)[:6])
    out = sparse.predict(texts, verbose=0)
    _quiet(sparse.save, tmp_path / "task.keras")
    again = _quiet(keras.saving.load_model, tmp_path / "task.keras")
    np.testing.assert_array_equal(again.predict(texts, verbose=0), out)
    plain = tfs.strip(sparse)
    assert type(plain) is keras_hub.models.BertTextClassifier
    np.testing.assert_allclose(plain.predict(texts, verbose=0), out, atol=1e-6)


def test_wrappers_bidirectional_and_time_distributed(tmp_path):
    """Layers inside Bidirectional / TimeDistributed are reached, saved, loaded and stripped."""
    keras.utils.set_random_seed(8)
    inp = keras.Input((5, 8))
    h = keras.layers.Bidirectional(keras.layers.LSTM(16, return_sequences=True), name="bi")(inp)
    model = keras.Model(inp, keras.layers.TimeDistributed(keras.layers.Dense(4), name="td")(h))
    x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
    sparse = tfs.sparsify(model, tfs.Block(0.5, block=(16, 1)))
    assert [layer.sparse_path for layer in tfs.sparse_layers(sparse)] == [
        "bi/forward_lstm/lstm_cell/kernel", "bi/forward_lstm/lstm_cell/recurrent_kernel",
        "bi/backward_lstm/lstm_cell/kernel", "bi/backward_lstm/lstm_cell/recurrent_kernel", "td/dense"]
    sparse.compile("adam", "mse")
    sparse.fit(x, np.zeros((2, 5, 4)), verbose=0, callbacks=[tfs.UpdateMasks()])
    out = sparse.predict(x, verbose=0)
    sparse.save(tmp_path / "bi.keras")
    again = keras.saving.load_model(tmp_path / "bi.keras")
    np.testing.assert_array_equal(again.predict(x, verbose=0), out)
    plain = tfs.strip(sparse)
    assert not tfs.sparse_layers(plain)
    assert type(plain.get_layer("bi").forward_layer) is keras.layers.LSTM
    np.testing.assert_allclose(plain.predict(x, verbose=0), out, atol=1e-6)
