"""Real-time super-resolution: a 1280x720 frame from 640x360 (x2) and from 320x180 (x4).

For each scale the same architecture (``tfs.super_resolution.sr_model``) is trained dense on
patches of the training photographs, pruned (its residual-block 3x3 convolutions to
``tfs.KernelPattern(8, connectivity, filter_block=16)``: ADMM, hard pruning, masked retraining),
evaluated on the held-out photographs (PSNR / SSIM on Y, border = scale) against bicubic, and
exported for the fixed frame size. Latency of one frame, medians of interleaved runs, 1 and 2
threads: the pruned file on the tf_sparse delegate, the unpruned file on XNNPACK (the stock
interpreter), and the pruned file on XNNPACK. The delegate's output is checked against the stock
interpreter's.

``--structures`` also times the x2 network with its block convolutions pruned (by projection,
untrained) to other structures, to show what the delegate claims and runs fast at this shape.

    python benchmarks/sr_realtime.py [--channels 16] [--blocks 2] [--connectivity 0.5]
        [--steps 3000] [--prune-steps 1000] [--retrain-steps 2000] [--runs 20] [--structures] [--quick]

Writes benchmarks/results/sr_realtime.md and .json.
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

import keras  # noqa: E402
import numpy as np  # noqa: E402

import tf_sparse as tfs  # noqa: E402
from tf_sparse import super_resolution as sr  # noqa: E402
from tf_sparse.runtime.interpreter import interleaved_times_us, make_interpreter, run  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FRAMES = {2: (360, 640), 4: (180, 320)}  # low-resolution input of a 720x1280 output


def cpu_name():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def load():
    return round(os.getloadavg()[0], 2)


def held_out_frame(images, scale):
    """The LR frame: the centre of the first held-out image's downscale, resized to fill the frame."""
    import tensorflow as tf

    h, w = FRAMES[scale]
    lr = sr.downscale(images[0], scale)
    f = max(h / lr.shape[0], w / lr.shape[1], 1.0)
    if f > 1:
        lr = np.clip(tf.image.resize(lr, (int(np.ceil(lr.shape[0] * f)), int(np.ceil(lr.shape[1] * f))),
                                     method="bicubic").numpy(), 0, 1)
    y, x = (lr.shape[0] - h) // 2, (lr.shape[1] - w) // 2
    return lr[None, y : y + h, x : x + w].astype(np.float32)


def time_files(dense_path, pruned_path, frame, threads, runs):
    """Median ms of [delegate on pruned, XNNPACK on dense, XNNPACK on pruned], the delegate's report,
    its output difference vs the stock interpreter, and the 10th percentiles (ms; on a loaded shared
    machine they are closer to the unloaded speed than the medians)."""
    ours, delegate = make_interpreter(pruned_path, "tf_sparse", num_threads=threads)
    dense, _ = make_interpreter(dense_path, "xnnpack", num_threads=threads)
    stock, _ = make_interpreter(pruned_path, "xnnpack", num_threads=threads)
    diff = float(np.max(np.abs(run(ours, frame) - run(stock, frame))))
    t = interleaved_times_us([ours, dense, stock], frame, runs=runs, warmup=2, rounds=5) / 1e3
    return list(np.median(t, axis=1)), tfs.delegate_report(delegate), diff, list(np.percentile(t, 10, axis=1))


