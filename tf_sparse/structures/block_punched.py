"""Block-punched sparsity (BLK-REW): the same kernel positions pruned across a block of
filters x input channels."""

from __future__ import annotations

import numpy as np

from tf_sparse.structures.base import Structure, register_structure
from tf_sparse.structures.block import _check_block
from tf_sparse.structures.select import num_pruned, prune_lowest


def _punched_view(kernel: np.ndarray, block: tuple):
    """Kernel as ``(BF, f, P, BC, c)``: filter blocks, filters in a block, kernel positions,
    channel blocks, channels in a block; edges zero-padded. Dense kernels have ``P = 1``."""
    f, c = block
    if kernel.ndim == 2:
        kernel = kernel[None, None]
    kh, kw, cin, cout = kernel.shape
    bf, bc = -(-cout // f), -(-cin // c)
    # (cout, kh*kw, cin): the GEMM view with positions and channels split.
    w = np.transpose(kernel, (3, 0, 1, 2)).reshape(cout, kh * kw, cin)
    if bf * f != cout or bc * c != cin:
        padded = np.zeros((bf * f, kh * kw, bc * c), dtype=w.dtype)
        padded[:cout, :, :cin] = w
        w = padded
    return w.reshape(bf, f, kh * kw, bc, c)


@register_structure
class BlockPunched(Structure):
    """Block-punched pruning (BLK-REW's block dimension for convolutions).

    Filters and input channels are cut into blocks of ``block = (filters, channels)``. For each
    block and each kernel position ``(y, x)``, the ``filters x channels`` weights at that position
    form one group: it is kept or pruned as a whole, so all filters of a block share the same
    surviving ``(position, channel)`` entries and SIMD lanes over the filters stay balanced. In the
    GEMM view (input channel fastest) a group is ``filters`` rows x ``channels`` consecutive
    columns, an aligned block when ``channels`` divides the input channels.

    Closed form: groups are scored by their squared L2 norm and the projection keeps the
    ``n - floor(s * n + 0.5)`` largest (the Euclidean projection onto "at most k non-zero
    groups"; the reference library scores a group by the sum over channels of the per-column
    norms instead, which is not a projection). Ties: the group with the lower index in
    ``(filter block, position, channel block)`` order is pruned first. Edge blocks of a shape
    that ``block`` does not divide are partial; the weight sparsity is exact when ``block``
    divides the filters and channels and ``s * n`` is whole.

    A Dense kernel is a 1x1 convolution: a group is then an aligned ``(filters, channels)`` block
    of the GEMM view, i.e. :class:`Block` with the same shape.

    Compact format: BSR with ``(filters, channels)`` blocks.

    Args:
      sparsity: target fraction of pruned groups, in [0, 1).
      block: ``(filters, channels)``, positive integers; default ``(8, 4)``.

    Example:
      >>> k = np.ones((3, 3, 4, 8), np.float32)
      >>> k[1, 1] *= 2.0                   # centre position is the strongest
      >>> p = BlockPunched(8 / 9, block=(8, 4)).project(k)
      >>> int(np.count_nonzero(p[1, 1])), int(np.count_nonzero(p))
      (32, 32)
    """

    def __init__(self, sparsity: float, block=(8, 4)):
        super().__init__(sparsity)
        self.block = _check_block(block, owner="BlockPunched")

    def get_config(self):
        return {"sparsity": self.sparsity, "block": list(self.block)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["block"] = tuple(config.get("block", (8, 4)))
        return cls(**config)

    def _scores(self, kernel):
        return np.square(_punched_view(kernel, self.block)).sum(axis=(1, 4), dtype=np.float64)

    def _keep_kernel(self, kernel, sparsity):
        scores = self._scores(kernel)  # (BF, P, BC)
        keep = ~prune_lowest(scores, num_pruned(scores.size, sparsity))
        return self._expand(keep, kernel.shape)

    def _expand(self, groups: np.ndarray, shape: tuple) -> np.ndarray:
        f, c = self.block
        bf, n_pos, bc = groups.shape
        full = np.broadcast_to(groups[:, None, :, :, None], (bf, f, n_pos, bc, c))
        full = full.reshape(bf * f, n_pos, bc * c)
        if len(shape) == 2:
            cin, cout = shape
            return np.ascontiguousarray(full[:cout, 0, :cin].T)
        kh, kw, cin, cout = shape
        full = full[:cout, :, :cin].reshape(cout, kh, kw, cin)
        return np.ascontiguousarray(np.transpose(full, (1, 2, 3, 0)))

    def _is_valid_kernel(self, kernel, sparsity):
        nonzero = np.any(_punched_view(kernel != 0, self.block), axis=(1, 4))
        return int(np.count_nonzero(nonzero)) <= nonzero.size - num_pruned(nonzero.size, sparsity)

    def group_ids(self, kernel) -> np.ndarray:
        """Group index of every kernel entry, ``(filter block, position, channel block)`` order."""
        kernel = self._check_kernel(kernel)
        f, c = self.block
        if kernel.ndim == 2:
            cin, cout = kernel.shape
            n_pos = 1
        else:
            kh, kw, cin, cout = kernel.shape
            n_pos = kh * kw
        bf, bc = -(-cout // f), -(-cin // c)
        ids = np.arange(bf * n_pos * bc).reshape(bf, n_pos, bc)
        f_idx = np.arange(cout) // f
        c_idx = np.arange(cin) // c
        # ids[(co // f), pos, (ci // c)] laid out as (pos, ci, co)
        g = ids[f_idx[None, None, :], np.arange(n_pos)[:, None, None], c_idx[None, :, None]]
        if kernel.ndim == 2:
            return g[0].copy()
        return g.reshape(kh, kw, cin, cout).copy()
