"""Real-time super-resolution: train a small SR network, prune its 3x3 convolutions into the
delegate's structures, export one frame size to TFLite and run it with the tf_sparse delegate.

Steps:
1. train the dense network (``tfs.super_resolution.sr_model``: head, residual blocks of 3x3
   convolutions, tail, pixel shuffle, input residual) on random patches of real photographs --
   the ones installed packages ship (``tfs.super_resolution.builtin_images``; the held-out
   images are never cut into patches) or ``--data FOLDER`` (PNG / JPG, e.g. DIV2K's HR images;
   the last tenth of the files by name, at least one, is held out);
2. evaluate it on the held-out images against bicubic upscaling (PSNR / SSIM on Y, border =
   scale);
3. prune it: every residual-block convolution to 4-of-9 kernel patterns from a library of 8 with
   ``--connectivity`` of the (16 filters x 1 input channel) kernel blocks removed
   (``tfs.KernelPattern(8, connectivity, filter_block=16)``, what the delegate's VT kernels run),
   or a per-layer config from ``--config FILE`` (JSON ``{layer name or glob: {"class_name": ...,
   "config": {...}} | null}``, layer names as ``tfs.super_resolution.sr_model`` documents them);
   ADMM, hard pruning, masked retraining; evaluate again;
4. export the dense and the pruned network for one frame size (``--frame 360x640``: a 720x1280
   output at x2) and run the pruned file with the delegate and with the stock interpreter on a
   held-out frame: the largest difference of their outputs, which nodes the delegate claims,
   median latencies (XNNPACK dense, XNNPACK pruned, tf_sparse pruned; interleaved runs).

    python examples/super_resolution.py [--scale 2] [--channels 16] [--blocks 2] [--steps 3000]
        [--prune-steps 1500] [--connectivity 0.5] [--config FILE] [--data FOLDER]
        [--frame 360x640] [--threads 2] [--runs 10] [--out DIR] [--tiny]

``--tiny`` runs every step on a few small patches and a 24x40 frame (seconds, for tests).
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


def parse_frame(text):
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--frame must be HEIGHTxWIDTH of the low-resolution input, e.g. 360x640, got {text!r}"
        ) from None
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"--frame must be positive, got {text!r}")
    return h, w


def images_from(args):
    """(training images, held-out images) as lists of uint8 arrays."""
    if args.data:
        images = sr.load_images(args.data)
        if len(images) < 2:
            raise SystemExit(f"--data {args.data!r}: need at least 2 images (one held out), found {len(images)}")
        n_test = max(1, len(images) // 10)
        return images[:-n_test], images[-n_test:]
    train, test = sr.split_images()
    print(f"photographs: train {sorted(train)}, held out {sorted(test)}")
    return list(train.values()), list(test.values())


def frame_from(image, frame, scale):
    """A low-resolution frame of ``frame`` size cut from the centre of a held-out image's
    downscaled version (resized up first if the image is too small)."""
    import tensorflow as tf

    h, w = frame
    lr = sr.downscale(image, scale)
    if lr.shape[0] < h or lr.shape[1] < w:
        f = max(h / lr.shape[0], w / lr.shape[1])
        size = (int(np.ceil(lr.shape[0] * f)), int(np.ceil(lr.shape[1] * f)))
        lr = np.clip(tf.image.resize(lr, size, method="bicubic").numpy(), 0, 1)
    y, x = (lr.shape[0] - h) // 2, (lr.shape[1] - w) // 2
    return lr[None, y : y + h, x : x + w].astype(np.float32)


def layer_sparsity(model, names):
    """Fraction of zeros over the kernels of the named layers."""
    kernels = [np.asarray(model.get_layer(n).kernel) for n in names]
    return sum(int(np.count_nonzero(k == 0)) for k in kernels) / max(1, sum(k.size for k in kernels))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=int, default=2, choices=sr.SCALES)
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--residual", default="nearest", choices=["nearest", "bilinear", "none"])
    ap.add_argument("--steps", type=int, default=3000, help="dense training steps")
    ap.add_argument("--prune-steps", type=int, default=1500, help="ADMM steps, and as many masked retraining steps")
    ap.add_argument("--patch", type=int, default=64, help="high-resolution training patch size")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3, help="dense training learning rate")
    ap.add_argument("--connectivity", type=float, default=0.5)
    ap.add_argument("--rho", type=float, default=1e-2)
    ap.add_argument("--config", default=None, help="per-layer pruning config (JSON) instead of --connectivity")
    ap.add_argument("--data", default=None, help="folder of high-resolution PNG / JPG images")
    ap.add_argument("--frame", type=parse_frame, default=None, help="low-resolution frame HxW for the TFLite file")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="directory for the .tflite files and results.json")
    ap.add_argument("--tiny", action="store_true", help="a few steps on small patches and a small frame")
    args = ap.parse_args(argv)
    if args.tiny:
        args.steps, args.prune_steps, args.patch, args.batch, args.runs = 8, 4, 8 * args.scale, 4, 2
        args.frame = args.frame or (24, 40)
    args.frame = args.frame or {2: (360, 640), 3: (240, 427), 4: (180, 320)}[args.scale]
    keras.utils.set_random_seed(args.seed)
    out = args.out or tempfile.mkdtemp(prefix="tfs_sr_")
    os.makedirs(out, exist_ok=True)

    train_images, test_images = images_from(args)
    if args.tiny:  # small held-out crops keep evaluation fast
        test_images = [im[:96, :96] for im in test_images[:1]]
    residual = None if args.residual == "none" else args.residual
    dense = sr.sr_model(args.scale, args.channels, args.blocks, residual=residual)
    t0 = time.time()
    sr.train(dense, train_images, args.scale, args.steps, learning_rate=args.lr, patch_size=args.patch,
             batch_size=args.batch, seed=args.seed)
    t_train = time.time() - t0
    e_dense = sr.evaluate(dense, test_images, args.scale)

    if args.config:
        config = sr.pruning_config(args.config)
    else:
        config = {"block*_conv*": tfs.KernelPattern(8, connectivity=args.connectivity, filter_block=16)}
    t0 = time.time()
    pruned = sr.prune(dense, config, train_images, args.scale, admm_steps=args.prune_steps,
                      retrain_steps=args.prune_steps, rho=args.rho, update_every=max(1, args.prune_steps // 10),
                      patch_size=args.patch, batch_size=args.batch, seed=args.seed + 1)
    t_prune = time.time() - t0
    e_pruned = sr.evaluate(pruned, test_images, args.scale)
    convs = sr.conv_layer_names(pruned)

    h, w = args.frame
    dense_path = os.path.join(out, f"sr_x{args.scale}_dense_{h}x{w}.tflite")
    pruned_path = os.path.join(out, f"sr_x{args.scale}_pruned_{h}x{w}.tflite")
    tfs.export_tflite(sr.fixed_size(dense, h, w), dense_path)
    tfs.export_tflite(sr.fixed_size(pruned, h, w), pruned_path)
    frame = frame_from(test_images[0], args.frame, args.scale)

    ours, delegate = make_interpreter(pruned_path, "tf_sparse", num_threads=args.threads)
    stock, _ = make_interpreter(pruned_path, "xnnpack", num_threads=args.threads)
    stock_dense, _ = make_interpreter(dense_path, "xnnpack", num_threads=args.threads)
    y_ours, y_stock = run(ours, frame), run(stock, frame)
    y_keras = np.asarray(pruned.predict_on_batch(frame))
    diff = float(np.max(np.abs(y_ours - y_stock)))
    diff_keras = float(np.max(np.abs(y_ours - y_keras)))
    report = tfs.delegate_report(delegate)
    claimed = [r for r in report if r["claimed"]]
    t_ours, t_stock, t_dense = (
        t / 1e3 for t in interleaved_latency_us([ours, stock, stock_dense], frame, runs=args.runs, warmup=1,
                                                rounds=min(5, args.runs))
    )

    print(f"x{args.scale}, {args.channels} channels, {args.blocks} blocks, residual {args.residual}: "
          f"{sr.macs_per_output_pixel(dense):.0f} multiply-adds per output pixel; trained {args.steps} steps "
          f"in {t_train:.0f} s, pruned ({args.prune_steps} ADMM + {args.prune_steps} retraining steps) "
          f"in {t_prune:.0f} s")
    print(f"held-out images ({len(test_images)}), Y channel, border {args.scale}:")
    print(f"  {'':<34} {'PSNR dB':>8} {'SSIM':>7}")
    print(f"  {'bicubic':<34} {e_dense['bicubic_psnr']:8.2f} {e_dense['bicubic_ssim']:7.4f}")
    print(f"  {'dense':<34} {e_dense['psnr']:8.2f} {e_dense['ssim']:7.4f}")
    sp = layer_sparsity(pruned, [n for n in convs if n.startswith("block")]) if args.blocks else 0.0
    label = f"pruned (block convs {sp:.0%} zeros)"
    print(f"  {label:<34} {e_pruned['psnr']:8.2f} {e_pruned['ssim']:7.4f}")
    print(f"frame {h}x{w} -> {h * args.scale}x{w * args.scale}, {args.threads} thread(s), median of "
          f"{args.runs} interleaved runs:")
    print(f"  XNNPACK dense     {t_dense:8.2f} ms")
    print(f"  XNNPACK pruned    {t_stock:8.2f} ms")
    print(f"  tf_sparse pruned  {t_ours:8.2f} ms  ({t_dense / t_ours:.2f}x vs dense)")
    print(f"delegate claimed {len(claimed)} of {len(report)} considered nodes "
          f"(formats: {', '.join(sorted({r.get('format', '?') for r in claimed})) or '-'}); largest output "
          f"difference vs the stock interpreter {diff:.2e}, vs Keras {diff_keras:.2e}")
    for r in report:
        if not r["claimed"]:
            print(f"  declined node {r.get('node')}: {str(r.get('reason'))[:100]}")
    result = {
        "scale": args.scale, "channels": args.channels, "blocks": args.blocks, "residual": args.residual,
        "frame": [h, w], "threads": args.threads, "runs": args.runs,
        "psnr_bicubic": e_dense["bicubic_psnr"], "ssim_bicubic": e_dense["bicubic_ssim"],
        "psnr_dense": e_dense["psnr"], "ssim_dense": e_dense["ssim"],
        "psnr_pruned": e_pruned["psnr"], "ssim_pruned": e_pruned["ssim"],
        "block_sparsity": sp,
        "latency_xnnpack_dense_ms": t_dense, "latency_xnnpack_pruned_ms": t_stock, "latency_tf_sparse_ms": t_ours,
        "max_abs_diff": diff, "max_abs_diff_keras": diff_keras,
        "claimed_nodes": len(claimed), "formats": sorted({r.get("format", "?") for r in claimed}),
        "dense_tflite": dense_path, "pruned_tflite": pruned_path,
    }
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
