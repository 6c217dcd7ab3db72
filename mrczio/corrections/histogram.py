"""Time sums and cumulative histograms of them (steps 1 of McLeod et al. 2017, section 4).

Integer stacks are summed in an integer accumulator and histogrammed with ``bincount``
over the exact sum values, so later stages can use lookup tables indexed by sum value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from mrczio.corrections import checks
from mrczio.corrections._parallel import for_each_block

Transform = Literal["none", "anscombe"]

#: Pixels per chunk of the float histogram.
CHUNK = 1 << 18

#: About this many pixels (an even subsample) set the robust start of the float CDF.
SAMPLE = 1 << 18

#: Scale between the interquartile range and sigma for a normal distribution.
IQR_TO_SIGMA = 1.0 / 1.3489795003921634


def sum_dtype(dtype: np.dtype, n_frames: int) -> np.dtype:
    """The narrowest safe accumulator for summing ``n_frames`` frames of ``dtype``."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        dtype = np.dtype(np.uint8)
    if dtype.kind == "u":
        top = int(np.iinfo(dtype).max) * max(n_frames, 1)
        for acc in (np.uint16, np.uint32, np.uint64):
            if top <= np.iinfo(acc).max:
                return np.dtype(acc)
    if dtype.kind == "i":
        info = np.iinfo(dtype)
        top = max(abs(int(info.min)), int(info.max)) * max(n_frames, 1)
        return np.dtype(np.int32 if top <= np.iinfo(np.int32).max else np.int64)
    return np.dtype(np.float64)


def time_sum(stack: np.ndarray, *, threads: int | None = None, block: int = 64) -> np.ndarray:
    """Sum a (frames, ny, nx) stack over time; integer input gives an integer sum."""
    stack = checks.as_frames(stack)
    acc = sum_dtype(stack.dtype, stack.shape[0])
    out = np.empty(stack.shape[1:], dtype=acc)

    def work(r0: int, r1: int) -> None:
        np.sum(stack[:, r0:r1], axis=0, dtype=acc, out=out[r0:r1])

    for_each_block(work, stack.shape[1], block=block, threads=threads)
    return out


def forward(values: np.ndarray | float, transform: Transform) -> np.ndarray:
    """Map sum values into the space where the normal model is fitted."""
    if transform == "anscombe":
        return np.asarray(2.0 * np.sqrt(np.maximum(values, 0) + 0.375))
    return np.asarray(values)


def inverse(values: np.ndarray | float, transform: Transform) -> np.ndarray | float:
    """Map fitted-space values back to sum values (the algebraic inverse of :func:`forward`)."""
    if transform == "anscombe":
        return (np.asarray(values) / 2.0) ** 2 - 0.375
    return values


@dataclass(frozen=True)
class CdfPoints:
    """The experimental CDF sampled at ``positions`` (in fitted space).

    ``start`` is the fit's initial (mu, sigma); ``poisson_sigma`` is the Poisson
    expectation of sigma in fitted space (1 after Anscombe, sqrt(mean) otherwise).
    """

    positions: np.ndarray
    cdf: np.ndarray
    start: tuple[float, float]
    poisson_sigma: float
    mean: float


