"""A specimen-free residual of the time sum for the default outlier mode.

The paper fits one normal model to the whole sum image, so specimen contrast widens
the fitted sigma and hides outliers. The default mode instead compares each pixel's
sum ``S`` with the expectation ``m`` from its neighbours, in counts (``c`` is the count
scale, data units per counted electron: 1 for integer counts, the gain factor
``G**gamma`` when the gain step is known, else estimated from the data):

- the signed root of the Poisson deviance of ``x = S/c`` against ``mu = m/c``,
  ``r = sign(x - mu) sqrt(2 (x log(x/mu) - (x - mu)))`` (:func:`deviance_at`), is what
  the normal model is fitted to (on an even subsample). Under the null it is close to
  normal, and its magnitude is never below the exact Poisson quantile of ``x`` given
  ``mu`` (checked numerically for mu from 0.01 to 3e4 in the tests), so a cut on ``r``
  keeps every pixel an exact test could flag; :func:`bound_candidates` finds the
  pixels that may pass such a cut in one pass without logarithms.
- :func:`exact_z` is that exact test, for a few pixels: the counts of the pixel and
  its 24 neighbours, ``K = x + 24 mu``, are split binomially with p = 1/25 under the
  null of equal rates, and the one-sided tail probability of ``x`` (regularised
  incomplete beta, real-valued counts allowed) becomes a normal quantile. Conditioning
  on ``K`` accounts for the neighbours' own noise, so a count of 1 beside 24 empty
  pixels is not significant.

``m`` is a clipped local mean over the 5x5 ring around the pixel (two passes: pixels
that stand out by more than ``CLIP`` in the first pass are replaced by the median of
their 8 neighbours before the second), cheaper than a median at 4096^2 and as robust to the 2x2
clusters and single lines of defects the synthetic detector has.
"""

from __future__ import annotations

import numpy as np

from mrczio.corrections._parallel import for_each_block

#: Side of the square window whose ring (all but the centre) gives the local mean.
WINDOW = 5

#: First-pass cut (in residual sigma) above which a neighbour is replaced by its mean.
CLIP = 3.5

#: Ring pixels per window and the null std of the deviance residual they imply:
#: the residual compares a pixel with the mean of RING others, so var = 1 + 1/RING.
RING = WINDOW * WINDOW - 1
RING_SIGMA = float(np.sqrt(1.0 + 1.0 / RING))


def _mirror_index(n: int, pad: int) -> np.ndarray:
    """Indices ``-pad .. n + pad - 1`` mapped into ``range(n)`` by mirroring about the
    edge pixels (scipy's ``mode="mirror"``, numpy's ``"reflect"``)."""
    return np.asarray(np.pad(np.arange(n), pad, mode="reflect"))


def _ring_block(image: np.ndarray, rows: np.ndarray, r0: int, r1: int) -> np.ndarray:
    """Ring mean of rows ``r0:r1``: separable 5-tap box sums on a mirrored halo block."""
    h = WINDOW // 2
    nx = image.shape[1]
    src = image[rows[r0 : r1 + 2 * h]]  # rows r0 - h .. r1 + h, mirrored
    block = np.empty((src.shape[0], nx + 2 * h), dtype=np.float32)
    block[:, h : h + nx] = src
    left, right = _mirror_index(nx, h)[:h], _mirror_index(nx, h)[nx + h :]
    block[:, :h] = src[:, left]
    block[:, h + nx :] = src[:, right]
    horiz = block[:, :nx] + block[:, 1 : 1 + nx]
    for d in range(2, WINDOW):
        horiz += block[:, d : d + nx]
    b = r1 - r0
    out = horiz[:b] + horiz[1 : 1 + b]
    for d in range(2, WINDOW):
        out += horiz[d : d + b]
    out -= image[r0:r1]
    out /= np.float32(RING)
    return np.asarray(out)


