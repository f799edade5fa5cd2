"""Per-layer control of sparsify (LayerSpec, selectors, the fastest preset), its warnings
(layers left dense, pruning that never ran) and the progress bars of long steps."""

import warnings

import keras
import numpy as np
import pytest

import tf_sparse as tfs
from tf_sparse import notices


def _convnet():
    """3x3, 1x1, 5x5 and depthwise convs, Dense layers on rows and on a sequence, a classifier
    behind a softmax."""
    inp = keras.Input((8, 8, 4))
    x = keras.layers.Conv2D(16, 3, padding="same", name="c3")(inp)
    x = keras.layers.Conv2D(16, 1, name="c1")(x)
    x = keras.layers.Conv2D(16, 5, padding="same", name="c5")(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = keras.layers.Reshape((64, 16))(x)
    x = keras.layers.Dense(16, name="seq")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(32, name="row")(x)
    out = keras.layers.Activation("softmax")(keras.layers.Dense(5, name="logits")(x))
    return keras.Model(inp, out)


def _mlp(units=(32, 32)):
    inp = keras.Input((16,))
    x = inp
    for i, u in enumerate(units):
        x = keras.layers.Dense(u, activation="relu", name=f"d{i}")(x)
    return keras.Model(inp, keras.layers.Dense(4, name="logits")(x))


def _structures(model):
    return {layer.sparse_name: layer.structure for layer in tfs.sparse_layers(model)}


def _train(model, steps, callbacks=(), batch=8):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((steps * batch, model.input_shape[-1])).astype("float32")
    y = rng.integers(0, 4, steps * batch)
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, callbacks=list(callbacks))


# --- warnings: layers left dense --------------------------------------------------------------
def test_one_warning_lists_every_layer_left_dense_with_why_but_not_opt_outs():
    class Custom(keras.layers.Layer):
        def build(self, shape):
            self.w = self.add_weight(shape=(shape[-1], 4))

        def call(self, x):
            return x @ self.w

    inp = keras.Input((4, 4, 4, 2))
    x = keras.layers.Conv3D(4, 3, name="c3d")(inp)
    x = keras.layers.Reshape((2, 4, 4))(x)
    x = keras.layers.ConvLSTM1D(4, 2, name="clstm")(x)
    x = Custom(name="custom")(keras.layers.Flatten()(x))
    x = keras.layers.Dense(8, name="d")(x)
    model = keras.Model(inp, keras.layers.Dense(3, name="logits")(x))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sparse = tfs.sparsify(model, {"default": tfs.KernelPattern(8, connectivity=0.5), "d": tfs.Block(0.5),
                                      "logits": None})
    left = [w for w in caught if issubclass(w.category, tfs.LeftDenseWarning)]
    assert len(left) == 1, [str(w.message) for w in caught]
    message = str(left[0].message)
    assert message.startswith("sparsify: 3 layer(s) left dense: ")
    assert "'c3d' (Conv3D: no sparse version)" in message
    assert "'clstm' (ConvLSTM1D: no sparse version)" in message  # the RNN layer, not its cell
    assert "'custom' (Custom: no sparse version)" in message
    assert "logits" not in message.split("Layers with a sparse version")[0]  # an opt-out is not reported
    # Nothing else: no NumPy copy-keyword noise from reading kernels.
    assert [w for w in caught if w.category is not tfs.LeftDenseWarning] == []
    assert type(sparse.get_layer("d")).__name__ == "SparseDense"


def test_left_dense_warning_names_kernels_a_structure_cannot_take():
    model = _convnet()
    with pytest.warns(tfs.LeftDenseWarning) as record:
        # select(cls) is a broad rule (an exact class key would make these an error)
        tfs.sparsify(model, {tfs.select(keras.layers.Conv2D): tfs.KernelPattern(8, connectivity=0.5)})
    assert len(record) == 1
    message = str(record[0].message)
    assert "'c1' (Conv2D: KernelPattern:" in message and "'c5' (Conv2D: KernelPattern:" in message
    assert "'c3'" not in message


