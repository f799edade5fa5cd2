"""``resize_tensor_input`` + ``allocate_tensors`` on claimed models: the delegate's kernels reshape
to whatever the stock interpreter (TFLite's built-in kernels) accepts, with the same output shape
and values, and refuse what it refuses with a clear error.

What the stock kernels do with the odd shapes (both runtimes alike):

- FULLY_CONNECTED reads its input as floor(elements / in) rows of ``in`` values: [1, 300] against
  [out, 256] weights is one row (its first 256 values), [4, 300] four rows, [1, 100] none;
- CONV_2D / DEPTHWISE_CONV_2D give an empty output when VALID padding leaves no position
  (2x2 input, 3x3 kernel: 0x0; stride 2 on 1x1: 0x0) and fail to prepare when the size comes out
  negative (1x1 input, stride 1). LiteRT's kernels also refuse an input of height or width 0
  (e.g. the output of such a node feeding the next one); tf.lite 2.21's run some of those (its
  DEPTHWISE_CONV_2D, and CONV_2D when the size works out >= 0): the delegate refuses them in
  both runtimes, like LiteRT (listed in STOCK_RUNS below);
- CONV_2D reads an input of G times the weights' input channels as G groups (G dividing the
  filters; 8 -> 16 channels: 2 groups of 8 filters), and refuses other channel counts;
- DEPTHWISE_CONV_2D reads an input of C channels, C dividing the weights' channels, with depth
  multiplier channels / C (32 -> 16 channels: multiplier 2, still 32 outputs), and refuses the
  others (32 -> 64).
"""

import numpy as np
import pytest

import tf_sparse as tfs
from tf_sparse.runtime import make_interpreter

from delegate_check import block_mlp
from test_delegate_conv import conv_model
from test_delegate_depthwise import dw_model

RUNTIMES = ["litert", "tf"]




@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("resize_models")
    built = {
        "fc": block_mlp(256, [(64, "relu"), (10, None)]),
        # 3x3 VALID stride 1 then 3x3 VALID stride 2, one partition.
        "conv": conv_model([(16, 1, "valid", None, True), (16, 2, "valid", "relu", True)], (12, 12, 8), seed=5),
        # 3x3 depthwise SAME stride 2 then VALID stride 1, 32 channels.
        "dw": dw_model([(2, "same", None, True), (1, "valid", "relu6", True)], (9, 9, 32), seed=6),
    }
    paths = {}
    for name, model in built.items():
        paths[name] = str(d / f"{name}.tflite")
        tfs.export_tflite(model, paths[name])
    return paths


OPTIONS = {"fc": {}, "conv": {"format": "patdnn"}, "conv_vtaps": {"format": "vtaps"}, "dw": {"format": "dwtaps"}}
CLAIMED = {"fc": 2, "conv": 2, "conv_vtaps": 2, "dw": 2}

# model -> (input shape, "ok" or part of the delegate's error), run in this order on one
# interpreter pair; where the delegate refuses a shape, stock refuses it too (except STOCK_RUNS),
# and the next shape checks that both recover.
SEQUENCES = {
    "fc": [
        ([1, 300], "ok"),  # 1 row of the first 256 values
        ([4, 300], "ok"),  # 1200 values: 4 rows, 176 values unread
        ([3, 256], "ok"),
        ([1, 100], "ok"),  # 0 rows
        ([0, 256], "ok"),  # empty batch
        ([2, 2, 256], "ok"),  # rank 3: 4 rows
        ([1, 256], "ok"),  # back to the original shape
    ],
    "conv": [
        ([1, 4, 4, 8], "ok"),  # 2x2, then VALID 3x3 stride 2: (2 + 2 - 3) / 2 = 0, empty
        ([2, 12, 12, 8], "ok"),
        ([1, 5, 5, 8], "ok"),  # 3x3, then (3 + 2 - 3) / 2 = 1
        ([1, 3, 12, 8], "ok"),  # 1x10, then 0x4
        ([0, 12, 12, 8], "ok"),  # empty batch
        ([1, 2, 2, 8], "input 0x0 has no pixels"),  # 0x0, which the next node refuses
        ([1, 1, 1, 8], "smaller than the 3x3 kernel"),  # negative size
        ([1, 12, 12, 16], "ok"),  # 2 groups of 8 channels, 8 filters each
        ([2, 7, 9, 32], "ok"),  # 4 groups
        ([1, 12, 12, 12], "must be a multiple"),  # 12 % 8 != 0
        ([1, 12, 12, 8], "ok"),  # back, after the errors
    ],
    "dw": [
        ([1, 9, 9, 16], "ok"),  # 16 channels: depth multiplier 2
        ([2, 9, 9, 8], "ok"),  # multiplier 4, batch 2
        ([1, 9, 9, 64], "multiple of it"),  # 32 % 64 != 0
        ([1, 3, 3, 32], "ok"),  # 2x2, then VALID 3x3: 0x0
        ([1, 5, 7, 16], "ok"),
        ([0, 9, 9, 32], "ok"),  # empty batch
        ([1, 0, 5, 32], "input 0x5 has no pixels"),
        ([1, 1, 1, 32], "smaller than the 3x3 kernel"),  # 1x1, then VALID 3x3: negative
        ([3, 9, 9, 32], "ok"),  # back, batch 3
    ],
}
# (runtime, model, shape) that the stock kernels run although the delegate refuses them.
STOCK_RUNS = {("tf", "conv", (1, 2, 2, 8))}


def _run(interpreter, x):
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_resize_matches_stock(models, runtime, name):
    path = models[name.split("_")[0]]
    ref, _ = make_interpreter(path, backend="builtin", runtime=runtime)
    ours, delegate = make_interpreter(path, runtime=runtime, **OPTIONS[name])
    assert tfs.delegate_stats(delegate)["nodes_claimed"] == CLAIMED[name]
    runs = 0
    model = name.split("_")[0]
    for shape, outcome in SEQUENCES[model]:
        x = np.random.default_rng(sum(shape)).standard_normal(shape).astype(np.float32)
        if outcome == "ok":
            want = _run(ref, x)
            got = _run(ours, x)
            assert got.shape == want.shape, (shape, got.shape, want.shape)
            atol = 1e-5 * np.abs(want).max() if want.size else 0
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=atol, err_msg=str(shape))
            runs += 1
            # Our kernels ran every claimed node (no silent fallback).
            assert tfs.delegate_stats(delegate)["invocations"] == runs * CLAIMED[name]
        else:
            if (runtime, model, tuple(shape)) in STOCK_RUNS:
                _run(ref, x)
            else:
                with pytest.raises(RuntimeError):
                    _run(ref, x)
            with pytest.raises(RuntimeError, match=r"tf_sparse: node \d+: .*" + outcome):
                _run(ours, x)


def test_fc_reads_the_same_rows_as_stock(models):
    # [1, 300] against 256 input columns: one row, the first 256 values; [4, 300] four rows,
    # the first 1024 values.
    ours, _ = make_interpreter(models["fc"])
    ref, _ = make_interpreter(models["fc"], backend="builtin")
    for shape, rows in (([1, 300], 1), ([4, 300], 4)):
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        exact = _run(ref, x.reshape(-1)[: rows * 256].reshape(rows, 256))
        for interp in (ours, ref):
            got = _run(interp, x)
            assert got.shape == (rows, 10)
            np.testing.assert_allclose(got, exact, rtol=1e-5, atol=1e-4)

