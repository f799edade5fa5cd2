"""Plots (tf_sparse.plot) and the `tf-sparse plot` command, on a tiny model."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import tf_sparse as tfs
from tf_sparse import plot

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _check_png(path):
    assert os.path.isfile(path) and os.path.getsize(path) > 1000
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 50


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(16, 3, padding="same", name="conv")(inp)
    x = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(12, name="fc")(x))
    sparse = tfs.sparsify(model, {"conv": tfs.KernelPattern(4, connectivity=0.5), "fc": tfs.Block(0.5, block=(1, 4))})
    tfs.harden(sparse)
    d = tmp_path_factory.mktemp("plot")
    paths = {"keras": str(d / "m.keras"), "tflite": str(d / "m.tflite"), "compact": str(d / "c.tflite")}
    sparse.save(paths["keras"])
    tfs.export_tflite(tfs.strip(sparse), paths["tflite"])
    tfs.export_tflite(tfs.strip(sparse), paths["compact"], compact=True)
    results = d / "results.json"
    results.write_text(json.dumps(
        [{"model": "mlp", "structure": "dense", "method": "-", "accuracy": 0.97, "sparsity": 0.0}]
        + [{"model": "mlp", "structure": f"s{k}", "method": m, "accuracy": 0.9 - 0.1 * k, "sparsity": 0.5 + 0.2 * k}
           for k in range(2) for m in ("admm", "gradual")]))
    return sparse, paths, str(results)


def test_layer_weights_agree_between_keras_and_tflite(files):
    sparse, paths, _ = files
    expected = {layer.sparse_name: layer.effective_kernel_numpy() for layer in tfs.sparse_layers(sparse)}
    sources = {"model": plot.layer_weights(sparse), "keras": plot.layer_weights(paths["keras"]),
               "tflite": plot.layer_weights(paths["tflite"]), "compact": plot.layer_weights(paths["compact"])}
    for name, layers in sources.items():
        assert [w.kind for w in layers] == ["conv", "depthwise", "dense"], name
        conv, _, fc = layers
        assert conv.matrix.shape == (16, 27) and conv.taps == 9 and fc.matrix.shape == (12, 16)
        assert conv.sparsity == pytest.approx(1 - (8 * 4 * 3) / (16 * 27)) and fc.sparsity == pytest.approx(0.5)
        # rows are filters, each holding its input channels' 3x3 kernels side by side
        k = expected["conv"]  # (3, 3, in, out)
        np.testing.assert_array_equal(conv.matrix != 0, (k.transpose(3, 2, 0, 1).reshape(16, 27)) != 0)
        np.testing.assert_array_equal(fc.matrix != 0, expected["fc"].T != 0)
    assert sources["tflite"][0].name.startswith("conv")


def test_plot_functions_write_pngs(files, tmp_path):
    sparse, paths, results = files
    _check_png(plot.sparsity_per_layer(paths["tflite"], tmp_path / "s.png"))
    _check_png(plot.layer_mask(sparse, "conv", tmp_path / "conv.png"))
    _check_png(plot.layer_mask(sparse, "fc", tmp_path / "fc.png"))
    _check_png(plot.accuracy_vs_sparsity(results, tmp_path / "acc.png"))
    with pytest.raises(ValueError, match="no weighted layer named 'nope'.*'conv'"):
        plot.layer_mask(sparse, "nope", tmp_path / "x.png")
    with pytest.raises(ValueError, match="accuracy"):
        plot.accuracy_vs_sparsity([{"accuracy": 1.0}], tmp_path / "x.png")


def test_large_layer_is_drawn_downsampled(tmp_path):
    keras.utils.set_random_seed(0)
    inp = keras.Input((3000,))
    model = keras.Model(inp, keras.layers.Dense(40, name="wide")(inp))
    sparse = tfs.sparsify(model, tfs.Block(0.75, block=(1, 4)))
    tfs.harden(sparse)
    _check_png(plot.layer_mask(sparse, "wide", tmp_path / "wide.png", max_pixels=512))


def test_cli_plot_in_a_subprocess(files, tmp_path):
    _, paths, results = files
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), TF_CPP_MIN_LOG_LEVEL="3")
    out = tmp_path / "pngs"
    proc = subprocess.run([sys.executable, "-m", "tf_sparse", "plot", paths["compact"], "--out", str(out),
                           "--layer", "fully_connected", "--results", results], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    printed = proc.stdout.split()
    assert [os.path.basename(p) for p in printed] == ["sparsity.png", printed and os.path.basename(printed[1]),
                                                      "accuracy_vs_sparsity.png"]
    assert "FULLY_CONNECTED" in printed[1]
    for path in printed:
        _check_png(path)


def test_cli_plot_arguments(files, tmp_path, capsys):
    from tf_sparse.__main__ import main

    _, paths, _ = files
    for argv in (["plot", "--out", str(tmp_path)], ["plot", str(tmp_path / "missing.tflite"), "--out", str(tmp_path)],
                 ["plot", paths["tflite"]], ["plot", paths["tflite"] + ".json", "--out", str(tmp_path)]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    assert main(["plot", paths["keras"], "--out", str(tmp_path / "k")]) == 0
    printed = capsys.readouterr().out.split()
    assert os.path.basename(printed[1]) == "mask_conv.png"  # the sparsest layer by default
    assert main(["plot", paths["keras"], "--out", str(tmp_path / "k"), "--layer", "nope"]) == 2
    assert "no weighted layer named 'nope'" in capsys.readouterr().err
