"""Interpreter helpers: build an interpreter with or without our delegate, run, and time it."""

from __future__ import annotations

import numbers
import os
import time

import numpy as np

from tf_sparse.runtime.delegate import _options_to_strings, load_delegate

_BACKENDS = ("tf_sparse", "xnnpack", "builtin")


def check_model_path(model_path, owner: str) -> str:
    """``model_path`` as a str after checking that it names an existing TFLite flatbuffer."""
    if not isinstance(model_path, (str, os.PathLike)):
        raise TypeError(f"{owner}: `model_path` must be the path of a .tflite file, got {model_path!r:.80}")
    path = os.fspath(model_path)
    if not os.path.isfile(path):
        what = "is a directory" if os.path.isdir(path) else "does not exist"
        raise FileNotFoundError(f"{owner}: `model_path` {path!r} {what}; expected a .tflite file")
    with open(path, "rb") as f:
        head = f.read(8)
    # A TFLite flatbuffer carries the file identifier "TFL3" at bytes 4..8.
    if head[4:8] != b"TFL3":
        raise ValueError(
            f"{owner}: `model_path` {path!r} is not a TFLite model (no 'TFL3' flatbuffer identifier); "
            "write one with tfs.export_tflite(model, path)"
        )
    return path


def _check_count(value, name, owner, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{owner}: `{name}` must be an integer >= {minimum}, got {value!r}")
    return int(value)


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

    Raises:
      FileNotFoundError: ``model_path`` does not exist.
      ValueError: ``model_path`` is not a TFLite flatbuffer; an unknown backend, runtime or
        delegate option, or an option given to a backend other than ``"tf_sparse"``.
    """
    if backend not in _BACKENDS:
        raise ValueError(f"make_interpreter: `backend` must be one of {_BACKENDS}, got {backend!r}")
    if runtime not in ("litert", "tf"):
        raise ValueError(f"make_interpreter: `runtime` must be 'litert' or 'tf', got {runtime!r}")
    _check_count(num_threads, "num_threads", "make_interpreter", 1)
    if options and backend != "tf_sparse":
        raise ValueError(
            f"make_interpreter: delegate options {sorted(options)} only apply to backend='tf_sparse', "
            f"got backend={backend!r}"
        )
    _options_to_strings(num_threads, options, owner="make_interpreter")
    model_path = check_model_path(model_path, "make_interpreter")
    if runtime == "litert":
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    elif runtime == "tf":
        import tensorflow as tf

        Interpreter, OpResolverType = tf.lite.Interpreter, tf.lite.experimental.OpResolverType
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


def _input_for(details, key, owner):
    """The input detail a model input named ``key`` (its Keras name) corresponds to."""
    for d in details:
        name = d["name"]
        if name in (key, f"serving_default_{key}:0", f"serving_default_{key}"):
            return d
    matches = [d for d in details if key in d["name"]]
    if len(matches) == 1:
        return matches[0]
    raise ValueError(
        f"{owner}: the model has no input named {key!r}; its inputs are {[d['name'] for d in details]}"
    )


def set_inputs(interpreter, x, owner: str = "run") -> None:
    """Sets the model's inputs from ``x``: an array for a single-input model, or a dict
    ``{input name: array}`` (Keras input names) for several; resizes and reallocates if needed."""
    details = interpreter.get_input_details()
    if isinstance(x, dict):
        if len(x) != len(details):
            raise ValueError(f"{owner}: the model has {len(details)} input(s), got {len(x)} arrays ({sorted(x)})")
        pairs = [(_input_for(details, key, owner), value) for key, value in x.items()]
    else:
        if len(details) != 1:
            raise ValueError(
                f"{owner}: the model has {len(details)} inputs ({[d['name'] for d in details]}); give a dict "
                "{input name: array}"
            )
        pairs = [(details[0], x)]
    arrays = [(d, np.asarray(v, dtype=d["dtype"])) for d, v in pairs]
    if any(tuple(d["shape"]) != a.shape for d, a in arrays):
        for d, a in arrays:
            interpreter.resize_tensor_input(d["index"], list(a.shape))
        interpreter.allocate_tensors()
    for d, a in arrays:
        interpreter.set_tensor(d["index"], a)


def run(interpreter, x) -> np.ndarray:
    """Runs a model on ``x`` (an array, or a dict ``{input name: array}`` for several inputs;
    resizing if needed) and returns its first output."""
    set_inputs(interpreter, x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()


def predict(interpreter, x: np.ndarray, batch_size: int = 1) -> np.ndarray:
    """Runs ``x`` through the interpreter in batches and stacks the outputs."""
    _check_count(batch_size, "batch_size", "predict", 1)
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
    times = interleaved_times_us([interpreter], x, runs, warmup, 1, settle_s, owner="median_latency_us")
    return float(np.median(times))


def interleaved_latency_us(
    interpreters, x: np.ndarray, runs: int = 20, warmup: int = 3, rounds: int = 5, settle_s: float = 0.02
) -> list:
    """Median wall time of one ``invoke`` of each interpreter on ``x``, in microseconds, measured
    in alternation so that clock drift and the load of other processes hit every one alike.

    There are ``rounds`` rounds; in each, every interpreter in turn sleeps ``settle_s`` (see
    :func:`median_latency_us`), runs ``warmup`` untimed invocations (its weights back in cache
    after the others ran) and ``ceil(runs / rounds)`` timed ones. Each median is over all of
    its timed invocations (at least ``runs``); :func:`interleaved_times_us` gives them all.

    Example:
      >>> t_ours, t_stock = interleaved_latency_us([ours, stock], sample, runs=40)
    """
    times = interleaved_times_us(interpreters, x, runs, warmup, rounds, settle_s, owner="interleaved_latency_us")
    return [float(np.median(t)) for t in times]


def interleaved_times_us(
    interpreters, x: np.ndarray, runs: int = 20, warmup: int = 3, rounds: int = 5, settle_s: float = 0.02,
    owner: str = "interleaved_times_us",
) -> np.ndarray:
    """Every timed invocation of :func:`interleaved_latency_us`: an array (interpreters, samples) in
    microseconds, for statistics other than the median (e.g. a low percentile on a loaded machine)."""
    if not isinstance(interpreters, (list, tuple)) or not interpreters:
        raise TypeError(f"{owner}: `interpreters` must be a non-empty list of interpreters, got {interpreters!r:.80}")
    _check_count(runs, "runs", owner, 1)
    _check_count(warmup, "warmup", owner, 0)
    rounds = _check_count(rounds, "rounds", owner, 1)
    if isinstance(settle_s, bool) or not isinstance(settle_s, numbers.Real) or not 0 <= settle_s < 60:
        raise ValueError(f"{owner}: `settle_s` must be a number of seconds in [0, 60), got {settle_s!r}")
    for interpreter in interpreters:
        run(interpreter, x)  # resizes the batch if needed and sets the input
    per_round = -(-runs // rounds)
    times = np.empty((len(interpreters), rounds * per_round))
    for r in range(rounds):
        for i, interpreter in enumerate(interpreters):
            if settle_s > 0:
                time.sleep(settle_s)
            for _ in range(warmup):
                interpreter.invoke()
            for j in range(r * per_round, (r + 1) * per_round):
                t0 = time.perf_counter()
                interpreter.invoke()
                times[i, j] = time.perf_counter() - t0
    return times * 1e6
