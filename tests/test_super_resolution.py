"""tfs.super_resolution: model shapes and names, data split and patches, PSNR / SSIM on Y against
independent implementations, bad input, and the example end to end on tiny crops."""

import importlib.util
import os

import keras
import numpy as np
import pytest

import tf_sparse as tfs
from tf_sparse import super_resolution as sr

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("residual", ["bilinear", "nearest", None])
def test_model_shapes(scale, residual):
    model = sr.sr_model(scale, channels=8, blocks=2, residual=residual)
    x = np.random.default_rng(0).random((2, 7, 11, 3), dtype=np.float32)
    assert tuple(model(x).shape) == (2, 7 * scale, 11 * scale, 3)
    names = ["head", "block0_conv0", "block0_conv1", "block1_conv0", "block1_conv1", "tail"]
    assert sr.conv_layer_names(model) == names
    assert model.get_layer("tail").filters == 3 * scale * scale
    assert sr.model_spec(model) == {"scale": scale, "channels": 8, "blocks": 2, "convs_per_block": 2,
                                    "out_channels": 3, "residual": residual}


def test_zero_tail_starts_at_the_input_residual():
    x = np.random.default_rng(1).random((1, 5, 6, 3), dtype=np.float32)
    nearest = np.asarray(sr.sr_model(2, 8, 1, residual="nearest")(x))
    np.testing.assert_allclose(nearest, np.repeat(np.repeat(x, 2, axis=1), 2, axis=2), atol=1e-6)
    assert np.all(np.asarray(sr.sr_model(2, 8, 1, residual=None)(x)) == 0)


def test_pixel_shuffle_matches_tensorflow():
    import tensorflow as tf

    x = np.arange(2 * 3 * 4 * 12, dtype=np.float32).reshape(2, 3, 4, 12)
    np.testing.assert_array_equal(np.asarray(sr.PixelShuffle(2)(x)), tf.nn.depth_to_space(x, 2).numpy())


def test_fixed_size_copies_weights_and_exports(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    model = sr.sr_model(2, 16, 1)
    sparse = tfs.sparsify(model, {"block*_conv*": tfs.KernelPattern(8, connectivity=0.5, filter_block=16)})
    tfs.harden(sparse)
    fixed = sr.fixed_size(tfs.strip(sparse), 12, 20)
    assert tuple(fixed.input_shape) == (None, 12, 20, 3)
    path = str(tmp_path / "sr.tflite")
    tfs.export_tflite(fixed, path)
    interp = Interpreter(path)
    ops = {op["op_name"] for op in interp._get_ops_details()}
    assert {"CONV_2D", "DEPTH_TO_SPACE"} <= ops, ops
    interp.allocate_tensors()
    x = np.random.default_rng(2).random((1, 12, 20, 3), dtype=np.float32)
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    y = interp.get_tensor(interp.get_output_details()[0]["index"])
    np.testing.assert_allclose(y, np.asarray(sparse(x)), atol=1e-5)


def test_builtin_split_is_fixed_and_disjoint():
    train, test = sr.split_images()
    assert "grace_hopper" in test and {"china", "flower"} <= set(train)
    assert not set(train) & set(test)
    assert set(test) <= set(sr.HELD_OUT)
    for img in list(train.values()) + list(test.values()):
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3


def test_random_patches_are_aligned_and_reproducible():
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, (40, 50, 3), dtype=np.uint8), rng.integers(0, 256, (30, 30, 3), dtype=np.uint8)]
    lr, hr = sr.random_patches(images, 3, patch_size=12, count=6, seed=7)
    assert lr.shape == (6, 4, 4, 3) and hr.shape == (6, 12, 12, 3)
    np.testing.assert_array_equal(lr, sr.downscale(hr, 3))
    lr2, hr2 = sr.random_patches(images, 3, patch_size=12, count=6, seed=7)
    np.testing.assert_array_equal(hr, hr2)
    # Each patch (up to the flip / rotation) is a crop of one image.
    floats = [im.astype(np.float32) / 255 for im in images]
    for p in sr.random_patches(images, 3, patch_size=12, count=4, seed=8, augment=False)[1]:
        assert any(
            np.array_equal(f[y : y + 12, x : x + 12], p)
            for f in floats for y in range(f.shape[0] - 11) for x in range(f.shape[1] - 11)
        )


def test_downscale_is_antialiased_bicubic_on_8_bits():
    import tensorflow as tf

    hr = np.random.default_rng(4).random((13, 17, 3)).astype(np.float32)
    lr = sr.downscale(hr, 2)
    assert lr.shape == (6, 8, 3)
    ref = tf.image.resize(hr[:12, :16], (6, 8), method="bicubic", antialias=True).numpy()
    np.testing.assert_allclose(lr, np.round(np.clip(ref, 0, 1) * 255) / 255, atol=1e-6)


def _pair(seed=5, shape=(48, 40, 3)):
    rng = np.random.default_rng(seed)
    ref = rng.integers(0, 256, shape, dtype=np.uint8)
    noisy = np.clip(ref.astype(np.int32) + rng.integers(-12, 13, shape), 0, 255).astype(np.uint8)
    return ref, noisy


def test_y_matches_bt601():
    rgb = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0]]], dtype=np.uint8)
    np.testing.assert_allclose(sr.rgb_to_y(rgb)[0], [16.0, 235.0, 16 + 65.481], atol=1e-9)