def _ring_mean(image: np.ndarray, threads: int | None) -> np.ndarray:
    """Mean of the WINDOW x WINDOW neighbours of every pixel, centre excluded (mirrored
    edges), computed in row blocks with a halo so the working set is a few rows."""
    ny = image.shape[0]
    out = np.empty(image.shape, dtype=np.float32)
    rows = _mirror_index(ny, WINDOW // 2)

    def work(r0: int, r1: int) -> None:
        out[r0:r1] = _ring_block(image, rows, r0, r1)

    for_each_block(work, ny, block=32, threads=threads)
    return out


def _window_coords(
    flat_idx: np.ndarray, shape: tuple[int, int], radius: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mirrored (rows, cols) of the (2r+1)^2 window around each flat pixel: (k, taps)."""
    ny, nx = shape
    y, x = np.divmod(flat_idx, nx)
    off = np.arange(-radius, radius + 1)
    rows = _mirror_index(ny, radius)[(y[:, None] + radius + off)[:, :, None]]
    cols = _mirror_index(nx, radius)[(x[:, None] + radius + off)[:, None, :]]
    taps = (2 * radius + 1) ** 2
    rr = np.broadcast_to(rows, (y.size, off.size, off.size)).reshape(y.size, taps)
    cc = np.broadcast_to(cols, (y.size, off.size, off.size)).reshape(y.size, taps)
    return rr, cc


def _neighbour_median(image: np.ndarray, flat_idx: np.ndarray) -> np.ndarray:
    """Median of the 8 neighbours (mirrored at edges) of the pixels ``flat_idx`` (float32)."""
    rr, cc = _window_coords(flat_idx, image.shape, 1)
    ring = np.delete(np.arange(9), 4)
    vals = np.sort(image[rr[:, ring], cc[:, ring]].astype(np.float32), axis=1)
    mid = vals[:, 3] + vals[:, 4]  # the median of 8 values, as numpy.median computes it
    mid /= np.float32(2.0)
    return np.asarray(mid)


def _affected(wild: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Sorted flat pixels whose ring window (mirrored) can contain a ``wild`` pixel:
    those within ``WINDOW // 2`` of one (mirroring never increases the distance)."""
    ny, nx = shape
    h = WINDOW // 2
    y, x = np.divmod(wild, nx)
    mark = np.zeros(shape, dtype=bool)
    for dy in range(-h, h + 1):
        yy = np.clip(y + dy, 0, ny - 1)
        for dx in range(-h, h + 1):
            mark[yy, np.clip(x + dx, 0, nx - 1)] = True
    return np.flatnonzero(mark)


def _ring_at(image: np.ndarray, flat_idx: np.ndarray) -> np.ndarray:
    """The ring mean (as :func:`_ring_mean`) at the pixels ``flat_idx`` only."""
    rr, cc = _window_coords(flat_idx, image.shape, WINDOW // 2)
    vals = image[rr, cc].reshape(flat_idx.size, WINDOW, WINDOW)
    horiz = vals.sum(axis=2, dtype=np.float32)
    total = horiz.sum(axis=1, dtype=np.float32)
    total -= image.ravel()[flat_idx]
    total /= np.float32(RING)
    return np.asarray(total)


#: Above this fraction of clipped pixels the second ring mean is recomputed whole
#: instead of updated around the clipped pixels.
LOCAL_UPDATE_BELOW = 0.05


#: Changes at least this large are not added to the float32 ring mean but recomputed.
EXACT_UPDATE_BELOW = 4096.0


def _interior(wild: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boolean over ``wild``: no mirrored copy of the pixel falls in any ring window
    (at least ``WINDOW // 2 + 1`` pixels from every edge)."""
    ny, nx = shape
    h = WINDOW // 2
    y, x = np.divmod(wild, nx)
    return np.asarray((y > h) & (y < ny - 1 - h) & (x > h) & (x < nx - 1 - h))


def _update_ring(m: np.ndarray, s: np.ndarray, wild: np.ndarray, delta: np.ndarray) -> None:
    """Update the ring mean ``m`` in place after ``s`` changed by ``delta`` at ``wild``.

    Interior pixels add ``delta / 24`` to the 24 pixels whose ring holds them; the
    ring mean near edge pixels (whose mirrored copies also count) and near changes of
    ``EXACT_UPDATE_BELOW`` or more is recomputed from ``s``.
    """
    nx = s.shape[1]
    h = WINDOW // 2
    # a huge change (one 4e9 count) cancels catastrophically in float32: recompute
    inner = _interior(wild, s.shape) & (np.abs(delta) < EXACT_UPDATE_BELOW)
    q, d = wild[inner], delta[inner] / np.float32(RING)
    offsets = [dy * nx + dx for dy in range(-h, h + 1) for dx in range(-h, h + 1) if dy or dx]
    flat = m.ravel()
    for off in offsets:
        np.add.at(flat, q + off, d)
    edge = wild[~inner]
    if edge.size:
        near = _affected(edge, s.shape)
        flat[near] = _ring_at(s, near)


def _wild(s: np.ndarray, m0: np.ndarray, threads: int | None) -> np.ndarray:
    """Flat indices where ``|s - m0| / sqrt(max(|m0|, 1)) > CLIP``, compared squared
    (row blocks, float32)."""
    ny, nx = s.shape
    parts: list[np.ndarray] = [np.zeros(0, dtype=np.intp)] * len(range(0, ny, 256))

    def work(r0: int, r1: int) -> None:
        m = m0[r0:r1]
        lim = np.maximum(np.abs(m), np.float32(1.0))
        lim *= np.float32(CLIP * CLIP)
        z = s[r0:r1] - m
        z *= z
        with np.errstate(invalid="ignore", over="ignore"):
            parts[r0 // 256] = np.flatnonzero(z > lim) + r0 * nx

    for_each_block(work, ny, block=256, threads=threads)
    return np.concatenate(parts)


def local_expectation(total: np.ndarray, *, threads: int | None = None) -> np.ndarray:
    """The clipped local mean ``m`` of a sum image (float32), see the module docstring.

    Pixels whose sum stands out from their ring mean by more than ``CLIP`` Poisson
    sigma are replaced by the median of their 8 neighbours before the final ring mean,
    so a hot pixel (even a 4e9 one) or a dead line does not bias its neighbours. The
    second ring mean is recomputed only around the replaced pixels.
    """
    s = total.astype(np.float32)
    m0 = _ring_mean(s, threads)
    wild = _wild(s, m0, threads)
    if not wild.size:
        return m0
    old = s.ravel()[wild]
    s.ravel()[wild] = _neighbour_median(total, wild)
    if wild.size > LOCAL_UPDATE_BELOW * s.size or min(s.shape) <= 2 * WINDOW:
        return _ring_mean(s, threads)
    _update_ring(m0, s, wild, s.ravel()[wild] - old)
    return m0


def count_scale(total: np.ndarray, expected: np.ndarray) -> float:
    """Estimate data units per count from the local scatter: var(S - m) ~ c * m.

    Uses the interquartile sigma of ``(S - m) / sqrt(m)`` over pixels with m > 0; the
    ring mean's own variance (1/24 of a pixel's) is taken out.
    """
    sel = expected > 0
    if not sel.any():
        return 1.0
    step = max(1, int(np.count_nonzero(sel)) // 1_000_000)
    s = total[sel][::step].astype(np.float64)
    m = expected[sel][::step].astype(np.float64)
    z = (s - m) / np.sqrt(m)
    q25, q75 = np.percentile(z, (25, 75))
    sigma = (q75 - q25) / 1.3489795003921634
    c = (sigma / RING_SIGMA) ** 2
    return float(c) if np.isfinite(c) and c > 0 else 1.0


def _deviance(x: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Signed root Poisson deviance of counts ``x >= 0`` against ``mu > 0`` (same
    float dtype), as ``mu * ((1 + u) log1p(u) - u)`` with ``u = (x - mu) / mu`` so
    float32 keeps its precision at high counts."""
    u = x - mu
    u /= mu
    d = np.log1p(u, where=x > 0, out=np.zeros_like(u))  # 0 where x = 0
    d *= u + 1
    d -= u
    d *= mu
    np.maximum(d, 0, out=d)
    d *= 2
    np.sqrt(d, out=d)
    return np.asarray(np.copysign(d, u))


def _counts_at(
    total: np.ndarray, expected: np.ndarray, scale: float | np.ndarray, index: np.ndarray | slice
) -> tuple[np.ndarray, np.ndarray]:
    """``(x, mu)`` in counts (float64) at flat pixels ``index``: negative sums count
    as 0 and ``mu`` is floored at 1e-6 counts."""
    sc = scale if np.ndim(scale) == 0 else np.asarray(scale, dtype=np.float64).ravel()[index]
    x = np.maximum(total.ravel()[index].astype(np.float64), 0) / sc
    mu = np.maximum(expected.ravel()[index].astype(np.float64) / sc, 1e-6)
    return x, mu


def deviance_at(
    total: np.ndarray, expected: np.ndarray, scale: float | np.ndarray, index: np.ndarray | slice
) -> np.ndarray:
    """Signed root Poisson deviance ``r`` (module docstring) of the pixels ``index``
    (float64)."""
    return _deviance(*_counts_at(total, expected, scale, index))


def deviance_rows(
    total: np.ndarray, expected: np.ndarray, scale: float | np.ndarray, rows: slice
) -> np.ndarray:
    """Signed root Poisson deviance of the rows ``rows`` of the images (float32)."""
    sc = scale if np.ndim(scale) == 0 else np.asarray(scale)[rows].astype(np.float32)
    x = np.maximum(total[rows].astype(np.float32), np.float32(0)) / sc
    mu = np.maximum(expected[rows] / sc, np.float32(1e-6))
    return _deviance(x, mu.astype(np.float32))


def bound_candidates(
    total: np.ndarray,
    expected: np.ndarray,
    scale: float | np.ndarray,
    dark: float,
    hot: float,
    *,
    threads: int | None = None,
) -> np.ndarray:
    """Sorted flat pixels whose deviance residual may be below ``-dark`` or above
    ``hot``, from one float32 pass without logarithms.

    With the Pearson residual ``p = (x - mu) / sqrt(mu)`` and ``u = (x - mu) / mu``:
    ``r <= p`` for ``x > mu``, and for ``x < mu`` ``r**2 <= p**2 (1 - u/3 + 2 u**2/3)
    <= 2 p**2`` (the alternating series of ``log(1 + u)`` truncated after its third term
    bounds it from above for ``-1 <= u <= 0``; the factor is 2 at ``x = 0``, where it is
    exact); the factor is raised to 1 where it is smaller (``x > mu``, where ``r <= p``
    already holds). A relative slack covers float32 rounding.
    """
    ny, nx = total.shape
    a_hot, a_dark = np.float32(hot * hot * (1 - 1e-4)), np.float32(dark * dark * (1 - 1e-4))
    parts: dict[int, np.ndarray] = {}

    def work(r0: int, r1: int) -> None:
        x = np.maximum(total[r0:r1].astype(np.float32), np.float32(0))
        mu = expected[r0:r1].astype(np.float32)
        if np.ndim(scale) or scale != 1:
            sc = np.float32(scale) if np.ndim(scale) == 0 else np.asarray(scale)[r0:r1].astype(np.float32)
            x /= sc
            mu /= sc
        np.maximum(mu, np.float32(1e-6), out=mu)
        x -= mu
        u = x / mu
        g = u * np.float32(2 / 3)
        g -= np.float32(1 / 3)
        with np.errstate(over="ignore"):
            g *= u
        g += np.float32(1)
        np.maximum(g, np.float32(1), out=g)  # >= 1: still a bound where x > mu
        dark_side = x < 0
        with np.errstate(over="ignore", invalid="ignore"):  # inf still passes
            x *= x
            x *= g
        mu *= np.where(dark_side, a_dark, a_hot)
        parts[r0] = np.flatnonzero(x >= mu) + r0 * nx

    for_each_block(work, ny, block=32, threads=threads)
    return np.concatenate([parts[k] for k in sorted(parts)]) if parts else np.zeros(0, np.intp)


def exact_z(
    total: np.ndarray, expected: np.ndarray, scale: float | np.ndarray, index: np.ndarray
) -> np.ndarray:
    """Exact one-sided z of the pixels ``index`` against their ring (module docstring):
    positive for an excess, negative for a deficit (0 where the tail probability
    exceeds 1/2), float64 within +-37."""
    from scipy.special import betainc, ndtri

    sc = scale if np.ndim(scale) == 0 else np.asarray(scale, dtype=np.float64).ravel()[index]
    x = np.maximum(total.ravel()[index].astype(np.float64), 0) / sc
    ring = RING * np.maximum(expected.ravel()[index].astype(np.float64), 0) / sc
    k = x + ring
    p = 1.0 / (RING + 1)
    hot = x * (1 - p) > ring * p  # above the null mean K p
    with np.errstate(invalid="ignore", divide="ignore"):
        upper = np.where(x > 0, betainc(np.maximum(x, 1e-300), k - x + 1, p), 1.0)
        lower = np.where(ring > 0, betainc(np.maximum(ring, 1e-300), x + 1, 1 - p), 1.0)
    tail = np.clip(np.where(hot, upper, lower), 1e-300, 0.5)
    z = ndtri(tail)
    return np.asarray(np.where(hot, -z, z))


def window_median(image: np.ndarray, index: np.ndarray, radius: int) -> np.ndarray:
    """Median of the (2 radius + 1)^2 window (mirrored edges, centre included) around
    each pixel of ``index`` (float64), gathered in chunks of 4096 pixels."""
    out = np.empty(index.size, dtype=np.float64)
    for c0 in range(0, index.size, 4096):
        rr, cc = _window_coords(index[c0 : c0 + 4096], image.shape, radius)
        out[c0 : c0 + rr.shape[0]] = np.median(image[rr, cc], axis=1)
    return out


def poisson_z(counts: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Exact one-sided Poisson z of ``counts`` given a known ``mean`` (float64): the
    upper tail P(X >= x) for an excess, the lower tail P(X <= x) for a deficit."""
    from scipy.special import gammainc, gammaincc, ndtri

    x = np.maximum(np.asarray(counts, dtype=np.float64), 0)
    m = np.maximum(np.asarray(mean, dtype=np.float64), 1e-9)
    hot = x > m
    with np.errstate(invalid="ignore", divide="ignore"):
        tail = np.where(hot, gammainc(np.maximum(x, 1e-300), m), gammaincc(x + 1.0, m))
    z = ndtri(np.clip(tail, 1e-300, 0.5))
    return np.asarray(np.where(hot, -z, z))
