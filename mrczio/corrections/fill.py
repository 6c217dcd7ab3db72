"""Fill values for outlier pixels (step 5 of McLeod et al. 2017, section 4).

Fill values come from the time-mean image and are computed only at candidate pixels by
gathering their neighbours from the mean image and the hard outlier mask, so neither a
full-image convolution nor a padded copy is needed. A *singleton* (no hard outlier within ``radius``)
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


def _window_offsets(radius: int) -> tuple[np.ndarray, np.ndarray]:
    dy, dx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    keep = (dy != 0) | (dx != 0)
    return dy[keep], dx[keep]


def _gather(
    cand: np.ndarray, dy: np.ndarray, dx: np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices of the taps ``cand + (dy, dx)`` (0 outside) and whether inside.

    Candidates at least ``max |d|`` from every edge take one add; only the few near an
    edge have their taps checked against the image bounds.
    """
    ny, nx = shape
    reach = int(max(np.abs(dy).max(initial=0), np.abs(dx).max(initial=0)))
    nb = cand[:, None] + (dy * nx + dx)[None, :]
    inside = np.ones(nb.shape, dtype=bool)
    y, x = np.divmod(cand, nx)
    edge = np.flatnonzero((y < reach) | (y >= ny - reach) | (x < reach) | (x >= nx - reach))
    if edge.size:
        yy = y[edge, None] + dy[None, :]
        xx = x[edge, None] + dx[None, :]
        ok = (yy >= 0) & (yy < ny) & (xx >= 0) & (xx < nx)
        inside[edge] = ok
        nb[edge] = np.where(ok, yy * nx + xx, 0)
    return nb, inside


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
    """Fill values at flat ``candidates`` of ``mean_image`` given the hard ``outlier_mask``.

    Only the candidates' neighbourhoods are read (taps outside the image are invalid).
    """
    shape = mean_image.shape
    mean = mean_image.ravel()
    outl = outlier_mask.ravel()
    wy, wx = _window_offsets(radius)
    ky, kx, kw = kernel_taps(kernel)
    kw = kw.astype(np.float32)
    cand = np.asarray(candidates, dtype=np.intp)
    fill = np.empty(cand.size, dtype=np.float32)
    neighbourly = np.empty(cand.size, dtype=bool)
    for c0 in range(0, cand.size, CHUNK):
        part = cand[c0 : c0 + CHUNK]
        nb, valid = _gather(part, wy, wx, shape)
        bad = outl[nb] & valid
        near = bad.any(axis=1)
        good = valid & ~bad
        n_good = good.sum(axis=1)
        vals = np.where(valid, mean[nb], np.float32(0)).astype(np.float32, copy=False)
        with np.errstate(invalid="ignore", divide="ignore"):
            nb_fill = np.where(good, vals, 0).sum(axis=1) / n_good
        nb_fill = np.where(n_good >= min_good, nb_fill, fallback)
        taps, tvalid = _gather(part, ky, kx, shape)
        tw = tvalid * kw
        tvals = np.where(tvalid, mean[taps], np.float32(0)).astype(np.float32, copy=False)
        with np.errstate(invalid="ignore", divide="ignore"):
            single = (tvals * tw).sum(axis=1) / tw.sum(axis=1)
        single = np.where(np.isfinite(single), single, fallback)
        fill[c0 : c0 + CHUNK] = np.where(near, nb_fill, single)
        neighbourly[c0 : c0 + CHUNK] = near
    return FillResult(fill, neighbourly)
