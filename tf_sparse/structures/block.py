"""Block sparsity: whole (r x c) blocks of the GEMM view are kept or pruned."""

from __future__ import annotations

import numbers

import numpy as np

from tf_sparse.structures.base import Structure, from_gemm, register_structure, to_gemm
from tf_sparse.structures.select import prune_lowest


def _check_block(block, owner="Block"):
    if (
        not isinstance(block, (tuple, list))
        or len(block) != 2
        or not all(isinstance(b, numbers.Integral) and not isinstance(b, bool) for b in block)
        or min(block) < 1
    ):
        raise ValueError(
            f"{owner}: `block` must be a pair of positive integers (rows, cols) of the GEMM view "
            f"(rows = output units, cols = inputs), got {block!r}"
        )
    return (int(block[0]), int(block[1]))


def block_norms(w2: np.ndarray, block: tuple) -> np.ndarray:
    """Squared L2 norm of every (r x c) block; edge blocks are partial (zero-padded)."""
    r, c = block
    rows, cols = w2.shape
    br, bc = -(-rows // r), -(-cols // c)
    if (rows, cols) != (br * r, bc * c):
        padded = np.zeros((br * r, bc * c), dtype=w2.dtype)
        padded[:rows, :cols] = w2
        w2 = padded
    # Squares in the kernel's precision, sums in float64: deterministic and cheap.
    sq = np.square(w2)
    return sq.reshape(br, r, bc, c).sum(axis=(1, 3), dtype=np.float64)


def expand_blocks(keep_blocks: np.ndarray, block: tuple, shape: tuple) -> np.ndarray:
    r, c = block
    full = np.repeat(np.repeat(keep_blocks, r, axis=0), c, axis=1)
    return full[: shape[0], : shape[1]]


@register_structure
class Block(Structure):
    """Block sparsity with (r x c) blocks on the GEMM view (rows = outputs, cols = inputs).

    The projection keeps the ``n - round(sparsity * n)`` blocks of largest L2 norm (``n`` blocks in
    all; edge blocks of a shape that ``block`` does not divide are partial) and zeroes the rest:
    the Euclidean projection onto "at most k nonzero blocks". Ties break deterministically: among
    equal norms the block with the lower (row-major) index is pruned first. When ``block``
    divides the shape, the weight sparsity equals the block sparsity exactly.

    ``block=(1, 4)`` is the shape of TFLite's sparse FULLY_CONNECTED kernel (one output row, four
    consecutive inputs).

    Args:
      sparsity: target fraction of pruned blocks, in [0, 1).
      block: (rows, cols) of a block in the GEMM view.

    Example:
      >>> s = Block(0.5, block=(1, 2))
      >>> s.project(np.array([[1.0, 0.1], [2.0, 0.2]]).T).T.tolist()
      [[0.0, 0.0], [2.0, 0.2]]
    """

    def __init__(self, sparsity: float, block=(1, 4)):
        super().__init__(sparsity)
        self.block = _check_block(block)

    def get_config(self):
        return {"sparsity": self.sparsity, "block": list(self.block)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["block"] = tuple(config.get("block", (1, 4)))
        return cls(**config)

    def num_pruned_blocks(self, n_blocks: int, sparsity: float) -> int:
        return int(np.floor(sparsity * n_blocks + 0.5))

    def _keep_gemm(self, w2, sparsity):
        norms = block_norms(w2, self.block)
        flat = norms.ravel()
        n_prune = self.num_pruned_blocks(flat.size, sparsity)
        keep = ~prune_lowest(flat, n_prune)  # ties: the lower block index is pruned first
        return expand_blocks(keep.reshape(norms.shape), self.block, w2.shape)

    def group_ids(self, kernel) -> np.ndarray:
        """Block index (row-major over the GEMM view's block grid) of every kernel entry."""
        kernel = self._check_kernel(kernel)
        rows, cols = to_gemm(kernel).shape
        r, c = self.block
        bc = -(-cols // c)
        ids = (np.arange(rows)[:, None] // r) * bc + (np.arange(cols)[None, :] // c)
        return from_gemm(ids, kernel.shape)

    def _is_valid_gemm(self, w2, sparsity):
        norms = block_norms(w2, self.block)
        allowed = norms.size - self.num_pruned_blocks(norms.size, sparsity)
        return int(np.count_nonzero(norms)) <= allowed
