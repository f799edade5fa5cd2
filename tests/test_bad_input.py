"""Bad input to the public API, end to end: every case must raise the stated exception with a
message naming the argument or the layer and what is allowed (never a traceback from deep inside
TensorFlow/NumPy, never a silent no-op).

Each case is ``(id, callable, exception type, regex the message must match)``. Models are tiny
and built once per module; no case needs the delegate library (options, paths and delegates are
checked before it is loaded).
"""

import functools
import math
import os
import re
import tempfile
import warnings

import keras
import numpy as np
import pytest

import tf_sparse as tfs

NAN = float("nan")
INF = float("inf")


# --- tiny inputs, built once ----------------------------------------------------------------------
def _kernel(shape=(8, 8), bad=None, where=(1, 2)):
    k = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    if bad == "nan":
        k[where] = np.nan
    elif bad == "inf":
        k[where] = np.inf
    elif bad == "all_nan":
        k[...] = np.nan
    return k


@functools.lru_cache(maxsize=None)
def _mlp():
    inp = keras.Input((8,))
    x = keras.layers.Dense(8, name="d1")(inp)
    return keras.Model(inp, keras.layers.Dense(4, name="d2")(x), name="mlp")


@functools.lru_cache(maxsize=None)
def _sparse_mlp():
    return tfs.sparsify(_mlp(), tfs.Block(0.5, block=(1, 4)))


@functools.lru_cache(maxsize=None)
def _unsupported():
    """One layer of every common kind that has no sparse version, and one Dense that has."""
    inp = keras.Input((4, 4, 2))
    x = keras.layers.Conv2DTranspose(2, 3, padding="same", name="ct")(inp)
    x = keras.layers.SeparableConv2D(2, 3, padding="same", name="sep")(x)
    x = keras.layers.Conv3D(1, 1, name="c3")(keras.layers.Reshape((4, 4, 2, 1))(x))
    x = keras.layers.Reshape((4, 8))(x)
    x = keras.layers.MultiHeadAttention(num_heads=1, key_dim=2, name="mha")(x, x)
    x = keras.layers.EinsumDense("abc,cd->abd", output_shape=(None, 4), name="ein")(x)
    x = keras.layers.LSTM(3, name="lstm")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    return keras.Model(inp, keras.layers.Dense(2, name="head")(x), name="mixed")


@functools.lru_cache(maxsize=None)
def _pointwise():
    inp = keras.Input((4, 4, 3))
    return keras.Model(inp, keras.layers.Conv2D(4, 1, name="pw")(inp))


def _subclassed():
    """A subclassed model that cannot be rebuilt from a config (its argument is a function)."""
    class Net(keras.Model):
        def __init__(self, activation_fn):
            super().__init__()
            self.d = keras.layers.Dense(2, activation=activation_fn)

        def call(self, x):
            return self.d(x)

    net = Net(lambda t: t * 2.0)
    net(np.zeros((1, 3), np.float32))
    return net


def _layer(layer, shape):
    layer(np.zeros(shape, np.float32))
    return layer


def _nan_layer():
    layer = _layer(tfs.SparseDense(4, structure=tfs.Block(0.5), name="sd_nan"), (1, 8))
    k = _kernel((8, 4), "nan", (3, 1))
    layer.kernel.assign(k)
    return layer


def _nan_sparse_model():
    inp = keras.Input((8,))
    out = tfs.SparseDense(4, structure=tfs.Unstructured(0.5), name="sd_h")(inp)
    model = keras.Model(inp, out)
    layer = model.get_layer("sd_h")
    layer.kernel.assign(_kernel((8, 4), "inf", (0, 0)))
    return model


def _begin(callback):
    """``callback.on_train_begin`` on a compiled model whose sparse layer holds an Inf weight."""
    model = _nan_sparse_model()
    model.compile("sgd", "mse")
    callback.set_model(model)
    callback.on_train_begin()


def _tmp_file(name, content=b"not a flatbuffer at all"):
    path = os.path.join(_tmpdir(), name)
    with open(path, "wb") as f:
        f.write(content)
    return path


@functools.lru_cache(maxsize=None)
def _tmpdir():
    return tempfile.mkdtemp(prefix="tfs_bad_input_")


def _all_structures():
    """One instance of every public structure with a kernel it accepts."""
    conv3 = (3, 3, 4, 8)
    return [
        (tfs.Block(0.5, block=(1, 4)), (8, 8)),
        (tfs.BlockPunched(0.5, block=(4, 2)), conv3),
        (tfs.Channel(0.5), conv3),
        (tfs.Column(0.5), (8, 8)),
        (tfs.Crossbar(0.5, tile=(4, 4)), (8, 8)),
        (tfs.Filter(0.5), (8, 8)),
        (tfs.GatherScatter(0.5, banks=4), (8, 8)),
        (tfs.KernelPattern(num_patterns=2, connectivity=0.5), conv3),
        (tfs.NM(2, 4), (8, 8)),
        (tfs.Unstructured(0.5), (8, 8)),
    ]


