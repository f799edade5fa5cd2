"""The structure interface and the GEMM view of layer kernels.

A *structure* is the single object that knows a sparsity pattern. Training projects weights onto
it, the validity check uses it, and the runtime packs weights in the format it names. Structures
work on plain NumPy arrays and know nothing of Keras layers.

GEMM view
---------
Every method works on a 2-D matrix ``W2`` of shape ``(rows, cols)`` where rows are output units
(filters) and cols are the reduction dimension:

* Dense kernel, Keras layout ``(in, out)``: ``W2 = kernel.T`` (``out x in``). This is also the
  layout of TFLite's FULLY_CONNECTED weights ``[out, in]``.
* Conv2D kernel, Keras layout ``(kh, kw, in, out)``: ``W2 = transpose(kernel, (3, 0, 1, 2))``
  reshaped to ``(out, kh * kw * in)``, input channel fastest. This is TFLite's CONV_2D weight
  layout ``[out, kh, kw, in]`` flattened.

``to_gemm`` and ``from_gemm`` convert both ways; the inverse restores the Keras layout exactly.
"""

from __future__ import annotations

import numbers

import numpy as np

_REGISTRY: dict[str, type] = {}


def register_structure(cls):
    """Class decorator: makes a structure reachable from its config's ``class_name``."""
    _REGISTRY[cls.__name__] = cls
    return cls


def to_gemm(kernel: np.ndarray) -> np.ndarray:
    """Returns the GEMM view (rows = outputs, cols = reduction) of a Keras kernel."""
    kernel = np.asarray(kernel)
    if kernel.ndim == 2:
        return kernel.T
    if kernel.ndim == 4:
        kh, kw, cin, cout = kernel.shape
        return np.transpose(kernel, (3, 0, 1, 2)).reshape(cout, kh * kw * cin)
    raise ValueError(
        f"kernel: expected a Dense kernel (in, out) or a Conv2D kernel (kh, kw, in, out), "
        f"got shape {kernel.shape}"
    )


def from_gemm(w2: np.ndarray, shape: tuple) -> np.ndarray:
    """Inverse of :func:`to_gemm` for a kernel of the given Keras shape."""
    shape = tuple(shape)
    if len(shape) == 2:
        return np.ascontiguousarray(w2.T)
    if len(shape) == 4:
        kh, kw, cin, cout = shape
        return np.ascontiguousarray(np.transpose(w2.reshape(cout, kh, kw, cin), (1, 2, 3, 0)))
    raise ValueError(f"shape: expected rank 2 or 4, got {shape}")


