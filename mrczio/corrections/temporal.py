"""Per-pixel temporal test for transient hot pixels (on for part of a stack only).

The time sum hides a pixel that is hot for 8 of 40 frames: its excess is diluted by
the 32 normal frames. Two stages find it without holding more than a few sum images:

1. *Screen* every pixel with the Pearson chi-square statistic of its ``B`` frame-bin
   sums ``S_b`` (``BINS`` = 8 consecutive bins of nearly equal length ``L_b``, fewer
   for short stacks) against a constant rate:
   ``D = sum_b (S_b - S L_b/n)**2 / (S L_b/n) = n sum_b (S_b**2 / L_b) / S - S`` in
   counts (``S`` the time sum). Under the null ``D`` follows about a chi-square with
   ``B - 1`` degrees of freedom; pixels beyond its quantile at the normal tail of
   ``SCREEN`` sigma are candidates (at most ``MAX_FRACTION``, the largest ``D``).
   Bins hold a short transient in one or two sums, so on the synthetic detector this
   screen finds more 8-frame transients at the same null rate than the dispersion of
   single frames, and the bin sums cost about what the time sum costs.
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
from typing import Any

import numpy as np

from mrczio.corrections._parallel import for_each_block

#: Frame bins of the screen (fewer when the stack has fewer frames).
BINS = 8

#: The screen keeps pixels beyond the chi-square quantile of this normal tail (sigma).
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


def bin_edges(n: int, bins: int = BINS) -> np.ndarray:
    """Frame edges of ``min(bins, n)`` consecutive bins of nearly equal length."""
    b = max(1, min(int(bins), int(n)))
    return np.asarray(np.linspace(0, n, b + 1).round().astype(np.intp))


@dataclass(frozen=True)
class Bins:
    """Sums of consecutive frame bins of a stack: what the screen needs.

    ``sums`` is (bins, ny, nx) with frame ``edges``. When ``dark`` or ``factor`` is
    given (the gain stream keeps raw counts), bin ``b`` is read as
    ``(sums[b] - L_b * dark) * factor``, in the units of the detection's time sum.
    """

    sums: np.ndarray
    edges: np.ndarray
    dark: np.ndarray | None = None
    factor: np.ndarray | None = None

    @property
    def lengths(self) -> np.ndarray:
        """Frames per bin."""
        return np.asarray(np.diff(self.edges))

    @property
    def n_frames(self) -> int:
        """Frames of the stack."""
        return int(self.edges[-1])

    def rows(self, r0: int, r1: int) -> np.ndarray:
        """Bins of rows ``r0:r1`` as float32 in detection units."""
        y = self.sums[:, r0:r1].astype(np.float32)
        if self.dark is not None:
            y -= self.lengths.astype(np.float32)[:, None, None] * self.dark[r0:r1]
        if self.factor is not None:
            y *= self.factor[r0:r1]
        return y

    def weighted_squares(self, r0: int, r1: int) -> np.ndarray:
        """``sum_b y_b**2 / L_b`` of rows ``r0:r1`` (float32), squares summed per bin
        length (at most two lengths) before dividing."""
        raw = self.dark is None and self.factor is None
        y = self.sums[:, r0:r1] if raw else self.rows(r0, r1)
        sq = np.empty(y.shape[1:], dtype=np.float32)
        q = np.zeros(y.shape[1:], dtype=np.float32)
        for length in np.unique(self.lengths):
            part = np.zeros(y.shape[1:], dtype=np.float32)
            for b in np.flatnonzero(self.lengths == length):
                np.square(y[b], out=sq, dtype=np.float32)
                part += sq
            part /= np.float32(length)
            q += part
        return q

    def at(self, index: np.ndarray) -> np.ndarray:
        """Bins of flat pixels ``index`` as float64 (bins, k) in detection units."""
        y = self.sums.reshape(self.sums.shape[0], -1)[:, index].astype(np.float64)
        at = np.unravel_index(index, self.sums.shape[1:])  # no copy of a broadcast dark
        if self.dark is not None:
            y -= self.lengths[:, None] * self.dark[at].astype(np.float64)
        if self.factor is not None:
            y *= self.factor[at]
        return np.asarray(y)


def bin_dtype(dtype: np.dtype[Any], frames: int) -> np.dtype[Any]:
    """Accumulator of bin sums: exact integers for integer input, float32 otherwise."""
    from mrczio.corrections.histogram import sum_dtype

    acc = sum_dtype(dtype, frames)
    return acc if acc.kind in "iu" else np.dtype(np.float32)


def binned_sums(
    stack: np.ndarray, *, bins: int = BINS, threads: int | None = None, block: int = 16
) -> tuple[np.ndarray, Bins]:
    """Time sum (as :func:`~mrczio.corrections.histogram.time_sum`) and the frame-bin
    sums in one pass: each row block is read once while in cache."""
    from mrczio.corrections.histogram import sum_dtype

    n = stack.shape[0]
    edges = bin_edges(n, bins)
    total = np.empty(stack.shape[1:], dtype=sum_dtype(stack.dtype, n))
    acc = bin_dtype(stack.dtype, int(np.diff(edges).max()))
    sums = np.empty((edges.size - 1, *stack.shape[1:]), dtype=acc)
    exact = total.dtype.kind in "iu"

    def work(r0: int, r1: int) -> None:
        for k in range(edges.size - 1):
            np.sum(stack[edges[k] : edges[k + 1], r0:r1], axis=0, dtype=acc, out=sums[k, r0:r1])
        if exact:
            np.sum(sums[:, r0:r1], axis=0, dtype=total.dtype, out=total[r0:r1])
        else:  # float input: the total in float64 from the frames, not from float32 bins
            np.sum(stack[:, r0:r1], axis=0, dtype=total.dtype, out=total[r0:r1])

    for_each_block(work, stack.shape[1], block=block, threads=threads)
    return total, Bins(sums, edges)


def scale_at(scale: float | np.ndarray, index: np.ndarray | slice) -> float | np.ndarray:
    """The count scale at flat pixels ``index`` (a scalar scale stays a scalar)."""
    if np.ndim(scale) == 0:
        return float(scale)
    return np.asarray(np.asarray(scale).ravel()[index], dtype=np.float64)


def screen_cut(bins: int) -> float:
    """The chi-square quantile (``bins - 1`` degrees of freedom) the screen cuts at."""
    from scipy.special import chdtri, ndtr

    return float(chdtri(bins - 1, ndtr(-SCREEN)))


def _statistic(y: np.ndarray, lengths: np.ndarray, n: int, sc: float | np.ndarray) -> np.ndarray:
    """``D`` of the module docstring from bins ``y`` (bins, ...) in data units, for a
    count scale ``sc`` (data units per count); 0 where the sum is not positive."""
    s = y.sum(axis=0)
    q = ((y * y) / lengths.reshape((-1,) + (1,) * (y.ndim - 1))).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        d = np.where(s > 0, n * q / np.where(s > 0, s, 1) - s, 0) / sc
    return np.asarray(np.where(np.isfinite(d), d, 0))


def _prescreen(q: np.ndarray, s: np.ndarray, n: int, sc: float | np.ndarray, cut: float) -> np.ndarray:
    """Positions (flat in the block) whose float32 ``D = (n q / s - s) / sc`` may pass
    ``cut``, tested without division as ``n q > s (s + cut sc)``; relative slacks cover
    the float32 rounding, and values float32 cannot hold stay in."""
    with np.errstate(invalid="ignore", over="ignore"):
        rhs = s * np.float32(cut - 1e-3) if np.ndim(sc) == 0 else s * (np.float32(cut - 1e-3) * sc)
        if np.ndim(sc) == 0:
            rhs *= np.float32(sc)
        rhs += s * s * np.float32(1 - 1e-5)
        q *= np.float32(n * (1 + 1e-5))
        return np.flatnonzero(~(q < rhs) & (s > 0))  # D = 0 where s <= 0


def screen(
    bins: Bins, total: np.ndarray, scale: float | np.ndarray, *, threads: int | None = None
) -> np.ndarray:
    """Flat indices of the pixels whose bin sums stand out (see module docstring);
    ``total`` is the time sum in the units of the bins (as read by ``bins``).

    ``D`` is computed in float32 over row blocks and every pixel within a relative
    slack of the cut is recomputed in float64 from its bins, so float32 rounding
    cannot drop a pixel.
    """
    n = bins.n_frames
    nb = bins.edges.size - 1
    if n < 3 or nb < 2:
        return np.zeros(0, dtype=np.intp)
    ny, nx = bins.sums.shape[1:]
    cut = screen_cut(nb)
    parts: dict[int, np.ndarray] = {}

    def work(r0: int, r1: int) -> None:
        sc = scale_at(scale, slice(r0 * nx, r1 * nx))
        sc = sc if np.ndim(sc) == 0 else np.asarray(sc, dtype=np.float32).reshape(r1 - r0, nx)
        s = total[r0:r1].astype(np.float32)
        parts[r0] = _prescreen(bins.weighted_squares(r0, r1), s, n, sc, cut) + r0 * nx

    for_each_block(work, ny, block=16, threads=threads)
    maybe = np.concatenate([parts[k] for k in sorted(parts)]) if parts else np.zeros(0, np.intp)
    d = _statistic(bins.at(maybe), bins.lengths.astype(np.float64), n, scale_at(scale, maybe))
    keep = d > cut
    cand, d = maybe[keep], d[keep]
    cap = max(1, int(MAX_FRACTION * ny * nx))
    if cand.size > cap:
        cand = cand[np.argsort(d)[-cap:]]
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


def segment_bound(series: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """An upper bound on :func:`best_segments`' ``llr`` per column, in O(n log n).

    A segment of length ``L`` holds at most the ``L`` largest frame values, and the
    likelihood ratio grows with the counts, so ``max_L LLR(top_L, L * rate)`` bounds
    every segment (lengths below the stack length, as in the search). Columns whose
    bound stays below the threshold cannot pass and skip the O(n^2) search.
    """
    n, k = series.shape
    if n < 2 or k == 0:
        return np.zeros(k)
    top = -np.sort(-series.T, axis=1)[:, : n - 1]  # (k, n - 1), largest first
    np.cumsum(top, axis=1, out=top)
    length = np.arange(1, n, dtype=np.float64)
    return np.asarray(_llr(top, length[None, :] * rate[:, None]).max(axis=1))


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
    bar = threshold - np.log(n * (n + 1) / 2.0)
    keep = []
    parts = []
    for c0 in range(0, candidates.size, CHUNK):
        idx = candidates[c0 : c0 + CHUNK]
        sc = scale_at(scale, idx)
        x = np.maximum(np.asarray(series(idx), dtype=np.float64), 0) / sc
        rate = np.maximum(expected.ravel()[idx].astype(np.float64), 0) / sc / n
        live = np.flatnonzero(segment_bound(x, rate) > threshold - 1e-6)  # float slack
        idx, x, rate = idx[live], x[:, live], rate[live]
        start, stop, llr, out_llr = best_segments(x, rate)
        ok = (llr > threshold) & (out_llr < bar)
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