def _progressive(model=None, **kw):
    args = {"targets": [0.5], "admm_epochs": 1, "retrain_epochs": 0}
    args.update(kw)
    return tfs.progressive_admm(model if model is not None else _sparse_mlp(), np.zeros((4, 8)), np.zeros((4, 4)),
                                **args)


def _compiled_sparse():
    model = tfs.sparsify(_mlp(), tfs.Block(0.5))
    model.compile("sgd", "mse")
    return model


# --- the table --------------------------------------------------------------------------------------
S = r"`sparsity` must be (a number )?in \[0, 1\)"

CASES = [
    # Structure constructors.
    ("block-sparsity-str", lambda: tfs.Block("0.5"), TypeError, r"Block: " + S),
    ("block-sparsity-one", lambda: tfs.Block(1.0), ValueError, r"Block: " + S),
    ("block-sparsity-nan", lambda: tfs.Block(NAN), ValueError, r"Block: " + S + ", got nan"),
    ("block-sparsity-negative", lambda: tfs.Block(-0.1), ValueError, r"Block: " + S),
    ("block-sparsity-bool", lambda: tfs.Block(True), TypeError, r"Block: " + S),
    ("block-zero", lambda: tfs.Block(0.5, block=(0, 4)),
     ValueError, r"Block: `block` must be a pair of positive integers"),
    ("block-float", lambda: tfs.Block(0.5, block=(1.5, 4)), ValueError, r"`block` must be a pair of positive integers"),
    ("block-bool", lambda: tfs.Block(0.5, block=(True, 4)), ValueError, r"`block` must be a pair of positive integers"),
    ("block-str", lambda: tfs.Block(0.5, block="1x4"), ValueError, r"`block` must be a pair.*got '1x4'"),
    ("nm-n-gt-m", lambda: tfs.NM(4, 2), ValueError, r"NM: `n` must be <= `m`.*n=4, m=2"),
    ("nm-zero", lambda: tfs.NM(0, 4), ValueError, r"NM: `n` must be a positive integer"),
    ("nm-m-too-big", lambda: tfs.NM(2, 300), ValueError, r"NM: `m` must be at most 256"),
    ("nm-float", lambda: tfs.NM(2.0, 4), ValueError, r"NM: `n` must be a positive integer, got 2.0"),
    ("nm-bool", lambda: tfs.NM(True, 4), ValueError, r"NM: `n` must be a positive integer, got True"),
    ("unstructured-sparsity", lambda: tfs.Unstructured(1.5), ValueError, r"Unstructured: " + S),
    ("filter-none", lambda: tfs.Filter(None), TypeError, r"Filter: " + S),
    ("channel-negative", lambda: tfs.Channel(-1), ValueError, r"Channel: " + S),
    ("column-inf", lambda: tfs.Column(INF), ValueError, r"Column: " + S),
    ("punched-block", lambda: tfs.BlockPunched(0.5, block=(8,)), ValueError, r"BlockPunched: `block` must be a pair"),
    ("crossbar-tile", lambda: tfs.Crossbar(0.5, tile=(0, 64)),
     ValueError, r"Crossbar: `tile` must be a pair of positive"),
    ("crossbar-granularity", lambda: tfs.Crossbar(0.5, granularity="cell"), ValueError,
     r"Crossbar: `granularity` must be one of \['tile', 'row', 'column'\]"),
    ("crossbar-sign", lambda: tfs.Crossbar(0.5, single_sign="yes"), ValueError, r"`single_sign` must be True or False"),
    ("pattern-count-zero", lambda: tfs.KernelPattern(num_patterns=0),
     ValueError, r"`num_patterns` must be an integer in \[1, 56\]"),
    ("pattern-count-57", lambda: tfs.KernelPattern(num_patterns=57),
     ValueError, r"`num_patterns` must be an integer in \[1, 56\]"),
    ("pattern-connectivity", lambda: tfs.KernelPattern(connectivity=1.0), ValueError, r"`connectivity`.*\[0, 1\)"),
    ("pattern-connectivity-nan", lambda: tfs.KernelPattern(connectivity=NAN), ValueError, r"`connectivity`.*\[0, 1\)"),
    ("pattern-library-int", lambda: tfs.KernelPattern(num_patterns=2, library=5), TypeError,
     r"KernelPattern: `library` must be None or a list of 2 patterns"),
    ("pattern-library-entry", lambda: tfs.KernelPattern(num_patterns=1, library=[0b111]), ValueError,
     r"`library` entries must have exactly 4 entries including the centre"),
    ("pattern-filter-block", lambda: tfs.KernelPattern(filter_block=0),
     ValueError, r"`filter_block` must be an integer >= 1"),
    ("gs-banks", lambda: tfs.GatherScatter(0.5, banks=0),
     ValueError, r"GatherScatter: `banks` must be a positive integer"),
    ("gs-elements", lambda: tfs.GatherScatter(0.5, banks=16, elements_per_row=3), ValueError,
     r"`elements_per_row` must divide `banks` \(16\); allowed values: \[1, 2, 4, 8, 16\]"),
    ("gs-tile", lambda: tfs.GatherScatter(0.5, tile=(8,)),
     ValueError, r"`tile` must be None or \(tile_rows, tile_cols\)"),
    # Structure methods: kernels.
    ("nm-nan", lambda: tfs.NM(2, 4).project(_kernel(bad="nan")), ValueError,
     r"NM\(n=2, m=4\): `kernel` of shape \(8, 8\) contains NaN/Inf weights \(1 NaN, 0 Inf; first at index \(1, 2\)\)"),
    ("block-all-nan", lambda: tfs.Block(0.5).project(_kernel(bad="all_nan")), ValueError,
     r"Block\(.*\): `kernel`.*\(64 NaN, 0 Inf; first at index \(0, 0\)\)"),
    ("nm-valid-nan", lambda: tfs.NM(2, 4).is_valid(_kernel(bad="nan")), ValueError, r"NM\(n=2, m=4\).*NaN"),
    ("block-rank3", lambda: tfs.Block(0.5).project(np.zeros((2, 3, 4), np.float32)), ValueError,
     r"Block: `kernel` of shape \(2, 3, 4\) is not accepted; allowed kernels: Dense \(in, out\) or Conv2D"),
    ("block-int-kernel", lambda: tfs.Block(0.5).project(np.ones((4, 4), np.int32)), TypeError,
     r"Block: `kernel` must be floating point, got dtype int32"),
    ("block-none-kernel", lambda: tfs.Block(0.5).project(None),
     ValueError, r"Block: `kernel` of shape \(\) is not accepted"),
    ("block-ragged-kernel", lambda: tfs.Block(0.5).project([[1.0, 2.0], [3.0]]),
     TypeError, r"Block: `kernel` must be an array"),
    ("block-project-sparsity", lambda: tfs.Block(0.5).project(_kernel(), sparsity=1.0), ValueError, r"Block: " + S),
    ("pattern-5x5", lambda: tfs.KernelPattern().project(_kernel((5, 5, 2, 2))), ValueError,
     r"KernelPattern: 4-entry kernel patterns need a 3x3 Conv2D kernel.*\(5, 5, 2, 2\)"),
    ("gs-banks-divide", lambda: tfs.GatherScatter(0.5, banks=16).project(_kernel((10, 8))), ValueError,
     r"GatherScatter: `banks` \(16\) must divide the GEMM columns.*allowed banks: \[1, 2, 5, 10\]"),
    ("global-array", lambda: tfs.Unstructured(0.5).mask_global(_kernel()), TypeError,
     r"Unstructured.mask_global: `kernels` must be a list.*shape \(8, 8\)"),
    ("global-nan", lambda: tfs.Unstructured(0.5).project_global([_kernel(), _kernel(bad="inf")]), ValueError,
     r"Unstructured\(sparsity=0.5\): `kernel`.*\(0 NaN, 1 Inf"),
    ("library-array", lambda: tfs.KernelPattern(2).fit_library(_kernel((3, 3, 2, 2))), TypeError,
     r"KernelPattern: `kernels` must be a list of \(3, 3, in, out\) kernels"),
    ("library-nan", lambda: tfs.KernelPattern(2).fit_library([_kernel((3, 3, 2, 2), "nan", (0, 0, 1, 1))]),
     ValueError, r"`kernels\[0\]`.*NaN.*first at index \(0, 0, 1, 1\)"),
    ("abstract-structure", lambda: tfs.Structure(0.5).project(_kernel()), NotImplementedError,
     r"Structure is the abstract base class"),
    ("kernel-sparsity-str", lambda: tfs.kernel_sparsity("abc"),
     TypeError, r"kernel_sparsity: `kernel` must be an array of numbers"),
    # Schedules.
    ("constant-one", lambda: tfs.ConstantSparsity(1.0),
     ValueError, r"ConstantSparsity: `target_sparsity` must be in \[0, 1\)"),
    ("constant-begin", lambda: tfs.ConstantSparsity(0.5, begin_step=-1),
     ValueError, r"`begin_step` must be an integer >= 0"),
    ("constant-frequency", lambda: tfs.ConstantSparsity(0.5, frequency=0),
     ValueError, r"`frequency` must be an integer >= 1"),
    ("constant-frequency-bool", lambda: tfs.ConstantSparsity(0.5, frequency=True),
     ValueError, r"`frequency` must be an integer"),
    ("constant-window", lambda: tfs.ConstantSparsity(0.5, begin_step=10, end_step=5), ValueError,
     r"`end_step` must be -1 \(no end\) or an integer >= begin_step \(10\)"),
    ("constant-float-step", lambda: tfs.ConstantSparsity(0.5, begin_step=1.5),
     ValueError, r"`begin_step` must be an integer"),
    ("poly-empty-window", lambda: tfs.PolynomialDecay(0.0, 0.9, begin_step=10, end_step=10), ValueError,
     r"PolynomialDecay: `end_step` must be > begin_step \(10\)"),
    ("poly-nan", lambda: tfs.PolynomialDecay(0.0, NAN, 0, 100), ValueError, r"`final_sparsity` must be in \[0, 1\)"),
    ("poly-power-zero", lambda: tfs.PolynomialDecay(0.0, 0.9, 0, 100, power=0),
     ValueError, r"`power` must be a positive"),
    ("poly-power-nan", lambda: tfs.PolynomialDecay(0.0, 0.9, 0, 100, power=NAN),
     ValueError, r"`power` must be a positive finite"),
    ("schedule-step-str", lambda: tfs.ConstantSparsity(0.5)("abc"),
     TypeError, r"`step` must be an integer training step"),
    # Callbacks and drivers.
    ("updatemasks-flag", lambda: tfs.UpdateMasks(log_sparsity="yes"),
     TypeError, r"UpdateMasks: `log_sparsity` must be True or False"),
    ("admm-rho-zero", lambda: tfs.ADMM(rho=0), ValueError, r"ADMM: `rho` must be a finite number > 0"),
    ("admm-rho-inf", lambda: tfs.ADMM(rho=INF), ValueError, r"ADMM: `rho` must be a finite number > 0"),
    ("admm-update-every", lambda: tfs.ADMM(update_every=0),
     ValueError, r"ADMM: `update_every` must be an integer >= 1"),
    ("admm-unit", lambda: tfs.ADMM(update_unit="batch"), ValueError, r"ADMM: `update_unit` must be 'epoch' or 'step'"),
    ("admm-rho-max", lambda: tfs.ADMM(rho=1.0, rho_max=0.5), ValueError, r"ADMM: `rho_max` \(0.5\) must be >= `rho`"),
    ("admm-sparsity", lambda: tfs.ADMM(sparsity=1.2), ValueError, r"ADMM: " + S),
    ("lasso-nan", lambda: tfs.ReweightedGroupLasso(lam=NAN),
     ValueError, r"ReweightedGroupLasso: `lam` must be a finite number"),
    ("dynreg-every", lambda: tfs.DynamicRegularization(update_every=1.5), ValueError,
     r"DynamicRegularization: `update_every` must be an integer >= 1"),
    ("summaries-empty", lambda: tfs.PruningSummaries(""),
     ValueError, r"PruningSummaries: `log_dir` must be a non-empty path"),
    ("summaries-file", lambda: tfs.PruningSummaries(_tmp_file("log.txt")),
     ValueError, r"PruningSummaries: `log_dir` .* is a file"),
    ("progressive-targets-float", lambda: _progressive(targets=0.5),
     TypeError, r"progressive_admm: `targets` must be a list"),
    ("progressive-targets-order", lambda: _progressive(targets=[0.5, 0.4]),
     ValueError, r"`targets` must be an increasing"),
    ("progressive-epochs", lambda: _progressive(admm_epochs=0),
     ValueError, r"progressive_admm: `admm_epochs` must be an integer >= 1"),
    ("progressive-model", lambda: tfs.progressive_admm(None, None, targets=[0.5], admm_epochs=1, retrain_epochs=0),
     TypeError, r"progressive_admm: `model` must be a keras.Model"),
    ("progressive-uncompiled", lambda: _progressive(tfs.sparsify(_mlp(), tfs.Block(0.5))), ValueError,
     r"progressive_admm: model .* is not compiled"),
    ("progressive-rho", lambda: _progressive(_compiled_sparse(), rho=-1.0), ValueError, r"ADMM: `rho` must be"),
    ("admm-inf-weights", lambda: _begin(tfs.ADMM()),
     ValueError, r"SparseDense 'sd_h': Unstructured\(sparsity=0.5\): .*1 Inf"),
    ("lasso-inf-weights", lambda: _begin(tfs.ReweightedGroupLasso()), ValueError,
     r"ReweightedGroupLasso: SparseDense 'sd_h': `kernel` .* contains NaN/Inf weights"),
    ("dynreg-inf-weights", lambda: _begin(tfs.DynamicRegularization()), ValueError, r"SparseDense 'sd_h': .*NaN/Inf"),
    # Sparse layers.
    ("dense-units", lambda: tfs.SparseDense(0, structure=tfs.Block(0.5), name="u0"), ValueError,
     r"SparseDense 'u0': `units` must be a positive integer"),
    ("dense-no-structure", lambda: tfs.SparseDense(4, name="ns"),
     ValueError, r"SparseDense 'ns': `structure` is required"),
    ("dense-structure-str", lambda: tfs.SparseDense(4, structure="block", name="ss"), TypeError,
     r"SparseDense 'ss': `structure` must be a tf_sparse structure"),
    ("dense-structure-dict", lambda: tfs.SparseDense(4, structure={"class_name": "Nope"}, name="sd"), ValueError,
     r"SparseDense 'sd': structure: unknown class_name 'Nope'"),
    ("dense-schedule", lambda: tfs.SparseDense(4, structure=tfs.Block(0.5), schedule=0.5, name="sc"), TypeError,
     r"SparseDense 'sc': `schedule` must be None or a pruning schedule"),
    ("dense-admm-flag", lambda: tfs.SparseDense(4, structure=tfs.Block(0.5), admm="yes", name="af"), TypeError,
     r"SparseDense 'af': `admm` must be True or False"),
    ("dense-rank1", lambda: _layer(tfs.SparseDense(4, structure=tfs.Block(0.5), name="r1"), (8,)), ValueError,
     r"layer 'r1'.*expected min_ndim=2, found ndim=1"),
    ("dense-pattern", lambda: _layer(tfs.SparseDense(4, structure=tfs.KernelPattern(), name="kp"), (1, 8)), ValueError,
     r"SparseDense 'kp': structure KernelPattern.* does not accept this layer's kernel of shape \(8, 4\)"),
    ("dense-gs-banks",
     lambda: _layer(tfs.SparseDense(4, structure=tfs.GatherScatter(0.5, banks=16), name="gs"), (1, 8)),
     ValueError, r"SparseDense 'gs': .*`banks` \(16\) must divide"),
    ("conv-pattern-5x5", lambda: _layer(tfs.SparseConv2D(4, 5, structure=tfs.KernelPattern(), name="c5"), (1, 8, 8, 2)),
     ValueError, r"SparseConv2D 'c5': .*need a 3x3 Conv2D kernel"),
    ("depthwise-pattern-5x5", lambda: _layer(tfs.SparseDepthwiseConv2D(5, structure=tfs.KernelPattern(), name="dw5"),
                                              (1, 8, 8, 2)), ValueError, r"SparseDepthwiseConv2D 'dw5': .*need a 3x3"),
    ("conv-rank3", lambda: _layer(tfs.SparseConv2D(4, 3, structure=tfs.Block(0.5), name="cr"), (1, 8, 8)), ValueError,
     r"layer 'cr'.*expected min_ndim=4, found ndim=3"),
    ("conv1d-rank2", lambda: _layer(tfs.SparseConv1D(4, 3, structure=tfs.Block(0.5), name="c1"), (1, 8)), ValueError,
     r"layer 'c1'.*expected min_ndim=3, found ndim=2"),
    ("layer-nan-update", lambda: _nan_layer().update_mask(), ValueError,
     r"SparseDense 'sd_nan': Block\(.*\): `kernel` of shape \(8, 4\) contains NaN/Inf weights "
     r"\(1 NaN, 0 Inf; first at index \(3, 1\)\)"),
    ("layer-sparsity", lambda: _layer(tfs.SparseDense(4, structure=tfs.Block(0.5), name="ls"), (1, 8)).update_mask(2.0),
     ValueError, r"SparseDense 'ls': Block: " + S),
    ("layer-kernel-shape",
     lambda: _layer(tfs.SparseDense(4, structure=tfs.Block(0.5), name="ks"), (1, 8)).mask_for(_kernel()),
     ValueError, r"SparseDense 'ks': `kernel` must have the layer's kernel shape \(8, 4\), got \(8, 8\)"),
    # Model surgery.
    ("sparsify-none", lambda: tfs.sparsify(None, tfs.Block(0.5)),
     TypeError, r"sparsify: `model` must be a keras.Model"),
    ("sparsify-subclassed-no-config", lambda: tfs.sparsify(_subclassed(), tfs.Block(0.5)),
     TypeError, r"sparsify: model .* \(subclassed Net\) cannot be copied through its config .*pass inplace=True"),
    ("sparsify-inplace-type", lambda: tfs.sparsify(_mlp(), tfs.Block(0.5), inplace=1), TypeError,
     r"sparsify: `inplace` must be True or False, got 1"),
    ("sparsify-unbuilt", lambda: tfs.sparsify(keras.Sequential([keras.layers.Dense(2)]), tfs.Block(0.5)), ValueError,
     r"sparsify: model .* is not built"),
    ("sparsify-unmatched", lambda: tfs.sparsify(_mlp(), {"d_1": tfs.Block(0.5)}), ValueError,
     r"sparsify: `config` names layers that the model does not have: 'd_1' \(did you mean 'd1'.*\); "
     r"the model's layers are: .*'d1', 'd2'"),
    ("sparsify-config-float", lambda: tfs.sparsify(_mlp(), 0.5), TypeError, r"sparsify: `config` must be a Structure"),
    ("sparsify-config-class", lambda: tfs.sparsify(_mlp(), tfs.Block), TypeError,
     r"sparsify: `config` is the class Block; pass a structure object"),
    ("sparsify-config-value", lambda: tfs.sparsify(_mlp(), {"d1": "block"}), TypeError,
     r"sparsify: `config\[d1\]` must be a tf_sparse Structure.*or None, got 'block'"),
    ("sparsify-config-key", lambda: tfs.sparsify(_mlp(), {3: tfs.Block(0.5)}), TypeError,
     r"sparsify: `config` keys must be layer paths, layer names, glob patterns over paths, tfs.select\(...\) selectors, "
     r"Keras layer classes or 'default'; got 3"),
    ("sparsify-config-key-class", lambda: tfs.sparsify(_mlp(), {int: tfs.Block(0.5)}), TypeError,
     r"`config` key int is a class but not a Keras layer class"),
    ("sparsify-nothing", lambda: tfs.sparsify(_mlp(), {"default": None}), ValueError,
     r"sparsify: no layer of model 'mlp' would be made sparse"),
    ("sparsify-only-unsupported",
     lambda: tfs.sparsify(_unsupported(), lambda layer: tfs.Block(0.5) if layer.name in ("c3", "bn") else None),
     ValueError,
     r"no layer of model 'mixed' would be made sparse; left dense: 'c3' \(Conv3D: no sparse version\)"),
    ("sparsify-schedule", lambda: tfs.sparsify(_mlp(), tfs.Block(0.5), schedule=0.5), TypeError,
     r"sparsify: `schedule` must be None or a pruning schedule"),
    ("sparsify-callable-bad", lambda: tfs.sparsify(_mlp(), lambda layer: "x"), TypeError,
     r"sparsify: the structure for layer '.*' must be a tf_sparse Structure or None, got 'x'"),
    ("sparsify-conv3d-by-name", lambda: tfs.sparsify(_unsupported(), {"c3": tfs.Block(0.5)}), ValueError,
     r"sparsify: layer 'c3' cannot be made sparse \(Conv3D: no sparse version\); layers with a sparse version: Dense"),
    ("sparsify-conv3d-by-class",
     lambda: tfs.sparsify(_unsupported(), {keras.layers.Conv3D: tfs.Block(0.5)}),
     ValueError, r"layer 'c3' cannot be made sparse \(Conv3D: no sparse version\)"),
    ("sparsify-unknown-kernel", lambda: tfs.sparsify(_unsupported(), {"lstm": {"kernal": tfs.Block(0.5)}}), ValueError,
     r"sparsify: layer 'lstm' \(LSTM\) has no kernel\(s\) \['kernal'\]; its kernels are \['kernel', 'recurrent_kernel'\]"),
    ("sparsify-kernel-dict-value", lambda: tfs.sparsify(_unsupported(), {"lstm": {"kernel": 0.5}}), TypeError,
     r"sparsify: `config\[lstm\]` as a dict maps kernel names"),
    ("sparsify-lstm-pattern", lambda: tfs.sparsify(_unsupported(), {"lstm": tfs.KernelPattern()}), ValueError,
     r"sparsify: layer 'lstm' \(LSTM\) kernel cannot take KernelPattern"),
    ("sparsify-nested-path", lambda: tfs.sparsify(_unsupported(), {"mha/query": tfs.KernelPattern()}), ValueError,
     r"sparsify: layer 'mha/query' \(EinsumDense\) cannot take KernelPattern"),
    ("sparsify-shape-by-name", lambda: tfs.sparsify(_pointwise(), {"pw": tfs.KernelPattern()}), ValueError,
     r"sparsify: layer 'pw' \(Conv2D\) cannot take KernelPattern.*need a 3x3 Conv2D kernel"),
    ("sparsify-already-sparse", lambda: tfs.sparsify(_sparse_mlp(), {"d1": tfs.Block(0.5)}), ValueError,
     r"layer 'd1' cannot be made sparse \(SparseDense: already a tf_sparse layer; tfs.strip\(model\) first"),
    ("strip-none", lambda: tfs.strip(None), TypeError, r"strip: `model` must be a keras.Model"),
    ("harden-none", lambda: tfs.harden(None), TypeError, r"harden: `model` must be a keras.Model"),
    ("sparse-layers-none", lambda: tfs.sparse_layers("model.keras"),
     TypeError, r"sparse_layers: `model` must be a keras.Model"),
    ("harden-dense", lambda: tfs.harden(_mlp()), ValueError, r"harden: model 'mlp' has no tf_sparse layers"),
    ("harden-sparsity", lambda: tfs.harden(_sparse_mlp(), sparsity=1.5), ValueError, r"harden: " + S),
    ("harden-inf", lambda: tfs.harden(_nan_sparse_model()), ValueError,
     r"SparseDense 'sd_h': Unstructured\(sparsity=0.5\): `kernel` .* \(0 NaN, 1 Inf; first at index \(0, 0\)\)"),
    # Export.
    ("export-none", lambda: tfs.export_tflite(None, "m.tflite"),
     TypeError, r"export_tflite: `model` must be a keras.Model, got NoneType"),
    ("export-path-int", lambda: tfs.export_tflite(_mlp(), 5), TypeError, r"export_tflite: `path` must be a file path"),
    ("export-path-suffix", lambda: tfs.export_tflite(_mlp(), "model.keras"), ValueError,
     r"export_tflite: `path` must name a .tflite file, got 'model.keras'"),
    ("export-path-dir", lambda: tfs.export_tflite(_mlp(), _tmpdir_tflite()),
     ValueError, r"export_tflite: `path` .* is a directory"),
    ("export-compact", lambda: tfs.export_tflite(_mlp(), "m.tflite", compact="yes"), TypeError,
     r"export_tflite: `compact` must be True or False"),
    ("export-signature", lambda: tfs.export_tflite(_mlp(), "m.tflite", input_signature="(1, 8)"), TypeError,
     r"export_tflite: `input_signature` must be a list of keras.InputSpec or tf.TensorSpec"),
    # Runtime (checked before the delegate library is needed).
    ("interp-missing", lambda: tfs.make_interpreter("/nonexistent/m.tflite"), FileNotFoundError,
     r"make_interpreter: `model_path` '/nonexistent/m.tflite' does not exist; expected a .tflite file"),
    ("interp-not-tflite", lambda: tfs.make_interpreter(_tmp_file("m.keras")), ValueError,
     r"make_interpreter: `model_path` .*m.keras' is not a TFLite model"),
    ("interp-dir", lambda: tfs.make_interpreter(_tmpdir()), FileNotFoundError, r"`model_path` .* is a directory"),
    ("interp-none", lambda: tfs.make_interpreter(None),
     TypeError, r"make_interpreter: `model_path` must be the path of a .tflite"),
    ("interp-backend", lambda: tfs.make_interpreter("m.tflite", backend="gpu"),
     ValueError, r"make_interpreter: `backend` must be one of"),
    ("interp-runtime", lambda: tfs.make_interpreter("m.tflite", runtime="onnx"),
     ValueError, r"make_interpreter: `runtime` must be 'litert' or 'tf'"),
    ("interp-threads", lambda: tfs.make_interpreter("m.tflite", num_threads=0),
     ValueError, r"make_interpreter: `num_threads` must be an integer >= 1"),
    ("interp-options-xnnpack", lambda: tfs.make_interpreter("m.tflite", backend="xnnpack", format="csr"), ValueError,
     r"delegate options \['format'\] only apply to backend='tf_sparse'"),
    ("interp-option-typo", lambda: tfs.make_interpreter("m.tflite", formt="csr"), ValueError,
     r"make_interpreter: unknown delegate option 'formt' \(did you mean 'format'\?\); "
     r"allowed options: num_threads, min_sparsity"),
    ("delegate-threads", lambda: tfs.load_delegate(num_threads=0),
     ValueError, r"load_delegate: `num_threads` must be an integer >= 1"),
    ("delegate-threads-bool", lambda: tfs.load_delegate(num_threads=True),
     ValueError, r"`num_threads` must be an integer >= 1"),
    ("delegate-runtime", lambda: tfs.load_delegate(runtime="tflite"),
     ValueError, r"load_delegate: `runtime` must be one of"),
    ("delegate-sparsity-str", lambda: tfs.load_delegate(min_sparsity="0.5"), TypeError,
     r"load_delegate: delegate option `min_sparsity` must be a number in \[0, 1\), got '0.5'"),
    ("delegate-sparsity-nan", lambda: tfs.load_delegate(min_sparsity=NAN),
     ValueError, r"`min_sparsity` must be a number in \[0, 1\), got nan"),
    ("delegate-sparsity-bool", lambda: tfs.load_delegate(min_sparsity=True),
     TypeError, r"`min_sparsity` must be a number"),
    ("delegate-verbose", lambda: tfs.load_delegate(verbose=5),
     ValueError, r"delegate option `verbose` must be 0, 1 or 2, got 5"),
    ("delegate-format-none", lambda: tfs.load_delegate(format=None),
     TypeError, r"delegate option `format` must be a format string"),
    ("delegate-unknown", lambda: tfs.load_delegate(no_such_option=1), ValueError,
     r"load_delegate: unknown delegate option 'no_such_option'; "
     r"allowed options: num_threads, min_sparsity, format, verbose"),
    ("report-none", lambda: tfs.delegate_report(None),
     TypeError, r"delegate_report: `delegate` must be a delegate returned by tfs.load_delegate"),
    ("stats-object", lambda: tfs.delegate_stats(object()), TypeError, r"delegate_stats: `delegate` must be a delegate"),
    ("compare-missing", lambda: tfs.runtime.delegate_vs_xnnpack("/nonexistent.tflite", np.zeros((1, 4))),
     FileNotFoundError,
     r"delegate_vs_xnnpack: `model_path` '/nonexistent.tflite' does not exist"),
    ("predict-batch", lambda: tfs.runtime.predict(None, np.zeros((2, 4)), batch_size=0), ValueError,
     r"predict: `batch_size` must be an integer >= 1"),
    ("latency-runs", lambda: tfs.runtime.median_latency_us(None, np.zeros((1, 4)), runs=0), ValueError,
     r"median_latency_us: `runs` must be an integer >= 1"),
    # Formats.
    ("format-for-none", lambda: tfs.formats.format_for(None),
     TypeError, r"format_for: `structure` must be a tf_sparse structure"),
    ("byte-report-str", lambda: tfs.formats.byte_report(_kernel(), "Block"),
     TypeError, r"format_for: `structure` must be"),
    ("encode-nm-n", lambda: tfs.formats.encode_nm(_kernel(), 3, 4),
     ValueError, r"encode_nm: `n` must be one of 1, 2, 4, 8, 16"),
    ("encode-bsr-rank", lambda: tfs.formats.encode_bsr(np.zeros((2, 2, 2), np.float32)), ValueError,
     r"expected a 2-D GEMM-view matrix.*got shape \(2, 2, 2\)"),
]