def check_sparsity(value, name: str = "sparsity", owner: str = "structure") -> float:
    """Validates a sparsity target in [0, 1) and returns it as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: `{name}` must be a number in [0, 1), got {value!r}")
    value = float(value)
    if not (0.0 <= value < 1.0) or not np.isfinite(value):
        raise ValueError(f"{owner}: `{name}` must be in [0, 1), got {value!r}")
    return value


def check_finite(kernel: np.ndarray, owner: str, what: str = "kernel") -> np.ndarray:
    """Raises ValueError when ``kernel`` holds NaN or Inf values, saying how many and where.

    Every projection, mask and validity check goes through here: a NaN has no magnitude, so a
    top-k rule would keep or drop it arbitrarily and return weights that fail their own check.
    """
    finite = np.isfinite(kernel)
    if finite.all():
        return kernel
    bad = ~finite
    n_nan = int(np.count_nonzero(np.isnan(kernel)))
    n_inf = int(np.count_nonzero(bad)) - n_nan
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    raise ValueError(
        f"{owner}: `{what}` of shape {tuple(kernel.shape)} contains NaN/Inf weights ({n_nan} NaN, "
        f"{n_inf} Inf; first at index {first}); weights must be finite (NaN/Inf weights usually mean "
        f"training diverged: lower the learning rate or clip gradients)"
    )


def kernel_sparsity(kernel) -> float:
    """Fraction of exactly-zero entries of ``kernel`` (an array or tensor of numbers)."""
    kernel = np.asarray(kernel)
    if not (np.issubdtype(kernel.dtype, np.number) or kernel.dtype == bool):
        raise TypeError(f"kernel_sparsity: `kernel` must be an array of numbers, got dtype {kernel.dtype}")
    return float(np.count_nonzero(kernel == 0)) / max(1, kernel.size)


class Structure:
    """Base class of every sparsity structure.

    Subclasses implement ``_keep_gemm(w2, sparsity) -> bool mask`` on the GEMM view (optionally
    ``_project_gemm``) and ``_is_valid_gemm(w2, sparsity) -> bool``, or the kernel-level hooks
    ``_keep_kernel`` / ``_project_kernel`` / ``_is_valid_kernel`` when they need the kernel's own
    shape, and list their constructor arguments in ``get_config``.

    Args:
      sparsity: target fraction of zero weights, in [0, 1).
    """

    #: Layer kernel ranks the structure accepts: 2 (Dense) and/or 4 (Conv2D).
    kernel_ranks: tuple = (2, 4)

    def __init__(self, sparsity: float):
        self.sparsity = check_sparsity(sparsity, owner=type(self).__name__)

    # --- public interface -------------------------------------------------------------------
    def project(self, kernel, sparsity=None) -> np.ndarray:
        """Projects ``kernel`` (Keras layout) onto the structure at ``sparsity``.

        Returns an array of the kernel's shape and dtype whose pruned entries are exactly zero.
        ``sparsity=None`` means the structure's own target.
        """
        kernel = self._check_values(kernel)
        s = self._resolve_sparsity(sparsity)
        return self._project_kernel(kernel, s).astype(kernel.dtype, copy=False)

    def mask(self, kernel, sparsity=None) -> np.ndarray:
        """0/1 mask (kernel's shape and dtype) of the entries that the projection keeps."""
        kernel = self._check_values(kernel)
        s = self._resolve_sparsity(sparsity)
        return self._keep_kernel(kernel, s).astype(kernel.dtype, copy=False)

    def is_valid(self, kernel, sparsity=None) -> bool:
        """True when ``kernel`` satisfies the structure (at most the allowed nonzero groups)."""
        kernel = self._check_values(kernel)
        s = self._resolve_sparsity(sparsity)
        return bool(self._is_valid_kernel(kernel, s))

    def achieved_sparsity(self, kernel, sparsity=None) -> float:
        """Fraction of the kernel's entries that the mask at ``sparsity`` prunes.

        Equals the requested sparsity where the structure allows it exactly; otherwise it is the
        value the structure reaches (group counts rounded, packs or patterns fixing the density).
        """
        m = self.mask(kernel, sparsity)
        return 1.0 - float(np.count_nonzero(m)) / max(1, m.size)

    def get_config(self) -> dict:
        return {"sparsity": self.sparsity}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self).__name__, repr(sorted(self.get_config().items()))))

    # --- for subclasses ---------------------------------------------------------------------
    def _resolve_sparsity(self, sparsity) -> float:
        if sparsity is None:
            return self.sparsity
        return check_sparsity(sparsity, owner=type(self).__name__)

    # Kernel-level hooks (Keras layout). By default they go through the GEMM view; structures
    # that need the kernel's own shape (input channels, 3x3 positions) override them.
    def _project_kernel(self, kernel: np.ndarray, sparsity: float) -> np.ndarray:
        if type(self)._project_gemm is not Structure._project_gemm:
            return from_gemm(self._project_gemm(to_gemm(kernel), sparsity), kernel.shape)
        return kernel * self._keep_kernel(kernel, sparsity)

    def _keep_kernel(self, kernel: np.ndarray, sparsity: float) -> np.ndarray:
        return from_gemm(self._keep_gemm(to_gemm(kernel), sparsity), kernel.shape)

    def _is_valid_kernel(self, kernel: np.ndarray, sparsity: float) -> bool:
        return self._is_valid_gemm(to_gemm(kernel), sparsity)

    # GEMM-view hooks.
    def _project_gemm(self, w2: np.ndarray, sparsity: float) -> np.ndarray:
        return w2 * self._keep_gemm(w2, sparsity)

    def _keep_gemm(self, w2: np.ndarray, sparsity: float) -> np.ndarray:
        raise NotImplementedError(
            f"{type(self).__name__}: Structure is the abstract base class; use a concrete structure "
            f"(tfs.Block, tfs.NM, tfs.Unstructured, ...) or implement _keep_gemm"
        )

    def _is_valid_gemm(self, w2: np.ndarray, sparsity: float) -> bool:
        raise NotImplementedError(
            f"{type(self).__name__}: Structure is the abstract base class; use a concrete structure "
            f"(tfs.Block, tfs.NM, tfs.Unstructured, ...) or implement _is_valid_gemm"
        )

    def _check_values(self, kernel) -> np.ndarray:
        """``_check_kernel`` (shape, dtype) plus finite values: the entry of every method that
        reads the weights' values."""
        return check_finite(self._check_kernel(kernel), repr(self))

    def _check_kernel(self, kernel) -> np.ndarray:
        try:
            kernel = np.asarray(kernel)
        except (TypeError, ValueError) as err:  # ragged nested lists, unconvertible objects
            raise TypeError(
                f"{type(self).__name__}: `kernel` must be an array of floats, got {type(kernel).__name__}: {err}"
            ) from None
        if kernel.ndim not in self.kernel_ranks:
            kinds = {2: "Dense (in, out)", 4: "Conv2D (kh, kw, in, out)"}
            allowed = " or ".join(kinds[r] for r in self.kernel_ranks)
            raise ValueError(
                f"{type(self).__name__}: `kernel` of shape {kernel.shape} is not accepted; "
                f"allowed kernels: {allowed}"
            )
        if not np.issubdtype(kernel.dtype, np.floating):
            raise TypeError(f"{type(self).__name__}: `kernel` must be floating point, got dtype {kernel.dtype}")
        return kernel


def serialize_structure(structure: Structure) -> dict:
    return {"class_name": type(structure).__name__, "config": structure.get_config()}


def deserialize_structure(config) -> Structure:
    if isinstance(config, Structure):
        return config
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"structure: expected a Structure or its serialized dict, got {config!r}")
    name = config["class_name"]
    if name not in _REGISTRY:
        raise ValueError(f"structure: unknown class_name {name!r}; known: {sorted(_REGISTRY)}")
    return _REGISTRY[name].from_config(dict(config.get("config", {})))
