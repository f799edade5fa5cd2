"""Runs .tflite files one after another in this process and reports each as JSON lines.

    python worker.py --side stock|delegate [--options JSON]

Reads ``CASE_ID PATH`` lines on stdin. For each case it writes stage lines
``{"id": .., "stage": ..}`` as it passes them (parsed, delegated, allocated, invoked: the parent
reads the last one after a crash) and one ``{"id": .., "result": ...}`` line. Stock side:
``ai_edge_litert``'s interpreter with its default XNNPACK delegate. Delegate side: the model is
first built without any delegate (so a crash in TFLite's own model parsing is told apart), then
with the tf_sparse delegate (loaded through tf_sparse/runtime/delegate.py, i.e.
``tfs.load_delegate``, without importing TensorFlow so that a restart after a crash is quick).
Memory is capped so that a mutated shape fails an allocation instead of swapping.
"""

from __future__ import annotations

import argparse
import base64
import faulthandler
import importlib.util
import json
import os
import resource
import sys

import numpy as np

MAX_INPUT_ELEMENTS = 1 << 22
MAX_OUTPUT_BYTES = 1 << 22


def _emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _delegate_module():
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "..", "tf_sparse", "runtime", "delegate.py")
    spec = importlib.util.spec_from_file_location("tf_sparse_runtime_delegate", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _inputs(interpreter, case_id):
    rng = np.random.default_rng(case_id)
    out = []
    for d in interpreter.get_input_details():
        shape = [int(s) for s in d["shape"]]
        if any(s < 0 for s in shape) or int(np.prod(shape, dtype=np.int64)) > MAX_INPUT_ELEMENTS:
            raise ValueError(f"harness: input shape {shape} not fed")
        dtype = np.dtype(d["dtype"])
        if dtype.kind == "f":
            x = rng.standard_normal(shape).astype(dtype)
        elif dtype.kind in "iu":
            x = rng.integers(0, 8, size=shape).astype(dtype)
        elif dtype.kind == "b":
            x = rng.random(shape) < 0.5
        else:
            raise ValueError(f"harness: input dtype {dtype} not fed")
        out.append((d["index"], x))
    return out


def _encode(a):
    a = np.ascontiguousarray(a)
    if a.dtype == object or a.nbytes > MAX_OUTPUT_BYTES:
        return {"dtype": str(a.dtype), "shape": list(a.shape), "data": None}
    return {
        "dtype": str(a.dtype),
        "shape": list(a.shape),
        "data": base64.b64encode(a.tobytes()).decode("ascii"),
    }


def run_case(case_id, path, side, options, Interpreter, delegates):
    stage = "start"
    result = {"id": case_id}
    try:
        if side == "delegate":
            Interpreter(model_path=path)  # TFLite's own parsing, no delegate
            stage = "parsed"
            _emit({"id": case_id, "stage": stage})
            delegate = delegates.load_delegate(**options)
            interpreter = Interpreter(model_path=path, experimental_delegates=[delegate])
            result["claimed"] = delegates.delegate_stats(delegate)["nodes_claimed"]
            stage = "delegated"
            _emit({"id": case_id, "stage": stage, "claimed": result["claimed"]})
        else:
            interpreter = Interpreter(model_path=path)
            stage = "parsed"
            _emit({"id": case_id, "stage": stage})
        interpreter.allocate_tensors()
        stage = "allocated"
        _emit({"id": case_id, "stage": stage})
        for index, x in _inputs(interpreter, case_id):
            interpreter.set_tensor(index, x)
        interpreter.invoke()
        stage = "invoked"
        _emit({"id": case_id, "stage": stage})
        result["outputs"] = [
            _encode(interpreter.get_tensor(d["index"])) for d in interpreter.get_output_details()
        ]
        result["outcome"] = "ran"
    except Exception as e:  # noqa: BLE001: every Python-level failure is a clear error
        result["outcome"] = "error"
        result["stage"] = stage
        result["error"] = (type(e).__name__ + ": " + str(e))[:600]
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--side", choices=["stock", "delegate"], required=True)
    parser.add_argument("--options", default="{}")
    parser.add_argument("--memory_gb", type=float, default=6.0)
    parser.add_argument("--path", help="run this one file (as case 0) instead of reading stdin")
    args = parser.parse_args()
    faulthandler.enable()
    limit = int(args.memory_gb * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from ai_edge_litert.interpreter import Interpreter

    delegates = _delegate_module() if args.side == "delegate" else None
    options = json.loads(args.options)
    _emit({"ready": True})
    if args.path:
        _emit(run_case(0, args.path, args.side, options, Interpreter, delegates))
        return
    for line in sys.stdin:
        case_id, path = line.rstrip("\n").split(" ", 1)
        _emit(run_case(int(case_id), path, args.side, options, Interpreter, delegates))


if __name__ == "__main__":
    main()
