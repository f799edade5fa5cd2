"""Projection speed of every structure, and the bytes of its compact format.

Projects a 4096 x 4096 Dense kernel and a 3x3x256x256 Conv2D kernel (random normal, float32)
with every structure on one thread and prints two markdown tables: the median projection time
(the target is under one second each, so that ADMM can project every few hundred steps), and
the packed bytes of each structure's format against dense float32 and int8.

    python benchmarks/structures_speed.py [--runs 5] [--no-bytes]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one core: NumPy's BLAS calls stay single-threaded
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import tf_sparse as tfs  # noqa: E402
from tf_sparse import formats  # noqa: E402

DENSE = (4096, 4096)
CONV = (3, 3, 256, 256)


def structures(conv_kernel):
    """(label, structure, applies to Dense, applies to Conv)."""
    fitted = tfs.KernelPattern(8, connectivity=0.5).fit_library([conv_kernel])
    return [
        ("Unstructured(0.9)", tfs.Unstructured(0.9), True, True),
        ("Filter(0.9)", tfs.Filter(0.9), True, True),
        ("Channel(0.9)", tfs.Channel(0.9), True, True),
        ("Column(0.9)", tfs.Column(0.9), True, True),
        ("Block(0.9, block=(1, 4))", tfs.Block(0.9, block=(1, 4)), True, True),
        ("Block(0.9, block=(4, 4))", tfs.Block(0.9, block=(4, 4)), True, True),
        ("BlockPunched(0.9, block=(8, 4))", tfs.BlockPunched(0.9, block=(8, 4)), True, True),
        ("NM(2, 4)", tfs.NM(2, 4), True, True),
        ("NM(1, 8)", tfs.NM(1, 8), True, True),
        ("KernelPattern(8, 0.5), fixed library", fitted, False, True),
        ("KernelPattern(8, 0.5), library extracted per call", tfs.KernelPattern(8, connectivity=0.5), False, True),
        ("GatherScatter(0.9, banks=16)", tfs.GatherScatter(0.9), True, True),
        ("GatherScatter(0.5, banks=16)", tfs.GatherScatter(0.5), True, True),
        ("GatherScatter(0.9, banks=16, elements_per_row=4)", tfs.GatherScatter(0.9, elements_per_row=4), True, True),
        ("GatherScatter(0.9, banks=16, tile=(256, 256))", tfs.GatherScatter(0.9, tile=(256, 256)), True, True),
        ("Crossbar(0.9, tile=(64, 64))", tfs.Crossbar(0.9), True, True),
        ("Crossbar(0.9, tile=(64, 64), granularity='column')", tfs.Crossbar(0.9, granularity="column"), True, True),
        (
            "Crossbar(0.75, tile=(64, 64), granularity='row', single_sign=True)",
            tfs.Crossbar(0.75, granularity="row", single_sign=True),
            True,
            True,
        ),
    ]


def timings(fn, runs):
    """(median, min) seconds of ``runs`` calls after one warm-up call."""
    fn()  # warm-up: first-touch page faults of the large temporaries
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), float(np.min(times))


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per projection (median)")
    parser.add_argument("--no-bytes", action="store_true", help="skip the bytes table")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    dense = rng.standard_normal(DENSE).astype(np.float32)
    conv = rng.standard_normal(CONV).astype(np.float32)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# Structure projection speed\n\n{cpu_name()}, one thread, NumPy {np.__version__}; "
          f"median (min) of {args.runs} runs after one warm-up; 1-min load average at start "
          f"{load:.1f} on {os.cpu_count()} cores.\n")
    print("| structure | Dense 4096 x 4096 | Conv2D 3x3x256x256 | achieved sparsity (Dense / Conv) |")
    print("|---|---:|---:|---|")
    projected = []
    for label, s, on_dense, on_conv in structures(conv):
        cells, achieved = [], []
        for ok, kernel in ((on_dense, dense), (on_conv, conv)):
            if not ok:
                cells.append("n/a")
                achieved.append("-")
                continue
            median, best = timings(lambda: s.project(kernel), args.runs)
            p = s.project(kernel)
            assert s.is_valid(p), label
            cells.append(f"{median * 1e3:.0f} ({best * 1e3:.0f}) ms")
            achieved.append(f"{tfs.kernel_sparsity(p):.4f}")
            projected.append((label, s, kernel is dense, p))
        print(f"| {label} | {cells[0]} | {cells[1]} | {' / '.join(achieved)} |")

    if args.no_bytes:
        return
    print("\n# Bytes of each structure's format\n")
    print("Packed arrays without alignment padding; int8 values add one float32 scale per output "
          "unit. Ratios are dense bytes / format bytes for the same value type. Dense baselines: "
          f"Dense 4096x4096 {formats.dense_nbytes(dense):,} B (float32), {formats.dense_nbytes(dense, 1):,} B "
          f"(int8); Conv 3x3x256x256 {formats.dense_nbytes(conv):,} B, {formats.dense_nbytes(conv, 1):,} B.\n")
    print("| kernel | structure | format | bytes (f32) | vs dense f32 | bytes (int8) | vs dense int8 | CSR bytes (f32) |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for label, s, is_dense, p in projected:
        rows = formats.byte_report(p, s)
        own = rows[3] if len(rows) > 3 else rows[2]
        csr = rows[2]
        kernel = "Dense 4096x4096" if is_dense else "Conv 3x3x256x256"
        print(f"| {kernel} | {label} | {own['format']} | {own['bytes']:,} | {own['vs_dense_f32']:.2f}x | "
              f"{own['bytes_int8']:,} | {own['vs_dense_int8']:.2f}x | {csr['bytes']:,} |")


if __name__ == "__main__":
    main()
