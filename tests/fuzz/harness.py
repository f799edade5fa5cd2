"""The fuzz harness: runs model files on the stock interpreter and with the tf_sparse delegate,
each side in its own long-lived worker subprocess (tests/fuzz/worker.py), restarted after a
crash or a hang, and classifies every case.

Outcomes per side:
  stock:    ran | error (Python exception) | crash (signal / died) | hang (timeout)
  delegate: declined-equal (nothing claimed, outputs equal stock's) | ran-equal (nodes claimed,
            outputs equal) | ran (stock did not run, so nothing to compare) | error | crash |
            wrong (outputs differ from stock's) | hang

The rule checked: whatever stock survives, the delegate survives (runs equal or raises a clear
error); where stock crashes, the delegate run does not crash inside our library. A delegate-side
crash counts as ours unless stock also crashed and either the crash came before the delegate was
applied (TFLite's own model parsing, checked by building the model without a delegate first) or
the delegate claimed no node (then the graph TFLite runs is stock's own). Likewise a hang.
"""

from __future__ import annotations

import base64
import collections
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
STOCK_OUTCOMES = ("ran", "error", "crash", "hang")
DELEGATE_OUTCOMES = ("declined-equal", "ran-equal", "ran", "error", "crash", "wrong", "hang")


class Worker:
    """One worker subprocess; `run` sends a case and waits for its result."""

    def __init__(self, side, options, timeout, python=sys.executable):
        self.side, self.options, self.timeout, self.python = side, options, timeout, python
        self.proc = None
        self.restarts = 0
        self._stderr = tempfile.TemporaryFile()

    def _start(self):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONFAULTHANDLER="1")
        env.setdefault("TF_SPARSE_DELEGATE", os.path.join(REPO, "bazel-bin", "delegate",
                                                          "libtf_sparse_delegate.so"))
        self._stderr.seek(0)
        self._stderr.truncate()
        self.proc = subprocess.Popen(
            [self.python, os.path.join(HERE, "worker.py"), "--side", self.side,
             "--options", json.dumps(self.options)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            cwd=REPO, env=env, start_new_session=True,
        )
        self._buf = b""
        ready = self._read_line(60.0)
        if ready is None or not ready.get("ready"):
            raise RuntimeError(f"fuzz worker ({self.side}) did not start: {self._tail()}")

    def _tail(self):
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")[-2000:]

    def _read_line(self, timeout):
        deadline = time.monotonic() + timeout
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            while b"\n" not in self._buf:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    return "timeout"
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    return None  # EOF: the worker died
                self._buf += chunk
        finally:
            sel.close()
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def _kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        self.proc = None
        self.restarts += 1

    def run(self, case_id, path):
        result = self._run(case_id, path)
        if result["outcome"] in ("crash", "hang") and self.cases_before_failure > 0:
            # An earlier case may have corrupted the heap: confirm in a fresh process.
            first = result
            result = self._run(case_id, path)
            if result["outcome"] != first["outcome"]:
                result["note"] = f"{first['outcome']} only after earlier cases in the process"
        return result

    def _run(self, case_id, path):
        if self.proc is None:
            self._start()
            self.cases_in_process = 0
        self.cases_before_failure = self.cases_in_process
        self.cases_in_process += 1
        self.proc.stdin.write(f"{case_id} {path}\n".encode())
        self.proc.stdin.flush()
        stage, claimed = "start", None
        deadline = time.monotonic() + self.timeout
        while True:
            msg = self._read_line(max(0.0, deadline - time.monotonic()))
            if msg == "timeout":
                self._kill()
                return {"id": case_id, "outcome": "hang", "stage": stage, "claimed": claimed}
            if msg is None:
                code = self.proc.wait()
                tail = self._tail()
                self.proc = None
                self.restarts += 1
                return {"id": case_id, "outcome": "crash", "stage": stage, "claimed": claimed,
                        "returncode": code, "stderr": tail[-1500:]}
            if "result" in msg or "outcome" in msg:
                return msg
            stage = msg.get("stage", stage)
            claimed = msg.get("claimed", claimed)

    def close(self):
        if self.proc is not None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._kill()
            self.proc = None


def native_crash_frames(path, options=None, timeout=120.0):
    """Runs one case of the delegate side under gdb (when installed) and returns the native
    backtrace's frame lines, innermost first, or None (no gdb, or no crash this time)."""
    import shutil

    gdb = shutil.which("gdb")
    if gdb is None:
        return None
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    try:
        out = subprocess.run(
            [gdb, "-q", "-batch", "-ex", "run", "-ex", "bt 12", "--args",
             sys.executable, os.path.join(HERE, "worker.py"), "--side", "delegate",
             "--options", json.dumps(options or {}), "--path", os.path.abspath(path)],
            capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env,
        ).stdout
    except subprocess.TimeoutExpired:
        return None
    frames = [line for line in out.splitlines() if line.startswith("#")]
    return frames or None


def crashed_in_our_library(frames):
    """Whether the innermost frames of a native backtrace are in libtf_sparse_delegate.so."""
    return any("libtf_sparse_delegate" in f or "tf_sparse::" in f for f in frames[:3])


def _decode(o):
    if o["data"] is None:
        return None
    return np.frombuffer(base64.b64decode(o["data"]), dtype=np.dtype(o["dtype"])).reshape(
        o["shape"])


def outputs_equal(expected, got, rtol=1e-4):
    """NaN-aware comparison of two output lists (as the worker encodes them)."""
    if len(expected) != len(got):
        return False
    for e, g in zip(expected, got):
        if e["dtype"] != g["dtype"] or e["shape"] != g["shape"]:
            return False
        a, b = _decode(e), _decode(g)
        if a is None or b is None:
            continue
        if a.dtype.kind != "f":
            if not np.array_equal(a, b):
                return False
            continue
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        fa, fb = np.isfinite(a64), np.isfinite(b64)
        scale = float(np.abs(a64[fa]).max()) if fa.any() else 0.0
        if scale > 1e30:
            continue  # overflow territory: the summation order decides inf vs finite
        # Compared where stock is finite. Where stock is NaN or inf anything goes: a sparse
        # kernel skips zero weights, so a NaN or inf input or intermediate does not reach the
        # outputs through 0 * NaN as in a dense kernel (TFLite's own sparse kernels skip them
        # too), and the clamp of a fused activation may map NaN to its bound. Where stock is
        # finite, ours must be finite and close.
        if not fb[fa].all():
            return False
        if fa.any() and not np.allclose(a64[fa], b64[fa], rtol=rtol, atol=rtol * scale + 1e-6):
            return False
    return True


def classify(stock, ours):
    """(stock outcome, delegate outcome, attributable: bool, note)."""
    s = stock["outcome"]
    d = ours["outcome"]
    claimed = ours.get("claimed")
    if d == "ran":
        if s != "ran":
            return s, "ran", False, ""
        if outputs_equal(stock["outputs"], ours["outputs"]):
            return s, ("ran-equal" if claimed else "declined-equal"), False, ""
        # Nothing claimed: TFLite ran its own graph twice; a difference is its own (e.g. a
        # mutated model reading uninitialised memory), not ours.
        return s, "wrong", bool(claimed), "" if claimed else "nothing claimed"
    if d == "error":
        return s, "error", False, ""
    if d in ("crash", "hang"):
        if s in ("ran", "error"):
            return s, d, True, "stock survives"
        if ours.get("stage") == "start":
            return s, d, False, "in TFLite's model parsing (before the delegate)"
        if ours.get("stage") == "parsed":
            frames = ours.get("native_frames")
            if frames is not None and not crashed_in_our_library(frames):
                return s, d, False, "in TFLite while the delegate was applied: " + frames[0][:160]
            return s, d, True, "while the delegate was applied"
        if not claimed:
            return s, d, False, "delegate claimed nothing; stock fails too"
        return s, d, True, "in a graph with claimed nodes"
    raise ValueError(d)


def run_cases(cases, options=None, timeout=20.0, progress=None):
    """cases: list of (case_id, path). Returns {case_id: (stock result, delegate result)} with
    both sides run concurrently (one worker each)."""
    options = dict(options or {})
    results = {"stock": {}, "delegate": {}}
    restarts = {}

    def side(name):
        w = Worker(name, options if name == "delegate" else {}, timeout)
        try:
            for i, (case_id, path) in enumerate(cases):
                results[name][case_id] = w.run(case_id, path)
                if progress and name == "stock" and (i + 1) % progress == 0:
                    print(f"  {i + 1}/{len(cases)} cases", file=sys.stderr, flush=True)
        finally:
            w.close()
            restarts[name] = w.restarts

    threads = [threading.Thread(target=side, args=(n,)) for n in ("stock", "delegate")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    paths = dict(cases)
    for cid, ours in results["delegate"].items():
        stock = results["stock"][cid]
        if ours["outcome"] == "crash" and ours.get("stage") == "parsed" and \
                stock["outcome"] in ("crash", "hang"):
            # Stock crashes too: is this one inside our library? Ask for a native backtrace.
            ours["native_frames"] = native_crash_frames(paths[cid], options)
    return {cid: (results["stock"][cid], results["delegate"][cid]) for cid, _ in cases}, restarts


def summarize(pairs, labels=None):
    """Counts table and the list of delegate-attributable findings."""
    stock_counts = collections.Counter()
    ours_counts = collections.Counter()
    findings = []
    for cid, (s, d) in sorted(pairs.items()):
        so, do, ours, note = classify(s, d)
        stock_counts[so] += 1
        ours_counts[do] += 1
        if ours:
            findings.append({"id": cid, "stock": so, "delegate": do, "note": note,
                             "labels": (labels or {}).get(cid), "detail": d.get("error")
                             or d.get("stderr", "")[-600:]})
    return stock_counts, ours_counts, findings


def table(stock_counts, ours_counts):
    rows = ["outcome            stock alone   with delegate"]
    for name in ("ran", "declined-equal", "ran-equal", "error", "crash", "wrong", "hang"):
        s = stock_counts.get(name, "") if name in STOCK_OUTCOMES else ""
        rows.append(f"{name:<18} {str(s):>11}   {str(ours_counts.get(name, '')):>13}")
    return "\n".join(rows)
