"""The tf-sparse command: inspect and bench a .tflite file."""

import json

import keras
import numpy as np
import pytest

import tf_sparse as tfs
from tf_sparse.__main__ import main


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    keras.utils.set_random_seed(0)
    inp = keras.Input((256,))
    h = keras.layers.Dense(512, activation="relu", name="h")(inp)
    model = keras.Model(inp, keras.layers.Dense(10, name="out")(h))
    sparse = tfs.sparsify(model, {"h": tfs.Block(0.9, block=(1, 4))})
    tfs.harden(sparse)
    path = tmp_path_factory.mktemp("cli") / "m.tflite"
    tfs.export_tflite(sparse, path)
    return str(path)


def test_inspect_json_and_table(model_file, capsys):
    assert main(["inspect", model_file, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    by_shape = {tuple(r.get("shape", [])): r for r in report}
    assert by_shape[(512, 256)]["claimed"] and by_shape[(512, 256)]["sparsity"] == pytest.approx(0.9, abs=0.01)
    assert not by_shape[(10, 512)]["claimed"]  # dense: declined with a reason
    assert main(["inspect", model_file]) == 0
    table = capsys.readouterr().out
    assert "FULLY_CONNECTED" in table and "1 of 2 considered nodes claimed" in table


def test_bench_json(model_file, capsys):
    assert main(["bench", model_file, "--runs", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["nodes_claimed"] == 1 and result["max_abs_diff"] < 1e-4
    assert result["tf_sparse_ms"] > 0 and result["xnnpack_ms"] > 0 and result["cpu"]


def test_bad_arguments(model_file, tmp_path):
    for argv in (["inspect", str(tmp_path / "missing.tflite")], ["bench", model_file, "--threads", "0"],
                 ["bench", model_file, "--runs", "0"], ["unknown", model_file]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
