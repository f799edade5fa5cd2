"""keras_hub encoders (BertBackbone, DistilBertBackbone) through the delegate: tiny configurations
built from arguments (no preset, nothing downloaded), every Dense / EinsumDense kernel 90% zero in
16x1 blocks of its GEMM view (16 output units x 1 input), exported to float32 .tflite.

Every projection becomes a FULLY_CONNECTED node with constant [out, in] weights (EinsumDense's
reshapes are folded into them); the attention's BATCH_MATMUL nodes multiply two activations and
are declined. The checks: the delegate's outputs equal the stock interpreter's, it claims
every projection (16x1 blocks found in the file's [out, in] orientation), and on a dense model it
claims nothing and changes no output bit."""

import os
import sys

import numpy as np
import pytest

pytest.importorskip("keras_hub")

import tf_sparse as tfs  # noqa: E402
from tf_sparse.runtime import make_interpreter  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
try:
    import bert_speed  # noqa: E402  (model building and pruning helpers)
finally:
    sys.path.pop(0)

TINY = dict(vocabulary_size=100, num_layers=2, num_heads=4, hidden_dim=64, intermediate_dim=128)
SEQ = 16
FAMILIES = ["bert", "distilbert"]
# Per layer: query, key, value, attention output (64 -> 64), FFN 64 -> 128 and 128 -> 64.
PROJECTIONS = {(64, 64): 8, (128, 64): 2, (64, 128): 2}  # [out, in] -> count in 2 layers


def _run(interpreter, feeds):
    """Sets every input (by name), invokes, returns the first output."""
    for detail in interpreter.get_input_details():
        x = feeds[_input_key(detail["name"], feeds)]
        if tuple(detail["shape"]) != x.shape:
            interpreter.resize_tensor_input(detail["index"], list(x.shape))
    interpreter.allocate_tensors()
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], feeds[_input_key(detail["name"], feeds)])
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()


def _input_key(tensor_name, feeds):
    if len(feeds) == 1:  # a fixed input signature names the input args_0
        return next(iter(feeds))
    keys = [k for k in feeds if k in tensor_name]
    assert len(keys) == 1, (tensor_name, list(feeds))
    return keys[0]


def _compare(path, feeds, runtime="litert", **options):
    """Delegate against TFLite's built-in kernels on `feeds`; returns (delegate, ours, stock)."""
    stock, _ = make_interpreter(path, backend="builtin", runtime=runtime)
    ours, delegate = make_interpreter(path, backend="tf_sparse", runtime=runtime, **options)
    expected = _run(stock, feeds)
    got = _run(ours, feeds)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    return delegate, got, expected


def _tokens(seed=0):
    return np.random.default_rng(seed).integers(0, TINY["vocabulary_size"], (1, SEQ)).astype(np.int32)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("keras_hub")
    paths, kernels = {}, {}
    for family in FAMILIES:
        backbone, model = bert_speed.encoder(family, SEQ, seed=1, weight_scale=0.3, **TINY)
        paths[family, "dense"] = str(d / f"{family}_dense.tflite")
        bert_speed.export_encoder(model, paths[family, "dense"])
        bert_speed.prune_projection_blocks(backbone, 0.9, 16)
        kernels[family] = {
            layer.path: bert_speed.gemm_kernel(layer, layer.get_weights()[0]).copy()
            for layer in bert_speed.projection_layers(backbone)
        }
        paths[family, "sparse"] = str(d / f"{family}_sparse.tflite")
        bert_speed.export_encoder(model, paths[family, "sparse"])
        if family == "bert":
            # The backbone itself: dict inputs, batch and sequence length unknown.
            paths[family, "dynamic"] = str(d / f"{family}_dynamic.tflite")
            tfs.export_tflite(backbone, paths[family, "dynamic"])
    return paths, kernels


