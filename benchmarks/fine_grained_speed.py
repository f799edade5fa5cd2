"""Fine-grained sparsity as people already have it (tfmot's magnitude pruning, 1x4 blocks along the
input channels, PatDNN per-kernel patterns): XNNPACK alone against the tf_sparse delegate with
XNNPACK, batch 1, float32, one thread.

Every model is a keras model converted by the stock converter
(``tf.lite.TFLiteConverter.from_keras_model``, pruned weights stored as zeros) and pruned with
tf_sparse's own structures (``tfs.Unstructured``, ``tfs.Block``, ``tfs.KernelPattern``; whole
models through ``tfs.sparsify`` + ``tfs.harden`` + ``tfs.strip``, their logits compared): no
NumPy pruning. Both interpreters are built in this process and timed in alternation (rounds of
warm-up + timed invokes, :func:`tf_sparse.runtime.interleaved_latency_us`); each ratio is
XNNPACK's median over the delegate's median. Every row also gives the delegate's decisions (nodes claimed / considered,
formats, its own cost estimate for a single layer) and the largest output difference against the
stock interpreter (the correctness check: a relative difference above 1e-4 fails the run).

Sections:
  1x1     CONV_2D 1x1 of ResNet-50's bottlenecks, 90% unstructured and 90% in 1x4 blocks along the
          input channels (``Block(0.9, block=(1, 4))``); target 2.5x.
  patdnn  CONV_2D 3x3, PatDNN per kernel: every kernel keeps its own best 4-of-9 pattern of a
          library of 8 (``KernelPattern(8, connectivity=0.5)``, filter_block 1) and half of the
          kernels are removed; targets 2.5x at 56 and 28, 2x at 14 and 7, 1.5x at stride 2.
  models  keras.applications MobileNetV2 (every 1x1 convolution and the classifier 90%
          unstructured, depthwise dense; target 1.5x) and ResNet-50 (3x3 convolutions PatDNN per
          kernel, 1x1 convolutions 90% 1x4 blocks; target 1.8x), random weights (speed only).
  boundary  what claiming ONE node inside an XNNPACK graph costs beyond the node itself: a chain
          of 5 convolutions, one of them pruned and claimed (its format forced), first, in the
          middle or last, against that node alone; the difference of the two (delegate - XNNPACK)
          gaps, per partition boundary (medians, and 10th percentiles, less sensitive to load).

After the table, "never slower" lists every single-layer row where the delegate claimed the node
and ran slower than XNNPACK alone (``--strict``: exit status 1 when there is one), then the
declined single layers that run faster than XNNPACK when their format is forced (the column
"declined: ratio with format forced"). Results go to
``<out>/fine_grained_speed.json`` and ``.md``.

    python benchmarks/fine_grained_speed.py [--runs 40] [--model-runs 20] [--quick] [--strict]
        [--sections 1x1 patdnn models boundary] [--models mobilenet_v2 resnet50] [--out DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import io
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tf_sparse as tfs  # noqa: E402
from tf_sparse.runtime import delegate_vs_xnnpack, interleaved_times_us, make_interpreter  # noqa: E402

THREADS = 1
#: Largest output difference against the stock interpreter, relative to the output's magnitude.
MAX_REL_DIFF = 1e-4
SECTIONS = ("1x1", "patdnn", "models", "boundary")

# (size, in, out): ResNet-50's bottleneck 1x1 convolutions.
POINTWISE = [(56, 64, 256), (28, 512, 128), (14, 1024, 256), (7, 512, 2048)]
POINTWISE_QUICK = [(8, 16, 32)]
POINTWISE_TARGET = 2.5
# (input size, in, out, stride, target).
PATDNN = [
    (56, 64, 64, 1, 2.5),
    (28, 128, 128, 1, 2.5),
    (14, 256, 256, 1, 2.0),
    (7, 512, 512, 1, 2.0),
    (28, 256, 256, 2, 1.5),
]
PATDNN_QUICK = [(8, 16, 16, 1, 2.5), (8, 16, 16, 2, 1.5)]
# Five convolutions (kernel, size, channels); the middle one is pruned and claimed with `format`.
CHAINS = [(1, 28, 128, "vtaps"), (3, 28, 32, "patdnn")]
CHAINS_QUICK = [(1, 8, 16, "vtaps"), (3, 8, 16, "patdnn")]
CHAIN_LENGTH = 5


def cpu_model() -> str:
    """lscpu's "Model name" (the CPU as the kernel names it)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown CPU (lscpu failed)"
    names = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Model name")]
    return names[0] if names else "unknown CPU"


