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


def _block_squares(blk: np.ndarray) -> np.ndarray:
    """``sum_t x_t**2`` of a (frames, rows, nx) block: exact integer arithmetic for
    8-bit counts (uint16 squares, uint32 sums), float64 otherwise."""
    n = blk.shape[0]
    if blk.dtype.kind in "bu" and blk.dtype.itemsize == 1 and n * 255 * 255 < (1 << 32):
        sq = blk.astype(np.uint16)
        sq *= sq
        return np.asarray(sq.sum(axis=0, dtype=np.uint32))
    f = blk.astype(np.float64)
    f *= f
    return np.asarray(f.sum(axis=0))


def sum_of_squares(stack: np.ndarray, *, threads: int | None = None, block: int = 16) -> np.ndarray:
    """Per-pixel ``sum_t x_t**2`` of a (frames, ny, nx) stack as float64."""
    out = np.empty(stack.shape[1:], dtype=np.float64)

    def work(r0: int, r1: int) -> None:
        out[r0:r1] = _block_squares(stack[:, r0:r1])

    for_each_block(work, stack.shape[1], block=block, threads=threads)
    return out


def _sums_u8(stack: np.ndarray, total: np.ndarray, square: np.ndarray, r0: int, r1: int) -> None:
    """Rows ``r0:r1`` of the sum and sum of squares of 8-bit frames, one frame at a
    time in integer registers (uint16 squares, exact)."""
    nx = stack.shape[2]
    n = stack.shape[0]
    tot = np.zeros((r1 - r0, nx), dtype=total.dtype)
    sq = np.zeros((r1 - r0, nx), dtype=np.uint32 if n * 255 * 255 < (1 << 32) else np.uint64)
    x = np.empty((r1 - r0, nx), dtype=np.uint16)
    for t in range(n):
        np.copyto(x, stack[t, r0:r1], casting="unsafe")
        np.add(tot, x, out=tot, casting="unsafe")
        x *= x
        np.add(sq, x, out=sq)
    total[r0:r1] = tot
    square[r0:r1] = sq


def sums(stack: np.ndarray, *, threads: int | None = None, block: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Time sum (as :func:`~mrczio.corrections.histogram.time_sum`) and sum of squares
    (float64) in one pass over the stack: each row block is read once while in cache."""
    from mrczio.corrections.histogram import sum_dtype

    total = np.empty(stack.shape[1:], dtype=sum_dtype(stack.dtype, stack.shape[0]))
    square = np.empty(stack.shape[1:], dtype=np.float64)
    small = stack.dtype.kind in "bu" and stack.dtype.itemsize == 1

    def work(r0: int, r1: int) -> None:
        if small:
            _sums_u8(stack, total, square, r0, r1)
            return
        blk = stack[:, r0:r1]
        np.sum(blk, axis=0, dtype=total.dtype, out=total[r0:r1])
        square[r0:r1] = _block_squares(blk)

    for_each_block(work, stack.shape[1], block=block, threads=threads)
    return total, square


def scale_at(scale: float | np.ndarray, index: np.ndarray | slice) -> float | np.ndarray:
    """The count scale at flat pixels ``index`` (a scalar scale stays a scalar)."""
    if np.ndim(scale) == 0:
        return float(scale)
    return np.asarray(np.asarray(scale).ravel()[index], dtype=np.float64)


def _dispersion_z(tot: np.ndarray, sq: np.ndarray, n: int, sc: float | np.ndarray) -> np.ndarray:
    """The normalised dispersion statistic of the module docstring (float64 math,
    float32 result)."""
    s = np.maximum(tot.astype(np.float64), 0) / sc
    q = sq.astype(np.float64) / (sc * sc)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.where(s > 0, n * q / np.where(s > 0, s, 1.0) - s, 0.0)
        mu = np.maximum(s / n, 1e-3)
        z = (d - (n - 1)) / np.sqrt((n - 1) * (2.0 + 1.0 / mu))
    return np.asarray(np.where(np.isfinite(z), z, 0.0), dtype=np.float32)


def _prescreen(tot: np.ndarray, sq: np.ndarray, n: int, sc: float | np.ndarray) -> np.ndarray:
    """Positions (in the block) that may pass the screen, from float32 arithmetic.

    The null sd of ``D`` is at least ``sqrt(2 (n - 1))``, so ``z > SCREEN`` needs
    ``D > n - 1 + SCREEN sqrt(2 (n - 1))``; the float32 rounding of ``D`` is covered
    by a relative slack, and values float32 cannot hold stay in.
    """
    t = np.maximum(tot.astype(np.float32), np.float32(0))
    q = sq.astype(np.float32)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        big = q * np.float32(n)
        big /= np.where(t > 0, t, np.float32(1))
        slack = big + t
        big -= t
        if np.ndim(sc):
            big /= np.asarray(sc, dtype=np.float32)
            slack /= np.asarray(sc, dtype=np.float32)
        else:
            big /= np.float32(sc)
            slack /= np.float32(sc)
        big *= t > 0
        slack *= np.float32(1e-5)
        slack += np.float32(1e-3 + (n - 1) + SCREEN * np.sqrt(2.0 * (n - 1)))
        return np.flatnonzero(~(big <= slack))


def screen(
    total: np.ndarray,
    square: np.ndarray,
    n: int,
    scale: float | np.ndarray,
    *,
    threads: int | None = None,
) -> np.ndarray:
    """Flat indices of the pixels whose dispersion stands out (see module docstring).

    A float32 prescreen over row blocks keeps only pixels that may pass; the exact
    float64 statistic is then computed for those alone.
    """
    if n < 3:
        return np.zeros(0, dtype=np.intp)
    ny, nx = total.shape
    tot, sq = total.ravel(), square.ravel()
    parts: dict[int, np.ndarray] = {}

    def work(r0: int, r1: int) -> None:
        part = slice(r0 * nx, r1 * nx)
        parts[r0] = _prescreen(tot[part], sq[part], n, scale_at(scale, part)) + r0 * nx

    for_each_block(work, ny, block=64, threads=threads)
    maybe = np.concatenate([parts[k] for k in sorted(parts)]) if parts else np.zeros(0, np.intp)
    zs = _dispersion_z(tot[maybe], sq[maybe], n, scale_at(scale, maybe))
    keep = zs > SCREEN
    cand, zs = maybe[keep], zs[keep]
    cap = max(1, int(MAX_FRACTION * tot.size))
    if cand.size > cap:
        cand = cand[np.argsort(zs)[-cap:]]
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
