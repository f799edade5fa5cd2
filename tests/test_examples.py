"""The big-model examples run end to end on small synthetic data (the real architectures, tiny
images): pruning, fine-tuning, export, the delegate against the stock interpreter."""

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "examples", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# 64x64 images and batches of 4 for the fine-tuning step: at 32x32 the last stage is 1x1, and
# one SGD step on batches of 2 drives even the plain Keras ResNet-50 to NaN.
# The examples with --compact store TFLite's sparse encoding behind DENSIFY nodes, which TFLite's
# partitioner places apart from the layers reading them: they must load, be claimed and match.
@pytest.mark.parametrize("filter_block, steps, pointwise, compact", [(16, 1, 0.75, True), (1, 0, 0.0, False)])
def test_resnet50_example(tmp_path, filter_block, steps, pointwise, compact):
    r = _load("imagenet_cnn").main(
        ["--arch", "resnet50", "--image-size", "64", "--classes", "4", "--steps", str(steps), "--batch", "4",
         "--runs", "2", "--filter-block", str(filter_block), "--pointwise-sparsity", str(pointwise),
         "--out", str(tmp_path)] + (["--compact"] if compact else [])
    )
    assert r["pruned_convolutions"] == 16  # every 3x3 convolution of ResNet-50
    assert r["pruned_pointwise"] == (36 if pointwise else 0)  # and every 1x1 one
    assert r["conv1x1_sparsity"] == pytest.approx(pointwise, abs=0.01)
    # 4 of 9 taps of half the kernels (units): 1 - 4/9 * 0.5.
    assert r["conv3x3_sparsity"] == pytest.approx(1 - 4 / 9 * 0.5, abs=0.01)
    assert r["max_abs_diff"] < 1e-3
    if filter_block == 16:  # the 56x56-equivalent stages are claimed on VT
        assert r["claimed_nodes"] >= 1 and "vtaps" in r["formats"]
    assert os.path.exists(tmp_path / "resnet50_pruned.tflite")


def test_mobilenet_v2_example(tmp_path):
    # Depthwise (DWT) and 1x1 (VT) convolutions of the real MobileNetV2, tiny images.
    r = _load("imagenet_cnn").main(
        ["--arch", "mobilenet_v2", "--image-size", "64", "--classes", "4", "--runs", "2",
         "--pointwise-sparsity", "0.75", "--compact", "--out", str(tmp_path)]
    )
    assert r["pruned_depthwise"] == 17 and r["pruned_pointwise"] == 34, r
    assert r["depthwise_sparsity"] == pytest.approx(1 - 4 / 9 * 0.5, abs=0.03), r
    assert r["max_abs_diff"] < 1e-3
    assert "dwtaps" in r["formats"] or "vtaps" in r["formats"], r


def test_vgg16_example(tmp_path):
    # 13 3x3 convolutions (the first stays dense: 12 pruned) and the two 4096-wide Dense layers.
    r = _load("imagenet_cnn").main(
        ["--arch", "vgg16", "--image-size", "32", "--classes", "4", "--runs", "2", "--dense-sparsity", "0.9",
         "--compact", "--out", str(tmp_path)]
    )
    assert r["pruned_convolutions"] == 12 and r["pruned_dense"] == 2, r
    assert r["max_abs_diff"] < 1e-3


def test_vgg16_int8_example(tmp_path):
    # Full-integer int8 file: the delegate runs the two 90%-sparse 4096-wide Dense layers on its int8
    # kernels (the output is float: QUANTIZE/DEQUANTIZE at the ends); XNNPACK's int8 kernels round
    # once where TFLite's round twice, so outputs differ by a few output steps at most.
    r = _load("imagenet_cnn").main(
        ["--arch", "vgg16", "--image-size", "32", "--classes", "4", "--runs", "2", "--dense-sparsity", "0.9",
         "--int8", "--out", str(tmp_path)]
    )
    assert r["int8"] and r["pruned_dense"] == 2, r
    # The Dense layers run on int8 FC formats; whether the pattern-pruned convolutions are claimed
    # too (int8 pattern kernels) depends on the CPU's cost model.
    assert r["claimed_nodes"] >= 1 and set(r["formats"]) & {"bsr:1x4", "csr"}, r
    assert set(r["formats"]) <= {"bsr:1x4", "csr", "patdnn", "pixvec"}, r
    assert os.path.exists(tmp_path / "vgg16_pruned_int8.tflite")


