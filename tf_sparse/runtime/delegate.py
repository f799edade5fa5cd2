"""Finding, loading and inspecting the tf_sparse TFLite delegate."""

from __future__ import annotations

import ctypes
import difflib
import functools
import json
import numbers
import os

import numpy as np

_LIB_NAME = "libtf_sparse_delegate.so"
_ENV_VAR = "TF_SPARSE_DELEGATE"
_RUNTIMES = ("litert", "tf")


def _repo_root():
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _candidates():
    env = os.environ.get(_ENV_VAR)
    if env:
        return [env]
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return [
        os.path.join(here, "lib", _LIB_NAME),  # an installed package
        os.path.join(_repo_root(), "bazel-bin", "delegate", _LIB_NAME),  # a source checkout
    ]


def delegate_path() -> str:
    """Path of the delegate's shared library.

    ``$TF_SPARSE_DELEGATE`` wins when set; otherwise the library built in the source tree
    (``bazel-bin/delegate/libtf_sparse_delegate.so``).

    Raises:
      FileNotFoundError: with the command that builds it, when it is missing.
    """
    candidates = _candidates()
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        "tf_sparse delegate library not found (looked at: " + ", ".join(candidates) + "). "
        "Build it with `make delegate` (runs `bazel build //delegate:libtf_sparse_delegate.so` "
        "in the repository root), or set $TF_SPARSE_DELEGATE to its path."
    )


#: Options the delegate's library parses (delegate/options.cc) besides ``num_threads``: the
#: Python type each takes, its range, and what is allowed. The library checks the strings again;
#: keys, types and plain ranges are checked here so that a typo fails before any C code runs.
_OPTIONS = {
    "min_sparsity": (numbers.Real, lambda v: 0.0 <= float(v) < 1.0, "a number in [0, 1)"),
    "format": (
        str,
        lambda v: v != "",
        "a format string: 'auto', 'bsr:RxC' (e.g. 'bsr:1x4'), 'csr', 'nm', 'nm:N:M', 'gs', 'gs:B', "
        "'gs:B:E', 'patdnn', 'vtaps', 'pixvec' or 'dwtaps'",
    ),
    "verbose": (numbers.Integral, lambda v: 0 <= int(v) <= 2, "0, 1 or 2"),
    "corrupt_sparsity": (str, lambda v: v in ("error", "decline"), "'error' or 'decline'"),
    "calibration": (str, lambda v: v in ("auto", "force", "off"), "'auto', 'force' or 'off'"),
    "calibration_dir": (str, lambda v: v != "", "a directory path"),
}


def _options_to_strings(num_threads, options, owner="load_delegate"):
    if isinstance(num_threads, bool) or not isinstance(num_threads, numbers.Integral) or num_threads < 1:
        raise ValueError(f"{owner}: `num_threads` must be an integer >= 1, got {num_threads!r}")
    out = {"num_threads": str(int(num_threads))}
    for key, value in options.items():
        if key not in _OPTIONS:
            close = difflib.get_close_matches(str(key), list(_OPTIONS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"{owner}: unknown delegate option {key!r}{hint}; allowed options: num_threads, "
                f"{', '.join(_OPTIONS)}"
            )
        kind, in_range, allowed = _OPTIONS[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not numbers.Integral):
            raise TypeError(f"{owner}: delegate option `{key}` must be {allowed}, got {value!r}")
        if not in_range(value):  # NaN fails every comparison
            raise ValueError(f"{owner}: delegate option `{key}` must be {allowed}, got {value!r}")
        if isinstance(value, numbers.Integral):
            value = str(int(value))
        elif not isinstance(value, str):
            # Plain positional decimal (the library takes no exponent): 1e-05 -> "0.00001".
            value = np.format_float_positional(float(value), trim="-")
        if "\0" in value:
            # The C loader would cut the string at the NUL and see another value.
            raise ValueError(f"{owner}: delegate option `{key}` contains a NUL character; allowed: {allowed}")
        out[key] = value
    return out


def load_delegate(num_threads: int = 1, runtime: str = "litert", **options):
    """Loads the tf_sparse delegate for an interpreter's ``experimental_delegates``.

    Args:
      num_threads: threads of the delegate's own pool (>= 1).
      runtime: ``"litert"`` for ``ai_edge_litert.interpreter.Interpreter`` (default) or ``"tf"``
        for ``tf.lite.Interpreter``.
      **options: passed to the delegate as strings: ``min_sparsity`` (least fraction of zero
        weights for a node to be considered, in [0, 1)), ``format`` (``"auto"`` or a forced
        format: ``"bsr:1x4"``, ``"csr"``, ``"nm"``, ``"nm:2:4"``, ``"gs"``, ``"gs:16"``,
        ``"gs:16:1"`` for FULLY_CONNECTED, and for both stacked gate matrices of a float
        UNIDIRECTIONAL_SEQUENCE_LSTM whatever its cost estimate; ``"patdnn"`` for every pattern-structured 3x3
        CONV_2D, ``"vtaps"`` for every CONV_2D on filter-vector taps (fast when blocks of 16
        filters share their zeros, e.g. ``KernelPattern(..., filter_block=16)``), ``"pixvec"`` for
        every CONV_2D on pixel-vector nonzeros (any fine-grained sparsity: unstructured, 1x4
        blocks, N:M, per-kernel patterns), ``"dwtaps"``
        for every supported 3x3 DEPTHWISE_CONV_2D, whatever the cost estimate; N:M takes N in
        1, 2, 4, 8, 16 and M in 2, 4, 8, 16, 32, GS B a power of two up to 256),
        ``corrupt_sparsity`` (``"error"``, the default: a tensor in TFLite's sparse encoding that is
        inconsistent makes the interpreter's construction raise, naming the node,
        tensor and problem; ``"decline"``: leave it to TFLite, whose kernels do not check it),
        ``calibration`` (``"auto"``, the default or ``$TF_SPARSE_CALIBRATION``: the cost models
        are scaled by factors measured once per CPU model and cached on disk, so a kernel that
        runs relatively slower on this core than on the one the models were fitted on is
        claimed only where it still pays; ``"force"``: measure again; ``"off"``: the static
        models), ``calibration_dir`` (the cache's directory; default ``$TF_SPARSE_CACHE_DIR``,
        else ``$XDG_CACHE_HOME/tf_sparse``, else ``~/.cache/tf_sparse``),
        ``verbose`` (0, 1 or 2: one line per considered node on stderr). Values are strict:
        plain decimal digits, names exactly as listed.

    Returns:
      The runtime's delegate object.

    Raises:
      ValueError: an unknown option, or a value out of its range (the message names the option
        and the allowed values); checked before the library is loaded; or a value the
        library itself rejects.
      TypeError: an option value of the wrong type (e.g. ``min_sparsity="0.5"``).

    Example:
      >>> from ai_edge_litert.interpreter import Interpreter
      >>> interp = Interpreter("m.tflite", experimental_delegates=[tfs.load_delegate(num_threads=2)])
    """
    if runtime not in _RUNTIMES:
        raise ValueError(f"load_delegate: `runtime` must be one of {_RUNTIMES}, got {runtime!r}")
    strings = _options_to_strings(num_threads, options)
    path = delegate_path()
    if runtime == "litert":
        from ai_edge_litert.interpreter import load_delegate as _load
    else:
        import tensorflow as tf

        _load = tf.lite.experimental.load_delegate
    return _load(path, strings)


def _library():
    return _open_library(delegate_path())


@functools.lru_cache(maxsize=None)
def _open_library(path):
    lib = ctypes.CDLL(path)  # the same handle the interpreter's loader opened
    lib.tf_sparse_delegate_stats.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_int64),
        ctypes.POINTER(ctypes.c_int64),
    ]
    lib.tf_sparse_delegate_stats.restype = ctypes.c_int
    lib.tf_sparse_delegate_kernel_time.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int64)]
    lib.tf_sparse_delegate_kernel_time.restype = ctypes.c_int
    lib.tf_sparse_delegate_report.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.tf_sparse_delegate_report.restype = ctypes.c_int  # -1: not a tf_sparse delegate
    lib.tf_sparse_delegate_calibration.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.tf_sparse_delegate_calibration.restype = ctypes.c_int
    lib.tf_sparse_delegate_isa.argtypes = []
    lib.tf_sparse_delegate_isa.restype = ctypes.c_char_p
    return lib