def stock_tflite(model, path) -> str:
    """Writes ``model`` with the stock converter, as a tfmot user does; returns ``path``."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    with contextlib.redirect_stdout(io.StringIO()):  # Keras prints the SavedModel's signature
        flatbuffer = converter.convert()
    with open(path, "wb") as f:
        f.write(flatbuffer)
    return path


def _random_kernel(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def pruned_kernel(shape, structure, seed=0):
    """A random kernel of ``shape`` projected onto ``structure`` (patterns: a library fitted on it)."""
    kernel = _random_kernel(shape, seed)
    if isinstance(structure, tfs.KernelPattern) and structure.library is None:
        structure = structure.fit_library([kernel])
    pruned = np.asarray(structure.project(kernel), np.float32)
    assert structure.is_valid(pruned), (structure, shape)
    return pruned


def conv_model(size, cin, specs, seed=0):
    """Sequential Conv2D stack on (size, size, cin); specs: (kernel, out, stride, weights or None)."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((size, size, cin))])
    for k, cout, stride, _ in specs:
        model.add(keras.layers.Conv2D(cout, k, strides=stride, padding="same", activation="relu"))
    for i, (layer, (_, _, _, kernel)) in enumerate(zip(model.layers, specs)):
        if kernel is None:
            kernel = _random_kernel(layer.kernel.shape, seed + 100 + i) * np.float32(0.1)
        layer.set_weights([kernel, _random_kernel(layer.bias.shape, seed + 200 + i)])
    return model


def _is_conv(layer, k):
    return (isinstance(layer, keras.layers.Conv2D) and not isinstance(layer, keras.layers.DepthwiseConv2D)
            and tuple(layer.kernel_size) == (k, k))


def _mobilenet_v2(quick):
    size, alpha, classes = (32, 0.35, 10) if quick else (224, 1.0, 1000)
    model = keras.applications.MobileNetV2(
        weights=None, input_shape=(size, size, 3), alpha=alpha, classes=classes, classifier_activation=None
    )

    def config(layer):
        if _is_conv(layer, 1) or isinstance(layer, keras.layers.Dense):
            return tfs.Unstructured(0.9)
        return None

    return model, config, "1x1 convolutions + classifier 90% unstructured, depthwise dense", 1.5


def _resnet50(quick):
    size, classes = (32, 10) if quick else (224, 1000)
    model = keras.applications.ResNet50(
        weights=None, input_shape=(size, size, 3), classes=classes, classifier_activation=None
    )

    def config(layer):
        if _is_conv(layer, 3):
            return tfs.KernelPattern(8, connectivity=0.5)  # one library for the network (sparsify)
        if _is_conv(layer, 1):
            return tfs.Block(0.9, block=(1, 4))
        return None

    return model, config, "3x3 PatDNN per kernel (8 patterns, half the kernels), 1x1 90% 1x4 blocks", 1.8


MODELS = {"mobilenet_v2": _mobilenet_v2, "resnet50": _resnet50}


