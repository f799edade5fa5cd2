"""Interpreter helpers: build an interpreter with or without our delegate, run, and time it."""

from __future__ import annotations

import time

import numpy as np

from tf_sparse.runtime.delegate import load_delegate

_BACKENDS = ("tf_sparse", "xnnpack", "builtin")


def make_interpreter(
    model_path, backend: str = "tf_sparse", runtime: str = "litert", num_threads: int = 1, **options
):
    """An allocated interpreter for ``model_path`` running on one backend.

    Args:
      model_path: a ``.tflite`` file.
      backend: ``"tf_sparse"`` (our delegate first, XNNPACK takes what it declines),
        ``"xnnpack"`` (the stock interpreter with its default delegate) or ``"builtin"``
        (TFLite's built-in kernels only, no default delegate).
      runtime: ``"litert"`` (ai_edge_litert) or ``"tf"`` (tf.lite).
      num_threads: threads for the interpreter and for our delegate.
      **options: options for our delegate (see ``tfs.load_delegate``).

    Returns:
      ``(interpreter, delegate or None)``.
    """
    if backend not in _BACKENDS:
        raise ValueError(f"make_interpreter: `backend` must be one of {_BACKENDS}, got {backend!r}")
    if runtime == "litert":
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    elif runtime == "tf":
        import tensorflow as tf

        Interpreter, OpResolverType = tf.lite.Interpreter, tf.lite.experimental.OpResolverType
    else:
        raise ValueError(f"make_interpreter: `runtime` must be 'litert' or 'tf', got {runtime!r}")
    kwargs = {"model_path": str(model_path), "num_threads": num_threads}
    delegate = None
    if backend == "tf_sparse":
        delegate = load_delegate(num_threads=num_threads, runtime=runtime, **options)
        kwargs["experimental_delegates"] = [delegate]
    elif backend == "builtin":
        kwargs["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interp = Interpreter(**kwargs)
    interp.allocate_tensors()
    return interp, delegate


def run(interpreter, x: np.ndarray) -> np.ndarray:
    """Runs a single-input, single-output model on ``x`` (resizing the batch if needed)."""
    inp = interpreter.get_input_details()[0]
    x = np.asarray(x, dtype=inp["dtype"])
    if tuple(inp["shape"]) != x.shape:
        interpreter.resize_tensor_input(inp["index"], list(x.shape))
        interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()


def predict(interpreter, x: np.ndarray, batch_size: int = 1) -> np.ndarray:
    """Runs ``x`` through the interpreter in batches and stacks the outputs."""
    outs = [run(interpreter, x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    return np.concatenate(outs, axis=0)


def median_latency_us(
    interpreter, x: np.ndarray, runs: int = 300, warmup: int = 30, settle_s: float = 0.02
) -> float:
    """Median wall time of one ``invoke`` in microseconds, after ``warmup`` invocations.

    ``settle_s``: seconds to sleep first, so that the worker threads of other interpreters
    measured just before in this process (ours, XNNPACK's, ruy's: all busy-wait for a while
    after a call) have gone to sleep instead of competing for the cores with this one.
    """
    inp = interpreter.get_input_details()[0]
    if settle_s > 0:
        time.sleep(settle_s)
    run(interpreter, x)
    interpreter.set_tensor(inp["index"], np.asarray(x, dtype=inp["dtype"]))
    for _ in range(warmup):
        interpreter.invoke()
    times = np.empty(runs)
    for i in range(runs):
        t0 = time.perf_counter()
        interpreter.invoke()
        times[i] = time.perf_counter() - t0
    return float(np.median(times) * 1e6)