def structure_sweep(args, frame, test_images, out):
    """x2 network, block convolutions projected (untrained) onto each structure: what is claimed, how fast."""
    h, w = FRAMES[2]
    model = sr.sr_model(2, args.channels, args.blocks, residual=args.residual)
    tail = model.get_layer("tail")  # zero-initialised: random weights, so the delegate sees a dense tail
    tail.kernel.assign(np.random.default_rng(0).normal(0, 0.05, tail.kernel.shape).astype(np.float32))
    base = os.path.join(out, "sweep_dense.tflite")
    tfs.export_tflite(sr.fixed_size(model, h, w), base)
    rows = []
    structures = [
        ("KernelPattern(8, c=0.5, filter_block=16)", tfs.KernelPattern(8, connectivity=0.5, filter_block=16)),
        ("KernelPattern(8, c=0.75, filter_block=16)", tfs.KernelPattern(8, connectivity=0.75, filter_block=16)),
        ("KernelPattern(8, c=0.5) per kernel", tfs.KernelPattern(8, connectivity=0.5)),
        ("Block(0.75, block=(16, 1))", tfs.Block(0.75, block=(16, 1))),
        ("Unstructured(0.78)", tfs.Unstructured(0.78)),
        ("NM(2, 8)", tfs.NM(2, 8)),
    ]
    for label, structure in structures:
        sparse = tfs.sparsify(model, {"block*_conv*": structure})
        tfs.harden(sparse)
        path = os.path.join(out, "sweep_pruned.tflite")
        tfs.export_tflite(sr.fixed_size(tfs.strip(sparse), h, w), path)
        (t_ours, t_dense, _), report, diff, _ = time_files(base, path, frame, 2, max(5, args.runs // 2))
        claimed = [r for r in report if r["claimed"]]
        zeros = np.mean([float(np.mean(np.asarray(l.kernel) == 0)) for l in tfs.strip(sparse).layers
                         if l.name.startswith("block") and hasattr(l, "kernel")])
        rows.append({"structure": label, "zeros": float(zeros), "claimed": len(claimed),
                     "formats": sorted({r.get("format", "?") for r in claimed}),
                     "ms_tf_sparse": t_ours, "ms_xnnpack_dense": t_dense, "speedup": t_dense / t_ours,
                     "max_abs_diff": diff})
        print(f"  {label:<42} zeros {zeros:.0%} claimed {len(claimed)} {rows[-1]['formats']} "
              f"{t_ours:7.1f} ms vs dense {t_dense:7.1f} ms ({t_dense / t_ours:.2f}x) diff {diff:.1e}", flush=True)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--residual", default="nearest", choices=["nearest", "bilinear"])
    ap.add_argument("--connectivity", type=float, default=0.5)
    ap.add_argument("--scales", default="2,4")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--prune-steps", type=int, default=1000, help="ADMM steps")
    ap.add_argument("--retrain-steps", type=int, default=2000, help="masked retraining steps")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--structures", action="store_true", help="also time other structures on the x2 network")
    ap.add_argument("--quick", action="store_true", help="few training steps and runs (checks the script)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args(argv)
    if args.quick:
        args.steps, args.prune_steps, args.retrain_steps, args.runs = 20, 10, 10, 3
    scales = [int(s) for s in args.scales.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    keras.utils.set_random_seed(0)
    tmp = tempfile.mkdtemp(prefix="tfs_sr_bench_")
    train, test = sr.split_images()
    train_images, test_images = list(train.values()), list(test.values())
    result = {"cpu": cpu_name(), "isa": tfs.delegate_isa(), "cores": os.cpu_count(), "load_start": load(),
              "channels": args.channels, "blocks": args.blocks, "residual": args.residual,
              "connectivity": args.connectivity, "steps": args.steps, "prune_steps": args.prune_steps,
              "retrain_steps": args.retrain_steps,
              "runs": args.runs, "train_images": sorted(train), "held_out_images": sorted(test), "scales": []}
    print(f"CPU: {result['cpu']} ({result['isa']}), {result['cores']} cores, load {result['load_start']}")
    print(f"train {sorted(train)}, held out {sorted(test)}")
    for scale in scales:
        h, w = FRAMES[scale]
        dense = sr.sr_model(scale, args.channels, args.blocks, residual=args.residual)
        t0 = time.time()
        sr.train(dense, train_images, scale, args.steps, learning_rate=args.lr, seed=scale)
        t_train = time.time() - t0
        e_dense = sr.evaluate(dense, test_images, scale)
        t0 = time.time()
        structure = tfs.KernelPattern(8, connectivity=args.connectivity, filter_block=16)
        pruned = sr.prune(dense, {"block*_conv*": structure},
                          train_images, scale, admm_steps=args.prune_steps, retrain_steps=args.retrain_steps,
                          update_every=max(1, args.prune_steps // 10), seed=scale + 10)
        t_prune = time.time() - t0
        e_pruned = sr.evaluate(pruned, test_images, scale)
        dense_path = os.path.join(tmp, f"dense_x{scale}.tflite")
        pruned_path = os.path.join(tmp, f"pruned_x{scale}.tflite")
        tfs.export_tflite(sr.fixed_size(dense, h, w), dense_path)
        tfs.export_tflite(sr.fixed_size(pruned, h, w), pruned_path)
        frame = held_out_frame(test_images, scale)
        row = {"scale": scale, "frame_in": [h, w], "frame_out": [h * scale, w * scale],
               "macs_per_output_pixel": sr.macs_per_output_pixel(dense),
               "train_s": t_train, "prune_s": t_prune,
               "psnr_bicubic": e_dense["bicubic_psnr"], "ssim_bicubic": e_dense["bicubic_ssim"],
               "psnr_dense": e_dense["psnr"], "ssim_dense": e_dense["ssim"],
               "psnr_pruned": e_pruned["psnr"], "ssim_pruned": e_pruned["ssim"], "latency": []}
        print(f"x{scale} {h}x{w} -> {h * scale}x{w * scale}: PSNR/SSIM bicubic {row['psnr_bicubic']:.2f}/"
              f"{row['ssim_bicubic']:.4f}, dense {row['psnr_dense']:.2f}/{row['ssim_dense']:.4f}, pruned "
              f"{row['psnr_pruned']:.2f}/{row['ssim_pruned']:.4f} (train {t_train:.0f} s, prune {t_prune:.0f} s)",
              flush=True)
        for t in threads:
            (t_ours, t_dense, t_stock), report, diff, p10 = time_files(dense_path, pruned_path, frame, t, args.runs)
            claimed = [r for r in report if r["claimed"]]
            row["latency"].append({"threads": t, "ms_tf_sparse_pruned": t_ours, "ms_xnnpack_dense": t_dense,
                                   "ms_xnnpack_pruned": t_stock, "speedup": t_dense / t_ours, "load": load(),
                                   "p10_ms_tf_sparse_pruned": p10[0], "p10_ms_xnnpack_dense": p10[1],
                                   "claimed": len(claimed), "considered": len(report),
                                   "formats": sorted({r.get("format", "?") for r in claimed}),
                                   "max_abs_diff": diff})
            print(f"  {t} thread(s): tf_sparse pruned {t_ours:.1f} ms, XNNPACK dense {t_dense:.1f} ms "
                  f"({t_dense / t_ours:.2f}x), XNNPACK pruned {t_stock:.1f} ms; 10th percentiles {p10[0]:.1f} / "
                  f"{p10[1]:.1f} ms; claimed {len(claimed)}/"
                  f"{len(report)}; max |delegate - stock| {diff:.1e}; load {load()}", flush=True)
        result["scales"].append(row)
    if args.structures:
        print("x2 network, block convolutions projected onto each structure (untrained), 2 threads:")
        result["structures"] = structure_sweep(args, held_out_frame(test_images, 2), test_images, tmp)
    result["load_end"] = load()
    if not args.quick:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "sr_realtime.json"), "w") as f:
            json.dump(result, f, indent=1)
        with open(os.path.join(args.out, "sr_realtime.md"), "w") as f:
            f.write(markdown(result))
    return result


def markdown(r):
    lines = [
        "# Real-time super-resolution: one 1280x720 frame",
        "",
        f"`python benchmarks/sr_realtime.py` on {r['cpu']} ({r['isa']}), {r['cores']} cores; load average "
        f"{r['load_start']} at the start, {r['load_end']} at the end (a shared machine). Network: "
        f"`sr_model(channels={r['channels']}, blocks={r['blocks']}, residual={r['residual']!r})`, trained "
        f"{r['steps']} steps (batches of 16 random 64x64 patches, L1, Adam) on {', '.join(r['train_images'])}; "
        f"pruned: every residual-block 3x3 convolution to `KernelPattern(8, connectivity={r['connectivity']}, "
        f"filter_block=16)` ({r['prune_steps']} ADMM + {r['retrain_steps']} masked retraining steps). "
        f"PSNR / SSIM on Y (border = scale) over the held-out {', '.join(r['held_out_images'])}.",
        "",
        "| scale | frame | MACs / out px | bicubic PSNR / SSIM | dense PSNR / SSIM | pruned PSNR / SSIM |",
        "|---|---|---|---|---|---|",
    ]
    for s in r["scales"]:
        lines.append(
            f"| x{s['scale']} | {s['frame_in'][1]}x{s['frame_in'][0]} -> {s['frame_out'][1]}x{s['frame_out'][0]} | "
            f"{s['macs_per_output_pixel']:.0f} | {s['psnr_bicubic']:.2f} / {s['ssim_bicubic']:.4f} | "
            f"{s['psnr_dense']:.2f} / {s['ssim_dense']:.4f} | {s['psnr_pruned']:.2f} / {s['ssim_pruned']:.4f} |"
        )
    lines += [
        "",
        f"Latency of one frame, median of {r['runs']}+ interleaved runs (ms):",
        "",
        "| scale | threads | tf_sparse, pruned | XNNPACK, dense | speedup | XNNPACK, pruned | 10th pct tf_sparse / "
        "XNNPACK dense | claimed | max abs diff vs stock | load |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in r["scales"]:
        for t in s["latency"]:
            lines.append(
                f"| x{s['scale']} | {t['threads']} | {t['ms_tf_sparse_pruned']:.1f} | {t['ms_xnnpack_dense']:.1f} | "
                f"{t['speedup']:.2f}x | {t['ms_xnnpack_pruned']:.1f} | {t['p10_ms_tf_sparse_pruned']:.1f} / "
                f"{t['p10_ms_xnnpack_dense']:.1f} | {t['claimed']}/{t['considered']} "
                f"({', '.join(t['formats'])}) | {t['max_abs_diff']:.1e} | {t['load']} |"
            )
    if r.get("structures"):
        lines += [
            "",
            "x2 network with the block convolutions projected (untrained) onto other structures, 2 threads:",
            "",
            "| structure | zeros | claimed | tf_sparse ms | XNNPACK dense ms | speedup |",
            "|---|---|---|---|---|---|",
        ]
        for s in r["structures"]:
            lines.append(
                f"| {s['structure']} | {s['zeros']:.0%} | {s['claimed']} ({', '.join(s['formats']) or '-'}) | "
                f"{s['ms_tf_sparse']:.1f} | {s['ms_xnnpack_dense']:.1f} | {s['speedup']:.2f}x |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
