"""Float UNIDIRECTIONAL_SEQUENCE_LSTM in the delegate against the stock interpreter's own LSTM
kernel: block-pruned and unstructured gate weights, return_sequences on and off, one step and
many, batch 1 and 3, time-major, stacked layers, and the state carried over several invokes."""

import os

import numpy as np
import pytest

import tf_sparse as tfs
from lstm_models import build_lstm_models_shared, prune_gate
from tf_sparse.runtime import make_interpreter

OP = "UNIDIRECTIONAL_SEQUENCE_LSTM"

# name -> spec (tests/lstm_models.py); sizes off the vector widths on purpose.
SPECS = {
    "seq_16x1": dict(units=33, inputs=20, steps=7, block=(16, 1)),
    "last_unstructured_batch3": dict(units=40, inputs=12, steps=9, batch=3, block=None, return_sequences=False),
    "one_step_1x4": dict(units=21, inputs=10, steps=1, block=(1, 4)),
    "time_major_batch3": dict(units=24, inputs=8, steps=5, batch=3, time_major=True, block=(1, 4)),
    "stacked_last": dict(units=32, inputs=16, steps=6, layers=2, block=(16, 1), return_sequences=False),
    "dense": dict(units=33, inputs=20, steps=7, sparsity=0.0),
    # Large enough for the cost model to claim it on its own.
    "auto_256": dict(units=256, inputs=64, steps=12, block=(16, 1)),
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    # Shared by the pytest-xdist workers of one run (their base directories' parent): built once.
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    return build_lstm_models_shared([dict(name=k, seed=i, **v) for i, (k, v) in enumerate(SPECS.items())], str(root))


def _lstm_entries(delegate):
    return [r for r in tfs.delegate_report(delegate) if r["op"] == OP]


def _compare(path, invokes=4, runtime="litert", num_threads=1, **options):
    """Runs `invokes` random inputs through our delegate and the stock kernels (state carried
    over in both); returns the delegate and the outputs."""
    stock, _ = make_interpreter(path, backend="builtin", runtime=runtime)
    ours, delegate = make_interpreter(path, backend="tf_sparse", runtime=runtime, num_threads=num_threads, **options)
    inp = stock.get_input_details()[0]
    rng = np.random.default_rng(len(path))
    outs = []
    for _ in range(invokes):
        x = rng.standard_normal(inp["shape"]).astype(np.float32)
        got = []
        for it in (stock, ours):
            it.set_tensor(it.get_input_details()[0]["index"], x)
            it.invoke()
            got.append(it.get_tensor(it.get_output_details()[0]["index"]))
        np.testing.assert_allclose(got[1], got[0], rtol=1e-5, atol=2e-6)
        outs.append(got[1])
    return delegate, outs, (stock, ours)


@pytest.mark.parametrize(
    "name",
    ["seq_16x1", "last_unstructured_batch3", "one_step_1x4", "time_major_batch3", "stacked_last"],
)
@pytest.mark.parametrize("fmt", ["bsr:16x1", "bsr:1x4", "csr"])
def test_forced_formats_match_stock(models, name, fmt):
    delegate, _, _ = _compare(models[name], format=fmt)
    entries = _lstm_entries(delegate)
    assert len(entries) == SPECS[name].get("layers", 1)
    for e in entries:
        assert e["claimed"], e["reason"]
        assert e["input_format"] == fmt and e["recurrent_format"] == fmt
        assert e["time_major"] == SPECS[name].get("time_major", False)
    stats = tfs.delegate_stats(delegate)
    assert stats["nodes_claimed"] == len(entries)
    assert stats["invocations"] == 4 * len(entries)


def test_state_carries_over_and_resets(models):
    path = models["seq_16x1"]
    _, outs, (stock, ours) = _compare(path, invokes=3, format="bsr:16x1")
    # A fresh interpreter on the last input differs: the state of the earlier invokes counted.
    fresh, _ = make_interpreter(path, backend="builtin")
    x = np.random.default_rng(len(path)).standard_normal(fresh.get_input_details()[0]["shape"]).astype(np.float32)
    fresh.set_tensor(fresh.get_input_details()[0]["index"], x)
    fresh.invoke()
    first = fresh.get_tensor(fresh.get_output_details()[0]["index"])
    np.testing.assert_allclose(outs[0], first, rtol=1e-5, atol=2e-6)
    assert np.abs(outs[2] - first).max() > 1e-3
    # Resetting the variables restarts both from zero state.
    for it in (stock, ours):
        it.reset_all_variables()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
    got = ours.get_tensor(ours.get_output_details()[0]["index"])
    np.testing.assert_allclose(got, first, rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("name", ["last_unstructured_batch3", "stacked_last"])
def test_two_threads(models, name):
    delegate, _, _ = _compare(models[name], num_threads=2, format="bsr:16x1")
    assert all(e["claimed"] for e in _lstm_entries(delegate))


def test_tf_lite_runtime(models):
    delegate, _, _ = _compare(models["time_major_batch3"], runtime="tf", format="csr")
    assert all(e["claimed"] for e in _lstm_entries(delegate))


def test_auto_claims_sparse_layer(models):
    delegate, _, _ = _compare(models["auto_256"], invokes=2)
    (e,) = _lstm_entries(delegate)
    assert e["claimed"], e["reason"]
    assert e["sparsity"] > 0.85 and e["cost_vs_dense"] < 0.8
    assert e["shape"] == [4 * 256, 64] and e["units"] == 256 and e["steps"] == 12


def test_dense_is_declined(models):
    delegate, _, _ = _compare(models["dense"], invokes=2)
    (e,) = _lstm_entries(delegate)
    assert not e["claimed"] and "min_sparsity" in e["reason"]
    assert tfs.delegate_stats(delegate)["invocations"] == 0
    # Without the sparsity floor the cost model declines it.
    delegate, _, _ = _compare(models["dense"], invokes=1, min_sparsity=0.0)
    (e,) = _lstm_entries(delegate)
    assert not e["claimed"] and "estimated cost" in e["reason"], e["reason"]


def test_prune_gate_blocks():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((35, 18)).astype(np.float32)
    p = prune_gate(w, 0.9, (16, 1), rng)
    # Every 16x1 block (ragged ones too) is all zero or untouched.
    for i0 in range(0, 35, 16):
        for j in range(18):
            block = p[i0 : i0 + 16, j]
            assert not block.any() or np.array_equal(block, w[i0 : i0 + 16, j])
    assert 0.85 < np.mean(p == 0) < 0.95
