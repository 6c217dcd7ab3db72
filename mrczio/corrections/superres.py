"""Super-resolution movies: moving between sub-pixels and physical pixels.

A super-resolution movie splits each physical pixel's counts into ``s x s`` sub-pixels.
Each sub-pixel then carries only part of its physical pixel's excess, and a single 0 at
a few expected counts is common, so outliers are detected on the ``s x s``-binned sums
(where counts are Poisson again) and each flagged physical pixel flags all its
sub-pixels. These helpers bin the detection inputs (time sum, frame-bin sums, frame
series, count scale, forced mask) and map physical flat indices back to sub-pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mrczio.corrections._parallel import for_each_block
from mrczio.corrections.temporal import Bins
from mrczio.errors import CorrectionInputError


def physical_shape(shape: tuple[int, ...], s: int) -> tuple[int, int]:
    """The physical frame shape of sub-pixel frames ``shape``; refuses shapes not
    divisible by ``s`` (:class:`~mrczio.errors.CorrectionInputError`)."""
    ny, nx = int(shape[-2]), int(shape[-1])
    if ny % s or nx % s:
        raise CorrectionInputError(
            f"superres={s}: frame shape {ny} x {nx} is not divisible by {s} "
            "(a super-resolution frame holds whole physical pixels)"
        )
    return ny // s, nx // s


def _blocks(image: np.ndarray, s: int) -> np.ndarray:
    """View of ``image`` (..., ny, nx) as (..., ny/s, s, nx/s, s)."""
    py, px = physical_shape(image.shape, s)
    return image.reshape(*image.shape[:-2], py, s, px, s)


def _wide(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """Accumulator of binned sums: 64-bit integers for integers, float64 otherwise."""
    if dtype.kind == "u":
        return np.dtype(np.uint64)
    return np.dtype(np.int64) if dtype.kind in "ib" else np.dtype(np.float64)


def bin_sum(image: np.ndarray, s: int) -> np.ndarray:
    """Sum over each physical pixel's ``s x s`` sub-pixels (exact for integers)."""
    return np.asarray(_blocks(image, s).sum(axis=(-3, -1), dtype=_wide(image.dtype)))


def bin_mean(scale: np.ndarray | float | None, s: int) -> np.ndarray | float | None:
    """The count scale of a physical pixel: the mean of its sub-pixels' scales."""
    if scale is None or np.ndim(scale) == 0:
        return scale
    return np.asarray(_blocks(np.asarray(scale), s).mean(axis=(-3, -1), dtype=np.float64))


def bin_any(mask: np.ndarray | None, s: int) -> np.ndarray | None:
    """Physical pixels with at least one sub-pixel set in ``mask``."""
    if mask is None:
        return None
    return np.asarray(_blocks(np.asarray(mask, dtype=bool), s).any(axis=(-3, -1)))


def bin_bins(bins: Bins, s: int, *, threads: int | None = None) -> Bins:
    """Frame-bin sums of the physical pixels, float32 in detection units (the dark and
    gain factor of ``bins`` applied per sub-pixel before binning)."""
    ny = bins.sums.shape[1]
    py, px = physical_shape(bins.sums.shape, s)
    out = np.empty((bins.sums.shape[0], py, px), dtype=np.float32)

    def work(r0: int, r1: int) -> None:
        rows = bins.rows(r0 * s, r1 * s)
        out[:, r0:r1] = _blocks(rows, s).sum(axis=(-3, -1), dtype=np.float64)

    for_each_block(work, ny // s, block=16, threads=threads)
    return Bins(out, bins.edges)


def sub_indices(index: np.ndarray, physical: tuple[int, int], s: int) -> np.ndarray:
    """Flat sub-pixel indices (k, s*s) of flat physical pixels ``index`` (k,)."""
    py, px = np.divmod(np.asarray(index, dtype=np.intp), physical[1])
    dy, dx = np.divmod(np.arange(s * s), s)
    y = py[:, None] * s + dy[None, :]
    x = px[:, None] * s + dx[None, :]
    return np.asarray(y * (physical[1] * s) + x)


def bin_series(
    series: Callable[[np.ndarray], np.ndarray], physical: tuple[int, int], s: int
) -> Callable[[np.ndarray], np.ndarray]:
    """``series`` of sub-pixels turned into the (frames, k) series of physical pixels."""

    def binned(index: np.ndarray) -> np.ndarray:
        sub = sub_indices(index, physical, s)
        values = np.asarray(series(sub.ravel()), dtype=np.float64)
        return np.asarray(values.reshape(values.shape[0], index.size, s * s).sum(axis=2))

    return binned


def expand(index: np.ndarray, physical: tuple[int, int], s: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted flat sub-pixel indices of physical pixels ``index`` and, for each, the
    position in ``index`` it came from (to repeat per-pixel values)."""
    sub = sub_indices(index, physical, s).ravel()
    origin = np.repeat(np.arange(np.asarray(index).size), s * s)
    order = np.argsort(sub, kind="stable")
    return sub[order], origin[order]
