"""Fused float conversion and sparse blend: out = w*x + (1 - w)*fill at candidates.

The stack is converted to float32 once, in row blocks on a thread pool, and the few
candidate columns of each block are blended while the block is still in cache.
"""

from __future__ import annotations

import numpy as np

from mrczio.corrections._parallel import for_each_block
from mrczio.errors import CorrectionInputError


def _frames_2d(a: np.ndarray) -> np.ndarray:
    return a.reshape(a.shape[0], -1)


def blend(
    stack: np.ndarray,
    candidates: np.ndarray,
    weights: np.ndarray,
    fill: np.ndarray,
    *,
    out: np.ndarray | None = None,
    threads: int | None = None,
    block: int = 16,
) -> np.ndarray:
    """Return float32 ``stack`` with every frame blended at sorted flat ``candidates``.

    ``out`` (float32, same shape) is reused when given and may be ``stack`` itself.
    """
    if stack.ndim != 3:
        raise CorrectionInputError(f"expected a (frames, ny, nx) stack, got shape {stack.shape}")
    _n, ny, nx = stack.shape
    if out is not None and not isinstance(out, np.ndarray):
        raise CorrectionInputError(f"out must be a float32 numpy array, not {type(out).__name__}")
    if out is None:
        out = np.empty(stack.shape, dtype=np.float32)
    elif out.shape != stack.shape or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise CorrectionInputError("out must be a C-contiguous float32 array of the stack's shape")
    src = np.ascontiguousarray(stack)
    src2, out2 = _frames_2d(src), _frames_2d(out)
    cand = np.asarray(candidates, dtype=np.intp)
    w = np.asarray(weights, dtype=np.float32)
    keep = (1.0 - w) * np.asarray(fill, dtype=np.float32)
    same = np.shares_memory(src, out)

    def work(r0: int, r1: int) -> None:
        if not same:
            np.copyto(out[:, r0:r1], src[:, r0:r1], casting="unsafe")
        a, b = np.searchsorted(cand, (r0 * nx, r1 * nx))
        if b > a:
            cols = cand[a:b]
            out2[:, cols] = src2[:, cols] * w[a:b] + keep[a:b]

    for_each_block(work, ny, block=block, threads=threads)
    return out