# --- warnings: pruning that never ran -----------------------------------------------------------
def test_training_without_update_masks_warns_at_strip_and_harden():
    schedule = tfs.PolynomialDecay(0.0, 0.8, begin_step=0, end_step=4, frequency=1)
    sparse = tfs.sparsify(_mlp(), {"default": tfs.Unstructured(0.8), "logits": None}, schedule=schedule)
    with warnings.catch_warnings():
        warnings.simplefilter("error", tfs.UnprunedWarning)
        tfs.strip(sparse)  # not trained: sparsify then strip is no mistake
    _train(sparse, 6)
    with pytest.warns(tfs.UnprunedWarning, match=(
            r"strip: model '.*' was trained for 6 optimizer step\(s\) without tfs.UpdateMasks, and 2 of its 2 "
            r"sparse layer\(s\) were never pruned .*'d0' \(0% zeros\), 'd1' \(0% zeros\).*tfs.UpdateMasks\(\)")):
        tfs.strip(sparse)
    with pytest.warns(tfs.UnprunedWarning, match=r"harden: .*the pruning schedules of 2 of its 2 .*pruned now, at once"):
        tfs.harden(sparse)
    assert all(abs(layer.sparsity() - 0.8) < 0.01 for layer in tfs.sparse_layers(sparse))
    with warnings.catch_warnings():
        warnings.simplefilter("error", tfs.UnprunedWarning)
        tfs.strip(sparse)  # hardened: pruned


def test_no_unpruned_warning_with_update_masks_and_warning_for_a_schedule_not_begun():
    sparse = tfs.sparsify(_mlp(), {"d0": tfs.Unstructured(0.5), "d1": tfs.Unstructured(0.5)},
                          schedule=tfs.ConstantSparsity(0.5, begin_step=0, frequency=1))
    with warnings.catch_warnings():
        warnings.simplefilter("error", tfs.UnprunedWarning)
        _train(sparse, 3, [tfs.UpdateMasks()])
        tfs.strip(sparse)
    late = tfs.sparsify(_mlp(), {
        "d0": tfs.Unstructured(0.5),
        "d1": tfs.LayerSpec(tfs.Unstructured(0.5), schedule=tfs.ConstantSparsity(0.5, begin_step=100)),
    })
    with pytest.warns(tfs.UnprunedWarning, match=r"UpdateMasks: training stopped at step 3 before the pruning schedule "
                                                 r"of 1 sparse layer\(s\) began.*'d1' \(begin_step=100\)"):
        _train(late, 3, [tfs.UpdateMasks()])


# --- progress -----------------------------------------------------------------------------------
def test_progress_bars_follow_verbose_and_the_global_level(capsys, monkeypatch):
    model = _mlp((16,) * 6)
    sparse = tfs.sparsify(model, tfs.Block(0.5), verbose=1)
    out = capsys.readouterr().out
    assert "sparsify 'functional" in out and "7 of 7 layers made sparse" in out
    assert "ms/layer" in out or "us/layer" in out
    tfs.harden(sparse, verbose=1)
    out = capsys.readouterr().out
    assert "harden '" in out and "7/7" in out and "/kernel" in out
    tfs.strip(sparse, verbose=2)
    out = capsys.readouterr().out
    assert "strip '" in out and out.count("\n") == 2  # title and one line at the end

    # "auto" (the default): quiet for a small model, a bar from AUTO_LAYERS layers on.
    assert tfs.get_verbosity() == "auto"
    tfs.sparsify(model, tfs.Block(0.5))
    assert capsys.readouterr().out == ""
    monkeypatch.setattr(notices, "AUTO_LAYERS", 5)
    tfs.sparsify(model, tfs.Block(0.5))
    assert "layers made sparse" in capsys.readouterr().out
    previous = tfs.set_verbosity(0)
    try:
        assert previous == "auto"
        tfs.sparsify(model, tfs.Block(0.5))
        assert capsys.readouterr().out == ""
    finally:
        tfs.set_verbosity(previous)
    with pytest.raises(ValueError, match=r"sparsify: `verbose` must be 'auto', 0, 1 or 2, got 3"):
        tfs.sparsify(model, tfs.Block(0.5), verbose=3)
    with pytest.raises(ValueError, match=r"set_verbosity: `level` must be"):
        tfs.set_verbosity("loud")


def test_auto_progress_appears_once_work_takes_long(capsys, monkeypatch):
    monkeypatch.setattr(notices, "AUTO_SECONDS", 0.0)
    progress = notices.Progress("work 'x'", 3, verbose=None)
    assert not progress.shown
    progress.lead_done()  # a one-off first unit: the rate counts from here
    progress.add()
    assert progress.shown and progress._bar._time_after_first_step == progress._rate_from
    progress.done()
    out = capsys.readouterr().out
    assert out.startswith("work 'x'\n") and "3/3" in out