def test_pruning_keeps_16x1_blocks_of_the_gemm_view(files):
    _, kernels = files
    for family in FAMILIES:
        # 12 projections, and BERT's pooler (not in the sequence output the encoder returns).
        assert len(kernels[family]) == (13 if family == "bert" else 12)
        for path, g in kernels[family].items():
            n_in, n_out = g.shape
            blocks = np.any(g.reshape(n_in, n_out // 16, 16) != 0, axis=-1)
            assert abs(blocks.mean() - 0.1) < 0.01, path
            # Within a kept block every weight is nonzero (random normal values).
            assert np.count_nonzero(g) == blocks.sum() * 16, path


def test_projections_become_fully_connected(files):
    paths, _ = files
    for family in FAMILIES:
        interpreter, _ = make_interpreter(paths[family, "sparse"], backend="builtin")
        ops = interpreter._get_ops_details()
        names = [op["op_name"] for op in ops]
        assert names.count("FULLY_CONNECTED") == 12, family
        assert names.count("BATCH_MATMUL") == 4, family  # Q K^T and softmax V, two layers
        tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
        produced = {int(i) for op in ops for i in op["outputs"]}
        shapes = {}
        for op in ops:
            if op["op_name"] == "FULLY_CONNECTED":
                assert int(op["inputs"][1]) not in produced  # constant weights
                w = tuple(int(s) for s in tensors[op["inputs"][1]]["shape"])
                shapes[w] = shapes.get(w, 0) + 1
            if op["op_name"] == "BATCH_MATMUL":
                # Between activations: both operands are computed by other nodes.
                assert all(int(i) in produced for i in op["inputs"]), op
        assert shapes == PROJECTIONS, (family, shapes)


@pytest.mark.parametrize("runtime", ["litert", "tf"])
@pytest.mark.parametrize("family", FAMILIES)
def test_sparse_encoder_claimed_and_matches_stock(files, family, runtime):
    paths, kernels = files
    feeds = {"token_ids": _tokens()}
    # The layers are tiny (64 units, 16 rows a call): the cost model declines them on its own
    # (XNNPACK's GEMM wins), so the 16x1 format is forced to claim them.
    delegate, _, _ = _compare(paths[family, "sparse"], feeds, runtime, format="bsr:16x1")
    report = tfs.delegate_report(delegate)
    fcs = [r for r in report if r["op"] == "FULLY_CONNECTED"]
    assert len(fcs) == 12 and all(r["claimed"] for r in fcs), [r["reason"] for r in fcs if not r["claimed"]]
    shapes = {}
    for r in fcs:
        shapes[tuple(r["shape"])] = shapes.get(tuple(r["shape"]), 0) + 1
        assert r["format"] == "bsr:16x1"
        assert r["batch_rows"] == SEQ
        assert r["sparsity"] == pytest.approx(0.9, abs=0.01)
        # 16x1 blocks of [out, in]: the converter kept the output units' order in every kernel.
        assert r["block_density"] == pytest.approx(0.1, abs=0.01), r
    assert shapes == PROJECTIONS
    assert tfs.delegate_stats(delegate)["nodes_claimed"] == 12
    # The attention's products of two activations are considered and left to XNNPACK.
    bmms = [r for r in report if r["op"] == "BATCH_MATMUL"]
    assert len(bmms) == 4 and not any(r["claimed"] for r in bmms)
    assert all("no constant operand" in r["reason"] for r in bmms)


@pytest.mark.parametrize("family", FAMILIES)
def test_sparse_encoder_auto_format_matches_stock(files, family):
    paths, _ = files
    delegate, _, _ = _compare(paths[family, "sparse"], {"token_ids": _tokens(3)})
    fcs = [r for r in tfs.delegate_report(delegate) if r["op"] == "FULLY_CONNECTED"]
    assert len(fcs) == 12
    for r in fcs:
        # Either way the decision is the cost model's, with the block structure measured.
        assert r["claimed"] or "estimated cost" in r["reason"], r["reason"]
        assert r["candidates"]["bsr:16x1"] < r["candidates"]["bsr:1x4"], r["candidates"]


@pytest.mark.parametrize("family", FAMILIES)
def test_dense_encoder_unchanged(files, family):
    paths, _ = files
    feeds = {"token_ids": _tokens(5)}
    xnnpack, _ = make_interpreter(paths[family, "dense"], backend="xnnpack")
    ours, delegate = make_interpreter(paths[family, "dense"], backend="tf_sparse")
    np.testing.assert_array_equal(_run(ours, feeds), _run(xnnpack, feeds))
    report = tfs.delegate_report(delegate)
    assert not any(r["claimed"] for r in report)
    fcs = [r for r in report if r["op"] == "FULLY_CONNECTED"]
    assert len(fcs) == 12 and all("below min_sparsity" in r["reason"] for r in fcs)


def test_backbone_with_unknown_batch_and_sequence(files):
    """The backbone exported as it is (three dict inputs, shapes known at run time only): the
    Dense layers then read RESHAPEs computed at run time, and the delegate still runs them."""
    paths, _ = files
    rng = np.random.default_rng(7)
    seq = 12
    feeds = {
        "token_ids": rng.integers(0, TINY["vocabulary_size"], (2, seq)).astype(np.int32),
        "segment_ids": rng.integers(0, 2, (2, seq)).astype(np.int32),
        "padding_mask": np.concatenate([np.ones((2, seq - 3), np.int32), np.zeros((2, 3), np.int32)], axis=1),
    }
    delegate, _, _ = _compare(paths["bert", "dynamic"], feeds, format="bsr:16x1")
    fcs = [r for r in tfs.delegate_report(delegate) if r["op"] == "FULLY_CONNECTED"]
    claimed = [r for r in fcs if r["claimed"]]
    # The 12 projections and the pooler.
    assert len(claimed) == 13, [r["reason"] for r in fcs if not r["claimed"]]
