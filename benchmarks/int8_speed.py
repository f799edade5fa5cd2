"""Batch-1 full-integer int8 speed: the tf_sparse delegate vs XNNPACK's int8 kernels, for
FULLY_CONNECTED layers, 1x1 convolutions and 3x3 pattern convolutions.

Every number comes from this one process and run. For each layer and structure it builds a
one-layer Keras model, prunes its kernel with NumPy or a tf_sparse structure, and exports it
three ways: int8 with the zeros stored densely (our delegate, XNNPACK int8), int8 in TFLite's
compact sparse encoding (TFLite's built-in int8 kernels, which read it; XNNPACK runs none of
these) and float32 (our delegate on the same structure, for the int8-vs-float column). Times are
medians of interleaved invokes; ratios are XNNPACK (or built-in) time over ours. Outputs of our
delegate are checked against the built-in kernels (bit-exact) before timing.

    python benchmarks/int8_speed.py [--runs 200] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import tf_sparse as tfs  # noqa: E402
from fc_speed import cpu_name, one_layer, two_of_four, unstructured  # noqa: E402
from fine_grained_speed import conv_model, pruned_kernel  # noqa: E402
from tf_sparse.runtime import interleaved_latency_us, make_interpreter, run  # noqa: E402

SHAPES = [(1024, 1024), (4096, 1024)]  # (in, out)

# name: kernel projection ([in, out] -> pruned)
STRUCTURES = {
    "90% 1x4 blocks": tfs.Block(0.9, block=(1, 4)).project,
    "90% unstructured": unstructured,
    "N:M 2:4": two_of_four,
    "98% 1x4 blocks": tfs.Block(0.98, block=(1, 4)).project,
    "dense": lambda k: k,
}


# 1x1 convolutions: (size, in, out) and the structures the product targets (a fraction of the
# blocks of 16 consecutive filters removed, unstructured).
CONV_SHAPES = [(56, 64, 256), (28, 512, 128), (14, 1024, 256)]
CONV_STRUCTURES = {
    "75% of 16-filter blocks": tfs.Block(0.75, block=(16, 1)),
    "90% unstructured": tfs.Unstructured(0.9),
}
# 3x3 convolutions (size, channels): 4-of-9 patterns (a library of 8) shared by blocks of 16
# filters, half of the kernels removed.
CONV3_SHAPES = [(56, 64), (28, 128)]
CONV3_STRUCTURE = tfs.KernelPattern(8, connectivity=0.5, filter_block=16)


def export_three(model, in_shape, tmp):
    rng = np.random.default_rng(2)
    rep = rng.standard_normal((16 if len(in_shape) > 1 else 64, *in_shape)).astype(np.float32)
    paths = {k: os.path.join(tmp, k + ".tflite") for k in ("int8", "int8_compact", "float")}
    tfs.export_tflite(model, paths["int8"], int8=True, representative_data=rep, int8_io=True)
    tfs.export_tflite(model, paths["int8_compact"], int8=True, compact=True, representative_data=rep, int8_io=True)
    tfs.export_tflite(model, paths["float"])
    return paths


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--threads", type=int, nargs="+", default=[1])
    ap.add_argument("--structures", nargs="+", default=list(STRUCTURES))
    ap.add_argument("--json", help="also write the rows to this file")
    ap.add_argument("--no-conv", action="store_true", help="only the FULLY_CONNECTED rows")
    ap.add_argument("--quick", action="store_true", help="small layers (a check that the script runs)")
    args = ap.parse_args(argv)
    shapes, conv_shapes, conv3_shapes = SHAPES, CONV_SHAPES, CONV3_SHAPES
    if args.quick:
        shapes, conv_shapes, conv3_shapes = [(256, 128)], [(14, 64, 32)], [(14, 32)]
    tmp = tempfile.mkdtemp(prefix="tf_sparse_int8_")
    print(f"CPU: {cpu_name()}; delegate ISA: {tfs.delegate_isa()}; batch 1; medians of {args.runs} "
          "interleaved invokes")
    print("| layer | structure | threads | ours int8 us | XNNPACK int8 us | TFLite int8 compact us | "
          "ours float us | vs XNNPACK int8 | vs TFLite compact | int8 vs float (ours) | format | estimate |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    cases = [(f"FC {i}->{o}", (i,), (lambda i=i, o=o, n=n: one_layer(i, o, STRUCTURES[n])), n)
             for i, o in shapes for n in args.structures]
    if not args.no_conv:
        for size, cin, cout in conv_shapes:
            for n, structure in CONV_STRUCTURES.items():
                build = (lambda size=size, cin=cin, cout=cout, structure=structure: conv_model(
                    size, cin, [(1, cout, 1, pruned_kernel((1, 1, cin, cout), structure))]))
                cases.append((f"Conv 1x1 {size}x{size}x{cin}->{cout}", (size, size, cin), build, n))
        for size, c in conv3_shapes:
            build = (lambda size=size, c=c: conv_model(
                size, c, [(3, c, 1, pruned_kernel((3, 3, c, c), CONV3_STRUCTURE))]))
            cases.append((f"Conv 3x3 {size}x{size}x{c}", (size, size, c), build,
                          "4-of-9 patterns per 16-filter block, half the kernels"))
    for layer, in_shape, build, name in cases:
        if True:
            model = build()
            paths = export_three(model, in_shape, tmp)
            x8 = np.random.default_rng(1).integers(-128, 128, (1, *in_shape)).astype(np.int8)
            xf = np.random.default_rng(1).standard_normal((1, *in_shape)).astype(np.float32)
            for threads in args.threads:
                ours, delegate = make_interpreter(paths["int8"], backend="tf_sparse", num_threads=threads)
                xnn, _ = make_interpreter(paths["int8"], backend="xnnpack", num_threads=threads)
                reference, _ = make_interpreter(paths["int8"], backend="builtin", num_threads=threads)
                builtin, _ = make_interpreter(paths["int8_compact"], backend="builtin", num_threads=threads)
                ours_f, _ = make_interpreter(paths["float"], backend="tf_sparse", num_threads=threads)
                report = tfs.delegate_report(delegate)
                claimed = [r for r in report if r["claimed"]]
                # Claimed: bit-exact with TFLite's own int8 kernels; declined, XNNPACK runs the
                # layer and rounds once where TFLite rounds twice (at most 1 apart).
                diff = int(np.abs(run(ours, x8).astype(int) - run(reference, x8)).max())
                if diff > (0 if claimed else 1):
                    raise SystemExit(f"{layer} {name}: delegate differs from the built-in kernels by {diff}")
                t_ours, t_xnn, t_bi = interleaved_latency_us([ours, xnn, builtin], x8, runs=args.runs)
                (t_f,) = interleaved_latency_us([ours_f], xf, runs=args.runs)
                fmt = claimed[0]["format"] if claimed else "declined"
                est = report[0].get("cost_vs_dense") if report else None
                if layer.startswith("Conv"):
                    # The int8 kernel of the layer forced, whatever the estimate says.
                    kind = "pixvec" if layer.startswith("Conv 1x1") else "patdnn"
                    forced, _ = make_interpreter(paths["int8"], backend="tf_sparse", num_threads=threads,
                                                 format=kind)
                    (t_forced,) = interleaved_latency_us([forced], x8, runs=args.runs)
                    fmt += f" ({kind} forced: {t_forced:.1f} us, {t_xnn / t_forced:.2f}x)"
                row = dict(layer=layer, structure=name, threads=threads, ours_us=t_ours,
                           xnnpack_us=t_xnn, builtin_compact_us=t_bi, ours_float_us=t_f, format=fmt, estimate=est)
                rows.append(row)
                est_s = f"{est:.2f}" if est is not None else "-"
                print(f"| {row['layer']} | {name} | {threads} | {t_ours:.1f} | {t_xnn:.1f} | {t_bi:.1f} | {t_f:.1f} | "
                      f"{t_xnn / t_ours:.2f}x | {t_bi / t_ours:.2f}x | {t_f / t_ours:.2f}x | {fmt} | {est_s} |",
                      flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(cpu=cpu_name(), rows=rows), f, indent=1)
    return rows


if __name__ == "__main__":
    main()
