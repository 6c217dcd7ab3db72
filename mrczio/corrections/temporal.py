"""Per-pixel temporal test for transient hot pixels (on for part of a stack only).

The time sum hides a pixel that is hot for 8 of 40 frames: its excess is diluted by
the 32 normal frames. Two stages find it without holding more than the sum images:

1. *Screen* every pixel with the dispersion (chi-square) statistic of its frames
   against a constant rate, ``D = n * sum(x**2) / S - S`` (``S`` the sum), which
   needs only the running sum of squares. Under the null ``D`` has mean ``n - 1`` and
   variance about ``(n - 1) * (2 + 1/mu)`` for Poisson counts of mean ``mu``; pixels
   with ``(D - (n - 1)) / sd > screen`` are candidates (at most ``max_fraction``).
2. *Confirm* each candidate on its own frames: the best single segment ``[a, b)`` by
   the one-sided Poisson likelihood ratio against the neighbours' rate ``beta``
   (``LLR = X log(X / (beta L)) - (X - beta L)``, X the counts in the segment of
   length L). By the Chernoff bound ``P(LLR >= T) <= exp(-T)`` for one segment, so
   ``T = log(n (n + 1) / 2 / false_rate)`` keeps the false rate per pixel below
   ``false_rate`` over all segments. A pixel is *transient* when the best segment
   passes ``T``, is shorter than the stack, and the frames outside it show no
   significant excess (then it is a static outlier, left to the sum test).

Only the frames of the segment are filled; the other frames keep their values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mrczio.corrections._parallel import for_each_block

#: Screen cut on the normalised dispersion statistic.
SCREEN = 3.5

#: At most this fraction of the pixels goes on to the per-pixel segment test.
MAX_FRACTION = 0.005

#: Candidates handled per vectorised chunk of the segment search.
CHUNK = 4096


@dataclass(frozen=True)
class Transients:
    """Transient pixels: sorted flat indices and their on-frames ``[start, stop)``."""

    index: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    llr: np.ndarray
    n_screened: int
    threshold: float

    @classmethod
    def empty(cls, threshold: float = 0.0, n_screened: int = 0) -> Transients:
        """No transient pixel."""
        z = np.zeros(0, dtype=np.intp)
        return cls(z, z.copy(), z.copy(), np.zeros(0), n_screened, threshold)


def sum_of_squares(stack: np.ndarray, *, threads: int | None = None, block: int = 16) -> np.ndarray:
    """Per-pixel ``sum_t x_t**2`` of a (frames, ny, nx) stack as float64."""
    out = np.empty(stack.shape[1:], dtype=np.float64)

    def work(r0: int, r1: int) -> None:
        blk = stack[:, r0:r1].astype(np.float64)
        np.einsum("tij,tij->ij", blk, blk, out=out[r0:r1])

    for_each_block(work, stack.shape[1], block=block, threads=threads)
    return out


def screen(total: np.ndarray, square: np.ndarray, n: int, scale: float | np.ndarray) -> np.ndarray:
    """Flat indices of the pixels whose dispersion stands out (see module docstring)."""
    if n < 3:
        return np.zeros(0, dtype=np.intp)
    tot, sq = total.ravel(), square.ravel()
    sc = np.broadcast_to(np.asarray(scale, dtype=np.float64), total.shape).ravel()
    zs = np.empty(tot.size, dtype=np.float32)
    for c0 in range(0, tot.size, CHUNK * 64):  # chunked: a few float64 rows at a time
        part = slice(c0, c0 + CHUNK * 64)
        s = np.maximum(tot[part].astype(np.float64), 0) / sc[part]
        q = sq[part].astype(np.float64) / (sc[part] * sc[part])
        with np.errstate(invalid="ignore", divide="ignore"):
            d = np.where(s > 0, n * q / np.where(s > 0, s, 1.0) - s, 0.0)
            mu = np.maximum(s / n, 1e-3)
            z = (d - (n - 1)) / np.sqrt((n - 1) * (2.0 + 1.0 / mu))
        zs[part] = np.where(np.isfinite(z), z, 0.0)
    cand = np.flatnonzero(zs > SCREEN)
    cap = max(1, int(MAX_FRACTION * zs.size))
    if cand.size > cap:
        cand = cand[np.argsort(zs[cand])[-cap:]]
    return np.sort(cand)


def _llr(x: np.ndarray, e: np.ndarray) -> np.ndarray:
    """One-sided Poisson log-likelihood ratio of ``x`` counts against ``e`` expected."""
    e = np.maximum(e, 1e-9)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(x > e, x * np.log(np.where(x > 0, x, 1.0) / e) - (x - e), 0.0)
    return np.asarray(r)


def best_segments(
    series: np.ndarray, rate: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Best excess segment per column of ``series`` (n, k) given per-frame ``rate`` (k,).

    Returns ``(start, stop, llr, llr_outside)`` where ``llr_outside`` is the ratio of
    the frames outside the segment against the same rate.
    """
    n, k = series.shape
    c = np.zeros((n + 1, k))
    np.cumsum(series, axis=0, out=c[1:])
    a_idx, b_idx = np.triu_indices(n + 1, 1)
    keep = (b_idx - a_idx) < n  # the whole stack is a static outlier, not a transient
    a_idx, b_idx = a_idx[keep], b_idx[keep]
    length = (b_idx - a_idx).astype(np.float64)
    x = c[b_idx] - c[a_idx]  # (segments, k)
    llr = _llr(x, length[:, None] * rate[None, :])
    best = np.argmax(llr, axis=0)
    cols = np.arange(k)
    start, stop = a_idx[best], b_idx[best]
    x_out = c[n] - x[best, cols]
    out_llr = _llr(x_out, (n - length[best]) * rate)
    return start, stop, llr[best, cols], out_llr