def test_export_progress_and_unpruned_warning(tmp_path, capsys):
    sparse = tfs.sparsify(_mlp(), {"d0": tfs.Unstructured(0.5)})
    _train(sparse, 2)
    with pytest.warns(tfs.UnprunedWarning, match=r"export_tflite: model .* 1 of its 1 sparse layer\(s\) were never pruned"):
        tfs.export_tflite(sparse, tmp_path / "m.tflite", verbose=1)
    out = capsys.readouterr().out
    assert "export_tflite '" in out and "strip, trace, convert" in out and "3/3" in out


# --- per-layer schedules ------------------------------------------------------------------------
def test_layers_ramp_to_their_own_targets_under_update_masks():
    sparse = tfs.sparsify(_mlp(), {
        "d0": tfs.LayerSpec(tfs.Unstructured(0.9), schedule=tfs.PolynomialDecay(0.0, 0.3, 0, 4, frequency=1)),
        "d1": (tfs.Unstructured(0.9), tfs.PolynomialDecay(0.0, 0.8, 0, 4, frequency=1)),
        "logits": tfs.Unstructured(0.5),  # sparsify's schedule
    }, schedule=tfs.ConstantSparsity(0.5, begin_step=0, frequency=1))
    layers = {layer.sparse_name: layer for layer in tfs.sparse_layers(sparse)}
    assert layers["d0"].schedule.final_sparsity == 0.3 and layers["d1"].schedule.final_sparsity == 0.8
    assert layers["logits"].schedule.target_sparsity == 0.5
    _train(sparse, 3, [tfs.UpdateMasks()])
    mid = {name: layer.sparsity() for name, layer in layers.items()}
    assert 0.0 < mid["d0"] < 0.3 and 0.3 < mid["d1"] < 0.8
    _train(sparse, 3, [tfs.UpdateMasks()])
    done = {name: layer.sparsity() for name, layer in layers.items()}
    assert done["d0"] == pytest.approx(0.3, abs=0.01)
    assert done["d1"] == pytest.approx(0.8, abs=0.01)
    assert done["logits"] == pytest.approx(0.5, abs=0.02)
    # Each layer's schedule is in its config (it survives saving).
    assert layers["d1"].get_config()["schedule"]["config"]["final_sparsity"] == 0.8


def test_layer_specs_from_callables_and_globs_and_bad_specs():
    spec = tfs.LayerSpec(tfs.Block(0.5), schedule=tfs.ConstantSparsity(0.5, begin_step=2))
    sparse = tfs.sparsify(_mlp(), lambda layer: spec if layer.name.startswith("d") else None)
    assert {layer.sparse_name: layer.schedule.begin_step for layer in tfs.sparse_layers(sparse)} == {"d0": 2, "d1": 2}
    sparse = tfs.sparsify(_mlp(), {"d*": spec})
    assert len(tfs.sparse_layers(sparse)) == 2
    sparse = tfs.sparsify(_mlp(), spec)  # one spec for every layer
    assert [layer.schedule.begin_step for layer in tfs.sparse_layers(sparse)] == [2, 2, 2]
    with pytest.raises(TypeError, match=r"sparsify: `config\[d0\]` as a tuple must be \(structure, schedule\)"):
        tfs.sparsify(_mlp(), {"d0": (tfs.Block(0.5), 0.5)})
    with pytest.raises(TypeError, match=r"LayerSpec: `schedule` must be None or a pruning schedule"):
        tfs.LayerSpec(tfs.Block(0.5), schedule="poly")
    with pytest.raises(TypeError, match=r"LayerSpec: `structure` must be a tf_sparse Structure"):
        tfs.LayerSpec(0.5)


# --- selectors ----------------------------------------------------------------------------------
def test_selectors_tell_3x3_from_1x1_and_take_precedence_over_classes():
    model = _convnet()
    pattern, column, row = tfs.KernelPattern(8, connectivity=0.5), tfs.Block(0.9, block=(16, 1)), tfs.Block(0.5)
    sparse = tfs.sparsify(model, {
        tfs.select(keras.layers.Conv2D, kernel_size=(3, 3)): pattern,
        tfs.select(kernel_size=1, cls=keras.layers.Conv2D): column,
        keras.layers.Conv2D: None,  # the 5x5: a class comes after the selectors
        tfs.select(kernel_shape=(None, 32)): row,  # Dense layers with 32 units
        "logits": None,
    })
    found = _structures(sparse)
    assert isinstance(found["c3"], tfs.KernelPattern) and found["c1"] == column and found["row"] == row
    assert set(found) == {"c3", "c1", "row"}
    # Path and name come before selectors; a selector matching nothing is no error.
    sparse = tfs.sparsify(model, {tfs.select(kernel_size=3): tfs.Block(0.5), "c3": tfs.Unstructured(0.5),
                                  tfs.select(kernel_size=(7, 7)): tfs.Block(0.5)})
    found = _structures(sparse)
    assert found["c3"] == tfs.Unstructured(0.5) and found["dw"] == tfs.Block(0.5) and "c1" not in found
    # Sizes and paths.
    sparse = tfs.sparsify(model, {tfs.select(min_params=500, path="c*"): tfs.Block(0.5)})
    assert set(_structures(sparse)) == {"c3", "c5"}  # c3: 592 parameters, c1: 272
    sparse = tfs.sparsify(model, {tfs.select(max_params=300): tfs.Unstructured(0.5)})
    assert set(_structures(sparse)) == {"c1", "dw", "seq", "logits"}
    assert repr(tfs.select(keras.layers.Conv2D, kernel_size=(3, 3))) == "select(cls=Conv2D, kernel_size=(3, 3))"


