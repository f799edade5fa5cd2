"""Large-sparse against small-dense super-resolution networks at equal nonzero weights.

For each number of nonzero weights per residual-block convolution (``--nonzeros``, in units of a
dense 16-channel convolution's 2304 weights) and each width (``--widths``), the x2 network
``sr_model(2, width, blocks)`` is trained dense, then its block convolutions are pruned to
``KernelPattern(8, connectivity=c, filter_block=16)`` with ``c`` chosen so that each keeps that
many nonzeros (``4/9 * (1 - c) * 9 * width**2``; ``c = 0`` and no pattern when the dense network
already has that many: the small-dense point). Head and tail stay dense (they grow with the width).
Reports PSNR / SSIM (Y) on the held-out photographs and the delegate's latency for a 1280x720
output frame (2 threads), and plots PSNR against latency.

    python benchmarks/sr_width_vs_sparsity.py [--widths 16,32,48] [--nonzeros 1,0.25]
        [--steps 1500] [--prune-steps 500] [--runs 10]

Writes benchmarks/results/sr_width_vs_sparsity.md, .json and .png.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import tf_sparse as tfs  # noqa: E402
from tf_sparse import super_resolution as sr  # noqa: E402
from tf_sparse.runtime.interpreter import interleaved_latency_us, make_interpreter, run  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
UNIT = 9 * 16 * 16  # nonzeros of one dense 16-channel 3x3 convolution


def cpu_name():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def connectivity_for(width, nonzeros):
    """Connectivity c with 4/9 (1 - c) 9 width^2 = nonzeros; None when dense has no more than that."""
    dense = 9 * width * width
    if nonzeros >= dense:
        return None
    c = 1.0 - nonzeros / (4.0 * width * width)
    if c < 0:
        raise ValueError(f"{nonzeros} nonzeros of a {width}-channel convolution need fewer than 5/9 zeros: "
                         "KernelPattern keeps 4 of 9 taps at least")
    return c


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--widths", default="16,32,48")
    ap.add_argument("--nonzeros", default="1,0.25", help="nonzeros per block conv, in units of 2304")
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--prune-steps", type=int, default=500)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args(argv)
    widths = [int(w) for w in args.widths.split(",")]
    levels = [float(v) for v in args.nonzeros.split(",")]
    keras.utils.set_random_seed(0)
    train, test = sr.split_images()
    train_images, test_images = list(train.values()), list(test.values())
    tmp = tempfile.mkdtemp(prefix="tfs_sr_grid_")
    h, w = 360, 640
    frame = sr.downscale(test_images[0], 2)
    import tensorflow as tf

    frame = np.clip(tf.image.resize(frame, (h, w), method="bicubic").numpy(), 0, 1)[None].astype(np.float32)
    rows = []
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; held out {sorted(test)}")
    trained = {}
    for level in levels:
        nz = int(round(level * UNIT))
        for width in widths:
            c = connectivity_for(width, nz)
            if c is None and 9 * width * width != nz:
                continue  # fewer weights than the level even dense: not an equal-nonzeros point
            t0 = time.time()
            if width not in trained:
                model = sr.sr_model(2, width, args.blocks)
                sr.train(model, train_images, 2, args.steps, learning_rate=2e-3, seed=width)
                trained[width] = model
            model = trained[width]
            if c is None:
                final = model
                label = "dense"
            else:
                final = sr.prune(model, {"block*_conv*": tfs.KernelPattern(8, connectivity=c, filter_block=16)},
                                 train_images, 2, admm_steps=args.prune_steps, retrain_steps=args.prune_steps,
                                 update_every=max(1, args.prune_steps // 10), seed=width + 100)
                label = f"KernelPattern c={c:.3f}"
            e = sr.evaluate(final, test_images, 2)
            path = os.path.join(tmp, f"w{width}_{level}.tflite")
            tfs.export_tflite(sr.fixed_size(final, h, w), path)
            ours, delegate = make_interpreter(path, "tf_sparse", num_threads=args.threads)
            stock, _ = make_interpreter(path, "xnnpack", num_threads=args.threads)
            diff = float(np.max(np.abs(run(ours, frame) - run(stock, frame))))
            t_ours, t_stock = (t / 1e3 for t in interleaved_latency_us([ours, stock], frame, runs=args.runs,
                                                                        warmup=1, rounds=5))
            nonzero = sum(int(np.count_nonzero(np.asarray(final.get_layer(n).kernel)))
                          for n in sr.conv_layer_names(final) if n.startswith("block"))
            row = {"width": width, "level": level, "structure": label, "block_nonzeros": nonzero,
                   "psnr": e["psnr"], "ssim": e["ssim"], "psnr_bicubic": e["bicubic_psnr"],
                   "ms_tf_sparse": t_ours, "ms_xnnpack": t_stock, "max_abs_diff": diff,
                   "claimed": sum(r["claimed"] for r in tfs.delegate_report(delegate)),
                   "load": round(os.getloadavg()[0], 2), "seconds": time.time() - t0}
            rows.append(row)
            print(f"width {width:3d} {label:<24} block nonzeros {nonzero:6d}: PSNR {e['psnr']:.2f} SSIM "
                  f"{e['ssim']:.4f} (bicubic {e['bicubic_psnr']:.2f}); delegate {t_ours:.1f} ms, XNNPACK "
                  f"{t_stock:.1f} ms; diff {diff:.1e}; load {row['load']}", flush=True)
    result = {"cpu": cpu_name(), "threads": args.threads, "runs": args.runs, "steps": args.steps,
              "prune_steps": args.prune_steps, "blocks": args.blocks, "held_out": sorted(test), "rows": rows}
    os.makedirs(args.out, exist_ok=True)
    base = os.path.join(args.out, "sr_width_vs_sparsity")
    with open(base + ".json", "w") as f:
        json.dump(result, f, indent=1)
    lines = [
        "# Super-resolution: width against sparsity at equal nonzero weights (x2)",
        "",
        f"`python benchmarks/sr_width_vs_sparsity.py` on {result['cpu']}, {args.threads} threads, median of "
        f"{args.runs}+ interleaved runs of a 640x360 -> 1280x720 frame; {args.blocks} residual blocks; "
        f"{args.steps} dense training steps, {args.prune_steps} ADMM + {args.prune_steps} retraining steps; "
        f"PSNR / SSIM on Y over {', '.join(sorted(test))}. Head and tail stay dense.",
        "",
        "| width | structure | nonzeros, all block convs | PSNR | SSIM | tf_sparse ms | XNNPACK ms | load |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['width']} | {r['structure']} | {r['block_nonzeros']} | {r['psnr']:.2f} | {r['ssim']:.4f} | "
                     f"{r['ms_tf_sparse']:.1f} | {r['ms_xnnpack']:.1f} | {r['load']} |")
    if rows:
        lines += ["", f"Bicubic: {rows[0]['psnr_bicubic']:.2f} dB."]
    with open(base + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for level in levels:
        pts = [r for r in rows if r["level"] == level]
        ax.plot([r["ms_tf_sparse"] for r in pts], [r["psnr"] for r in pts], "o-",
                label=f"{int(round(level * UNIT))} nonzeros / block conv")
        for r in pts:
            ax.annotate(f"w{r['width']}", (r["ms_tf_sparse"], r["psnr"]), fontsize=8)
    if rows:
        ax.axhline(rows[0]["psnr_bicubic"], color="grey", ls="--", label="bicubic")
    ax.set_xlabel(f"delegate latency, 720p frame, {args.threads} threads (ms)")
    ax.set_ylabel("PSNR Y (dB), held-out")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(base + ".png", dpi=100)
    return result


if __name__ == "__main__":
    main()
