"""Real-time single-image super-resolution: the model family, data, metrics and evaluation.

The models are the family searched over for real-time SR on phones (a 3x3 head convolution,
residual blocks of 3x3 convolutions, a global skip, a tail convolution to ``3 * scale**2``
channels and a pixel shuffle), small enough that a 720p frame takes tens of milliseconds, and
pruned with tf_sparse's structures so the delegate runs the 3x3 convolutions.

Conventions (used throughout, and by the examples and benchmarks):

- Images are RGB, ``float32`` in ``[0, 1]`` (``uint8`` arrays are accepted and divided by 255).
  The network maps an RGB low-resolution image to an RGB high-resolution one.
- Low-resolution images are made by **bicubic downscaling with antialiasing**
  (``tf.image.resize(..., "bicubic", antialias=True)``, like MATLAB's ``imresize``) of a
  high-resolution image cropped to a multiple of ``scale``, then rounded to 8 bits
  (:func:`downscale`). The bicubic baseline is ``tf.image.resize(..., "bicubic")`` upscaling.
- Metrics are on the luma channel Y of YCbCr (ITU-R BT.601, Y in [16, 235] for 8-bit RGB, as
  in the SR literature), after rounding the output to 8 bits and cropping ``scale`` pixels at
  every border: :func:`psnr_y` and :func:`ssim_y` (Wang et al.'s SSIM, an 11x11 Gaussian window
  of sigma 1.5).

Example:
  >>> import tf_sparse.super_resolution as sr
  >>> model = sr.sr_model(scale=2, channels=16, blocks=2)
  >>> train, held_out = sr.split_images()
  >>> lr, hr = sr.random_patches(list(train.values()), scale=2, patch_size=64, count=512)
  >>> model.compile("adam", "mae"); model.fit(lr, hr, epochs=1)
  >>> sr.evaluate(model, list(held_out.values()), scale=2)["psnr"]
"""

from __future__ import annotations

import glob
import numbers
import os

import keras
import numpy as np

SCALES = (2, 3, 4)
RESIDUALS = ("bilinear", "nearest", None)

# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="tf_sparse")
class PixelShuffle(keras.layers.Layer):
    """Rearranges ``(H, W, C * scale**2)`` into ``(H * scale, W * scale, C)`` (depth to space).

    Exports to TFLite's ``DEPTH_TO_SPACE``: output pixel ``(y * s + dy, x * s + dx)`` channel
    ``c`` is input pixel ``(y, x)`` channel ``(dy * s + dx) * C + c``.
    """

    def __init__(self, scale: int, **kwargs):
        super().__init__(**kwargs)
        self.scale = _check_scale(scale, "PixelShuffle")

    def call(self, x):
        return keras.ops.depth_to_space(x, self.scale, data_format="channels_last")

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        s = self.scale
        return (b, None if h is None else h * s, None if w is None else w * s, c // (s * s))

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def _check_scale(scale, owner):
    if isinstance(scale, bool) or not isinstance(scale, numbers.Integral) or int(scale) not in SCALES:
        raise ValueError(f"{owner}: `scale` must be one of {SCALES}, got {scale!r}")
    return int(scale)


def _check_positive(value, name, owner, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{owner}: `{name}` must be an integer >= {minimum}, got {value!r}")
    return int(value)


def sr_model(
    scale: int = 2,
    channels: int = 16,
    blocks: int = 4,
    *,
    convs_per_block: int = 2,
    out_channels: int = 3,
    residual: str | None = "bilinear",
    height: int | None = None,
    width: int | None = None,
    name: str | None = None,
) -> keras.Model:
    """A small residual super-resolution network (Functional, stable layer names).

    Layers, all 3x3 convolutions with ``padding="same"``:

    - ``head``: ``out_channels`` -> ``channels``, linear;
    - residual blocks ``block{i}`` (i from 0): ``block{i}_conv{j}`` (j from 0), ``channels`` ->
      ``channels``, ReLU after every convolution but the last of the block, then
      ``block{i}_add`` adds the block's input;
    - ``body_add``: the global skip (head output + body output);
    - ``tail``: ``channels`` -> ``out_channels * scale**2``, linear;
    - ``residual_add``: adds the input upsampled (``residual="bilinear"``:
      ``UpSampling2D(interpolation="bilinear")``, TFLite's ``RESIZE_BILINEAR``; ``"nearest"``:
      the input repeated ``scale**2`` times along channels, so the shuffle makes it nearest
      neighbour; ``None``: no input residual) -- the bilinear residual is added after
      ``shuffle``, the nearest one before it;
    - ``shuffle``: :class:`PixelShuffle` (``DEPTH_TO_SPACE``).

    Per-layer pruning configs address the convolutions by these names, e.g.
    ``{"block*_conv*": tfs.KernelPattern(8, connectivity=0.5, filter_block=16)}``.

    Args:
      scale: upscaling factor, 2, 3 or 4.
      channels: feature channels of the head and the blocks.
      blocks: number of residual blocks (0 allowed: head, tail and shuffle only).
      convs_per_block: convolutions per residual block (>= 1).
      out_channels: image channels in and out (3 for RGB, 1 for Y only).
      residual: ``"bilinear"``, ``"nearest"`` or ``None`` (see above).
      height, width: fixed input size (e.g. for a TFLite file of one frame size); ``None`` takes
        any size.
      name: model name (default ``sr_x{scale}_c{channels}_b{blocks}``).

    Returns:
      A ``keras.Model`` mapping ``(batch, H, W, out_channels)`` to
      ``(batch, H * scale, W * scale, out_channels)``, images in [0, 1].

    Raises:
      ValueError: a scale other than 2, 3 or 4, a non-positive size, an unknown residual.
    """
    owner = "sr_model"
    scale = _check_scale(scale, owner)
    channels = _check_positive(channels, "channels", owner)
    blocks = _check_positive(blocks, "blocks", owner, minimum=0)
    convs_per_block = _check_positive(convs_per_block, "convs_per_block", owner)
    out_channels = _check_positive(out_channels, "out_channels", owner)
    if residual not in RESIDUALS:
        raise ValueError(f"{owner}: `residual` must be one of {RESIDUALS}, got {residual!r}")
    for size_name, size in (("height", height), ("width", width)):
        if size is not None:
            _check_positive(size, size_name, owner)
    inputs = keras.Input((height, width, out_channels), name="lr")
    conv = lambda filters, layer_name, act=None: keras.layers.Conv2D(  # noqa: E731
        filters, 3, padding="same", activation=act, name=layer_name
    )
    head = conv(channels, "head")(inputs)
    x = head
    for i in range(blocks):
        y = x
        for j in range(convs_per_block):
            last = j == convs_per_block - 1
            y = conv(channels, f"block{i}_conv{j}", None if last else "relu")(y)
        x = keras.layers.Add(name=f"block{i}_add")([x, y])
    if blocks:
        x = keras.layers.Add(name="body_add")([head, x])
    # A zero tail starts the network at its input residual (or at zero without one).
    x = keras.layers.Conv2D(out_channels * scale * scale, 3, padding="same", kernel_initializer="zeros", name="tail")(x)
    if residual == "nearest":
        repeated = keras.layers.Concatenate(axis=-1, name="residual_repeat")([inputs] * (scale * scale))
        x = keras.layers.Add(name="residual_add")([x, repeated])
    x = PixelShuffle(scale, name="shuffle")(x)
    if residual == "bilinear":
        up = keras.layers.UpSampling2D(scale, interpolation="bilinear", name="residual_up")(inputs)
        x = keras.layers.Add(name="residual_add")([x, up])
    return keras.Model(inputs, x, name=name or f"sr_x{scale}_c{channels}_b{blocks}")


def model_spec(model: keras.Model) -> dict:
    """The :func:`sr_model` arguments that rebuild ``model``'s architecture (read from its layers)."""
    names = {layer.name: layer for layer in model.layers}
    if "head" not in names or "tail" not in names or "shuffle" not in names:
        raise ValueError(
            f"model_spec: {model.name!r} is not an sr_model network (it needs layers 'head', 'tail' and "
            f"'shuffle'; it has {sorted(names)[:12]})"
        )
    blocks = len([n for n in names if n.startswith("block") and n.endswith("_add")])
    convs = len([n for n in names if n.startswith("block0_conv")])
    residual = "bilinear" if "residual_up" in names else ("nearest" if "residual_repeat" in names else None)
    return {
        "scale": int(names["shuffle"].scale),
        "channels": int(names["head"].filters),
        "blocks": blocks,
        "convs_per_block": convs or 2,
        "out_channels": int(names["head"].kernel.shape[2]),
        "residual": residual,
    }


def fixed_size(model: keras.Model, height: int, width: int) -> keras.Model:
    """The same network with a fixed ``height x width`` input (weights copied), for export.

    ``model`` may be a plain :func:`sr_model` network or a stripped pruned one (``tfs.strip``).
    """
    spec = model_spec(model)
    fixed = sr_model(**spec, height=height, width=width, name=model.name)
    fixed.set_weights(model.get_weights())
    return fixed


def conv_layer_names(model: keras.Model, kernel_size=(3, 3)) -> list:
    """Names of the model's convolutions of ``kernel_size``, in order (for per-layer configs)."""
    return [
        layer.name
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv2D) and tuple(layer.kernel_size) == tuple(kernel_size)
    ]


def macs_per_output_pixel(model: keras.Model) -> float:
    """Multiply-adds of the convolutions per high-resolution output pixel."""
    spec = model_spec(model)
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape
            total += kh * kw * cin * cout
    return total / spec["scale"] ** 2


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------

# Real photographs shipped inside installed packages (nothing is downloaded). The split is fixed:
# HELD_OUT images are never cut into training patches.
_PACKAGE_PHOTOS = {
    # name: (package, path inside the package)
    "china": ("sklearn", "datasets/images/china.jpg"),
    "flower": ("sklearn", "datasets/images/flower.jpg"),
    "grace_hopper": ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
}
# scikit-image's sample photographs, used when scikit-image is installed (those its wheel ships).
_SKIMAGE_PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
)
HELD_OUT = ("grace_hopper", "chelsea")


