"""Whole-model latency of a keras_hub BERT-base encoder with 90% of every projection's weights zero
in 16x1 blocks: tf_sparse delegate + XNNPACK against XNNPACK alone, baseline measured in the same run.

The model is ``keras_hub.models.BertBackbone`` built from arguments (12 layers, hidden 768, 12
heads, intermediate 3072, vocabulary 30522; no preset, nothing is downloaded) with random
weights. Every Dense and EinsumDense kernel of the backbone is viewed as a GEMM of
``input units x output units`` (query/key/value ``abc,cde->abde``: ``hidden x heads*head_dim``;
attention output ``abcd,cde->abe``: ``heads*head_dim x hidden``) and 90% of it is zeroed in blocks
of 16 consecutive output units x 1 input unit, keeping the blocks of largest L2 norm
(:func:`prune_projection_blocks`). The encoder is wrapped to take ``token_ids`` only (padding mask
ones, segment ids zeros) and exported at batch 1, sequence 128 with a fixed input signature
(:func:`export_encoder`).

Every projection becomes a FULLY_CONNECTED node with constant ``[out, in]`` weights (the
converter folds the EinsumDense reshapes into the weights); the attention's BATCH_MATMUL nodes
multiply two activations and stay with XNNPACK. Each backend is timed in a fresh process of its
own (no other interpreter's worker threads on the cores), the two alternating in rounds. The
breakdown splits the delegate's run with the time its library counts inside its own kernels
(``tfs.delegate_stats(d)["kernel_time_us"]``); the attention cores (Q K^T, softmax, P V) and each
projection shape are also timed alone.

    python benchmarks/bert_speed.py [--threads 1 2] [--runs 20] [--layers 12] [--no-dynamic]

Both files are timed: the static one (fixed input signature) and the one ``tfs.export_tflite``
writes by default, where Keras leaves the batch size unknown and every Dense on the rank-3
activations computes its reshape at run time (SHAPE, GATHER, REDUCE_PROD, PACK, CONCATENATION
before each RESHAPE), which splits XNNPACK's graph into many pieces and slows it down.

Prints the CPU model, threads and medians; writes ``<out>/bert_speed.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402

BERT_BASE = dict(vocabulary_size=30522, num_layers=12, num_heads=12, hidden_dim=768, intermediate_dim=3072)
QKV_EQUATION = "abc,cde->abde"  # kernel (hidden, heads, head_dim)
ATTENTION_OUTPUT_EQUATION = "abcd,cde->abe"  # kernel (heads, head_dim, hidden)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def projection_layers(model):
    """Every Dense and EinsumDense layer inside ``model`` (nested layers included)."""
    import keras

    return [layer for layer in model._flatten_layers() if isinstance(layer, (keras.layers.Dense, keras.layers.EinsumDense))]


def gemm_kernel(layer, kernel):
    """``kernel`` of ``layer`` as a 2-D ``[input units, output units]`` array (a view, no copy)."""
    import keras

    if isinstance(layer, keras.layers.EinsumDense):
        if layer.equation == QKV_EQUATION:
            return kernel.reshape(kernel.shape[0], -1)
        if layer.equation == ATTENTION_OUTPUT_EQUATION:
            return kernel.reshape(-1, kernel.shape[-1])
        raise ValueError(
            f"gemm_kernel: EinsumDense '{layer.path}' has equation {layer.equation!r}; only "
            f"{QKV_EQUATION!r} and {ATTENTION_OUTPUT_EQUATION!r} are viewed as a GEMM here"
        )
    if kernel.ndim != 2:
        raise ValueError(f"gemm_kernel: Dense '{layer.path}' has a kernel of rank {kernel.ndim}, expected 2")
    return kernel


def prune_projection_blocks(model, sparsity=0.9, block=16):
    """Zeros ``sparsity`` of every Dense / EinsumDense kernel of ``model`` in blocks of ``block``
    consecutive output units x 1 input unit of its GEMM view, keeping the blocks of largest L2 norm
    (ties at the threshold are kept). Biases are left alone.

    Returns ``{layer path: (input units, output units)}``.
    """
    shapes = {}
    for layer in projection_layers(model):
        weights = layer.get_weights()
        kernel = np.array(weights[0], dtype=np.float32)
        g = gemm_kernel(layer, kernel)
        n_in, n_out = g.shape
        if n_out % block:
            raise ValueError(f"prune_projection_blocks: '{layer.path}' has {n_out} output units, not a multiple of {block}")
        blocks = g.reshape(n_in, n_out // block, block)
        norms = np.linalg.norm(blocks, axis=-1)
        keep = max(1, int(round(norms.size * (1.0 - sparsity))))
        threshold = np.partition(norms.ravel(), norms.size - keep)[norms.size - keep]
        weights[0] = (blocks * (norms >= threshold)[..., None]).reshape(kernel.shape)
        layer.set_weights(weights)
        shapes[layer.path] = (n_in, n_out)
    return shapes


def encoder(family="bert", seq=128, seed=0, weight_scale=None, **config):
    """A keras_hub backbone built from ``config`` (no preset) and a ``keras.Model`` on it that takes
    ``token_ids`` of shape ``(1, seq)`` and returns the sequence output ``(1, seq, hidden)``.

    ``family``: ``"bert"`` (BertBackbone: token, padding mask and segment inputs) or
    ``"distilbert"`` (DistilBertBackbone: token and padding mask). ``weight_scale``: when given,
    every projection's kernel and bias are redrawn as normal noise of that scale (keras_hub
    initialises biases to zero, which the converter then drops).
    """
    import keras
    import keras_hub

    families = {"bert": keras_hub.models.BertBackbone, "distilbert": keras_hub.models.DistilBertBackbone}
    if family not in families:
        raise ValueError(f"encoder: `family` must be one of {sorted(families)}, got {family!r}")
    keras.utils.set_random_seed(seed)
    config.setdefault("max_sequence_length", max(seq, 16))
    backbone = families[family](**config)
    if weight_scale is not None:
        rng = np.random.default_rng(seed)
        for layer in projection_layers(backbone):
            layer.set_weights([(weight_scale * rng.standard_normal(w.shape)).astype(np.float32) for w in layer.get_weights()])
    tokens = keras.Input((seq,), batch_size=1, dtype="int32", name="token_ids")
    inputs = {"token_ids": tokens, "padding_mask": keras.ops.ones_like(tokens)}
    if family == "bert":
        inputs["segment_ids"] = keras.ops.zeros_like(tokens)
    out = backbone(inputs)
    if isinstance(out, dict):
        out = out["sequence_output"]
    return backbone, keras.Model(tokens, out, name=f"{family}_encoder")


def export_encoder(model, path):
    """``tfs.export_tflite`` with the model's input shape fixed (batch included), so that the file
    is a static graph; returns the file size."""
    import keras

    import tf_sparse as tfs

    specs = [keras.InputSpec(shape=tuple(t.shape), dtype=t.dtype) for t in model.inputs]
    return tfs.export_tflite(model, path, input_signature=specs)


def one_projection(kernel, bias, rows, path):
    """Writes a one-layer model: ``rows`` x in -> FULLY_CONNECTED with ``kernel`` [in, out]."""
    import keras

    import tf_sparse as tfs

    n_in, n_out = kernel.shape
    model = keras.Sequential([keras.Input((n_in,)), keras.layers.Dense(n_out)])
    model.layers[0].set_weights([kernel, bias])
    tfs.export_tflite(model, path, input_signature=[keras.InputSpec(shape=(rows, n_in), dtype="float32")])


def tokens(vocabulary_size, seq, seed=1):
    return np.random.default_rng(seed).integers(0, vocabulary_size, (1, seq)).astype(np.int32)


def time_in_process(path, backend, threads, runs, vocabulary, warmup=2):
    """Times ``runs`` invokes of one interpreter, the only one in this process. Returns the times
    in microseconds and, for our delegate, the share of them spent inside its kernels."""
    from tf_sparse.runtime import make_interpreter, run
    from tf_sparse.runtime.delegate import delegate_stats

    interpreter, delegate = make_interpreter(path, backend=backend, num_threads=threads)
    x = tokens(vocabulary, int(interpreter.get_input_details()[0]["shape"][-1]))
    run(interpreter, x)
    for _ in range(warmup):
        interpreter.invoke()
    before = delegate_stats(delegate)["kernel_time_us"] if delegate is not None else 0.0
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        interpreter.invoke()
        times.append((time.perf_counter() - t0) * 1e6)
    share = (delegate_stats(delegate)["kernel_time_us"] - before) / sum(times) if delegate is not None else None
    return {"times_us": times, "kernel_share": share}


def _time_isolated(path, backend, threads, runs, vocabulary):
    """time_in_process in a fresh Python process: no other interpreter's threads (XNNPACK's
    pthreadpool and ours both busy-wait a while after work) compete for the cores."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--time-one", path, backend, str(threads), str(runs),
         str(vocabulary)],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure_model(path, x, threads, runs, vocabulary, rounds=3):
    """Delegate + XNNPACK against XNNPACK alone on ``path`` (the stock interpreter with its default
    delegate). Each backend is timed in a fresh process of its own, the two alternating for
    ``rounds`` rounds (so that drift and other load hit both alike): medians and 10th percentiles
    (less sensitive to other processes on a shared machine). The output difference and the
    delegate's decisions come from interpreters in this process."""
    from tf_sparse.runtime import make_interpreter, run

    import tf_sparse as tfs

    ours, delegate = make_interpreter(path, backend="tf_sparse", num_threads=threads)
    xnn, _ = make_interpreter(path, backend="xnnpack", num_threads=threads)
    y_ours, y_xnn = run(ours, x), run(xnn, x)
    diff = float(np.max(np.abs(y_ours.astype(np.float64) - y_xnn)))
    report = tfs.delegate_report(delegate)
    del ours, xnn, delegate
    claimed = [d for d in report if d["claimed"]]
    times = {"tf_sparse": [], "xnnpack": []}
    shares = []
    per_round = -(-runs // rounds)
    for _ in range(rounds):
        for backend in times:
            r = _time_isolated(path, backend, threads, per_round, vocabulary)
            times[backend] += r["times_us"]
            if r["kernel_share"] is not None:
                shares.append(r["kernel_share"])
    med = {b: float(np.median(t)) / 1e3 for b, t in times.items()}
    p10 = {b: float(np.percentile(t, 10)) / 1e3 for b, t in times.items()}
    return {
        "threads": threads,
        "xnnpack_ms": med["xnnpack"],
        "ours_ms": med["tf_sparse"],
        "speedup": med["xnnpack"] / med["tf_sparse"],
        "xnnpack_p10_ms": p10["xnnpack"],
        "ours_p10_ms": p10["tf_sparse"],
        "speedup_p10": p10["xnnpack"] / p10["tf_sparse"],
        "delegate_kernel_share": float(np.mean(shares)),
        "claimed": len(claimed),
        "considered": len(report),
        "considered_by_op": {op: sum(r["op"] == op for r in report) for op in sorted({r["op"] for r in report})},
        "formats": sorted({d["format"] for d in claimed}),
        "max_abs_diff": diff,
        "max_rel_diff": diff / max(1e-30, float(np.max(np.abs(y_xnn)))),
        "claimed_shapes": sorted({tuple(d["shape"]) for d in claimed}),
    }


def measure_projections(backbone, rows, threads, runs, tmp):
    """Each distinct projection shape alone (the weights of its first layer), both backends."""
    from tf_sparse.runtime import interleaved_latency_us, make_interpreter

    import tf_sparse as tfs

    by_shape = {}
    for layer in projection_layers(backbone):
        if "pooled" in layer.path:  # not in the encoder's sequence output
            continue
        weights = layer.get_weights()
        kernel = np.ascontiguousarray(gemm_kernel(layer, weights[0]))
        bias = weights[1].reshape(-1) if len(weights) > 1 else np.zeros(kernel.shape[1], np.float32)
        entry = by_shape.setdefault(kernel.shape, {"count": 0, "kernel": kernel, "bias": bias})
        entry["count"] += 1
    out = []
    x_rng = np.random.default_rng(2)
    for (n_in, n_out), entry in by_shape.items():
        path = os.path.join(tmp, f"fc_{n_in}_{n_out}.tflite")
        one_projection(entry["kernel"], entry["bias"], rows, path)
        x = x_rng.standard_normal((rows, n_in)).astype(np.float32)
        ours, delegate = make_interpreter(path, backend="tf_sparse", num_threads=threads)
        xnn, _ = make_interpreter(path, backend="xnnpack", num_threads=threads)
        t_ours, t_xnn = interleaved_latency_us([ours, xnn], x, runs=runs, warmup=3, rounds=5)
        report = tfs.delegate_report(delegate)
        out.append({
            "shape": f"{n_in}->{n_out}",
            "count": entry["count"],
            "ours_us": t_ours,
            "xnnpack_us": t_xnn,
            "format": report[0]["format"] if report and report[0]["claimed"] else "declined",
            "block_density_16x1": _block_density(entry["kernel"], 16),
        })
    return out


def attention_core(seq, heads, head_dim, path):
    """Writes the part of one attention layer that has no weights: heads split, scores
    ``Q K^T`` (BATCH_MATMUL), scale, softmax, ``P V`` (BATCH_MATMUL), heads merged; Q, K and V
    are the one input here."""
    import keras

    import tf_sparse as tfs

    hidden = heads * head_dim
    x = keras.Input((seq, hidden), batch_size=1)
    h = keras.ops.transpose(keras.ops.reshape(x, (1, seq, heads, head_dim)), (0, 2, 1, 3))
    scores = keras.ops.matmul(h, keras.ops.transpose(h, (0, 1, 3, 2))) * (1.0 / float(np.sqrt(head_dim)))
    out = keras.ops.matmul(keras.ops.softmax(scores, axis=-1), h)
    out = keras.ops.reshape(keras.ops.transpose(out, (0, 2, 1, 3)), (1, seq, hidden))
    tfs.export_tflite(keras.Model(x, out), path, input_signature=[keras.InputSpec(shape=(1, seq, hidden), dtype="float32")])


def measure_attention(config, seq, threads, runs, tmp):
    """XNNPACK's time for the attention cores of every layer (the delegate claims none of it)."""
    from tf_sparse.runtime import make_interpreter, median_latency_us

    heads = config["num_heads"]
    path = os.path.join(tmp, "attention_core.tflite")
    if not os.path.exists(path):
        attention_core(seq, heads, config["hidden_dim"] // heads, path)
    xnn, _ = make_interpreter(path, backend="xnnpack", num_threads=threads)
    x = np.random.default_rng(3).standard_normal((1, seq, config["hidden_dim"])).astype(np.float32)
    one = median_latency_us(xnn, x, runs=max(runs, 20), warmup=3)
    return {"per_layer_us": one, "all_layers_ms": one * config["num_layers"] / 1e3}


def _block_density(kernel, block):
    n_in, n_out = kernel.shape
    blocks = kernel.reshape(n_in, n_out // block, block)
    return float(np.mean(np.any(blocks != 0, axis=-1)))


def breakdown(whole, attention):
    """Splits the whole-model medians: the delegate's kernels (their share of an invoke, timed
    inside the library) and the rest of the delegate's run (XNNPACK and TFLite on everything
    without weights, plus the hand-overs between them and the delegate); XNNPACK alone spends
    about that same rest on those ops, so its projections take about its whole time minus it.
    ``attention``: the attention cores timed alone (part of the rest)."""
    kernels = whole["ours_ms"] * whole["delegate_kernel_share"]
    rest = whole["ours_ms"] - kernels
    projections_xnn = whole["xnnpack_ms"] - rest
    return {
        "delegate_kernels_ms": kernels,
        "rest_ms": rest,
        "projections_xnnpack_ms": projections_xnn,
        "attention_ms": attention["all_layers_ms"],
        "projection_share_xnnpack": projections_xnn / whole["xnnpack_ms"],
        "rest_share_ours": rest / whole["ours_ms"],
        "attention_share_ours": attention["all_layers_ms"] / whole["ours_ms"],
        "projections_speedup": projections_xnn / kernels if kernels > 0 else float("nan"),
        # The ratio if the delegate's kernels took no time at all.
        "ceiling_speedup": whole["xnnpack_ms"] / rest if rest > 0 else float("nan"),
    }


def markdown(result):
    lines = [
        f"CPU: {result['cpu']}; delegate ISA: {result['isa']}; 1-minute load average {result['load']} at start, "
        f"{result['load_end']} at end (2 cores, shared); "
        f"keras_hub BertBackbone {result['config']}, sequence {result['seq']}, batch 1, float32; "
        f"every Dense/EinsumDense {result['sparsity']:.0%} zero in 16x1 blocks (16 output units x 1 input); "
        f"medians of {result['runs']} invokes per backend, each backend in a fresh process of its own (3 rounds, "
        f"alternating; the projections and attention cores alone: one process, interpreters alternating); "
        f"ratio = XNNPACK alone / (delegate + XNNPACK)",
        "",
        "| model | threads | XNNPACK ms | delegate+XNNPACK ms | ratio | ratio of 10th percentiles | claimed / considered "
        "| format(s) | max abs diff vs XNNPACK (relative) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for w in result["whole"]:
        by_op = ", ".join(f"{n} {op}" for op, n in w["considered_by_op"].items())
        lines.append(
            f"| {w['model']} | {w['threads']} | {w['xnnpack_ms']:.1f} | {w['ours_ms']:.1f} | {w['speedup']:.2f}x | "
            f"{w['speedup_p10']:.2f}x | {w['claimed']} / {w['considered']} ({by_op}) | {', '.join(w['formats']) or '-'} | "
            f"{w['max_abs_diff']:.1e} ({w['max_rel_diff']:.0e}) |"
        )
    lines += [
        "",
        f"Projections alone ({result['seq']} rows, the pruned weights of the first layer of each shape, "
        "one layer called over and over: its weights stay in cache, unlike in the whole model):",
        "",
        "| threads | projection in->out | count | 16x1 block density | format | XNNPACK us | delegate us | ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for threads, rows in result["projections"].items():
        for p in rows:
            lines.append(
                f"| {threads} | {p['shape']} | {p['count']} | {p['block_density_16x1']:.3f} | {p['format']} | "
                f"{p['xnnpack_us']:.0f} | {p['ours_us']:.0f} | {p['xnnpack_us'] / p['ours_us']:.2f}x |"
            )
    lines += [
        "",
        "Breakdown of the static BERT-base file: delegate kernels = the share of an invoke spent inside "
        "the delegate's kernels (timed by its library) x the median; rest = the rest of that run "
        "(attention cores, embeddings, layer norms, GELU, residual adds on XNNPACK/TFLite, and the "
        "hand-overs between them and the delegate); projections on XNNPACK = XNNPACK's median - rest "
        "(the same ops, less the hand-overs: slightly low); attention cores = one layer's heads split, "
        "Q K^T, softmax, P V and heads merged timed alone on XNNPACK x layers:",
        "",
        "| threads | projections XNNPACK ms | delegate kernels ms | rest ms | attention cores ms | "
        "projections' share of XNNPACK | rest's share with delegate | attention's share with delegate | "
        "projections ratio | ratio if the delegate's kernels took no time |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for threads, b in result["breakdown"].items():
        lines.append(
            f"| {threads} | {b['projections_xnnpack_ms']:.1f} | {b['delegate_kernels_ms']:.1f} | {b['rest_ms']:.1f} | "
            f"{b['attention_ms']:.1f} | {b['projection_share_xnnpack']:.0%} | {b['rest_share_ours']:.0%} | "
            f"{b['attention_share_ours']:.0%} | {b['projections_speedup']:.2f}x | {b['ceiling_speedup']:.1f}x |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    import sys

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--time-one"]:  # one backend in this process (see _time_isolated)
        path, backend, threads, runs, vocabulary = argv[1:6]
        print(json.dumps(time_in_process(path, backend, int(threads), int(runs), int(vocabulary))))
        return None
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--layers", type=int, default=BERT_BASE["num_layers"])
    ap.add_argument("--vocabulary", type=int, default=BERT_BASE["vocabulary_size"])
    ap.add_argument("--sparsity", type=float, default=0.9)
    ap.add_argument("--no-dynamic", dest="dynamic", action="store_false",
                    help="skip the file tfs.export_tflite writes without an input signature (batch size "
                         "unknown, reshapes computed at run time)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = ap.parse_args(argv)

    import tf_sparse as tfs

    config = dict(BERT_BASE, num_layers=args.layers, vocabulary_size=args.vocabulary)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"CPU: {cpu_name()}; delegate ISA: {tfs.delegate_isa()}; threads {args.threads}; load average {load:.2f}")
    tmp = tempfile.mkdtemp(prefix="tf_sparse_bert_")
    t0 = time.perf_counter()
    # Random weights at BERT's initialiser scale, biases included (keras_hub starts them at zero,
    # which the converter would drop).
    backbone, model = encoder("bert", args.seq, weight_scale=0.02, **config)
    prune_projection_blocks(backbone, args.sparsity, 16)
    files = {"BERT-base static (1, %d)" % args.seq: os.path.join(tmp, "bert_static.tflite")}
    export_encoder(model, files["BERT-base static (1, %d)" % args.seq])
    if args.dynamic:
        files["BERT-base, batch unknown"] = os.path.join(tmp, "bert_dynamic.tflite")
        tfs.export_tflite(model, files["BERT-base, batch unknown"])
    print(f"build, prune and export: {time.perf_counter() - t0:.0f} s")
    x = tokens(config["vocabulary_size"], args.seq)
    result = {
        "cpu": cpu_name(), "isa": tfs.delegate_isa(), "load": round(load, 2), "seq": args.seq, "runs": args.runs,
        "sparsity": args.sparsity, "config": config, "whole": [], "projections": {}, "breakdown": {},
    }
    for threads in args.threads:
        for name, path in files.items():
            w = measure_model(path, x, threads, args.runs, config["vocabulary_size"])
            w["model"] = name
            w["claimed_shapes"] = [list(s) for s in w["claimed_shapes"]]
            result["whole"].append(w)
            print(f"{name}, {threads} thread(s): XNNPACK {w['xnnpack_ms']:.1f} ms, delegate+XNNPACK {w['ours_ms']:.1f} ms "
                  f"-> {w['speedup']:.2f}x (10th percentiles {w['speedup_p10']:.2f}x); claimed {w['claimed']}/{w['considered']} ({', '.join(w['formats'])}); "
                  f"max diff {w['max_abs_diff']:.1e} ({w['max_rel_diff']:.0e} relative)")
        rows = measure_projections(backbone, args.seq, threads, max(args.runs, 20), tmp)
        result["projections"][threads] = rows
        attention = measure_attention(config, args.seq, threads, args.runs, tmp)
        for p in rows:
            print(f"  {p['shape']} x{p['count']} ({p['format']}): XNNPACK {p['xnnpack_us']:.0f} us, "
                  f"delegate {p['ours_us']:.0f} us -> {p['xnnpack_us'] / p['ours_us']:.2f}x")
        static = next(w for w in result["whole"] if w["threads"] == threads and "static" in w["model"])
        b = breakdown(static, attention)
        result["breakdown"][threads] = b
        print(f"  projections {b['projections_xnnpack_ms']:.1f} ms on XNNPACK ({b['projection_share_xnnpack']:.0%} of "
              f"its time) -> {b['delegate_kernels_ms']:.1f} ms in the delegate's kernels; rest {b['rest_ms']:.1f} ms "
              f"({b['rest_share_ours']:.0%} of the delegate's run), of which attention cores {b['attention_ms']:.1f} ms")
    result["load_end"] = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else float("nan")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "bert_speed.json"), "w") as f:
        json.dump(result, f, indent=1)
    text = markdown(result)
    with open(os.path.join(args.out, "bert_speed.md"), "w") as f:
        f.write(text)
    print(text)
    return result


if __name__ == "__main__":
    main()