def test_a_selector_is_a_broad_rule_and_bad_selectors_are_named():
    inp = keras.Input((4, 4, 4, 2))
    x = keras.layers.Conv3D(4, 3, name="c3d")(inp)
    x = keras.layers.Dense(4, name="d")(keras.layers.Flatten()(x))
    model = keras.Model(inp, x)
    with pytest.warns(tfs.LeftDenseWarning, match=r"'c3d' \(Conv3D: no sparse version\)"):
        tfs.sparsify(model, {tfs.select(kernel_size=3): tfs.Block(0.5), "d": tfs.Block(0.5)})
    with pytest.raises(ValueError, match=r"select: `kernel_size` must be a positive int or a tuple"):
        tfs.select(kernel_size=(3, 0))
    with pytest.raises(TypeError, match=r"select: `cls` must be a Keras layer class"):
        tfs.select(cls=int)
    with pytest.raises(ValueError, match=r"select: give at least one condition"):
        tfs.select()
    with pytest.raises(ValueError, match=r"select: `min_params` \(10\) is larger than `max_params` \(5\)"):
        tfs.select(min_params=10, max_params=5)
    with pytest.raises(TypeError, match=r"keys must be .*tfs.select"):
        tfs.sparsify(model, {3: tfs.Block(0.5)})


# --- the fastest preset -------------------------------------------------------------------------
def test_fastest_preset_picks_the_delegates_structures_and_leaves_the_classifier_dense():
    model = _convnet()
    with warnings.catch_warnings():
        warnings.simplefilter("error", tfs.LeftDenseWarning)
        sparse = tfs.sparsify(model, tfs.fastest(0.8))
    found = _structures(sparse)
    pattern = found["c3"]
    assert isinstance(pattern, tfs.KernelPattern) and pattern.filter_block == 16 and pattern.connectivity == 0.5
    assert found["dw"] is pattern  # one pattern library for the network
    assert found["c1"] == tfs.Block(0.8, block=(16, 1)) and found["c5"] == tfs.Block(0.8, block=(16, 1))
    assert found["seq"] == tfs.Block(0.8, block=(16, 1))  # Dense on a sequence
    assert found["row"] == tfs.Block(0.8, block=(1, 4))  # Dense on one row
    assert "logits" not in found  # the classifier, behind its softmax
    assert _structures(tfs.sparsify(model, "fastest"))["row"] == tfs.Block(0.9, block=(1, 4))
    assert _structures(tfs.sparsify(model, tfs.fastest(classifier=True)))["logits"] == tfs.Block(0.9, block=(1, 4))
    with pytest.raises(ValueError, match=r"fastest: .*connectivity"):
        tfs.fastest(connectivity=1.5)


def test_fastest_lists_layers_it_has_no_fast_structure_for():
    inp = keras.Input((8, 8, 4))
    x = keras.layers.Conv2DTranspose(16, 3, padding="same", name="up")(inp)
    x = keras.layers.Conv2D(16, 3, padding="same", name="c3")(x)
    x = keras.layers.Reshape((64, 16))(x)
    x = keras.layers.GRU(8, name="gru")(x)
    model = keras.Model(inp, keras.layers.Dense(3, name="logits")(x))
    with pytest.warns(tfs.LeftDenseWarning) as record:
        sparse = tfs.sparsify(model, "fastest")
    message = str(record[0].message)
    assert "'up' (Conv2DTranspose: fastest: the delegate does not run transposed convolutions)" in message
    assert "'gru' (GRU: fastest: no delegate fast path for GRU" in message
    assert "logits" not in message.split("Layers with a sparse version")[0]
    assert set(_structures(sparse)) == {"c3"}
