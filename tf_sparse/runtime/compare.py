"""One model, our delegate against the stock interpreter: outputs, decisions and latency."""

from __future__ import annotations

import numpy as np

from tf_sparse.runtime.delegate import delegate_report
from tf_sparse.runtime.interpreter import _check_count, check_model_path, interleaved_latency_us, make_interpreter, run


def delegate_vs_xnnpack(model_path, sample, num_threads: int = 1, runs: int = 10, warmup: int = 2, **options):
    """Runs a ``.tflite`` model on ``sample`` (an array, or ``{input name: array}``) with our delegate (``options`` passed to
    it) and with the stock interpreter (XNNPACK), both on ``num_threads`` threads.

    Returns a dict: ``claimed_nodes`` and ``considered_nodes`` (the delegate's report),
    ``formats`` (sorted formats of the claimed nodes), ``declined`` (first clause of each decline
    reason -> node indices), ``max_abs_diff`` and ``max_rel_diff`` (first output, relative to its
    largest magnitude), ``latency_ours_ms``, ``latency_xnnpack_ms`` (medians of ``runs`` invokes
    after ``warmup``) and ``speedup``.
    """
    owner = "delegate_vs_xnnpack"
    check_model_path(model_path, owner)
    if not isinstance(sample, (np.ndarray, dict)):
        raise TypeError(
            f"{owner}: `sample` must be a NumPy array (one input batch) or a dict {{input name: array}} for a "
            f"model with several inputs, got {type(sample).__name__}"
        )
    _check_count(runs, "runs", owner, 1)
    _check_count(warmup, "warmup", owner, 0)
    ours, delegate = make_interpreter(model_path, backend="tf_sparse", num_threads=num_threads, **options)
    stock, _ = make_interpreter(model_path, backend="xnnpack", num_threads=num_threads)
    outputs = []
    for interpreter in (ours, stock):
        outputs.append(run(interpreter, sample))
    # In float64: int8 outputs must not wrap around.
    diff = float(np.max(np.abs(outputs[0].astype(np.float64) - outputs[1])))
    report = delegate_report(delegate)
    claimed = [r for r in report if r["claimed"]]
    declined = {}
    for r in report:
        if not r["claimed"]:
            # The reason's first clause (the estimates after it differ per shape).
            declined.setdefault(str(r.get("reason")).split(" (")[0].split(":")[0], []).append(r.get("node"))
    t_ours, t_stock = interleaved_latency_us([ours, stock], sample, runs=runs, warmup=warmup, rounds=min(5, runs))
    return {
        "claimed_nodes": len(claimed),
        "considered_nodes": len(report),
        "formats": sorted({r.get("format", "?") for r in claimed}),
        "declined": declined,
        "max_abs_diff": diff,
        "max_rel_diff": diff / max(1e-30, float(np.max(np.abs(outputs[1])))),
        "latency_ours_ms": t_ours / 1e3,
        "latency_xnnpack_ms": t_stock / 1e3,
        "speedup": t_stock / t_ours,
        "report": report,
    }


def describe(result, num_threads: int = 1, runs: int = 10) -> str:
    """The lines an example prints for a :func:`delegate_vs_xnnpack` result."""
    r = result
    lines = [
        f"delegate claimed {r['claimed_nodes']} of {r['considered_nodes']} considered nodes "
        f"(formats: {', '.join(r['formats']) or '-'}); largest output difference vs stock "
        f"{r['max_abs_diff']:.2e} ({r['max_rel_diff']:.1e} relative)"
    ]
    for reason, nodes in sorted(r["declined"].items()):
        more = ", ..." if len(nodes) > 8 else ""
        lines.append(f"  declined {len(nodes)}: {reason} (nodes {', '.join(map(str, nodes[:8]))}{more})")
    lines.append(
        f"batch 1, {num_threads} thread(s), median of {runs}: tf_sparse {r['latency_ours_ms']:.2f} ms, "
        f"XNNPACK {r['latency_xnnpack_ms']:.2f} ms -> {r['speedup']:.2f}x"
    )
    return "\n".join(lines)