def test_psnr_ssim_against_tensorflow():
    import tensorflow as tf

    ref, noisy = _pair()
    yr, yn = sr.rgb_to_y(ref)[3:-3, 3:-3, None], sr.rgb_to_y(noisy)[3:-3, 3:-3, None]
    assert sr.psnr_y(ref, noisy, border=3) == pytest.approx(float(tf.image.psnr(yr, yn, max_val=255.0)), abs=1e-4)
    # tf.image.ssim: 11x11 Gaussian window of sigma 1.5 over the valid positions, population statistics.
    assert sr.ssim_y(ref, noisy, border=3) == pytest.approx(float(tf.image.ssim(yr, yn, max_val=255.0)), abs=1e-4)
    assert sr.psnr_y(ref, ref) == float("inf") and sr.ssim_y(ref, ref) == pytest.approx(1.0)


def test_psnr_ssim_against_skimage():
    metrics = pytest.importorskip("skimage.metrics")
    color = pytest.importorskip("skimage.color")
    ref, noisy = _pair(6)
    np.testing.assert_allclose(sr.rgb_to_y(ref), color.rgb2ycbcr(ref)[..., 0], atol=1e-6)
    yr, yn = color.rgb2ycbcr(ref)[2:-2, 2:-2, 0], color.rgb2ycbcr(noisy)[2:-2, 2:-2, 0]
    assert sr.psnr_y(ref, noisy, border=2) == pytest.approx(
        metrics.peak_signal_noise_ratio(yr, yn, data_range=255), abs=1e-6)
    assert sr.ssim_y(ref, noisy, border=2) == pytest.approx(
        metrics.structural_similarity(yr, yn, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                      data_range=255), abs=1e-6)


def test_evaluate_reports_model_and_bicubic():
    img = np.random.default_rng(9).integers(0, 256, (40, 44, 3), dtype=np.uint8)
    r = sr.evaluate(sr.sr_model(2, 8, 1, residual="nearest"), [img], 2)
    assert set(r) == {"psnr", "ssim", "bicubic_psnr", "bicubic_ssim", "images"} and len(r["images"]) == 1
    # The untrained network (zero tail) is nearest-neighbour upscaling, worse than bicubic on noise-free downscales.
    hr = sr.crop_to_scale(img, 2).astype(np.float32) / 255
    nearest = np.repeat(np.repeat(sr.downscale(hr, 2), 2, 0), 2, 1)
    assert r["psnr"] == pytest.approx(sr.psnr_y(hr, nearest, 2), abs=1e-3)


def test_pruning_config_from_json(tmp_path):
    import json

    path = tmp_path / "config.json"
    structure = tfs.KernelPattern(8, connectivity=0.5, filter_block=16)
    path.write_text(json.dumps({"block0_conv*": {"class_name": "KernelPattern", "config": structure.get_config()},
                                "tail": None}))
    config = sr.pruning_config(str(path))
    assert config["tail"] is None and config["block0_conv*"].get_config() == structure.get_config()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: sr.sr_model(scale=5), r"`scale` must be one of \(2, 3, 4\), got 5"),
        (lambda: sr.sr_model(scale=2.0), "`scale` must be one of"),
        (lambda: sr.sr_model(channels=0), "`channels` must be an integer >= 1"),
        (lambda: sr.sr_model(residual="bicubic"), "`residual` must be one of"),
        (lambda: sr.psnr_y(np.zeros((8, 8)), np.zeros((8, 8))), r"expected an RGB image \(H, W, 3\)"),
        (lambda: sr.psnr_y(np.zeros((8, 8, 3)), np.zeros((8, 9, 3))), "must have the same shape"),
        (lambda: sr.psnr_y(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)), border=4), "leaves nothing"),
        (lambda: sr.ssim_y(np.zeros((12, 12, 3)), np.zeros((12, 12, 3)), border=2), "smaller than the 11x11"),
        (lambda: sr.downscale(np.zeros((8, 8, 4)), 2), r"expected an RGB image"),
        (lambda: sr.random_patches([np.zeros((8, 8, 3))], 2, patch_size=16, count=1), "H, W >= patch_size 16"),
        (lambda: sr.random_patches([np.zeros((32, 32, 3))], 3, patch_size=16, count=1), "multiple of the scale 3"),
        (lambda: sr.evaluate(sr.sr_model(2, 8, 0), [np.zeros((16, 16, 3))], 3), "turned a"),
        (lambda: sr.model_spec(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])), "not an sr_model"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_load_images(tmp_path):
    from PIL import Image

    with pytest.raises(FileNotFoundError, match="not a folder"):
        sr.load_images(tmp_path / "missing")
    with pytest.raises(ValueError, match="no image file"):
        sr.load_images(tmp_path)
    rng = np.random.default_rng(10)
    Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(tmp_path / "b.png")
    Image.fromarray(rng.integers(0, 256, (24, 24), dtype=np.uint8)).save(tmp_path / "a.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    images = sr.load_images(tmp_path)
    assert [im.shape for im in images] == [(24, 24, 3), (20, 30, 3)]
    with pytest.raises(ValueError, match="smaller than 32 pixels"):
        sr.load_images(tmp_path, min_size=32)


def test_example_end_to_end(tmp_path):
    spec = importlib.util.spec_from_file_location("sr_example", os.path.join(ROOT, "examples", "super_resolution.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    r = module.main(["--tiny", "--threads", "1", "--out", str(tmp_path)])
    assert r["max_abs_diff"] < 1e-4 and r["max_abs_diff_keras"] < 1e-4
    # 4 of 9 taps in half the kernel blocks: 1 - 4/9 * 0.5 zeros.
    assert r["block_sparsity"] == pytest.approx(1 - 4 / 9 * 0.5, abs=0.01)
    assert r["claimed_nodes"] == 4 and r["formats"] == ["vtaps"], r
    for key in ("psnr_dense", "psnr_pruned", "psnr_bicubic"):
        assert np.isfinite(r[key])
    assert os.path.exists(r["pruned_tflite"]) and os.path.exists(tmp_path / "results.json")
