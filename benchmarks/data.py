"""Benchmark data: seeded Poisson counting stacks, the real uint16 frame, entropy bounds."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

#: The paper's doses (e-/pixel/frame) and the Gatan K2 frame size (ny, nx).
PAPER_DOSES = (0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 4.0)
K2_SHAPE = (3838, 3710)
REAL_FRAME = "/work/shared/data/fei-extended.mrc"


def poisson_stack(n_frames: int, shape: tuple[int, int], dose: float, seed: int = 0) -> np.ndarray:
    """``n_frames`` uint8 Poisson frames of mean ``dose``, drawn row block by row block.

    Drawing in blocks keeps numpy's int64 intermediate small (a K2 frame drawn at once
    needs 114 MB of int64).
    """
    rng = np.random.default_rng(seed)
    stack = np.empty((n_frames, *shape), dtype=np.uint8)
    for frame in stack:
        fill_poisson(frame, dose, rng)
    return stack


def fill_poisson(frame: np.ndarray, dose: float, rng: np.random.Generator, rows: int = 32) -> None:
    """Fill a uint8 frame with Poisson counts in place."""
    for top in range(0, frame.shape[0], rows):
        block = frame[top : top + rows]
        block[...] = np.minimum(rng.poisson(dose, size=block.shape), 255)


def poisson_frames(n_frames: int, shape: tuple[int, int], dose: float, seed: int = 0) -> Iterator[np.ndarray]:
    """Yield fresh uint8 Poisson frames one by one (for streaming-memory measurements)."""
    rng = np.random.default_rng(seed)
    for _ in range(n_frames):
        frame = np.empty(shape, dtype=np.uint8)
        fill_poisson(frame, dose, rng)
        yield frame


def real_frame(shape: tuple[int, int] | None = None) -> np.ndarray | None:
    """The real 3838 x 3710 uint16 integrating-mode frame (cropped to ``shape``), or None."""
    if not os.path.exists(REAL_FRAME):
        return None
    import mrczio

    frame = mrczio.imread(REAL_FRAME)
    frame = frame.reshape(frame.shape[-2:])
    if shape is not None:
        frame = frame[: shape[0], : shape[1]]
    return np.ascontiguousarray(frame)


def entropy_bytes(data: np.ndarray) -> float:
    """Order-0 Shannon entropy of the values in ``data``, in bytes: the smallest size any
    coder reaches for i.i.d. pixels (the physical limit for Poisson counts)."""
    flat = data.reshape(-1)
    if flat.dtype.itemsize <= 2 and flat.dtype.kind in "iu":
        offset = -int(flat.min()) if flat.dtype.kind == "i" else 0
        counts = np.bincount(flat.astype(np.int64) + offset if offset else flat)
    else:
        counts = np.unique(flat, return_counts=True)[1]
    p = counts[counts > 0] / flat.size
    return float(-(p * np.log2(p)).sum() * flat.size / 8)