# NaN and Inf weights in every structure's project and mask.
for _structure, _shape in _all_structures():
    _name = type(_structure).__name__
    _where = (0,) * (len(_shape) - 1) + (1,)
    _nan = _kernel(_shape, "nan", _where)
    CASES.append((f"nan-project-{_name}", functools.partial(_structure.project, _nan), ValueError,
                  rf"{_name}\(.*\): `kernel` of shape .* contains NaN/Inf weights \(1 NaN, 0 Inf; first at index "
                  + re.escape(str(_where))))
    CASES.append((f"inf-mask-{_name}", functools.partial(_structure.mask, _kernel(_shape, "inf", _where)), ValueError,
                  rf"{_name}\(.*\): `kernel` .* \(0 NaN, 1 Inf"))


def _tmpdir_tflite():
    path = os.path.join(_tmpdir(), "dir.tflite")
    os.makedirs(path, exist_ok=True)
    return path


@pytest.mark.parametrize("fn,error,match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_a_clear_error(fn, error, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a warning is not what these cases check
        with pytest.raises(error, match=match) as info:
            fn()
    # The error is ours, raised before TensorFlow or NumPy internals see the bad value.
    assert info.type is error


def test_case_ids_are_unique_and_the_table_is_broad():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 60


def test_unsupported_layers_left_dense_with_one_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sparse = tfs.sparsify(_unsupported(), tfs.Block(0.5))
    mine = [w for w in caught if "sparsify" in str(w.message)]
    assert len(mine) == 1, [str(w.message) for w in caught]
    message = str(mine[0].message)
    assert "'c3' (Conv3D: no sparse version)" in message
    for name in ("ct", "sep", "mha", "ein", "lstm", "head"):
        assert f"'{name}" not in message
    assert "'bn'" not in message  # normalization layers are not pruning candidates
    assert "Layers with a sparse version: Dense" in message
    assert [layer.sparse_path for layer in tfs.sparse_layers(sparse)] == [
        "ct/kernel", "sep/depthwise_kernel", "sep/pointwise_kernel", "mha/query/kernel", "mha/key/kernel",
        "mha/value/kernel", "mha/attention_output/kernel", "ein/kernel", "lstm/lstm_cell/kernel",
        "lstm/lstm_cell/recurrent_kernel", "head"]


def test_default_config_lists_kernels_the_structure_cannot_take():
    inp = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(4, 1, name="pw")(inp)
    model = keras.Model(inp, keras.layers.Conv2D(4, 3, name="k3")(x))
    with pytest.warns(UserWarning, match=r"left dense: 'pw' \(Conv2D: KernelPattern: 4-entry kernel patterns need"):
        sparse = tfs.sparsify(model, {"default": tfs.KernelPattern(num_patterns=2)})
    assert [layer.name for layer in tfs.sparse_layers(sparse)] == ["k3"]
    # Nothing left to convert: an error that carries the same reasons.
    with pytest.raises(ValueError, match=r"would be made sparse; left dense: 'pw' \(Conv2D: KernelPattern"):
        tfs.sparsify(_pointwise(), {"default": tfs.KernelPattern()})


def test_nan_weights_during_training_name_the_layer():
    model = _nan_sparse_model()
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"SparseDense 'sd_h': .*NaN/Inf"):
        model.fit(np.zeros((4, 8), np.float32), np.zeros((4, 4), np.float32), epochs=1, verbose=0,
                  callbacks=[tfs.UpdateMasks()])


def test_valid_inputs_still_pass():
    """The checks do not reject what is allowed (edges of every range)."""
    tfs.Block(0.0, block=(np.int64(1), 4))
    tfs.NM(4, 4)
    tfs.NM(1, 256)
    tfs.KernelPattern(num_patterns=56, connectivity=0.0)
    tfs.ConstantSparsity(np.float32(0.5), begin_step=0, end_step=0, frequency=1)
    assert tfs.ConstantSparsity(0.5, frequency=1)(np.int64(3)) == (True, 0.5)
    assert math.isclose(tfs.Block(0.5).achieved_sparsity(_kernel()), 0.5)
    from tf_sparse.runtime.delegate import _options_to_strings

    assert _options_to_strings(2, {"min_sparsity": 0, "format": "bsr:1x4", "verbose": True}) == {
        "num_threads": "2", "min_sparsity": "0", "format": "bsr:1x4", "verbose": "1"}
