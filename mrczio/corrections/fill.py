"""Fill values for outlier pixels (step 5 of McLeod et al. 2017, section 4).

Fill values come from the time-mean image and are computed only at candidate pixels by
gathering neighbours from padded copies of the mean image and the hard outlier mask, so
no full-image convolution is needed. A *singleton* (no hard outlier within ``radius``)
gets the PSF-weighted mean of its neighbours; a *neighbourly* pixel gets the mean of the
valid non-outlier pixels of its (2*radius+1)^2 window, or ``fallback`` when fewer than
``min_good`` are left.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mrczio.corrections.kernels import kernel_taps

CHUNK = 1 << 18


@dataclass(frozen=True)
class FillResult:
    """Fill value and neighbourliness for each candidate pixel."""

    fill: np.ndarray
    neighbourly: np.ndarray


def _padded_flat(image: np.ndarray, pad: int, value: float | bool) -> np.ndarray:
    return np.pad(image, pad, mode="constant", constant_values=value).ravel()


def _window_offsets(radius: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dy, dx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    keep = (dy != 0) | (dx != 0)
    dy, dx = dy[keep], dx[keep]
    return dy, dx, dy * width + dx


def fill_values(
    mean_image: np.ndarray,
    candidates: np.ndarray,
    outlier_mask: np.ndarray,
    kernel: np.ndarray,
    *,
    radius: int = 2,
    min_good: int = 3,
    fallback: float = 0.0,
) -> FillResult:
    """Fill values at flat ``candidates`` of ``mean_image`` given the hard ``outlier_mask``."""
    ny, nx = mean_image.shape
    kr = kernel.shape[0] // 2
    pad = max(radius, kr)
    width = nx + 2 * pad
    mean_p = _padded_flat(mean_image.astype(np.float32, copy=False), pad, 0.0)
    valid_p = _padded_flat(np.ones((ny, nx), dtype=bool), pad, False)
    out_p = _padded_flat(outlier_mask, pad, False)
    _, _, win = _window_offsets(radius, width)
    ky, kx, kw = kernel_taps(kernel)
    ktaps = ky * width + kx
    kw = kw.astype(np.float32)

    cand = np.asarray(candidates, dtype=np.intp)
    centre = (cand // nx + pad) * width + (cand % nx + pad)
    fill = np.empty(cand.size, dtype=np.float32)
    neighbourly = np.empty(cand.size, dtype=bool)
    for c0 in range(0, cand.size, CHUNK):
        pc = centre[c0 : c0 + CHUNK, None]
        nb = pc + win
        bad = out_p[nb]
        near = bad.any(axis=1)
        good = valid_p[nb] & ~bad
        n_good = good.sum(axis=1)
        vals = mean_p[nb]
        with np.errstate(invalid="ignore", divide="ignore"):
            nb_fill = np.where(good, vals, 0).sum(axis=1) / n_good
        nb_fill = np.where(n_good >= min_good, nb_fill, fallback)
        taps = pc + ktaps
        tw = valid_p[taps] * kw
        with np.errstate(invalid="ignore", divide="ignore"):
            single = (mean_p[taps] * tw).sum(axis=1) / tw.sum(axis=1)
        single = np.where(np.isfinite(single), single, fallback)
        fill[c0 : c0 + CHUNK] = np.where(near, nb_fill, single)
        neighbourly[c0 : c0 + CHUNK] = near
    return FillResult(fill, neighbourly)