def _pointer(delegate, owner):
    ptr = getattr(delegate, "_delegate_ptr", None)
    if not ptr:
        raise TypeError(f"{owner}: `delegate` must be a delegate returned by tfs.load_delegate, got {delegate!r}")
    return ctypes.c_void_p(ptr)


def delegate_stats(delegate) -> dict:
    """``{"nodes_claimed": n, "invocations": k, "kernel_time_us": t}`` counted inside the delegate's
    library: nodes it runs, node computations done so far, and the wall time spent inside its
    kernels so far (the rest of a model's invoke is TFLite's and XNNPACK's)."""
    ptr = _pointer(delegate, "delegate_stats")
    claimed, invocations, ns = ctypes.c_int64(0), ctypes.c_int64(0), ctypes.c_int64(0)
    lib = _library()
    rc = lib.tf_sparse_delegate_stats(ptr, ctypes.byref(claimed), ctypes.byref(invocations))
    if rc == 0:
        rc = lib.tf_sparse_delegate_kernel_time(ptr, ctypes.byref(ns))
    if rc != 0:
        raise RuntimeError("delegate_stats: not a tf_sparse delegate")
    return {"nodes_claimed": claimed.value, "invocations": invocations.value, "kernel_time_us": ns.value / 1e3}


def _library_json(delegate, name) -> str:
    """The JSON text the library's ``tf_sparse_<name>(delegate, buf, n)`` writes (called once for
    the length, once more with a buffer that holds it)."""
    ptr = _pointer(delegate, name)
    fn = getattr(_library(), "tf_sparse_" + name)
    need = fn(ptr, None, 0)
    if need < 0:
        raise RuntimeError(f"{name}: not a tf_sparse delegate")
    buf = ctypes.create_string_buffer(int(need) + 1)
    fn(ptr, buf, len(buf))
    return buf.value.decode("utf-8")


def delegate_report(delegate) -> list:
    """The delegate's decision for every node it considered, as a list of dicts.

    Each entry has ``node``, ``op``, ``claimed``, ``reason`` and, where known, ``format``,
    ``shape`` and ``sparsity``.
    """
    return json.loads(_library_json(delegate, "delegate_report") or "[]")


def delegate_calibration(delegate) -> dict:
    """The cost-model calibration the delegate uses on this CPU.

    ``{"cpu", "isa", "source": "measured" | "cache" | "off", "path", "families": {name: {"factor",
    "ratio", "reference"}}, ...}``: each kernel family's estimated costs are multiplied by its
    ``factor`` (>= 1), the ratio of its measured speed to a dense stand-in here over the same
    ratio on the reference CPU. Measured on the first call if no node analysis has needed it.
    """
    return json.loads(_library_json(delegate, "delegate_calibration"))


def delegate_isa() -> str:
    """Instruction set the delegate's kernels selected on this CPU (e.g. ``"avx512"``)."""
    return _library().tf_sparse_delegate_isa().decode("utf-8")