def test_bert_and_jasper_int8_examples(tmp_path):
    # Full-integer files of both architectures (token ids stay int32 inputs): they export, load and
    # run with the delegate; on this structure (16-unit blocks over 32 rows a call, 1xK Conv1D) the
    # delegate has no int8 kernel that beats XNNPACK's int8 GEMM, so it declines and says why.
    r = _load("bert").main(
        ["--layers", "1", "--hidden", "128", "--heads", "2", "--ffn", "512", "--seq", "32", "--vocab", "100",
         "--runs", "2", "--int8", "--out", str(tmp_path)]
    )
    assert os.path.exists(tmp_path / "bert_pruned_int8.tflite")
    assert any("int8" in reason for reason in r["declined"]) or r["claimed_nodes"] > 0, r
    r = _load("jasper").main(
        ["--blocks", "2", "--repeats", "2", "--scale", "0.5", "--frames", "64", "--runs", "2", "--int8",
         "--out", str(tmp_path)]
    )
    assert os.path.exists(tmp_path / "jasper_pruned_int8.tflite")


def test_bert_example(tmp_path):
    # keras_hub's BertBackbone at a tiny size; 32 tokens a call (>= a 14-row tile) with
    # feed-forward layers wide enough for the delegate to run them over the rows. Reweighted group
    # lasso over the 16x1 blocks, harden, one step of masked fine-tuning.
    r = _load("bert").main(
        ["--layers", "2", "--hidden", "128", "--heads", "2", "--ffn", "512", "--seq", "32", "--vocab", "100",
         "--reg-steps", "1", "--steps", "1", "--batch", "4", "--runs", "2", "--compact", "--out", str(tmp_path)]
    )
    assert r["pruned_layers"] == 4 and r["ffn_sparsity"] == pytest.approx(0.9, abs=0.01), r
    assert r["claimed_nodes"] == 4, r
    assert r["max_abs_diff"] < 1e-4, r
    # The attention's query, key, value and output projections (EinsumDense) too, on RoBERTa.
    r = _load("bert").main(
        ["--family", "roberta", "--layers", "1", "--hidden", "128", "--heads", "2", "--ffn", "512", "--seq", "32",
         "--vocab", "100", "--attention-sparsity", "0.75", "--runs", "2", "--out", str(tmp_path)]
    )
    # 6 pruned; the 128x128 projections are too small to beat XNNPACK's GEMM on 32 rows at 75%
    # (the cost model declines them), the feed-forward pair is claimed.
    assert r["pruned_layers"] == 6 and r["claimed_nodes"] >= 2, r
    assert r["max_abs_diff"] < 1e-4, r


def test_gnmt_example(tmp_path):
    # GNMT-style encoder-decoder (bidirectional first layer, attention, residual stacks) at a tiny
    # size: every LSTM kernel in 16x1 blocks by reweighted group lasso, hardened, fine-tuned,
    # exported with fused LSTMs that the delegate runs; outputs equal the stock interpreter's.
    r = _load("gnmt").main(
        ["--layers", "2", "--units", "64", "--vocab", "50", "--src-len", "6", "--tgt-len", "5", "--reg-steps", "2",
         "--steps", "1", "--batch", "4", "--runs", "2", "--out", str(tmp_path)]
    )
    assert r["pruned_kernels"] == 10 and r["lstm_sparsity"] == pytest.approx(0.9, abs=0.01), r
    assert r["claimed_nodes"] >= 5, r  # the five fused LSTMs (bidirectional: two)
    assert r["max_abs_diff"] < 1e-4, r


def test_jasper_example(tmp_path):
    # The Jasper architecture (2 blocks x 2 sub-blocks, half the channels: smaller layers are not
    # worth the split a claimed node makes in XNNPACK's graph), 64 frames, one
    # CTC fine-tuning step; its 1D convolutions (kernels 11, 1) run as 1xK CONV_2D on VT.
    r = _load("jasper").main(
        ["--blocks", "2", "--repeats", "2", "--frames", "64", "--scale", "0.5", "--steps", "1",
         "--batch", "2", "--runs", "2", "--compact", "--out", str(tmp_path)]
    )
    # 2 blocks x (2 sub-blocks + the residual) and the 2 epilogue convolutions.
    assert r["pruned_convolutions"] == 8 and r["sparsity"] == pytest.approx(0.8, abs=0.02), r
    assert r["claimed_nodes"] >= 6 and r["formats"] == ["vtaps"], r
    assert r["max_rel_diff"] < 1e-4, r


def test_mobilenet_v2_tfmot_example(tmp_path):
    # Gradual pruning on the schedule during model.fit, the stock converter, both interpreters.
    r = _load("mobilenet_v2_tfmot").main(
        ["--image-size", "32", "--classes", "4", "--steps", "10", "--batch", "2", "--runs", "2",
         "--out", str(tmp_path)]
    )
    # 34 1x1 convolutions (the expansion of the first block has none) and the classifier.
    assert r["pruned_layers"] == 35, r
    # The schedule's last mask update (end_step 8 of 10 steps) reached the final sparsity.
    assert r["sparsity_after_training"] == pytest.approx(0.9, abs=0.01), r
    assert r["sparsity"] == pytest.approx(0.9, abs=0.01), r
    assert r["considered_nodes"] >= 35 and r["max_rel_diff"] < 1e-4, r
    assert os.path.exists(tmp_path / "mobilenet_v2_pruned.tflite")
