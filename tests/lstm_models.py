"""LSTM models whose .tflite holds TFLite's fused UNIDIRECTIONAL_SEQUENCE_LSTM op, with pruned
gate weights, for the delegate's LSTM tests and benchmarks/lstm_speed.py.

The files are built by the legacy Keras 2 package ``tf_keras`` (its LSTM converts to the fused
op with ``tf.lite.TFLiteConverter.from_keras_model``) in a subprocess, so that the calling
process never imports it and stays on Keras 3.

    build_lstm_models([dict(name="a", units=32, inputs=16, steps=5, ...)], out_dir)
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys

import numpy as np

# Spec keys and defaults: layer size, sequence, Keras LSTM options and how the gate weights are
# pruned. block: (r, c) blocks over each gate matrix in TFLite's [units, inputs] layout, or None
# for unstructured; sparsity 0 keeps the weights dense.
DEFAULTS = dict(
    units=16,
    inputs=8,
    steps=4,
    batch=1,
    return_sequences=True,
    time_major=False,
    layers=1,
    sparsity=0.9,
    block=None,
    seed=0,
)


def prune_gate(w, sparsity, block, rng):
    """Zeros `sparsity` of matrix `w` ([out, in]): whole r x c blocks of least L2 norm (ragged
    edges included), or single weights of least magnitude with `block` None, ties broken at
    random."""
    if sparsity <= 0:
        return w
    r, c = block if block is not None else (1, 1)
    out, inp = w.shape
    nr, nc = -(-out // r), -(-inp // c)
    padded = np.zeros((nr * r, nc * c), w.dtype)
    padded[:out, :inp] = w
    norms = (padded.reshape(nr, r, nc, c) ** 2).sum(axis=(1, 3)) + rng.random((nr, nc)) * 1e-12
    drop = int(round(sparsity * nr * nc))
    mask = np.ones(nr * nc, bool)
    mask[np.argsort(norms, axis=None)[:drop]] = False
    mask = np.repeat(np.repeat(mask.reshape(nr, nc), r, axis=0), c, axis=1)[:out, :inp]
    return w * mask


def pruned_lstm_weights(units, inputs, sparsity, block, rng):
    """Random Keras LSTM weights (kernel [inputs, 4 units], recurrent [units, 4 units], bias) with
    each gate's matrix pruned in TFLite's [units, in] layout."""
    kernel = rng.uniform(-1, 1, (inputs, 4 * units)).astype(np.float32) / np.sqrt(inputs)
    recurrent = rng.uniform(-1, 1, (units, 4 * units)).astype(np.float32) / np.sqrt(units)
    for m in (kernel, recurrent):
        for g in range(4):
            gate = m[:, g * units : (g + 1) * units]
            gate[:] = prune_gate(gate.T.copy(), sparsity, block, rng).T
    bias = rng.uniform(-0.5, 0.5, 4 * units).astype(np.float32)
    bias[units : 2 * units] += 1.0  # Keras's unit forget bias.
    return [kernel, recurrent, bias]


def build_lstm_models(specs, out_dir, timeout=600):
    """Writes ``<out_dir>/<name>.tflite`` for each spec (a dict with ``name`` and any of
    DEFAULTS's keys) from one subprocess. Returns {name: path}."""
    specs = [dict(DEFAULTS, **s) for s in specs]
    # Neither legacy Keras switched on globally nor a sanitizer runtime preloaded (the build
    # never loads the delegate).
    env = {k: v for k, v in os.environ.items() if k not in ("TF_USE_LEGACY_KERAS", "LD_PRELOAD")}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("CUDA_VISIBLE_DEVICES", "")
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), out_dir],
        input=json.dumps(specs),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if out.returncode != 0:
        raise RuntimeError(f"building the LSTM models failed:\n{out.stderr[-3000:]}")
    return {s["name"]: os.path.join(out_dir, s["name"] + ".tflite") for s in specs}


def build_lstm_models_shared(specs, root, timeout=600):
    """build_lstm_models into a directory under `root` named for the specs and this file's
    source, built once by whichever process gets there first (pytest-xdist workers share
    `root`; the others wait on a file lock) and reused after that. Returns {name: path}."""
    with open(os.path.abspath(__file__), "rb") as f:
        source = f.read()
    key = hashlib.sha1(json.dumps(specs, sort_keys=True).encode() + source).hexdigest()[:16]
    out_dir = os.path.join(root, "lstm_models_" + key)
    with open(os.path.join(root, "lstm_models_" + key + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = os.path.join(out_dir, "done")
        if not os.path.exists(done):
            os.makedirs(out_dir, exist_ok=True)
            build_lstm_models(specs, out_dir, timeout)
            open(done, "w").close()
    return {s["name"]: os.path.join(out_dir, s["name"] + ".tflite") for s in specs}


def _build(specs, out_dir):
    import tensorflow as tf
    import tf_keras

    for s in specs:
        tf_keras.utils.set_random_seed(s["seed"])
        rng = np.random.default_rng(s["seed"])
        if s["time_major"]:
            x = tf_keras.Input(batch_shape=(s["steps"], s["batch"], s["inputs"]))
        else:
            x = tf_keras.Input((s["steps"], s["inputs"]), batch_size=s["batch"])
        y = x
        for i in range(s["layers"]):
            last = i == s["layers"] - 1
            layer = tf_keras.layers.LSTM(
                s["units"], return_sequences=s["return_sequences"] or not last, time_major=s["time_major"]
            )
            y = layer(y)
            inputs = s["inputs"] if i == 0 else s["units"]
            layer.set_weights(pruned_lstm_weights(s["units"], inputs, s["sparsity"], s["block"], rng))
        model = tf_keras.Model(x, y)
        flat = tf.lite.TFLiteConverter.from_keras_model(model).convert()
        with open(os.path.join(out_dir, s["name"] + ".tflite"), "wb") as f:
            f.write(flat)


if __name__ == "__main__":
    _build(json.loads(sys.stdin.read()), sys.argv[1])
