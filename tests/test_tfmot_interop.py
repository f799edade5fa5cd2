"""tfmot interop runs in a subprocess: importing tfmot switches the process to legacy Keras."""

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("tensorflow_model_optimization")

SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import tensorflow as tf
    import tf_keras
    import tensorflow_model_optimization as tfmot
    import tf_sparse as tfs
    from tf_sparse import tfmot as tfs_tfmot

    sched = tfs_tfmot.PolynomialDecay(0.0, 0.75, begin_step=0, end_step=12, frequency=2)
    assert isinstance(sched, tfmot.sparsity.keras.PruningSchedule)
    ours = tfs.PolynomialDecay(0.0, 0.75, begin_step=0, end_step=12, frequency=2)
    ref = tfmot.sparsity.keras.PolynomialDecay(0.0, 0.75, begin_step=0, end_step=12, frequency=2)
    for step in range(0, 20):
        a, b, c = sched(tf.constant(step, tf.int64)), ref(tf.constant(step, tf.int64)), ours(step)
        assert bool(a[0]) == bool(b[0]) == c[0], step
        assert abs(float(a[1]) - float(b[1])) < 1e-6 and abs(float(a[1]) - c[1]) < 1e-6, step
    const = tfs_tfmot.from_tf_sparse(tfs.ConstantSparsity(0.5, begin_step=3, frequency=4))
    assert bool(const(tf.constant(7, tf.int64))[0]) and not bool(const(tf.constant(8, tf.int64))[0])
    assert tfs_tfmot.PolynomialDecay.from_config(sched.get_config()["config"]).get_config() == sched.get_config()

    tf_keras.utils.set_random_seed(0)
    model = tf_keras.Sequential([tf_keras.layers.Dense(32, activation="relu", input_shape=(16,)),
                                 tf_keras.layers.Dense(4)])
    pruned = tfmot.sparsity.keras.prune_low_magnitude(model, pruning_schedule=sched)
    pruned.compile("adam", "mse")
    x = np.random.default_rng(0).standard_normal((64, 16)).astype("float32")
    y = x[:, :4]
    pruned.fit(x, y, batch_size=16, epochs=4, verbose=0,
               callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    stripped = tfmot.sparsity.keras.strip_pruning(pruned)
    for layer in stripped.layers:
        k = layer.get_weights()[0]
        s = float(np.mean(k == 0))
        assert abs(s - 0.75) < 0.01, s
    print("OK")
    """
)


def test_tfmot_schedules_inside_prune_low_magnitude():
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "OK" in out.stdout
