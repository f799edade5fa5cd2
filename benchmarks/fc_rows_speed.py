"""FULLY_CONNECTED on many rows a call (a transformer's sequence, a batch): our delegate against
XNNPACK's dense GEMM, in one process and one run.

Layers of BERT-base's feed-forward network (768->3072, 3072->768) and attention output (768->768)
on 14, 32 and 128 rows, with 75% and 90% of their (16 output units x 1 input) blocks removed
(``tfs.Block(s, block=(16, 1))``: the delegate runs them over the rows on filter-vector taps), and
75% 1x4 blocks (which the matrix-vector kernels would run slower than XNNPACK's GEMM here: the
delegate declines them). Prints the format the delegate chose, its estimate, the medians and the
ratio; outputs are checked against XNNPACK's.

    python benchmarks/fc_rows_speed.py [--runs 60] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import tf_sparse as tfs  # noqa: E402
from tf_sparse.runtime import make_interpreter, median_latency_us  # noqa: E402

LAYERS = [(768, 3072), (3072, 768), (768, 768)]
ROWS = [14, 32, 128]
STRUCTURES = {
    "16x1 blocks 75%": tfs.Block(0.75, block=(16, 1)),
    "16x1 blocks 90%": tfs.Block(0.9, block=(16, 1)),
    "1x4 blocks 75%": tfs.Block(0.75, block=(1, 4)),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="tf_sparse_rows_bench_")
    print(f"delegate ISA: {tfs.delegate_isa()}; {args.threads} thread(s); median of {args.runs} invokes")
    print("| layer | rows | structure | format | estimate | tf_sparse us | XNNPACK us | vs XNNPACK |")
    print("|---|---|---|---|---|---|---|---|")
    for din, dout in LAYERS:
        for rows in ROWS:
            for name, structure in STRUCTURES.items():
                keras.utils.set_random_seed(0)
                inputs = keras.Input((rows, din))
                dense = keras.layers.Dense(dout)
                model = keras.Model(inputs, dense(inputs))
                rng = np.random.default_rng(0)
                kernel = structure.project(rng.standard_normal((din, dout)).astype(np.float32))
                dense.set_weights([kernel, rng.standard_normal(dout).astype(np.float32)])
                path = os.path.join(tmp, "layer.tflite")
                tfs.export_tflite(model, path)
                x = rng.standard_normal((1, rows, din)).astype(np.float32)
                ours, delegate = make_interpreter(path, backend="tf_sparse", num_threads=args.threads)
                xnn, _ = make_interpreter(path, backend="xnnpack", num_threads=args.threads)
                outs = []
                for interpreter in (ours, xnn):
                    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
                    interpreter.invoke()
                    outs.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy())
                np.testing.assert_allclose(outs[0], outs[1], rtol=1e-4, atol=1e-4 * np.abs(outs[1]).max())
                t_ours, t_xnn = [], []
                for _ in range(2):  # interleaved
                    t_ours.append(median_latency_us(ours, x, runs=args.runs // 2 + 1))
                    t_xnn.append(median_latency_us(xnn, x, runs=args.runs // 2 + 1))
                a, b = np.median(t_ours), np.median(t_xnn)
                (entry,) = [r for r in tfs.delegate_report(delegate) if r["op"] == "FULLY_CONNECTED"]
                fmt = entry["format"] if entry["claimed"] else "declined"
                print(f"| FC {din}->{dout} | {rows} | {name} | {fmt} | {entry['cost_vs_dense']:.2f} | "
                      f"{a:.0f} | {b:.0f} | {b / a:.2f}x |")


if __name__ == "__main__":
    main()