def _package_photo(package, relpath):
    module = __import__(package)
    path = os.path.join(os.path.dirname(module.__file__), relpath)
    return _read_image(path)


def _read_image(path):
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def builtin_images() -> dict:
    """Real photographs that installed packages ship: ``{name: uint8 (H, W, 3)}``.

    Always: ``china`` and ``flower`` (scikit-learn, 427x640) and ``grace_hopper`` (matplotlib,
    600x512). With scikit-image installed, also those of its sample photographs its installation
    holds offline (``astronaut``, ``coffee``, ``chelsea``, ``rocket``,
    ``hubble_deep_field``, ``immunohistochemistry``, ``retina``); ones it would have to download
    are skipped.
    """
    images = {}
    for name, (package, relpath) in _PACKAGE_PHOTOS.items():
        try:
            images[name] = _package_photo(package, relpath)
        except (ImportError, OSError):
            continue
    try:
        import skimage.data
    except ImportError:
        return images
    for name in _SKIMAGE_PHOTOS:
        try:
            img = getattr(skimage.data, name)()
        except Exception:  # noqa: BLE001 - a photo that is not on disk needs a download: skip it
            continue
        img = np.asarray(img)
        if img.ndim == 3 and img.shape[2] >= 3 and img.dtype == np.uint8:
            images[name] = np.ascontiguousarray(img[..., :3])
    return images


def split_images(images: dict | None = None, held_out=HELD_OUT) -> tuple:
    """``(train, held_out)`` dicts of :func:`builtin_images` (or ``images``) by the fixed split.

    Held out: ``grace_hopper`` (always available), ``chelsea`` (with
    scikit-image). Everything else is for training.
    """
    images = builtin_images() if images is None else images
    train = {k: v for k, v in images.items() if k not in held_out}
    test = {k: v for k, v in images.items() if k in held_out}
    if not train or not test:
        raise ValueError(
            f"split_images: need at least one training and one held-out image, got train={sorted(train)}, "
            f"held_out={sorted(test)}"
        )
    return train, test


IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def load_images(folder, max_images: int | None = None, min_size: int = 16) -> list:
    """The RGB images of a folder (DIV2K-like PNG / JPG files), sorted by file name, as uint8
    ``(H, W, 3)`` arrays (grey images become 3 equal channels, alpha is dropped).

    Raises:
      FileNotFoundError: ``folder`` does not exist.
      ValueError: no image file in it, or an image smaller than ``min_size`` on a side.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"load_images: {folder!r} is not a folder of images")
    paths = sorted(
        p for p in glob.glob(os.path.join(folder, "*")) if os.path.splitext(p)[1].lower() in IMAGE_EXTENSIONS
    )
    if not paths:
        raise ValueError(f"load_images: no image file ({', '.join(IMAGE_EXTENSIONS)}) in {folder!r}")
    if max_images is not None:
        paths = paths[: _check_positive(max_images, "max_images", "load_images")]
    images = []
    for p in paths:
        img = _read_image(p)
        if min(img.shape[:2]) < min_size:
            raise ValueError(f"load_images: {p!r} is {img.shape[1]}x{img.shape[0]}, smaller than {min_size} pixels")
        images.append(img)
    return images


def to_float(image, owner: str = "to_float") -> np.ndarray:
    """An RGB image as float32 in [0, 1] (uint8 divided by 255, floats checked), shape ``(H, W, 3)``
    or a batch ``(N, H, W, 3)``."""
    a = np.asarray(image)
    if a.ndim not in (3, 4) or a.shape[-1] != 3:
        raise ValueError(f"{owner}: expected an RGB image (H, W, 3) or a batch (N, H, W, 3), got shape {a.shape}")
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"{owner}: expected uint8 or float pixels, got {a.dtype}")
    return a.astype(np.float32)


def crop_to_scale(image, scale: int) -> np.ndarray:
    """``image`` cropped (bottom / right) to a height and width divisible by ``scale``."""
    scale = _check_scale(scale, "crop_to_scale")
    a = np.asarray(image)
    h, w = a.shape[-3] - a.shape[-3] % scale, a.shape[-2] - a.shape[-2] % scale
    if h == 0 or w == 0:
        raise ValueError(f"crop_to_scale: image of shape {a.shape} is smaller than the scale {scale}")
    return a[..., :h, :w, :]


def _quantize(x):
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.float32) / 255.0


def downscale(hr, scale: int) -> np.ndarray:
    """The low-resolution version of ``hr`` (cropped to a multiple of ``scale``): bicubic with
    antialiasing (``tf.image.resize``), rounded to 8 bits. float32 in [0, 1]."""
    import tensorflow as tf

    scale = _check_scale(scale, "downscale")
    hr = crop_to_scale(to_float(hr, "downscale"), scale)
    h, w = hr.shape[-3] // scale, hr.shape[-2] // scale
    lr = tf.image.resize(hr, (h, w), method="bicubic", antialias=True).numpy()
    return _quantize(lr)


def bicubic_upscale(lr, scale: int) -> np.ndarray:
    """The bicubic baseline: ``lr`` upscaled by ``scale`` (``tf.image.resize``), rounded to 8 bits."""
    import tensorflow as tf

    scale = _check_scale(scale, "bicubic_upscale")
    lr = to_float(lr, "bicubic_upscale")
    h, w = lr.shape[-3] * scale, lr.shape[-2] * scale
    return _quantize(tf.image.resize(lr, (h, w), method="bicubic").numpy())


def random_patches(images, scale: int, patch_size: int = 96, count: int = 1024, seed: int = 0,
                   augment: bool = True) -> tuple:
    """Random aligned training pairs cut from high-resolution ``images``.

    Each pair: a random ``patch_size x patch_size`` high-resolution crop (``patch_size`` a
    multiple of ``scale``) of a random image (images drawn in proportion to their area), with a
    random flip and a random multiple of 90 degrees of rotation if ``augment``; its
    low-resolution input is :func:`downscale` of the crop.

    Returns:
      ``(lr, hr)``: float32 arrays ``(count, p/scale, p/scale, 3)`` and ``(count, p, p, 3)``.
    """
    owner = "random_patches"
    scale = _check_scale(scale, owner)
    patch_size = _check_positive(patch_size, "patch_size", owner, minimum=scale)
    count = _check_positive(count, "count", owner)
    if patch_size % scale:
        raise ValueError(f"{owner}: `patch_size` must be a multiple of the scale {scale}, got {patch_size}")
    images = [to_float(im, owner) for im in images]
    if not images:
        raise ValueError(f"{owner}: `images` is empty")
    for im in images:
        if im.ndim != 3 or min(im.shape[:2]) < patch_size:
            raise ValueError(
                f"{owner}: every image must be (H, W, 3) with H, W >= patch_size {patch_size}, got {im.shape}"
            )
    rng = np.random.default_rng(seed)
    areas = np.array([im.shape[0] * im.shape[1] for im in images], dtype=np.float64)
    which = rng.choice(len(images), size=count, p=areas / areas.sum())
    hr = np.empty((count, patch_size, patch_size, 3), np.float32)
    for n, k in enumerate(which):
        im = images[k]
        y = rng.integers(0, im.shape[0] - patch_size + 1)
        x = rng.integers(0, im.shape[1] - patch_size + 1)
        p = im[y : y + patch_size, x : x + patch_size]
        if augment:
            if rng.random() < 0.5:
                p = p[:, ::-1]
            p = np.rot90(p, rng.integers(0, 4))
        hr[n] = p
    return downscale(hr, scale), hr


class PatchBatches(keras.utils.PyDataset):
    """Batches of fresh random training pairs (:func:`random_patches`) for ``model.fit``: batch
    ``i`` of a dataset with ``seed`` is always the same, and no two batches share a seed."""

    def __init__(self, images, scale: int, patch_size: int = 64, batch_size: int = 16, steps: int = 100,
                 seed: int = 0, augment: bool = True):
        super().__init__()
        self.images = [to_float(im, "PatchBatches") for im in images]
        self.scale = _check_scale(scale, "PatchBatches")
        self.patch_size, self.batch_size = patch_size, _check_positive(batch_size, "batch_size", "PatchBatches")
        self.steps, self.seed, self.augment = _check_positive(steps, "steps", "PatchBatches"), seed, augment
        random_patches(self.images, self.scale, patch_size, 1, seed, augment)  # checks the arguments once

    def __len__(self):
        return self.steps

    def __getitem__(self, index):
        return random_patches(self.images, self.scale, self.patch_size, self.batch_size,
                              seed=(self.seed, int(index)), augment=self.augment)


def train(model, images, scale: int, steps: int, *, learning_rate: float = 1e-3, final_learning_rate: float = 1e-5,
          patch_size: int = 64, batch_size: int = 16, seed: int = 0, callbacks=None, verbose=0):
    """Trains ``model`` (plain or sparse) for ``steps`` batches of random patches of ``images`` with
    an L1 loss and Adam, the learning rate decaying from ``learning_rate`` to
    ``final_learning_rate`` (cosine). Returns the Keras ``History``."""
    steps = _check_positive(steps, "steps", "train")
    schedule = keras.optimizers.schedules.CosineDecay(
        learning_rate, decay_steps=steps, alpha=final_learning_rate / learning_rate
    )
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mae")
    data = PatchBatches(images, scale, patch_size, batch_size, steps, seed)
    return model.fit(data, epochs=1, callbacks=list(callbacks or []), verbose=verbose)


def pruning_config(config) -> dict:
    """A per-layer pruning config for ``tfs.sparsify`` from JSON-like data: ``{layer name or glob:
    {"class_name": "KernelPattern", "config": {...}} | null}`` (a ``str`` is a path to such a JSON
    file). Structures given as objects pass through unchanged."""
    import json

    from tf_sparse.structures import deserialize_structure

    if isinstance(config, (str, os.PathLike)):
        with open(config) as f:
            config = json.load(f)
    if not isinstance(config, dict) or not config:
        raise ValueError(f"pruning_config: expected a non-empty dict {{layer name: structure}}, got {config!r:.120}")
    return {k: None if v is None else deserialize_structure(v) for k, v in config.items()}


def prune(model, config, images, scale: int, *, admm_steps: int = 300, retrain_steps: int = 300,
          rho: float = 1e-2, rho_factor: float = 1.3, update_every: int = 50, learning_rate: float = 5e-4,
          patch_size: int = 64, batch_size: int = 16, seed: int = 1, verbose=0):
    """Prunes a trained ``model`` to a per-layer ``config`` and fine-tunes it: ADMM for
    ``admm_steps`` (Z/U update every ``update_every`` steps, rho growing by ``rho_factor``), hard
    pruning, then masked retraining for ``retrain_steps``.

    ``config`` is anything ``tfs.sparsify`` takes, or JSON-like data / a JSON file for
    :func:`pruning_config`. A ``KernelPattern`` without a library gets one extracted from the
    trained 3x3 kernels of all the layers it applies to (``tfs.sparsify``), so ADMM projects onto
    a fixed library. Returns the plain model (``tfs.strip``) with exact zeros.
    """
    from tf_sparse.layers import harden, sparsify, strip
    from tf_sparse.training import ADMM

    if isinstance(config, (str, os.PathLike)) or (
        isinstance(config, dict) and any(isinstance(v, dict) for v in config.values())
    ):
        config = pruning_config(config)
    sparse = sparsify(model, config)  # fits one pattern library per structure over all its layers
    if admm_steps:
        train(sparse, images, scale, admm_steps, learning_rate=learning_rate, final_learning_rate=learning_rate,
              patch_size=patch_size, batch_size=batch_size, seed=seed, verbose=verbose,
              callbacks=[ADMM(rho=rho, update_every=update_every, update_unit="step", rho_factor=rho_factor)])
    harden(sparse)
    if retrain_steps:
        train(sparse, images, scale, retrain_steps, learning_rate=learning_rate, final_learning_rate=learning_rate / 50,
              patch_size=patch_size, batch_size=batch_size, seed=seed + 1, verbose=verbose)
    return strip(sparse)


# --------------------------------------------------------------------------------------------
# Metrics (Y of YCbCr)
# --------------------------------------------------------------------------------------------


def rgb_to_y(image) -> np.ndarray:
    """Luma of ITU-R BT.601 YCbCr (as MATLAB's ``rgb2ycbcr``): float64 in [16, 235] for RGB in
    [0, 1] (uint8 input is divided by 255 first)."""
    rgb = to_float(image, "rgb_to_y").astype(np.float64)
    return 16.0 + rgb @ np.array([65.481, 128.553, 24.966])


def _y_pair(reference, output, border, owner):
    ref, out = to_float(reference, owner), to_float(output, owner)
    if ref.shape != out.shape:
        raise ValueError(f"{owner}: `reference` and `output` must have the same shape, got {ref.shape} and {out.shape}")
    border = _check_positive(border, "border", owner, minimum=0)
    h, w = ref.shape[-3], ref.shape[-2]
    if h <= 2 * border or w <= 2 * border:
        raise ValueError(f"{owner}: a border of {border} leaves nothing of a {h}x{w} image")
    sl = (Ellipsis, slice(border, h - border), slice(border, w - border), slice(None))
    # Outputs are compared as the 8-bit images they would be saved as.
    return rgb_to_y(_quantize(ref[sl])), rgb_to_y(_quantize(out[sl]))


def psnr_y(reference, output, border: int = 0) -> float:
    """PSNR in dB on Y (data range 255), ``border`` pixels cropped at each side (use the scale).

    Both images are RGB in [0, 1] (or uint8), rounded to 8 bits first. Identical images give inf.
    """
    ref, out = _y_pair(reference, output, border, "psnr_y")
    mse = float(np.mean((ref - out) ** 2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


def ssim_y(reference, output, border: int = 0) -> float:
    """SSIM on Y (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03, data
    range 255, population statistics), mean over the window positions that lie inside the image
    after cropping ``border`` pixels; the same as ``skimage.metrics.structural_similarity(y_ref,
    y_out, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)``."""
    from scipy.ndimage import gaussian_filter

    ref, out = _y_pair(reference, output, border, "ssim_y")
    if ref.ndim != 2:
        raise ValueError(f"ssim_y: expected one image (H, W, 3), got a batch of shape {ref.shape + (3,)}")
    if min(ref.shape) < 11:
        raise ValueError(f"ssim_y: the image after cropping the border is {ref.shape}, smaller than the 11x11 window")
    blur = lambda a: gaussian_filter(a, sigma=1.5, truncate=3.5, mode="reflect")  # noqa: E731 - 11x11
    mu_x, mu_y = blur(ref), blur(out)
    sxx = blur(ref * ref) - mu_x * mu_x
    syy = blur(out * out) - mu_y * mu_y
    sxy = blur(ref * out) - mu_x * mu_y
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return float(s[5:-5, 5:-5].mean())


# --------------------------------------------------------------------------------------------
# Inference and evaluation
# --------------------------------------------------------------------------------------------


def super_resolve(model, lr) -> np.ndarray:
    """``model`` applied to one low-resolution image ``(h, w, 3)`` (or a batch), clipped to [0, 1].

    ``model`` is a Keras model or a callable taking a float32 batch ``(1, h, w, 3)`` and returning
    ``(1, h * s, w * s, 3)`` (e.g. a function that runs a TFLite interpreter).
    """
    x = to_float(lr, "super_resolve")
    single = x.ndim == 3
    batch = x[None] if single else x
    if isinstance(model, keras.Model):
        y = np.asarray(model.predict_on_batch(batch))
    else:
        y = np.asarray(model(batch))
    y = np.clip(y, 0.0, 1.0).astype(np.float32)
    return y[0] if single else y


def evaluate(model, images, scale: int, border: int | None = None) -> dict:
    """PSNR / SSIM on Y of ``model`` and of bicubic upscaling on high-resolution ``images``.

    Each image is cropped to a multiple of ``scale``, downscaled (:func:`downscale`), super-resolved
    whole and compared with the crop, ``border`` (default ``scale``) pixels cropped at each side.

    Returns:
      ``{"psnr", "ssim", "bicubic_psnr", "bicubic_ssim"}`` (means over images) and
      ``"images"``: one dict of the four per image.
    """
    scale = _check_scale(scale, "evaluate")
    border = scale if border is None else border
    if isinstance(images, dict):
        images = list(images.values())
    if not len(images):
        raise ValueError("evaluate: `images` is empty")
    rows = []
    for im in images:
        hr = crop_to_scale(to_float(im, "evaluate"), scale)
        if hr.ndim != 3:
            raise ValueError(f"evaluate: every image must be (H, W, 3), got {hr.shape}")
        lr = downscale(hr, scale)
        out = super_resolve(model, lr)
        if out.shape != hr.shape:
            raise ValueError(
                f"evaluate: the model turned a {lr.shape} input into {out.shape}; expected {hr.shape} (scale {scale})"
            )
        bic = bicubic_upscale(lr, scale)
        rows.append(
            {
                "psnr": psnr_y(hr, out, border),
                "ssim": ssim_y(hr, out, border),
                "bicubic_psnr": psnr_y(hr, bic, border),
                "bicubic_ssim": ssim_y(hr, bic, border),
            }
        )
    result = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    result["images"] = rows
    return result


def tflite_runner(interpreter):
    """A callable for :func:`super_resolve` / :func:`evaluate` that runs a TFLite interpreter,
    resizing its input to each image's size."""
    from tf_sparse.runtime.interpreter import run

    return lambda batch: run(interpreter, np.asarray(batch, np.float32))


__all__ = [
    "HELD_OUT",
    "PatchBatches",
    "prune",
    "pruning_config",
    "train",
    "PixelShuffle",
    "SCALES",
    "bicubic_upscale",
    "builtin_images",
    "conv_layer_names",
    "crop_to_scale",
    "downscale",
    "evaluate",
    "fixed_size",
    "load_images",
    "macs_per_output_pixel",
    "model_spec",
    "psnr_y",
    "random_patches",
    "rgb_to_y",
    "split_images",
    "sr_model",
    "ssim_y",
    "super_resolve",
    "tflite_runner",
    "to_float",
]
