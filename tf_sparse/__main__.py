"""The ``tf-sparse`` command (also ``python -m tf_sparse``).

    tf-sparse inspect MODEL.tflite [--threads N] [--json]
        every node the delegate considers: op, weight shape, sparsity, claimed or not, the format
        it chose and its reason / cost estimate
    tf-sparse bench MODEL.tflite [--threads N] [--runs R] [--json]
        batch-1 latency with the delegate against the stock interpreter (XNNPACK), medians of
        interleaved invokes on random inputs, the CPU named
    tf-sparse plot MODEL(.tflite|.keras) --out DIR [--layer NAME] [--results FILE.json]
        PNGs: sparsity per layer, the nonzero pattern of one layer (default: the sparsest), and
        with --results accuracy against sparsity from a benchmark's JSON; prints their paths
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "Model", "Hardware")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def _random_inputs(interpreter, seed=0):
    """Random inputs for every model input: small integers for integer inputs (token ids),
    normal values otherwise; undefined dimensions (-1) become 1."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = {}
    for d in interpreter.get_input_details():
        shape = [s if s > 0 else 1 for s in d.get("shape_signature", d["shape"])]
        dtype = np.dtype(d["dtype"])
        if np.issubdtype(dtype, np.integer):
            out[d["name"]] = rng.integers(0, 2, shape).astype(dtype)
        else:
            out[d["name"]] = rng.standard_normal(shape).astype(dtype)
    return out


def _feed(interpreter, inputs):
    from tf_sparse.runtime.interpreter import set_inputs

    details = interpreter.get_input_details()
    if len(details) == 1:
        set_inputs(interpreter, next(iter(inputs.values())), owner="tf-sparse")
    else:
        set_inputs(interpreter, inputs, owner="tf-sparse")


def inspect_model(path, threads=1) -> list:
    """The delegate's decision for every node of ``path`` it considers (``tfs.delegate_report``)."""
    from tf_sparse.runtime import delegate_report, make_interpreter

    interpreter, delegate = make_interpreter(path, backend="tf_sparse", num_threads=threads)
    _feed(interpreter, _random_inputs(interpreter))
    interpreter.invoke()
    return delegate_report(delegate)


def bench_model(path, threads=1, runs=20) -> dict:
    """Median latency of one invoke with the delegate and with the stock interpreter."""
    import numpy as np

    from tf_sparse.runtime import delegate_stats, interleaved_latency_us, make_interpreter

    ours, delegate = make_interpreter(path, backend="tf_sparse", num_threads=threads)
    stock, _ = make_interpreter(path, backend="xnnpack", num_threads=threads)
    inputs = _random_inputs(ours)
    outs = []
    for it in (ours, stock):
        _feed(it, inputs)
        it.invoke()
        outs.append(it.get_tensor(it.get_output_details()[0]["index"]).astype(np.float64))
    sample = next(iter(inputs.values())) if len(inputs) == 1 else {
        k.replace("serving_default_", "").split(":")[0]: v for k, v in inputs.items()}
    t_ours, t_stock = interleaved_latency_us([ours, stock], sample, runs=runs, warmup=2, rounds=min(5, runs))
    return {
        "model": os.fspath(path),
        "cpu": _cpu(),
        "threads": threads,
        "runs": runs,
        "tf_sparse_ms": t_ours / 1e3,
        "xnnpack_ms": t_stock / 1e3,
        "speedup": t_stock / t_ours,
        "nodes_claimed": delegate_stats(delegate)["nodes_claimed"],
        "max_abs_diff": float(np.max(np.abs(outs[0] - outs[1]))) if outs[0].size else 0.0,
    }


def _table(report) -> str:
    lines = [f"{'node':>5} {'op':24s} {'shape':14s} {'sparsity':>8s} {'claimed':>7s}  format / reason"]
    for r in report:
        shape = "x".join(str(s) for s in r.get("shape", []) or []) or "-"
        sparsity = r.get("sparsity")
        sparsity = f"{sparsity:.3f}" if isinstance(sparsity, (int, float)) else "-"
        what = r.get("format", "") if r.get("claimed") else r.get("reason", "")
        lines.append(f"{r.get('node', '?'):>5} {str(r.get('op', '?')):24s} {shape:14s} {sparsity:>8s} "
                     f"{'yes' if r.get('claimed') else 'no':>7s}  {what}")
    claimed = sum(1 for r in report if r.get("claimed"))
    lines.append(f"{claimed} of {len(report)} considered nodes claimed")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="tf-sparse", description="Inspect and benchmark .tflite files with the "
                                 "tf_sparse delegate.")
    sub = ap.add_subparsers(dest="command", required=True)
    for name, help_ in (("inspect", "the delegate's decision for every node it considers"),
                        ("bench", "latency with the delegate vs the stock interpreter (XNNPACK)")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("model", help="a .tflite file")
        p.add_argument("--threads", type=int, default=1)
        p.add_argument("--json", action="store_true", help="machine-readable output")
        if name == "bench":
            p.add_argument("--runs", type=int, default=20)
    p = sub.add_parser("plot", help="PNGs: sparsity per layer, one layer's nonzero pattern, accuracy vs sparsity")
    p.add_argument("model", nargs="?", default=None, help="a .tflite or .keras file")
    p.add_argument("--out", required=True, help="directory for the PNG files (created if missing)")
    p.add_argument("--layer", default=None, help="the layer whose pattern to draw (default: the sparsest)")
    p.add_argument("--results", default=None, help="a benchmark's JSON with accuracy and sparsity records "
                   "(e.g. benchmarks/results/accuracy_digits.json)")
    args = ap.parse_args(argv)
    if args.command == "plot":
        return _plot(ap, args)
    if args.threads < 1:
        ap.error(f"--threads must be >= 1, got {args.threads}")
    if not os.path.isfile(args.model):
        ap.error(f"no such file: {args.model}")
    if args.command == "inspect":
        report = inspect_model(args.model, args.threads)
        print(json.dumps(report, indent=1) if args.json else _table(report))
    else:
        if args.runs < 1:
            ap.error(f"--runs must be >= 1, got {args.runs}")
        result = bench_model(args.model, args.threads, args.runs)
        if args.json:
            print(json.dumps(result, indent=1))
        else:
            print(f"{result['model']}: CPU {result['cpu']}, {result['threads']} thread(s), medians of {result['runs']}: "
                  f"tf_sparse {result['tf_sparse_ms']:.3f} ms, XNNPACK {result['xnnpack_ms']:.3f} ms -> "
                  f"{result['speedup']:.2f}x ({result['nodes_claimed']} nodes claimed; largest output difference "
                  f"{result['max_abs_diff']:.2e})")
    return 0


def _plot(ap, args) -> int:
    if args.model is None and args.results is None:
        ap.error("plot: give a MODEL (.tflite or .keras), --results FILE.json, or both")
    if args.model is not None:
        if not os.path.isfile(args.model):
            ap.error(f"no such file: {args.model}")
        if not args.model.endswith((".tflite", ".keras")):
            ap.error(f"plot: MODEL must be a .tflite or .keras file, got {args.model}")
    if args.results is not None and not os.path.isfile(args.results):
        ap.error(f"no such file: {args.results}")
    if os.path.isfile(args.out):
        ap.error(f"--out {args.out} is a file; give a directory")
    from tf_sparse.plot import plot_model

    try:
        paths = plot_model(args.model, args.out, layer=args.layer, results=args.results)
    except ValueError as err:
        print(f"tf-sparse plot: {err}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
