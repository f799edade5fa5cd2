"""NaN, Inf and denormal values through the delegate, against the stock interpreter (XNNPACK) and
a NumPy reference over the stored weights, on each x86 kernel ISA.

Models (tf_sparse structures, every sparse node claimed by the delegate): a Dense MLP (ReLU, ReLU6,
none), a stack of three 3x3 Conv2D (ReLU, ReLU6 at stride 2, none), a 1x1 Conv2D (ReLU) and a stack
of three 3x3 DepthwiseConv2D (ReLU6, ReLU at stride 2, none); each also with one stored weight set
to NaN and with one bias entry set to NaN. Inputs (batch 3): normal, a few NaN, one batch row all
NaN, a few +-Inf, denormal.

The contract checked (docs/formats.md, "Non-finite values"): the delegate's output equals the
NumPy reference that multiplies only the stored (nonzero) weights, NaN for NaN and Inf for Inf;
it never gives a NaN the stock interpreter does not, and wherever the stock output is not NaN the
two agree. The stock interpreter also forms 0 * NaN and 0 * Inf for pruned weights, so a NaN or Inf
input element reaches (as NaN) outputs that only a pruned weight connects it to; those may differ.

TF_SPARSE_ISA is read once per process: each ISA runs the whole set in one subprocess (this file
run as a script), which writes every output to an .npz file.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import tf_sparse as tfs

ISAS = ["scalar", "avx2", "avx512"]
BATCH = 3
INPUTS = ["normal", "nan_some", "nan_row", "inf", "denormal"]
VARIANTS = ["base", "nan_weight", "nan_bias"]


# ---------------------------------------------------------------------------------------------
# Models: (keras model, delegate option sets); the layers are read back for the NumPy reference.


def _mlp(seed):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model = keras.Sequential(
        [
            keras.Input((48,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(32, activation="relu6"),
            keras.layers.Dense(10),
        ]
    )
    for layer in model.layers:
        kernel, bias = layer.get_weights()
        kernel = tfs.Block(0.75, block=(1, 4)).project(rng.standard_normal(kernel.shape).astype(np.float32))
        layer.set_weights([kernel, rng.standard_normal(bias.shape).astype(np.float32)])
    return model


def _conv3(seed):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((10, 11, 8))
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu6")(x)
    x = keras.layers.Conv2D(16, 3, padding="valid")(x)
    model = keras.Model(inputs, x)
    _randomize(model, seed)
    sparse = tfs.sparsify(model, tfs.KernelPattern(num_patterns=8, connectivity=0.5, filter_block=16))
    tfs.harden(sparse)
    return sparse


def _conv1(seed):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((7, 9, 32))
    x = keras.layers.Conv2D(24, 1, activation="relu")(inputs)
    model = keras.Model(inputs, x)
    _randomize(model, seed)
    sparse = tfs.sparsify(model, tfs.Block(0.75, block=(16, 1)))
    tfs.harden(sparse)
    return sparse


def _dw(seed):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((10, 11, 32))
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu6")(inputs)
    x = keras.layers.DepthwiseConv2D(3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.DepthwiseConv2D(3, padding="valid")(x)
    model = keras.Model(inputs, x)
    _randomize(model, seed)
    sparse = tfs.sparsify(model, tfs.KernelPattern(num_patterns=4, connectivity=0.5, filter_block=16))
    tfs.harden(sparse)
    return sparse


def _randomize(model, seed):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            layer.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in weights])


# name: (builder, option sets, op the delegate must claim)
MODELS = {
    "mlp": (_mlp, [{"format": "bsr:1x4"}, {"format": "csr"}], "FULLY_CONNECTED"),
    "conv3": (_conv3, [{"format": "vtaps"}, {"format": "patdnn"}, {"format": "pixvec"}], "CONV_2D"),
    "conv1": (_conv1, [{"format": "vtaps"}, {"format": "pixvec"}], "CONV_2D"),
    "dw": (_dw, [{"format": "dwtaps", "min_sparsity": 0}], "DEPTHWISE_CONV_2D"),
}


# ---------------------------------------------------------------------------------------------
# NumPy reference over the stored weights (float64): a zero weight is never multiplied; padding
# reads 0 (so a NaN weight over the padding gives NaN, as XNNPACK's zero buffer does).


def _stored_matmul(p, w):
    """p: (..., K), w: (K, N) -> (..., N), summing p[k] * w[k, n] over w[k, n] != 0 only."""
    prod = p[..., :, None] * w
    return np.where(w != 0, prod, 0.0).sum(axis=-2)


def _patches(x, k, stride, padding):
    """NHWC x -> (N, OH, OW, k*k, C) windows, TFLite's SAME/VALID padding with zeros."""
    n, h, w, c = x.shape
    if padding == "same":
        oh, ow = -(-h // stride), -(-w // stride)
        ph, pw = max((oh - 1) * stride + k - h, 0), max((ow - 1) * stride + k - w, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    out = np.empty((n, oh, ow, k * k, c), x.dtype)
    for ky in range(k):
        for kx in range(k):
            out[:, :, :, ky * k + kx] = x[:, ky : ky + stride * oh : stride, kx : kx + stride * ow : stride]
    return out


def _activate(y, activation):
    if activation == "relu":
        return np.maximum(y, 0.0)  # NaN stays NaN.
    if activation == "relu6":
        return np.minimum(np.maximum(y, 0.0), 6.0)
    assert activation == "linear", activation
    return y


def reference(layers, x):
    """layers: the exported layers' (kind, kernel, bias, stride, padding, activation)."""
    y = x.astype(np.float64)
    for kind, kernel, bias, stride, padding, activation in layers:
        kernel = kernel.astype(np.float64)
        if kind == "dense":
            y = _stored_matmul(y, kernel)
        elif kind == "conv":
            k = kernel.shape[0]
            p = _patches(y, k, stride, padding)
            y = _stored_matmul(p.reshape(p.shape[:3] + (-1,)), kernel.reshape(-1, kernel.shape[-1]))
        else:  # depthwise, multiplier 1: kernel (k, k, C, 1)
            k = kernel.shape[0]
            p = _patches(y, k, stride, padding)
            w = kernel.reshape(k * k, -1)
            y = np.where(w != 0, p * w, 0.0).sum(axis=3)
        y = _activate(y + bias, activation)
    return y


def _layers(model):
    out = []
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        kernel, bias = weights[0], weights[1]
        if "Depthwise" in type(layer).__name__:
            kind = "depthwise"
        elif "Conv" in type(layer).__name__:
            kind = "conv"
        else:
            kind = "dense"
        cfg = layer.get_config()
        stride = cfg.get("strides", (1, 1))[0] if kind != "dense" else 1
        out.append((kind, kernel, bias, stride, cfg.get("padding", "valid"), cfg["activation"]))
    return out


def _set_weights(model, variant):
    """Puts a NaN into one stored weight (or bias entry) of the first layer."""
    layer = next(layer for layer in model.layers if layer.get_weights())
    weights = layer.get_weights()
    index = {"nan_weight": 0, "nan_bias": 1}[variant]
    flat = weights[index].reshape(-1)
    nonzero = np.flatnonzero(flat)
    flat[nonzero[len(nonzero) // 2]] = np.nan
    layer.set_weights(weights)


def _input(kind, shape):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape).astype(np.float32)
    flat = x.reshape(-1)
    if kind == "nan_some":
        flat[rng.choice(flat.size, 3, replace=False)] = np.nan
    elif kind == "nan_row":
        x[0] = np.nan
    elif kind == "inf":
        flat[rng.choice(flat.size, 4, replace=False)] = [np.inf, -np.inf, np.inf, -np.inf]
    elif kind == "denormal":
        x *= np.float32(1e-39)
    return x


# ---------------------------------------------------------------------------------------------
# The subprocess: every model, input and option set on the stock interpreter and the delegate.


def _run(path, x, backend, **options):
    from tf_sparse.runtime import make_interpreter

    interpreter, delegate = make_interpreter(path, backend=backend, runtime="litert", **options)
    detail = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(detail["index"], list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], x)
    interpreter.invoke()
    y = interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()
    report = tfs.delegate_report(delegate) if delegate is not None else []
    return y, report


def _worker(spec_path, out_path):
    spec = json.load(open(spec_path))
    arrays, reports = {}, {}
    for case in spec:
        x = np.load(case["input"])
        key = case["key"]
        if case["stock"]:
            arrays[key + "/stock"], _ = _run(case["model"], x, "xnnpack")
        y, report = _run(case["model"], x, "tf_sparse", **case["options"])
        arrays[key + "/ours"] = y
        reports[key] = [(r["op"], bool(r["claimed"])) for r in report]
    np.savez(out_path, **arrays)
    json.dump(reports, open(out_path + ".json", "w"))


# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    d = tmp_path_factory.mktemp("numerics")
    cases, refs = [], {}
    for m, (name, (build, option_sets, _)) in enumerate(MODELS.items()):
        for variant in VARIANTS:
            model = build(10 + m)
            if variant != "base":
                _set_weights(model, variant)
            path = str(d / f"{name}_{variant}.tflite")
            tfs.export_tflite(model, path)
            layers = _layers(model)
            shape = (BATCH,) + tuple(model.inputs[0].shape[1:])
            inputs = INPUTS if variant == "base" else ["normal"]
            for kind in inputs:
                x = _input(kind, shape)
                xpath = str(d / f"{name}_{variant}_{kind}.npy")
                np.save(xpath, x)
                for o, options in enumerate(option_sets):
                    key = f"{name}/{variant}/{kind}/{o}"
                    refs[key] = reference(layers, x)
                    cases.append({"key": key, "model": path, "input": xpath, "options": options})
    spec = str(d / "spec.json")
    out = {}
    for isa in ISAS:
        for case in cases:
            case["stock"] = isa == ISAS[0]
        json.dump(cases, open(spec, "w"))
        npz = str(d / f"{isa}.npz")
        # The worker imports tf_sparse from this checkout (not whatever copy is installed).
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ, TF_SPARSE_ISA=isa, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
        proc = subprocess.run(
            [sys.executable, __file__, spec, npz], env=env, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
        out[isa] = (dict(np.load(npz)), json.load(open(npz + ".json")))
    stock = {k[: -len("/stock")]: v for k, v in out[ISAS[0]][0].items() if k.endswith("/stock")}
    return out, stock, refs


def _check(ours, stock, ref, where):
    ours, stock = ours.astype(np.float64), stock.astype(np.float64)
    assert ours.shape == ref.shape == stock.shape, where
    # Against the stored-weights reference: NaN wherever it is NaN; elsewhere a NaN is allowed only
    # where the stock interpreter (which also multiplies the zeros) gives NaN too (e.g. an explicit
    # zero inside a stored block times a NaN input), and every number equals the reference.
    ref_nan, ours_nan = np.isnan(ref), np.isnan(ours)
    assert ours_nan[ref_nan].all(), f"NaN lost vs reference {where}"
    num = ~ours_nan
    np.testing.assert_array_equal(np.isposinf(ours[num]), np.isposinf(ref[num]), err_msg=f"+Inf vs reference {where}")
    np.testing.assert_array_equal(np.isneginf(ours[num]), np.isneginf(ref[num]), err_msg=f"-Inf vs reference {where}")
    finite = num & np.isfinite(ref)
    scale = max(np.abs(ref[np.isfinite(ref)]).max(initial=0.0), 1e-30)
    np.testing.assert_allclose(ours[finite], ref[finite], rtol=1e-4, atol=1e-5 * scale, err_msg=where)
    # Against the stock interpreter: never a NaN it does not give; equal wherever it is not NaN.
    assert not (np.isnan(ours) & ~np.isnan(stock)).any(), f"NaN where stock is not NaN {where}"
    keep = ~np.isnan(stock)
    np.testing.assert_array_equal(np.isinf(ours[keep]), np.isinf(stock[keep]), err_msg=f"Inf vs stock {where}")
    both = keep & np.isfinite(stock)
    np.testing.assert_allclose(ours[both], stock[both], rtol=1e-4, atol=1e-5 * scale, err_msg=where)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("model", sorted(MODELS))
def test_non_finite_values_match_stock(results, isa, model):
    out, stock, refs = results
    arrays, reports = out[isa]
    op = MODELS[model][2]
    keys = [k for k in refs if k.startswith(model + "/")]
    assert keys
    for key in keys:
        claimed = [c for o, c in reports[key] if o == op]
        assert claimed and all(claimed), (key, reports[key])
        _check(arrays[key + "/ours"], stock[key], refs[key], f"[{isa} {key}]")
        variant, kind = key.split("/")[1:3]
        if kind in ("normal", "denormal"):
            ours = arrays[key + "/ours"]
            if variant == "base":
                # Nothing non-finite anywhere: no NaN on either side.
                assert not np.isnan(ours).any() and not np.isnan(stock[key]).any(), key
            elif np.isnan(refs[key]).any():
                # A NaN weight or bias reaches the outputs through the stored weights of the later
                # layers (the stock interpreter spreads it through the pruned zeros too).
                assert np.isnan(ours).any(), key


if __name__ == "__main__":
    _worker(sys.argv[1], sys.argv[2])