def integer_counts(total: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(values, counts)`` of an integer image via ``bincount`` (negative values allowed)."""
    flat = total.ravel()
    low = int(flat.min()) if flat.size else 0
    if flat.size and int(flat.max()) - low > 4 * flat.size + (1 << 20):
        values, counts = np.unique(flat, return_counts=True)
        return values.astype(np.float64), counts
    if low < 0:
        counts = np.bincount((flat - low).astype(np.intp))
    else:
        low = 0
        counts = np.bincount(flat)
    return np.arange(counts.size, dtype=np.float64) + low, counts


def _quantiles(positions: np.ndarray, cdf: np.ndarray, probs: tuple[float, ...]) -> np.ndarray:
    keep = np.concatenate(([True], np.diff(cdf) > 0))
    return np.asarray(np.interp(probs, cdf[keep], positions[keep]))


def _robust_start(positions: np.ndarray, cdf: np.ndarray, fallback: float) -> tuple[float, float]:
    q25, q50, q75 = _quantiles(positions, cdf, (0.25, 0.5, 0.75))
    sigma = (q75 - q25) * IQR_TO_SIGMA
    if not np.isfinite(sigma) or sigma <= 0:
        sigma = fallback
    return float(q50), float(max(sigma, 1e-12))


def paper_cdf(
    values: np.ndarray, counts: np.ndarray, max_sigma: float, transform: Transform = "none"
) -> CdfPoints:
    """Paper/zorro CDF: one bin per sum value over mean +- max_sigma*sqrt(mean),
    normalised by the pixels in range. With ``transform="anscombe"`` the same bins are
    placed at their Anscombe positions and the Poisson sigma becomes 1.
    """
    n = counts.sum()
    mean = float((values * counts).sum() / n)
    sp = float(np.sqrt(max(mean, 1e-12)))
    lo, hi = np.floor(mean - max_sigma * sp), np.ceil(mean + max_sigma * sp)
    sel = (values >= lo) & (values <= hi)
    pos = np.asarray(forward(values[sel], transform), dtype=np.float64)
    c = counts[sel].astype(np.float64)
    if transform == "anscombe":
        start, poisson = (float(forward(np.float64(mean), transform)), 1.0), 1.0
    else:
        start, poisson = (mean, sp), sp
    cdf = np.cumsum(c) / c.sum() if c.sum() else c
    return CdfPoints(pos, cdf, start, poisson, mean)


def robust_cdf(values: np.ndarray, counts: np.ndarray, max_sigma: float, transform: Transform) -> CdfPoints:
    """Default-mode CDF of integer sums: mid-p CDF over all pixels, robust range."""
    n = counts.sum()
    mean = float((values * counts).sum() / n)
    seen = counts > 0
    pos = np.asarray(forward(values[seen], transform), dtype=np.float64)
    c = counts[seen].astype(np.float64)
    cdf = (np.cumsum(c) - 0.5 * c) / n
    poisson = 1.0 if transform == "anscombe" else float(np.sqrt(max(mean, 1e-12)))
    mu0, s0 = _robust_start(pos, cdf, poisson)
    sel = np.abs(pos - mu0) <= max_sigma * s0
    return CdfPoints(pos[sel], cdf[sel], (mu0, s0), poisson, mean)


def float_cdf(image: np.ndarray, max_sigma: float, transform: Transform, paper: bool) -> CdfPoints:
    """CDF of a float sum image (already in fitted space when ``transform`` is used).

    Paper mode uses unit bins centred on integers over mean +- max_sigma*sqrt(mean)
    (0.1-wide bins over mean +- max_sigma after an Anscombe transform).
    Default mode uses sigma/16 bins over median +- max_sigma*sigma_robust, with the CDF
    at the right bin edges normalised by all pixels.
    """
    flat = image.ravel()
    mean = float(flat.mean(dtype=np.float64))
    if paper:
        anscombe = transform == "anscombe"
        sp = 1.0 if anscombe else float(np.sqrt(max(mean, 1e-12)))
        width = 0.1 if anscombe else 1.0
        lo = np.floor((mean - max_sigma * sp) / width) * width
        hi = np.ceil((mean + max_sigma * sp) / width) * width
        edges = np.arange(lo - width / 2, hi + width, width)
        c, _ = np.histogram(flat, edges)
        total = max(c.sum(), 1)
        return CdfPoints(edges[:-1] + width / 2, np.cumsum(c) / total, (mean, sp), sp, mean)
    step = max(1, flat.size // SAMPLE)
    sample = np.sort(flat[::step].astype(np.float64))
    ranks = (np.arange(sample.size) + 0.5) / sample.size
    poisson = 1.0 if transform == "anscombe" else float(np.sqrt(max(mean, 1e-12)))
    mu0, s0 = _robust_start(sample, ranks, poisson)
    width = s0 / 16.0
    lo = mu0 - max_sigma * s0
    nbins = int(np.ceil(2 * max_sigma * 16)) + 1
    below = 0
    c = np.zeros(nbins, dtype=np.float64)
    for c0 in range(0, flat.size, CHUNK):  # chunked: memory of one chunk, not the image
        bins = np.floor((flat[c0 : c0 + CHUNK] - lo) / width)
        below += int(np.count_nonzero(bins < 0))
        inside = bins[(bins >= 0) & (bins < nbins)].astype(np.intp)
        c += np.bincount(inside, minlength=nbins)
    cdf = (below + np.cumsum(c)) / flat.size
    edges = lo + width * np.arange(1, nbins + 1)
    return CdfPoints(edges, cdf, (mu0, s0), poisson, mean)
