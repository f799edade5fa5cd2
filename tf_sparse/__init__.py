"""tf_sparse: prune Keras models into hardware-friendly sparse structures and run them fast.

    import tf_sparse as tfs

    sparse = tfs.sparsify(model, tfs.Block(0.9, block=(1, 4)),
                          schedule=tfs.PolynomialDecay(0.0, 0.9, begin_step=0, end_step=1000))
    sparse.compile(...)
    sparse.fit(x, y, callbacks=[tfs.UpdateMasks()])
    # or quantize too: tfs.sparsify(model, tfs.Unstructured(0.9), quantize=tfs.Uniform(4)),
    # tfs.ADMM during fit, then tfs.harden and a short retraining on the levels
    tfs.export_tflite(tfs.strip(sparse), "model.tflite")
    # filter pruning that removes the filters: tfs.prune_filter_groups(model, 0.5); tfs.shrink(model)
    interpreter = Interpreter("model.tflite", experimental_delegates=[tfs.load_delegate()])

Importing tf_sparse never imports ``tensorflow_model_optimization`` (which would switch the whole
process to legacy Keras).
"""

from tf_sparse.export import export_tflite
from tf_sparse.notices import LeftDenseWarning, UnprunedWarning, get_verbosity, set_verbosity
from tf_sparse.layers import (
    SparseConv1D,
    SparseConv2D,
    SparseDense,
    SparseDepthwiseConv2D,
    SparseConv2DTranspose,
    SparseEinsumDense,
    SparseEmbedding,
    SparseGRU,
    SparseKernel,
    LayerSpec,
    SparseLSTM,
    SparseSeparableConv2D,
    SparseSimpleRNN,
    harden,
    layer_paths,
    fastest,
    prune_filter_groups,
    select,
    ShrinkGroup,
    ShrinkReport,
    shrink,
    shrink_groups,
    shrink_report,
    quantize,
    sparse_layers,
    sparsify,
    strip,
)
from tf_sparse.runtime import (
    delegate_calibration,
    delegate_isa,
    delegate_path,
    delegate_report,
    delegate_stats,
    delegate_vs_xnnpack,
    load_delegate,
    make_interpreter,
    median_latency_us,
)
from tf_sparse import formats
from tf_sparse import robust
from tf_sparse.robust import (
    AdversarialTrainer,
    MinMaxResult,
    Threat,
    apgda,
    ensemble_attack,
    plot_domain_weights,
    transformation_attack,
    universal_perturbation,
)
from tf_sparse.quantization import Binary, DeviceLevels, PowerOfTwo, Quantizer, Ternary, Uniform
from tf_sparse.quantization import memristor
from tf_sparse.structures import (
    NM,
    Block,
    BlockPunched,
    Channel,
    Column,
    Crossbar,
    Filter,
    GatherScatter,
    KernelPattern,
    Structure,
    Unstructured,
    kernel_sparsity,
)
from tf_sparse.training import (
    ADMM,
    ConstantSparsity,
    DynamicRegularization,
    PolynomialDecay,
    PruningSchedule,
    PruningSummaries,
    ReweightedGroupLasso,
    UpdateMasks,
    progressive_admm,
)

__version__ = "0.1.0"

__all__ = [
    "AdversarialTrainer",
    "MinMaxResult",
    "Threat",
    "apgda",
    "ensemble_attack",
    "plot_domain_weights",
    "robust",
    "transformation_attack",
    "universal_perturbation",
    "ADMM",
    "Binary",
    "DeviceLevels",
    "PowerOfTwo",
    "Quantizer",
    "Ternary",
    "Uniform",
    "quantize",
    "memristor",
    "PruningSummaries",
    "DynamicRegularization",
    "ReweightedGroupLasso",
    "progressive_admm",
    "Block",
    "BlockPunched",
    "Channel",
    "Column",
    "Crossbar",
    "Filter",
    "GatherScatter",
    "KernelPattern",
    "NM",
    "Unstructured",
    "formats",
    "ConstantSparsity",
    "PolynomialDecay",
    "PruningSchedule",
    "SparseConv1D",
    "SparseConv2D",
    "SparseDense",
    "SparseDepthwiseConv2D",
    "SparseConv2DTranspose",
    "SparseEinsumDense",
    "SparseEmbedding",
    "SparseGRU",
    "SparseKernel",
    "SparseLSTM",
    "SparseSeparableConv2D",
    "SparseSimpleRNN",
    "layer_paths",
    "Structure",
    "UpdateMasks",
    "delegate_calibration",
    "delegate_isa",
    "delegate_path",
    "delegate_report",
    "delegate_stats",
    "delegate_vs_xnnpack",
    "median_latency_us",
    "export_tflite",
    "fastest",
    "get_verbosity",
    "LayerSpec",
    "LeftDenseWarning",
    "select",
    "set_verbosity",
    "UnprunedWarning",
    "harden",
    "prune_filter_groups",
    "ShrinkGroup",
    "ShrinkReport",
    "shrink",
    "shrink_groups",
    "shrink_report",
    "kernel_sparsity",
    "load_delegate",
    "make_interpreter",
    "sparse_layers",
    "sparsify",
    "strip",
]
