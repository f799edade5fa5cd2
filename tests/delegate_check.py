"""The check every delegate test makes: a .tflite model run by our delegate against the stock
interpreter's built-in kernels, on the same random input, every output within 1e-5 relative."""

import keras
import numpy as np

import tf_sparse as tfs

from tf_sparse.runtime import make_interpreter


def compare_with_stock(path, runtime, batch, **options):
    """Runs `path` with batch `batch` (the first input dim) on TFLite's built-in kernels and on our
    delegate (`options` passed to it) in `runtime` ("litert" or "tf"), asserts that every output
    matches, and returns the delegate (for its report and stats)."""
    ref, _ = make_interpreter(path, backend="builtin", runtime=runtime)
    ours, delegate = make_interpreter(path, backend="tf_sparse", runtime=runtime, **options)
    shape = list(ref.get_input_details()[0]["shape"])
    shape[0] = batch
    x = np.random.default_rng(batch).standard_normal(shape).astype(np.float32)
    for interpreter in (ref, ours):
        interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
    for out_ref, out_ours in zip(ref.get_output_details(), ours.get_output_details()):
        expected = ref.get_tensor(out_ref["index"])
        got = ours.get_tensor(out_ours["index"])
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    return delegate


def block_mlp(in_dim, layers, seed=0, sparsity=0.9):
    """A Dense stack on `in_dim` inputs, `layers` = [(units, activation), ...], random weights with
    `sparsity` of each kernel's 1x4 blocks zero (what the delegate's BSR kernels claim)."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((in_dim,))] + [keras.layers.Dense(u, activation=a) for u, a in layers])
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        kernel, bias = layer.get_weights()
        kernel = tfs.Block(sparsity, block=(1, 4)).project(rng.standard_normal(kernel.shape).astype(np.float32))
        layer.set_weights([kernel, rng.standard_normal(bias.shape).astype(np.float32)])
    return model


def proc_status(field):
    """This process's /proc/self/status value of `field` (e.g. "VmRSS" in kB, "Threads")."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)