def find_transients(
    candidates: np.ndarray,
    series: Callable[[np.ndarray], np.ndarray],
    expected: np.ndarray,
    n: int,
    scale: float | np.ndarray,
    false_rate: float,
) -> Transients:
    """Confirm screened ``candidates`` with the segment test (module docstring, stage 2).

    ``series(idx)`` returns the (n, len(idx)) frame values of flat pixels ``idx``;
    ``expected`` is the neighbours' expected time sum (same units as the data).
    """
    threshold = float(np.log(n * (n + 1) / 2.0 / false_rate))
    if candidates.size == 0 or n < 3:
        return Transients.empty(threshold, int(candidates.size))
    sc = np.broadcast_to(np.asarray(scale, dtype=np.float64), expected.shape).ravel()
    keep = []
    parts = []
    for c0 in range(0, candidates.size, CHUNK):
        idx = candidates[c0 : c0 + CHUNK]
        x = np.maximum(np.asarray(series(idx), dtype=np.float64), 0) / sc[idx]
        rate = np.maximum(expected.ravel()[idx].astype(np.float64), 0) / sc[idx] / n
        start, stop, llr, out_llr = best_segments(x, rate)
        ok = (llr > threshold) & (out_llr < threshold - np.log(n * (n + 1) / 2.0))
        keep.append(idx[ok])
        parts.append((start[ok], stop[ok], llr[ok]))
    index = np.concatenate(keep)
    start = np.concatenate([p[0] for p in parts]).astype(np.intp)
    stop = np.concatenate([p[1] for p in parts]).astype(np.intp)
    llr = np.concatenate([p[2] for p in parts])
    return Transients(index, start, stop, llr, int(candidates.size), threshold)


def fill_transients(frames: np.ndarray, first: int, t: Transients, fill: np.ndarray) -> None:
    """Set the on-frames of each transient pixel to its ``fill`` in place.

    ``frames`` (k, ny, nx) holds frames ``first .. first + k - 1`` of the stack.
    """
    if t.index.size == 0:
        return
    k = frames.shape[0]
    flat = frames.reshape(k, -1)
    lo = np.clip(t.start - first, 0, k)
    hi = np.clip(t.stop - first, 0, k)
    sel = hi > lo
    if not sel.any():
        return
    lengths = (hi - lo)[sel]
    pix = np.repeat(t.index[sel], lengths)
    vals = np.repeat(fill[sel], lengths)
    offs = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    rows = np.repeat(lo[sel], lengths) + offs
    flat[rows, pix] = vals
