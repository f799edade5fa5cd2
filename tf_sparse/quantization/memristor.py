"""Memristor crossbars: masked mapping of a model's weights, a cost model, device variation.

The last two steps of the crossbar-aware framework of Yuan et al. (arXiv 1908.11691): after ADMM
structured pruning (``tfs.Crossbar``) and device-level quantization (``Device.quantizer()``),

* **masked mapping** (:func:`map_model`): the GEMM view of every Dense/Conv/Depthwise layer
  (rows = outputs = bit lines, columns = inputs = word lines) is cut into crossbar tiles of
  ``device.tile``. A tile whose weights are all pruned is not instantiated. Inside an
  instantiated tile, a pruned weight (mask 0) is not programmed and reads as an exact zero; a
  kept weight is a differential pair of devices, ``G+ = g_min + max(k, 0) dG`` and
  ``G- = g_min + max(-k, 0) dG`` with ``dG = (g_max - g_min) / (levels - 1)`` and ``k`` its
  signed level, so that ``w = u (G+ - G-) / dG`` (``u`` the weight of one level: the layer's
  frozen quantization scale of that output channel). A kept weight on level 0 sits at
  ``(g_min, g_min)``. A differential pair takes two crossbars per tile; a layer whose structure
  is ``Crossbar(..., single_sign=True)`` takes one (a tile of positive weights holds ``G+`` only,
  a negative one ``G-`` only; the ``g_min`` offset of every bit line is cancelled by a
  reference current, taken as exact). A layer without hardened level quantization is mapped
  linearly: ``|w| / w_max`` into ``[g_min, g_max]`` (``w_max`` the largest kept magnitude of the
  layer), i.e. ``k = (levels - 1) w / w_max`` without rounding (analog conductances).
* **device variation** (:func:`program`, :func:`monte_carlo`, :class:`NoiseAwareTraining`):
  every programmed device realises ``G (1 + sigma eps)``, ``eps ~ N(0, 1)`` drawn independently
  for ``G+`` and ``G-`` (device-to-device variation, fixed once programmed); a draw that would
  make a conductance negative is clipped to 0 (a device cannot conduct negatively). The
  realised weight is the target plus ``u (dG+ - dG-) / dG``, where ``dG+-`` are the devices'
  deviations; with ``sigma = 0`` it is the target exactly.

Biases are not mapped (kept in the digital periphery). Layers of other types are ignored.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import warnings

import keras
import numpy as np
from keras import ops

from tf_sparse.quantization.quantizers import DeviceLevels
from tf_sparse.structures.base import from_gemm, to_gemm

_FLOAT_BITS = 32


def _check_real(value, name, lo, lo_open=False, what=""):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > lo if lo_open else value >= lo)
    if not ok:
        bound = f"> {lo}" if lo_open else f">= {lo}"
        raise ValueError(f"Device: `{name}` must be a finite number {bound}{what}, got {value!r}")
    return float(value)


@dataclasses.dataclass(frozen=True)
class Device:
    """A memristor device and the crossbars built from it, with a per-crossbar cost model.

    Cost of one instantiated crossbar tile (differential pair: 2 arrays sharing word-line DACs;
    their two bit-line currents are subtracted before one ADC per output):

    * area  = arrays x ``tile_rows x tile_cols x cell_area_um2``
      + active word lines x ``dac_area_um2`` + ADCs x ``adc_area_um2``
    * power = programmed devices x ``cell_read_power_w``
      + active word lines x ``dac_power_w`` + ADCs x ``adc_power_w``

    with ADCs = ``ceil(active bit lines / bit_lines_per_adc)`` (1 = one ADC per active bit
    line; larger values share an ADC among that many bit lines by time multiplexing). A word or
    bit line is active when it carries at least one programmed device. The dense mapping of a
    layer (same device) programs every weight as a differential pair in every tile.

    The default figures are round, illustrative values of the order published for 1T1R RRAM
    arrays with 1-bit input DACs and 8-bit ADCs (a cell of ~0.05 um^2 drawing ~20 nW on average
    in reads; a 1-bit DAC ~0.2 um^2 / 4 uW; an 8-bit ADC ~1000 um^2 / 2 mW). They are not a
    calibrated model of any chip: only ratios (pruned vs dense mapping of the same layers on the
    same device) are claimed.

    Args:
      levels: conductance states per device, integer in [2, 256].
      g_min, g_max: lowest and highest conductance in siemens, ``0 <= g_min < g_max``.
      sigma: device-to-device multiplicative variation (std of ``G' / G - 1``), >= 0.
      tile: ``(tile_rows, tile_cols)`` of one crossbar on the GEMM view: outputs (bit lines) x
        inputs (word lines).
      cell_area_um2, cell_read_power_w, dac_area_um2, dac_power_w, adc_area_um2, adc_power_w:
        the cost model above (um^2 and watts), each >= 0.
      bit_lines_per_adc: bit lines sharing one ADC, integer >= 1.

    Example:
      >>> device = Device(levels=16, sigma=0.05, tile=(64, 64))
      >>> sparse = tfs.sparsify(model, tfs.Crossbar(0.5), quantize=device.quantizer())
      >>> dataclasses.replace(device, sigma=0.1)  # another device, validated again
    """

    levels: int = 16
    g_min: float = 1e-6
    g_max: float = 1e-4
    sigma: float = 0.0
    tile: tuple = (64, 64)
    cell_area_um2: float = 0.05
    cell_read_power_w: float = 2e-8
    dac_area_um2: float = 0.2
    dac_power_w: float = 4e-6
    adc_area_um2: float = 1000.0
    adc_power_w: float = 2e-3
    bit_lines_per_adc: int = 1

    def __post_init__(self):
        lv = self.levels
        if isinstance(lv, bool) or not isinstance(lv, numbers.Integral) or not 2 <= lv <= 256:
            raise ValueError(f"Device: `levels` must be an integer in [2, 256] (conductance states per device), got {lv!r}")
        g_min = _check_real(self.g_min, "g_min", 0.0, what=" (siemens)")
        g_max = _check_real(self.g_max, "g_max", 0.0, lo_open=True, what=" (siemens)")
        if not g_min < g_max:
            raise ValueError(f"Device: `g_min` must be below `g_max` (0 <= g_min < g_max), got g_min={g_min!r}, g_max={g_max!r}")
        sigma = _check_real(self.sigma, "sigma", 0.0, what=" (relative device-to-device variation)")
        tile = self.tile
        if (
            not isinstance(tile, (tuple, list))
            or len(tile) != 2
            or not all(isinstance(t, numbers.Integral) and not isinstance(t, bool) and t >= 1 for t in tile)
        ):
            raise ValueError(
                f"Device: `tile` must be a pair of positive integers (tile_rows = outputs/bit lines, "
                f"tile_cols = inputs/word lines), got {tile!r}"
            )
        bl = self.bit_lines_per_adc
        if isinstance(bl, bool) or not isinstance(bl, numbers.Integral) or bl < 1:
            raise ValueError(f"Device: `bit_lines_per_adc` must be an integer >= 1, got {bl!r}")
        costs = {f: _check_real(getattr(self, f), f, 0.0) for f in
                 ("cell_area_um2", "cell_read_power_w", "dac_area_um2", "dac_power_w", "adc_area_um2", "adc_power_w")}
        setattr_ = object.__setattr__
        setattr_(self, "levels", int(lv))
        setattr_(self, "g_min", g_min)
        setattr_(self, "g_max", g_max)
        setattr_(self, "sigma", sigma)
        setattr_(self, "tile", (int(tile[0]), int(tile[1])))
        setattr_(self, "bit_lines_per_adc", int(bl))
        for f, v in costs.items():
            setattr_(self, f, v)

    @property
    def g_step(self) -> float:
        """``dG = (g_max - g_min) / (levels - 1)``: conductance of one level."""
        return (self.g_max - self.g_min) / (self.levels - 1)

    @property
    def g_min_levels(self) -> float:
        """``g_min / dG``: the floor conductance in units of one level (sets the noise of level 0)."""
        return self.g_min / self.g_step

    def quantizer(self, per_channel: bool = False) -> DeviceLevels:
        """The weight grid of a differential pair of these devices: ``DeviceLevels(levels)``."""
        return DeviceLevels(self.levels, per_channel=per_channel)

    def get_config(self) -> dict:
        config = dataclasses.asdict(self)
        config["tile"] = list(self.tile)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "tile" in config:
            config["tile"] = tuple(config["tile"])
        return cls(**config)


# --- one layer on the GEMM view ----------------------------------------------------------------


@dataclasses.dataclass
class _LayerMap:
    """A layer's weights on the GEMM view, ready to be mapped (plain arrays, no Keras)."""

    name: str
    kind: str
    kernel_shape: tuple
    target: np.ndarray  # (R, C) float32: the weights the layer computes with
    keep: np.ndarray  # (R, C) bool: programmed (kept) weights
    level: np.ndarray  # (R, C) float64: signed level k (integer in "levels" mode)
    unit: np.ndarray  # (R,) float64: weight of one level per row
    mode: str  # "levels" or "analog"
    bits: float
    single_sign: bool
    structure_tile: tuple | None
    to_kernel: object  # GEMM (R, C) -> Keras layout

    @property
    def shape(self):
        return self.target.shape


def _sparse_mixin():
    from tf_sparse.layers.base import SparseLayerMixin  # layers import the quantizers

    return SparseLayerMixin


_PLAIN_TYPES = (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.DepthwiseConv2D)


def _plain_views(layer, kernel_shape):
    """(to GEMM, from GEMM) for a plain Keras layer's kernel."""
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kh, kw, cin, mult = kernel_shape
        view = (kh, kw, 1, cin * mult)
        return (lambda k: to_gemm(np.reshape(k, view)),
                lambda w2: np.reshape(from_gemm(w2, view), kernel_shape))
    if len(kernel_shape) == 3:  # Conv1D (k, in, out) as (1, k, in, out)
        view = (1,) + tuple(kernel_shape)
        return (lambda k: to_gemm(np.reshape(k, view)),
                lambda w2: np.reshape(from_gemm(w2, view), kernel_shape))
    return to_gemm, (lambda w2: from_gemm(w2, kernel_shape))


def _analog(target, keep, device):
    kept = np.abs(target[keep]).astype(np.float64)
    w_max = float(kept.max()) if kept.size else 0.0
    rows = target.shape[0]
    if w_max == 0.0:
        return np.zeros(target.shape), np.zeros(rows)
    unit = w_max / (device.levels - 1)
    return target.astype(np.float64) / unit, np.full(rows, unit)


def _is_integer_grid(quantizer):
    m = quantizer.magnitudes
    return quantizer.has_zero and np.array_equal(m, np.arange(len(m), dtype=m.dtype))


def _layer_map(layer, device, name=None) -> _LayerMap | None:
    """The mapping view of ``layer`` (a sparse or plain Dense/Conv/Depthwise layer), or None."""
    mixin = _sparse_mixin()
    name = name or layer.name
    kind = type(layer).__name__
    if isinstance(layer, mixin):
        if not layer.built:
            raise ValueError(f"{kind} '{layer.name}': build the layer (call the model once) before mapping it")
        kernel = layer.kernel_numpy()
        shape = kernel.shape
        target = layer.to_layer_gemm(layer.effective_kernel_numpy()).astype(np.float32)
        keep = layer.to_layer_gemm(np.asarray(keras.ops.convert_to_numpy(layer.mask)) != 0)
        target = np.where(keep, target, np.float32(0))
        structure = layer.structure
        single = bool(getattr(structure, "single_sign", False))
        s_tile = tuple(structure.tile) if type(structure).__name__ == "Crossbar" else None
        q = layer.quantizer
        if layer.quant_hardened and _is_integer_grid(q):
            top = len(q.magnitudes) - 1
            if top > device.levels - 1:
                raise ValueError(
                    f"{kind} '{layer.name}': its grid {q!r} has {top} levels per sign but the device "
                    f"has levels={device.levels} states ({device.levels - 1} levels per sign); use "
                    f"quantize=Device(...).quantizer() or a device with levels >= {top + 1}"
                )
            scale = np.asarray(keras.ops.convert_to_numpy(layer.quant_scale), dtype=np.float32)
            codes = q.codes(layer.to_layer_gemm(kernel), scale, keep)
            level = codes.astype(np.float64)
            unit = scale.astype(np.float64)
            mode, bits = "levels", q.bits
        else:
            level, unit = _analog(target, keep, device)
            mode, bits = "analog", float(_FLOAT_BITS)
        return _LayerMap(name, kind, shape, target, keep, level, unit, mode, bits, single, s_tile,
                         lambda w2: layer.from_layer_gemm(w2, shape))
    if isinstance(layer, _PLAIN_TYPES) and layer.built and getattr(layer, "kernel", None) is not None:
        kernel = np.asarray(keras.ops.convert_to_numpy(layer.kernel), dtype=np.float32)
        to_g, from_g = _plain_views(layer, kernel.shape)
        target = to_g(kernel).astype(np.float32)
        keep = target != 0  # no mask: exact zeros are taken as pruned
        level, unit = _analog(target, keep, device)
        return _LayerMap(name, kind, kernel.shape, target, keep, level, unit, "analog", float(_FLOAT_BITS),
                         False, None, from_g)
    return None


def _kernel_map(kernel, device) -> _LayerMap:
    kernel = np.asarray(kernel)
    if not np.issubdtype(kernel.dtype, np.floating) or kernel.ndim not in (2, 4):
        raise ValueError(
            f"program: `target` must be a sparse or Keras Dense/Conv/Depthwise layer, or a float kernel "
            f"of rank 2 (in, out) or 4 (kh, kw, in, out), got {kernel.dtype} {kernel.shape}"
        )
    if not np.isfinite(kernel).all():
        raise ValueError("program: `target` contains NaN/Inf; weights must be finite")
    kernel = kernel.astype(np.float32)
    target = to_gemm(kernel)
    keep = target != 0
    level, unit = _analog(target, keep, device)
    return _LayerMap("kernel", "ndarray", kernel.shape, target, keep, level, unit, "analog", float(_FLOAT_BITS),
                     False, None, lambda w2: from_gemm(w2, kernel.shape))


# --- tiles -------------------------------------------------------------------------------------


def _tiled(a, tile, fill=0):
    """(R, C) -> (nI, tr, nJ, tc), ragged edges padded with ``fill``."""
    tr, tc = tile
    rows, cols = a.shape
    ni, nj = -(-rows // tr), -(-cols // tc)
    padded = np.full((ni * tr, nj * tc), fill, dtype=a.dtype)
    padded[:rows, :cols] = a
    return padded.reshape(ni, tr, nj, tc)


def _untiled(t, shape):
    ni, tr, nj, tc = t.shape
    return t.reshape(ni * tr, nj * tc)[: shape[0], : shape[1]]


def _tile_signs(lm: _LayerMap, tile):
    """Per tile (nI, nJ): +1 / -1 for a single-crossbar tile of that sign, 0 for a pair."""
    t_keep = _tiled(lm.keep, tile, False)
    t_level = _tiled(lm.level, tile, 0.0)
    ni, nj = t_keep.shape[0], t_keep.shape[2]
    if not lm.single_sign:
        return np.zeros((ni, nj), dtype=np.int8)
    pos = np.any(t_keep & (t_level > 0), axis=(1, 3))
    neg = np.any(t_keep & (t_level < 0), axis=(1, 3))
    return np.where(pos & neg, 0, np.where(neg, -1, 1)).astype(np.int8)


def _device_roles(lm: _LayerMap, tile):
    """(a, b) on the GEMM view: whether each weight uses its G+ / G- device (1.0 or 0.0)."""
    signs = _tile_signs(lm, tile)
    t_shape = _tiled(lm.keep, tile, False).shape
    s = np.broadcast_to(signs[:, None, :, None], t_shape)
    a = _untiled((s >= 0).astype(np.float64), lm.shape)
    b = _untiled((s <= 0).astype(np.float64), lm.shape)
    return a, b


# --- mapping report ------------------------------------------------------------------------------


def _line_stats(keep_t, tile):
    """Per-tile counts of active word lines (columns) and bit lines (rows) of a tiled mask."""
    words = np.count_nonzero(np.any(keep_t, axis=1), axis=-1)  # (nI, nJ)
    bits = np.count_nonzero(np.any(keep_t, axis=3), axis=1)  # (nI, nJ)
    return words, bits


def _cost(device, arrays, word_lines, adcs, devices):
    tr, tc = device.tile
    area = arrays * tr * tc * device.cell_area_um2 + word_lines * device.dac_area_um2 + adcs * device.adc_area_um2
    power = devices * device.cell_read_power_w + word_lines * device.dac_power_w + adcs * device.adc_power_w
    return area, power


def _layer_entry(lm: _LayerMap, device) -> dict:
    tile = device.tile
    rows, cols = lm.shape
    keep_t = _tiled(lm.keep, tile, False)
    inst = np.any(keep_t, axis=(1, 3))
    signs = _tile_signs(lm, tile)
    per_tile_xbars = np.where(signs == 0, 2, 1)
    words, bits = _line_stats(keep_t, tile)
    adcs = -(-bits // device.bit_lines_per_adc)
    prog_per_tile = np.count_nonzero(keep_t, axis=(1, 3))
    programmed = int(np.count_nonzero(lm.keep))
    devices = int(np.sum(prog_per_tile * per_tile_xbars))
    nonzero = int(np.count_nonzero(lm.keep & (lm.target != 0)))
    crossbars = int(np.sum(per_tile_xbars[inst]))
    mixed = int(np.count_nonzero(inst & (signs == 0))) if lm.single_sign else 0
    area, power = _cost(device, crossbars, int(words.sum()), int(adcs.sum()), devices)

    dense_keep_t = _tiled(np.ones(lm.shape, dtype=bool), tile, False)
    d_words, d_bits = _line_stats(dense_keep_t, tile)
    d_adcs = -(-d_bits // device.bit_lines_per_adc)
    tiles_dense = int(inst.size)
    d_area, d_power = _cost(device, 2 * tiles_dense, int(d_words.sum()), int(d_adcs.sum()), 2 * rows * cols)

    levels_used = None
    if lm.mode == "levels":
        levels_used = int(np.unique(lm.level[lm.keep]).size)
    dense_bits = _FLOAT_BITS * rows * cols
    stored_bits = nonzero * lm.bits
    return {
        "layer": lm.name,
        "type": lm.kind,
        "gemm_shape": [rows, cols],
        "mapping": lm.mode,
        "tiles_dense": tiles_dense,
        "tiles": int(np.count_nonzero(inst)),
        "crossbars_dense": 2 * tiles_dense,
        "crossbars": crossbars,
        "mixed_sign_tiles": mixed,
        "word_lines_dense": int(d_words.sum()),
        "word_lines": int(words.sum()),
        "bit_lines_dense": int(d_bits.sum()),
        "bit_lines": int(bits.sum()),
        "adcs_dense": int(d_adcs.sum()),
        "adcs": int(adcs.sum()),
        "weights": rows * cols,
        "programmed_weights": programmed,
        "programmed_devices": devices,
        "nonzero_weights": nonzero,
        "levels_used": levels_used,
        "bits_per_weight": lm.bits,
        "compression": dense_bits / stored_bits if stored_bits else math.inf,
        "pruning_compression": rows * cols / nonzero if nonzero else math.inf,
        "area_um2_dense": d_area,
        "area_um2": area,
        "power_w_dense": d_power,
        "power_w": power,
        "structure_tile": list(lm.structure_tile) if lm.structure_tile else None,
    }


_SUMMED = ("tiles_dense", "tiles", "crossbars_dense", "crossbars", "mixed_sign_tiles", "word_lines_dense",
           "word_lines", "bit_lines_dense", "bit_lines", "adcs_dense", "adcs", "weights", "programmed_weights",
           "programmed_devices", "nonzero_weights", "area_um2_dense", "area_um2", "power_w_dense", "power_w")


class MappingReport:
    """Masked mapping of a model onto crossbars: per layer and totals (see :func:`map_model`).

    Per layer (``layers``, a list of dicts) and in ``totals``:

    * ``tiles`` / ``crossbars`` (instantiated) vs ``*_dense`` (dense mapping: every tile, a
      differential pair each); ``mixed_sign_tiles``: tiles of a single-sign layer whose kept
      weights have both signs (mapped as pairs);
    * ``word_lines`` / ``bit_lines`` / ``adcs``: active lines summed over instantiated tiles;
    * ``programmed_weights`` (kept, incl. those on level 0), ``programmed_devices`` (2 per
      weight, 1 in single-crossbar tiles), ``nonzero_weights``, ``levels_used`` (distinct signed
      levels programmed, None for analog mapping), ``bits_per_weight`` (the grid's code length;
      32 for analog mapping);
    * ``compression`` = dense float32 bits / (nonzero weights x bits per weight), the weight
      compression ratio; ``pruning_compression`` = weights / nonzero weights;
    * ``area_um2`` / ``power_w`` of the pruned mapping and ``*_dense`` of the dense mapping of the
      same layers on the same device (see :class:`Device` for the cost model; ratios only).
    """

    def __init__(self, device: Device, layers: list):
        self.device = device
        self.layers = layers
        totals = {k: sum(e[k] for e in layers) for k in _SUMMED}
        stored = sum(e["nonzero_weights"] * e["bits_per_weight"] for e in layers)
        totals["compression"] = _FLOAT_BITS * totals["weights"] / stored if stored else math.inf
        nz = totals["nonzero_weights"]
        totals["pruning_compression"] = totals["weights"] / nz if nz else math.inf
        totals["area_reduction"] = 1 - totals["area_um2"] / totals["area_um2_dense"] if layers else 0.0
        totals["power_reduction"] = 1 - totals["power_w"] / totals["power_w_dense"] if layers else 0.0
        self.totals = totals

    def to_dict(self) -> dict:
        return {"device": self.device.get_config(), "layers": [dict(e) for e in self.layers], "totals": dict(self.totals)}

    def table(self) -> str:
        """Markdown table: one row per layer and a total row."""
        head = ("| layer | GEMM | map | tiles | crossbars | word lines | bit lines | programmed | nonzero "
                "| levels | bits | compression | pruning only | area mm^2 | power mW |")
        sep = "|" + "---|" * 15
        lines = [head, sep]

        def row(name, shape, e, mode, levels, bits):
            return (
                f"| {name} | {shape} | {mode} | {e['tiles']}/{e['tiles_dense']} | {e['crossbars']}/{e['crossbars_dense']} "
                f"| {e['word_lines']}/{e['word_lines_dense']} | {e['bit_lines']}/{e['bit_lines_dense']} "
                f"| {e['programmed_weights']}/{e['weights']} | {e['nonzero_weights']} | {levels} | {bits} "
                f"| {e['compression']:.2f}x | {e['pruning_compression']:.2f}x "
                f"| {e['area_um2'] / 1e6:.4f}/{e['area_um2_dense'] / 1e6:.4f} "
                f"| {e['power_w'] * 1e3:.3f}/{e['power_w_dense'] * 1e3:.3f} |"
            )

        for e in self.layers:
            levels = "-" if e["levels_used"] is None else e["levels_used"]
            bits = f"{e['bits_per_weight']:g}"
            lines.append(row(e["layer"], f"{e['gemm_shape'][0]}x{e['gemm_shape'][1]}", e, e["mapping"], levels, bits))
        t = self.totals
        lines.append(row("**total**", "", t, "", "", ""))
        lines.append("")
        lines.append(
            f"pruned/dense mapping (tile {self.device.tile[0]}x{self.device.tile[1]}, {self.device.levels} levels): "
            f"area -{100 * t['area_reduction']:.2f}%, power -{100 * t['power_reduction']:.2f}%; "
            f"weight compression {t['compression']:.2f}x (pruning only {t['pruning_compression']:.2f}x)"
        )
        return "\n".join(lines)

    def __str__(self):
        return self.table()

    def __repr__(self):
        t = self.totals
        return (f"MappingReport({len(self.layers)} layers, compression={t['compression']:.2f}x, "
                f"area_reduction={t['area_reduction']:.4f}, power_reduction={t['power_reduction']:.4f})")


def _walk(model, prefix=""):
    for layer in model.layers:
        path = f"{prefix}{layer.name}"
        yield path, layer
        if isinstance(layer, keras.Model):
            yield from _walk(layer, path + "/")


def _check_device(device, owner):
    if not isinstance(device, Device):
        raise TypeError(f"{owner}: `device` must be a tf_sparse Device, got {device!r}")


def _model_maps(model, device, owner):
    if not isinstance(model, keras.Model):
        raise TypeError(f"{owner}: `model` must be a keras.Model, got {type(model).__name__}")
    _check_device(device, owner)
    maps = []
    for path, layer in _walk(model):
        lm = _layer_map(layer, device, path)
        if lm is not None:
            maps.append((path, lm))
    if not maps:
        raise ValueError(f"{owner}: model '{model.name}' has no built Dense, Conv or DepthwiseConv2D layer to map")
    return maps


def map_model(model, device: Device) -> MappingReport:
    """Masked mapping of every Dense/Conv/Depthwise layer of ``model`` onto ``device``'s crossbars.

    Sparse layers are mapped with their mask (pruned weights are not programmed) and, when their
    quantization is hardened on an integer grid (``DeviceLevels``, ``Uniform``, ``Ternary``)
    that fits the device, with their levels; plain Keras layers linearly, exact zeros pruned.

    Returns:
      A :class:`MappingReport` (``.table()``, ``.to_dict()``, ``.totals``).

    Raises:
      TypeError: ``model`` is not a Keras model or ``device`` not a ``Device``.
      ValueError: no layer to map, or a layer's grid has more levels than the device.

    Example:
      >>> report = map_model(sparse, Device(levels=16, tile=(64, 64)))
      >>> print(report.table())
    """
    maps = _model_maps(model, device, "map_model")
    other = sorted({f"{lm.name} {lm.structure_tile}" for _, lm in maps
                    if lm.structure_tile is not None and tuple(lm.structure_tile) != device.tile})
    if other:
        warnings.warn(
            f"map_model: the device tile is {device.tile} but these layers were pruned for other crossbar "
            f"tiles: {', '.join(other)}; pruned tiles may not line up with the device's crossbars",
            stacklevel=2,
        )
    return MappingReport(device, [_layer_entry(lm, device) for _, lm in maps])


# --- device variation ---------------------------------------------------------------------------


def _realise(lm: _LayerMap, device: Device, rng) -> np.ndarray:
    """Realised GEMM weights for one draw of device variation (float32)."""
    a, b = _device_roles(lm, device.tile)
    g0 = device.g_min_levels
    gp = g0 + np.maximum(lm.level, 0.0)  # conductances in units of dG
    gm = g0 + np.maximum(-lm.level, 0.0)
    e1 = rng.standard_normal(lm.shape)
    e2 = rng.standard_normal(lm.shape)
    dp = np.maximum(gp * (1.0 + device.sigma * e1), 0.0) - gp
    dm = np.maximum(gm * (1.0 + device.sigma * e2), 0.0) - gm
    delta = lm.unit[:, None] * (a * dp - b * dm)
    out = lm.target.astype(np.float64) + delta
    return np.where(lm.keep, out, 0.0).astype(np.float32)


def _rng(rng, owner):
    if rng is None or isinstance(rng, (numbers.Integral, np.random.SeedSequence)) and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(f"{owner}: `rng` must be None, an integer seed or a numpy Generator, got {rng!r}")


def program(target, device: Device, rng=None) -> np.ndarray:
    """The weights a layer's crossbars actually realise, for one draw of device variation.

    Every programmed device takes ``G (1 + sigma eps)`` with ``eps ~ N(0, 1)``, independently for
    ``G+`` and ``G-`` (clipped at 0 siemens). Pruned weights are not programmed and stay exactly
    0; a kept weight on level 0 sits at ``(g_min, g_min)`` and does get noise.

    Args:
      target: a sparse layer (mask, and levels once its quantization is hardened), a plain Keras
        Dense/Conv1D/Conv2D/DepthwiseConv2D layer, or a kernel array in Keras layout (rank 2 or
        4); for the last two there is no mask: exact zeros are taken as pruned, and the mapping
        is linear (analog).
      device: the :class:`Device`.
      rng: None, an integer seed or a ``numpy.random.Generator``.

    Returns:
      The realised kernel in the layer's Keras layout (float32).

    Example:
      >>> w = program(sparse.get_layer("fc1"), Device(sigma=0.05), rng=0)
    """
    _check_device(device, "program")
    rng = _rng(rng, "program")
    if isinstance(target, keras.layers.Layer):
        lm = _layer_map(target, device)
        if lm is None:
            raise ValueError(
                f"program: `target` layer '{target.name}' ({type(target).__name__}) is not a built Dense, "
                f"Conv or DepthwiseConv2D layer"
            )
    else:
        lm = _kernel_map(target, device)
    return lm.to_kernel(_realise(lm, device, rng)).astype(np.float32)


@dataclasses.dataclass
class MonteCarloResult:
    """Accuracy over independent device draws: ``mean``, ``std`` (population), every draw, and
    the nominal accuracy (the targets, no variation)."""

    sigma: float
    accuracies: np.ndarray
    nominal: float

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))

    @property
    def std(self) -> float:
        return float(np.std(self.accuracies))

    def to_dict(self):
        return {"sigma": self.sigma, "mean": self.mean, "std": self.std, "nominal": self.nominal,
                "accuracies": [float(a) for a in self.accuracies]}

    def __str__(self):
        return (f"sigma={self.sigma:g}: accuracy {self.mean:.4f} +- {self.std:.4f} over "
                f"{len(self.accuracies)} draws (nominal {self.nominal:.4f})")


def _accuracy(y, pred):
    pred = np.asarray(pred)
    if pred.ndim < 2 or pred.shape[-1] < 2:
        raise ValueError(
            f"monte_carlo: the default metric is argmax accuracy and needs a multi-class output, got "
            f"predictions of shape {pred.shape}; pass `metric=fn(y_true, y_pred) -> float`"
        )
    labels = np.asarray(y)
    if labels.ndim == pred.ndim:
        labels = np.argmax(labels, axis=-1)
    return float(np.mean(np.argmax(pred, axis=-1) == labels.reshape(pred.shape[:-1])))


def _deploy_copy(model):
    from tf_sparse.layers.surgery import sparse_layers, strip

    if sparse_layers(model):
        return strip(model)
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def monte_carlo(model, x, y, device: Device, draws: int = 50, seed=0, batch_size: int = 256, metric=None):
    """Accuracy of ``model`` over ``draws`` independent programmings of ``device``.

    Runs on one plain copy of the model (``tfs.strip``): for each draw every mapped layer's kernel
    is replaced by :func:`program`'s realisation and ``predict`` runs once over ``x``.

    Args:
      model: a (sparse or plain) Keras model.
      x, y: evaluation data; ``y`` integer labels or one-hot.
      device: the :class:`Device` (its ``sigma`` sets the variation).
      draws: number of independent draws, >= 1.
      seed: seed of the draws (same seed, same draws).
      batch_size: ``predict`` batch size.
      metric: optional ``fn(y_true, y_pred) -> float`` instead of argmax accuracy.

    Returns:
      :class:`MonteCarloResult` (``mean``, ``std``, ``accuracies``, ``nominal``).

    Example:
      >>> r = monte_carlo(sparse, x_test, y_test, Device(sigma=0.05), draws=50)
      >>> print(r)
    """
    if isinstance(draws, bool) or not isinstance(draws, numbers.Integral) or draws < 1:
        raise ValueError(f"monte_carlo: `draws` must be an integer >= 1, got {draws!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"monte_carlo: `batch_size` must be an integer >= 1, got {batch_size!r}")
    if metric is not None and not callable(metric):
        raise TypeError(f"monte_carlo: `metric` must be None or a callable (y_true, y_pred) -> float, got {metric!r}")
    metric = metric or _accuracy
    maps = _model_maps(model, device, "monte_carlo")
    rng = _rng(seed, "monte_carlo")
    copy = _deploy_copy(model)
    copy_layers = dict(_walk(copy))
    slots = []
    for path, lm in maps:
        dst = copy_layers.get(path)
        kernel = getattr(dst, "kernel", None)
        if kernel is None or tuple(kernel.shape) != tuple(lm.kernel_shape):
            raise ValueError(f"monte_carlo: layer '{path}' has no matching kernel in the deployable copy")
        slots.append((lm, kernel))

    def evaluate():
        return float(metric(y, copy.predict(x, batch_size=batch_size, verbose=0)))

    for lm, kernel in slots:
        kernel.assign(lm.to_kernel(lm.target))
    nominal = evaluate()
    accs = []
    for _ in range(int(draws)):
        for lm, kernel in slots:
            kernel.assign(lm.to_kernel(_realise(lm, device, rng)))
        accs.append(evaluate())
    return MonteCarloResult(device.sigma, np.array(accs), nominal)


# --- noise-aware training -----------------------------------------------------------------------


def _scope(model):
    import contextlib

    strategy = getattr(model, "distribute_strategy", None)
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def _retrace(model):
    model.make_train_function(force=True)
    model.make_test_function(force=True)


class NoiseAwareTraining(keras.callbacks.Callback):
    """Trains through device variation: every training call of every sparse layer computes with
    a freshly drawn realisation of its crossbars (the same model as :func:`program`).

    On train begin, each sparse layer gets ``layer.weight_noise``: the effective kernel (masked,
    on its grid once hardened) plus the deviation ``u (dG+ - dG-) / dG`` of freshly drawn
    devices, ``eps ~ N(0, 1)`` from a ``keras.random.SeedGenerator`` per layer owned by the
    callback; pruned weights get none. The loss is that of the noisy forward pass and its
    gradient reaches the kernel unchanged (the deviation is a constant of the backward pass).
    Inference (``predict``, ``evaluate``) is noise-free. On train end the hook is removed.
    Layers with hardened level quantization use their frozen scale as ``u``; the others the
    linear mapping of their current largest weight. The tile signs of single-sign layers are
    read on train begin.

    Args:
      device: the :class:`Device`.
      seed: integer seed of the draws (None: random).

    Example:
      >>> sparse.fit(x, y, epochs=5, callbacks=[NoiseAwareTraining(Device(sigma=0.1))])
    """

    def __init__(self, device: Device, seed=None):
        super().__init__()
        _check_device(device, "NoiseAwareTraining")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise TypeError(f"NoiseAwareTraining: `seed` must be None or an integer, got {seed!r}")
        self.device = device
        self.seed = seed
        self._layers = []

    def on_train_begin(self, logs=None):
        from tf_sparse.layers.surgery import sparse_layers

        self._layers = sparse_layers(self.model)
        if not self._layers:
            raise ValueError("NoiseAwareTraining: the model has no tf_sparse layers; use tfs.sparsify(model, ...) first")
        base = self.seed if self.seed is not None else int(np.random.default_rng().integers(1 << 30))
        for i, layer in enumerate(self._layers):
            with _scope(self.model):
                gen = keras.random.SeedGenerator(base + 7919 * i, name=f"{layer.name}_device_noise")
            layer.weight_noise = self._noise_fn(layer, gen)
        _retrace(self.model)

    def on_train_end(self, logs=None):
        for layer in self._layers:
            layer.weight_noise = None
        self._layers = []
        _retrace(self.model)

    def _noise_fn(self, layer, gen):
        device = self.device
        lm = _layer_map(layer, device)
        a, b = _device_roles(lm, device.tile)
        a = lm.to_kernel(a).astype(np.float32)
        b = lm.to_kernel(b).astype(np.float32)
        levels_mode = lm.mode == "levels"
        unit = lm.to_kernel(np.broadcast_to(lm.unit[:, None], lm.shape)).astype(np.float32) if levels_mode else None
        g0 = np.float32(device.g_min_levels)
        sigma = np.float32(device.sigma)
        top = float(device.levels - 1)

        def fn(owner, kernel):
            keep = ops.cast(ops.not_equal(owner.mask, 0.0), kernel.dtype)
            if levels_mode:
                u = ops.convert_to_tensor(unit)
            else:
                u = ops.divide(ops.stop_gradient(ops.max(ops.abs(ops.multiply(kernel, keep)))), top)
            safe = ops.where(ops.greater(u, 0.0), u, ops.ones_like(u))
            k = ops.divide(ops.stop_gradient(kernel), safe)
            gp = ops.add(g0, ops.relu(k))
            gm = ops.add(g0, ops.relu(ops.negative(k)))
            shape = tuple(kernel.shape)
            e1 = keras.random.normal(shape, seed=gen, dtype=kernel.dtype)
            e2 = keras.random.normal(shape, seed=gen, dtype=kernel.dtype)
            dp = ops.subtract(ops.relu(ops.multiply(gp, ops.add(1.0, ops.multiply(sigma, e1)))), gp)
            dm = ops.subtract(ops.relu(ops.multiply(gm, ops.add(1.0, ops.multiply(sigma, e2)))), gm)
            delta = ops.multiply(ops.subtract(ops.multiply(a, dp), ops.multiply(b, dm)), u)
            delta = ops.where(ops.greater(u, 0.0), delta, ops.zeros_like(delta))
            return ops.add(kernel, ops.stop_gradient(ops.multiply(delta, keep)))

        return fn
