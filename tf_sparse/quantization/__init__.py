"""Weight quantization: grids (n-bit uniform, power-of-two, ternary, binary, device levels) that
the ADMM machinery projects onto, and straight-through retraining on the learned levels; the
mapping of quantized, pruned layers onto memristor crossbars and their device variation."""

from tf_sparse.quantization.memristor import (
    Device,
    MappingReport,
    MonteCarloResult,
    NoiseAwareTraining,
    map_model,
    monte_carlo,
    program,
)
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
    "Device",
    "DeviceLevels",
    "MappingReport",
    "MonteCarloResult",
    "NoiseAwareTraining",
    "PowerOfTwo",
    "Quantizer",
    "Ternary",
    "Uniform",
    "deserialize_quantizer",
    "map_model",
    "monte_carlo",
    "program",
    "register_quantizer",
    "serialize_quantizer",
]