class Bench:
    """Builds and converts each model once in a run, and measures rows."""

    def __init__(self, args):
        self.args = args
        self._tmp = tempfile.TemporaryDirectory(prefix="tf_sparse_fine_grained_")  # removed at exit
        self.tmp = self._tmp.name
        self.rows = []
        self.lines = []

    def say(self, line=""):
        """Prints a line of the report and keeps it for the .md file."""
        print(line, flush=True)
        self.lines.append(line)

    def listing(self, title, rows, line, none="none"):
        """A titled list: ``line(row)`` for each row, or ``none``."""
        self.say(title)
        for text in [line(r) for r in rows] or [none]:
            self.say("  " + text)

    @functools.lru_cache(maxsize=None)  # noqa: B019 - one Bench per run
    def single_conv(self, k, size, cin, cout, stride, structure_name):
        structure = self.structure(structure_name)
        kernel = pruned_kernel((k, k, cin, cout), structure)
        model = conv_model(size, cin, [(k, cout, stride, kernel)])
        name = f"conv{k}_{size}_{cin}_{cout}_s{stride}_{structure_name}.tflite"
        path = stock_tflite(model, os.path.join(self.tmp, name))
        return path, float(np.mean(kernel == 0))

    @staticmethod
    def structure(name):
        return {
            "unstructured90": tfs.Unstructured(0.9),
            "1x4blocks90": tfs.Block(0.9, block=(1, 4)),
            "16x1blocks90": tfs.Block(0.9, block=(16, 1)),
            "patdnn": tfs.KernelPattern(8, connectivity=0.5),
        }[name]

    def sample(self, shape):
        return np.random.default_rng(1).standard_normal(shape).astype(np.float32)

    def measure(self, section, name, structure, path, shape, density, target, runs, warmup, forced=None):
        """One row: the delegate as it decides; for a single layer it declines, also with its format
        forced to ``forced`` (was the decline right?)."""
        x = self.sample(shape)
        r = delegate_vs_xnnpack(path, x, num_threads=THREADS, runs=runs, warmup=warmup)
        claimed = [e for e in r["report"] if e["claimed"]]
        ops = {}
        for e in r["report"]:
            done, seen = ops.get(e["op"], (0, 0))
            ops[e["op"]] = (done + bool(e["claimed"]), seen + 1)
        estimates = [e.get("cost_vs_dense") for e in r["report"] if e.get("cost_vs_dense") is not None]
        row = {
            "section": section,
            "layer": name,
            "structure": structure,
            "density": density,
            "claimed": r["claimed_nodes"],
            "considered": r["considered_nodes"],
            "claimed_by_op": {op: f"{done}/{seen}" for op, (done, seen) in sorted(ops.items())},
            "formats": r["formats"],
            "kernels": sorted({e.get("kernel") or "?" for e in claimed}),
            # What the delegate took, for the cost model: which node, shape and its own estimate.
            "claimed_nodes": [{key: e.get(key) for key in ("node", "op", "format", "shape", "cost_vs_dense")}
                              for e in claimed],
            "estimate": estimates[0] if len(r["report"]) == 1 and estimates else None,
            "xnnpack_us": r["latency_xnnpack_ms"] * 1e3,
            "delegate_us": r["latency_ours_ms"] * 1e3,
            "ratio": r["speedup"],
            "target": target,
            "max_abs_diff": r["max_abs_diff"],
            "max_rel_diff": r["max_rel_diff"],
            "correct": r["max_rel_diff"] <= MAX_REL_DIFF,
            "single_layer": r["considered_nodes"] == 1,
            "forced": None,
        }
        if forced and row["single_layer"] and not row["claimed"]:
            f = delegate_vs_xnnpack(path, x, num_threads=THREADS, runs=runs, warmup=warmup, format=forced)
            row["forced"] = {"format": forced, "claimed": f["claimed_nodes"], "ratio": f["speedup"],
                             "max_rel_diff": f["max_rel_diff"]}
            row["correct"] = row["correct"] and f["max_rel_diff"] <= MAX_REL_DIFF
        self.rows.append(row)
        self.say(format_row(row))
        return row

    def pointwise(self):
        for size, cin, cout in POINTWISE_QUICK if self.args.quick else POINTWISE:
            for name, label in (("unstructured90", "90% unstructured"),
                                ("1x4blocks90", "90% 1x4 blocks (input channels)")):
                path, sparsity = self.single_conv(1, size, cin, cout, 1, name)
                self.measure("1x1", f"Conv 1x1 {size}x{size}x{cin}->{cout}", label, path, (1, size, size, cin),
                             1 - sparsity, POINTWISE_TARGET, self.args.runs, 2, forced="vtaps")

    def patdnn(self):
        for size, cin, cout, stride, target in PATDNN_QUICK if self.args.quick else PATDNN:
            path, sparsity = self.single_conv(3, size, cin, cout, stride, "patdnn")
            out = -(-size // stride)
            name = f"Conv 3x3 {size}x{size}x{cin}->{out}x{out}x{cout}" + (f" stride {stride}" if stride > 1 else "")
            self.measure("patdnn", name, "PatDNN 4-of-9 per kernel (8 patterns) + half the kernels", path,
                         (1, size, size, cin), 1 - sparsity, target, self.args.runs, 2, forced="patdnn")

    def models(self):
        for arch in self.args.models:
            model, config, label, target = MODELS[arch](self.args.quick)
            sparse = tfs.sparsify(model, config)
            tfs.harden(sparse)
            deploy = tfs.strip(sparse)
            path = stock_tflite(deploy, os.path.join(self.tmp, f"{arch}.tflite"))
            weights = [w for layer in deploy.layers if config(layer) is not None for w in layer.get_weights()[:1]]
            density = sum(int(np.count_nonzero(w)) for w in weights) / sum(w.size for w in weights)
            shape = (1,) + tuple(model.input_shape[1:])
            self.measure("models", f"{arch} {shape[1]}x{shape[2]}", label, path, shape, density, target,
                         self.args.model_runs, 1)

    def boundary(self):
        """Per chain and position of the claimed node (first, middle, last: 1, 2, 1 partition
        boundaries): the (delegate - XNNPACK) gap of the chain minus that of the node alone."""
        results = []
        for k, size, channels, fmt in CHAINS_QUICK if self.args.quick else CHAINS:
            structure = "16x1blocks90" if k == 1 else "patdnn"
            claimed_kernel = pruned_kernel((k, k, channels, channels), self.structure(structure), seed=7)
            dense, sparse = (k, channels, 1, None), (k, channels, 1, claimed_kernel)
            positions = {"alone": ([sparse], 0)}
            for name, at, boundaries in (("first", 0, 1), ("middle", CHAIN_LENGTH // 2, 2),
                                         ("last", CHAIN_LENGTH - 1, 1)):
                positions[name] = ([dense] * at + [sparse] + [dense] * (CHAIN_LENGTH - 1 - at), boundaries)
            interpreters, claimed = [], {}
            for name, (specs, _) in positions.items():
                path = os.path.join(self.tmp, f"chain{k}_{name}.tflite")
                path = stock_tflite(conv_model(size, channels, specs), path)
                ours, delegate = make_interpreter(path, backend="tf_sparse", num_threads=THREADS, format=fmt)
                stock, _ = make_interpreter(path, backend="xnnpack", num_threads=THREADS)
                interpreters += [ours, stock]
                claimed[name] = sum(e["claimed"] for e in tfs.delegate_report(delegate))
            runs = self.args.runs * 5  # small differences of larger times: more samples
            times = interleaved_times_us(interpreters, x=self.sample((1, size, size, channels)), runs=runs,
                                         warmup=2, rounds=10)
            # Medians, and the 10th percentiles: the same without most of the other processes' load.
            gaps = {}
            for stat, values in (("median", np.median(times, axis=1)), ("p10", np.percentile(times, 10, axis=1))):
                gaps[stat] = {name: values[2 * i] - values[2 * i + 1] for i, name in enumerate(positions)}
            chain = f"{CHAIN_LENGTH} x Conv {k}x{k} {size}x{size}x{channels}->{channels}, one {structure} as {fmt}"
            for name, (_, boundaries) in positions.items():
                if name == "alone":
                    continue
                extra = {stat: gap[name] - gap["alone"] for stat, gap in gaps.items()}
                entry = {
                    "chain": chain,
                    "position": name,
                    "claimed": claimed[name],
                    "boundaries": boundaries,
                    "gap_chain_us": gaps["median"][name],
                    "gap_alone_us": gaps["median"]["alone"],
                    "extra_us": extra["median"],
                    "per_boundary_us": extra["median"] / boundaries,
                    "extra_p10_us": extra["p10"],
                    "per_boundary_p10_us": extra["p10"] / boundaries,
                    "runs": runs,
                }
                results.append(entry)
                self.say(f"| {chain} | {name} | {claimed[name]} | {entry['gap_chain_us']:.0f} | "
                         f"{entry['gap_alone_us']:.0f} | {extra['median']:.0f} | {extra['p10']:.0f} | "
                         f"{entry['per_boundary_us']:.0f} | {entry['per_boundary_p10_us']:.0f} |")
        return results


HEADER = ("| section | layer | structure | density | claimed / considered | format(s) | estimate | XNNPACK us "
          "| delegate+XNNPACK us | ratio | target | max abs diff (relative) "
          "| declined: ratio with format forced |")


def format_row(row) -> str:
    est = f"{row['estimate']:.2f}" if row["estimate"] is not None else "-"
    formats = ", ".join(row["formats"]) or "-"
    if not row["single_layer"]:
        formats += " (" + ", ".join(f"{op} {n}" for op, n in row["claimed_by_op"].items()) + ")"
    met = "met" if row["ratio"] >= row["target"] else "below"
    forced = row["forced"]
    forced = f"{forced['format']}: {forced['ratio']:.2f}x" if forced and forced["claimed"] else "-"
    ok = "" if row["correct"] else " WRONG"
    return (f"| {row['section']} | {row['layer']} | {row['structure']} | {row['density']:.3f} | "
            f"{row['claimed']} / {row['considered']} | {formats} | {est} | {row['xnnpack_us']:.0f} | "
            f"{row['delegate_us']:.0f} | {row['ratio']:.2f}x | {row['target']:.1f}x {met} | "
            f"{row['max_abs_diff']:.1e} ({row['max_rel_diff']:.0e}){ok} | {forced} |")


def never_slower(rows):
    """Single-layer rows the delegate claimed and ran slower than XNNPACK alone."""
    return [r for r in rows if r["single_layer"] and r["claimed"] > 0 and r["ratio"] < 1.0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=40, help="timed invokes per backend for a layer (>= 20)")
    ap.add_argument("--model-runs", type=int, default=20, help="timed invokes per backend for a model (>= 20)")
    ap.add_argument("--quick", action="store_true", help="tiny shapes and models (CI): checks the path, not the speed")
    ap.add_argument("--strict", action="store_true", help="exit status 1 when a claimed layer is slower")
    ap.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    ap.add_argument("--models", nargs="+", choices=sorted(MODELS), default=sorted(MODELS))
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = ap.parse_args(argv)
    if not args.quick and min(args.runs, args.model_runs) < 20:
        ap.error("--runs and --model-runs must be >= 20 (medians of fewer are noise); --quick allows fewer")
    if min(args.runs, args.model_runs) < 1:
        ap.error("--runs and --model-runs must be >= 1")

    bench = Bench(args)
    cpu = cpu_model()
    bench.say(f"CPU: {cpu} ({os.cpu_count()} cores); delegate ISA: {tfs.delegate_isa()}; threads={THREADS}, batch 1, "
          f"float32; medians of {args.runs} (layers) / {args.model_runs} (models) invokes per backend, the two "
          f"interpreters alternating in rounds after warm-up; ratio = XNNPACK alone / (delegate + XNNPACK)"
          + ("; QUICK shapes (not speed)" if args.quick else ""))
    bench.say()
    boundary = []
    if set(args.sections) - {"boundary"}:
        bench.say(HEADER)
        bench.say("|" + "---|" * HEADER.count(" | ") + "---|")
        for section in ("1x1", "patdnn", "models"):
            if section in args.sections:
                {"1x1": bench.pointwise, "patdnn": bench.patdnn, "models": bench.models}[section]()
    if "boundary" in args.sections:
        bench.say()
        bench.say("Partition boundaries: one claimed convolution first, in the middle or last of a chain of 5 "
                  "(1, 2, 1 boundaries between XNNPACK and the delegate), against the same node alone. gap = "
                  "delegate+XNNPACK us - XNNPACK us of the same file; extra = gap in the chain - gap alone.")
        bench.say("| chain | position | claimed | gap in chain us | gap alone us | extra us "
                  "| extra us (10th percentiles) | us per boundary | us per boundary (10th percentiles) |")
        bench.say("|---|---|---|---|---|---|---|---|---|")
        boundary = bench.boundary()

    slower = never_slower(bench.rows)
    wrong = [r for r in bench.rows if not r["correct"]]
    bench.say()
    bench.listing("Never slower (single layers the delegate claimed):", slower, lambda r: (
        f"!!! SLOWER: {r['layer']}, {r['structure']}: claimed as {', '.join(r['formats'])} "
        f"(estimate {r['estimate']}), {r['ratio']:.2f}x of XNNPACK alone !!!"))
    bench.listing("Outputs against the stock interpreter:", wrong, lambda r: (
        f"!!! WRONG OUTPUT: {r['layer']}, {r['structure']}: max abs diff {r['max_abs_diff']:.2e} "
        f"({r['max_rel_diff']:.1e} relative"
        + (f", forced {r['forced']['format']}: {r['forced']['max_rel_diff']:.1e}" if r["forced"] else "")
        + f"; allowed {MAX_REL_DIFF}) !!!"), none=f"all within {MAX_REL_DIFF} relative")
    missed = [r for r in bench.rows if r["forced"] and r["forced"]["claimed"] and r["forced"]["ratio"] > 1.1]
    bench.listing("Declined, but faster than XNNPACK alone with the format forced (more than 1.1x):", missed,
                  lambda r: f"{r['layer']}, {r['structure']}: estimate {r['estimate']}, forced "
                            f"{r['forced']['format']} {r['forced']['ratio']:.2f}x")

    result = {
        "cpu": cpu,
        "isa": tfs.delegate_isa(),
        "threads": THREADS,
        "batch": 1,
        "runs": args.runs,
        "model_runs": args.model_runs,
        "quick": args.quick,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "rows": bench.rows,
        "boundary": boundary,
        "slower": [f"{r['layer']}, {r['structure']}" for r in slower],
        "declined_faster_forced": [f"{r['layer']}, {r['structure']}" for r in missed],
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "fine_grained_speed.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(args.out, "fine_grained_speed.md"), "w") as f:
        f.write("\n".join(bench.lines) + "\n")
    if wrong or (args.strict and slower):
        sys.exit(1)
    return result


if __name__ == "__main__":
    main()
