"""PruningSummaries: scalars TensorBoard's scalars dashboard lists, once per step, ADMM-aware."""

import glob
import os

import keras
import numpy as np
import pytest

import tf_sparse as tfs


def _fit(log_dir, callbacks, epochs=3, structure=None, update_freq="epoch"):
    keras.utils.set_random_seed(0)
    inp = keras.Input((16,))
    h = keras.layers.Dense(32, activation="relu", name="h1")(inp)
    model = keras.Model(inp, keras.layers.Dense(4, name="logits")(h))
    sparse = tfs.sparsify(model, structure or {"h1": tfs.Block(0.5, block=(1, 4))})
    sparse.compile(keras.optimizers.Adam(1e-2), "mse")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 16)).astype(np.float32)
    sparse.fit(x, x[:, :4], batch_size=32, epochs=epochs, verbose=0,
               callbacks=callbacks + [tfs.PruningSummaries(str(log_dir), update_freq=update_freq)])
    return sparse


def _scalars(log_dir):
    """{tag: [(step, value), ...]} as TensorBoard's scalars dashboard reads them."""
    ea_module = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    acc = ea_module.EventAccumulator(os.path.join(str(log_dir), "metrics"))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_scalars_dashboard_lists_the_sparsity_once_per_step(tmp_path):
    schedule = tfs.ConstantSparsity(0.5, begin_step=0, frequency=1)
    _fit(tmp_path, [tfs.UpdateMasks()], structure={"h1": tfs.Block(0.5, block=(1, 4))})
    del schedule
    scalars = _scalars(tmp_path)
    assert "h1/sparsity" in scalars
    steps = [s for s, _ in scalars["h1/sparsity"]]
    assert steps == [0, 4, 8, 12]  # training start, then each epoch's end: no step twice
    assert scalars["h1/sparsity"][-1][1] == pytest.approx(0.5)
    assert not any(tag.startswith("h1/admm") for tag in scalars)
    # the event files hold plain scalar values (the scalars plugin's own format)
    import tensorflow as tf

    files = glob.glob(str(tmp_path / "metrics" / "events.out.tfevents.*"))
    values = [v for f in files for e in tf.compat.v1.train.summary_iterator(f) for v in e.summary.value]
    assert values and all(v.WhichOneof("value") == "simple_value" for v in values)


def test_admm_sparsity_is_the_sparsity_of_z_and_labelled(tmp_path):
    _fit(tmp_path, [tfs.ADMM(rho=1e-2, warn=False)])
    scalars = _scalars(tmp_path)
    assert {"h1/admm_z_sparsity", "h1/admm_residual", "h1/admm_rho", "h1/sparsity"} <= set(scalars)
    assert all(v == pytest.approx(0.5) for _, v in scalars["h1/admm_z_sparsity"])
    assert all(v == 0.0 for _, v in scalars["h1/sparsity"])  # the kernel stays dense until harden
    for tag, points in scalars.items():
        steps = [s for s, _ in points]
        assert len(steps) == len(set(steps)), tag


def test_update_freq_in_batches(tmp_path):
    _fit(tmp_path, [tfs.UpdateMasks()], epochs=2, update_freq=3)
    steps = [s for s, _ in _scalars(tmp_path)["h1/sparsity"]]
    assert steps == [0, 3, 4, 6, 8]
    with pytest.raises(ValueError, match="update_freq"):
        tfs.PruningSummaries(str(tmp_path), update_freq=0)
