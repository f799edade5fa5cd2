"""Weight quantization: grids (n-bit uniform, power-of-two, ternary, binary, device levels) that
the ADMM machinery projects onto, and straight-through retraining on the learned levels."""

from tf_sparse.quantization.quantizers import (
    Binary,
    DeviceLevels,
    PowerOfTwo,
    Quantizer,
    Ternary,
    Uniform,
    deserialize_quantizer,
    register_quantizer,
    serialize_quantizer,
)

__all__ = [
    "Binary",
    "DeviceLevels",
    "PowerOfTwo",
    "Quantizer",
    "Ternary",
    "Uniform",
    "deserialize_quantizer",
    "register_quantizer",
    "serialize_quantizer",
]
