"""Stochastic outlier suppression (McLeod et al. 2017, section 4): the whole pipeline.

:func:`detect_outliers` turns a stack into an :class:`OutlierResult` (sparse candidate
indices, logistic weights, fill values, thresholds and counts); :meth:`OutlierResult.apply`
blends it into a float32 stack. :func:`suppress_outliers` does both.

Two modes share the code. ``paper`` follows the paper and zorro: the CDF of the sum
image itself, unit bins over mean +- 8 sqrt(mean), CDF normalised in range, sigma
bounded to [0.7, 1.3] sqrt(mean), fallback thresholds (-4, 3.25). ``default`` fits the
same model to a specimen-free local residual (:mod:`~mrczio.corrections.residual`:
each sum against its neighbours' clipped mean, as a signed root Poisson deviance in
count space), so specimen contrast and gain structure do not widen sigma; a robust
(IQR) sigma sets the histogram range and fit start, the CDF is normalised by all
pixels and sigma is bounded to [0.5, 2] sigma_robust. Pixels are then judged by the
exact binomial z of their count within their 5x5 window. The thresholds are never
closer to 0 than a floor set by the tolerated null flag rate ``false_rate``, except
that on a side where the exact test discovers outliers they move to the
Benjamini-Hochberg cut at false discovery rate ``fdr``. ``residual="global"`` gives the
previous default (the sum image itself, Anscombe for low-dose integer sums) for
comparison.

Pixels listed in ``forced`` (e.g. gain pixels that are NaN, inf or <= 0) are always
hard outliers and are filled. Non-finite sums are refused
(:class:`~mrczio.errors.NonFiniteInputError`), as are empty stacks; integer sums with a
huge value range are histogrammed by sorting, so memory follows the pixel count.

With ``superres=s`` (a super-resolution movie, s x s sub-pixels per physical pixel) all
of the detection runs on the s x s-binned sums (:mod:`~mrczio.corrections.superres`);
each flagged physical pixel flags its sub-pixels, filled at sub-pixel resolution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

import numpy as np

from mrczio.corrections import checks
from mrczio.corrections import histogram as hist
from mrczio.corrections import superres as sr
from mrczio.corrections.blend import blend
from mrczio.corrections.fill import fill_values
from mrczio.corrections.kernels import psf_kernel
from mrczio.corrections.residual import RING_SIGMA
from mrczio.corrections.temporal import (
    Bins,
    Transients,
    binned_sums,
    fill_transients,
    find_transients,
    screen,
)
from mrczio.corrections.thresholds import (
    NormalFit,
    fit_normal_cdf,
    logistic_weight,
    sigma_residual,
    tail_thresholds,
    weight_cut_levels,
)
from mrczio.errors import CorrectionInputError, OptionError

Mode = Literal["default", "paper"]
Residual = Literal["local", "global"]

#: Below this mean time-sum, integer sums are Anscombe-transformed in ``transform="auto"``.
ANSCOMBE_BELOW = 100.0


@dataclass(frozen=True)
class OutlierSettings:
    """Parameters of the outlier filter; see ``docs/corrections.md`` for each one."""

    mode: Mode = "default"
    k: float = 6.0
    rho: float = 0.95
    lim: float = 0.5
    max_sigma: float = 8.0
    fallback: tuple[float, float] = (-4.0, 3.25)
    transform: Literal["auto", "none", "anscombe"] = "auto"
    false_rate: float | None = 1e-5
    fdr: float | None = 0.0075
    sigma_bounds: tuple[float, float] | None = None
    eps: float = 1e-3
    psf: Any = "paper"
    radius: int = 2
    min_good: int = 3
    residual: Residual = "local"
    count_scale: float | None = None
    global_net: bool = True
    temporal: bool = True
    superres: int = 1

    def __post_init__(self) -> None:
        """Refuse values that make no sense (OptionError names the parameter)."""
        if self.mode not in ("default", "paper"):
            raise OptionError(f"unknown outlier mode {self.mode!r}; expected 'default' or 'paper'")
        if self.residual not in ("local", "global"):
            raise OptionError(f"residual={self.residual!r}; expected 'local' or 'global'")
        if self.transform not in ("auto", "none", "anscombe"):
            raise OptionError(f"transform={self.transform!r}; expected auto, none or anscombe")
        checks.positive(self.k, "k")
        if not 0.0 < checks.number(self.rho, "rho") <= 1.0:
            raise OptionError(f"parameter rho={self.rho!r} must be in (0, 1]")
        checks.positive(self.lim, "lim")
        checks.positive(self.max_sigma, "max_sigma")
        checks.in_range(self.eps, "eps", 0.0, 0.5)
        checks.whole(self.radius, "radius", 1)
        checks.whole(self.min_good, "min_good", 1)
        checks.whole(self.superres, "superres", 1)
        if self.false_rate is not None:
            checks.in_range(self.false_rate, "false_rate", 0.0, 1.0)
        if self.fdr is not None:
            checks.in_range(self.fdr, "fdr", 0.0, 1.0)
        if self.count_scale is not None:
            checks.positive(self.count_scale, "count_scale")
        self._check_pairs()

    def _check_pairs(self) -> None:
        try:
            dark, hot = (checks.number(v, "fallback") for v in self.fallback)
        except (TypeError, ValueError) as exc:
            raise OptionError(f"fallback={self.fallback!r} must be two numbers") from exc
        if not dark < 0 < hot:
            raise OptionError(f"fallback={self.fallback!r} must be (negative, positive)")
        if self.sigma_bounds is not None:
            try:
                lo, hi = (checks.positive(v, "sigma_bounds") for v in self.sigma_bounds)
            except (TypeError, ValueError) as exc:
                raise OptionError(f"sigma_bounds={self.sigma_bounds!r} must be two numbers") from exc
            if lo >= hi:
                raise OptionError(f"sigma_bounds={self.sigma_bounds!r} must be (low, high)")

    @classmethod
    def for_mode(cls, mode: Mode = "default", **overrides: Any) -> OutlierSettings:
        """Settings for ``mode`` with the mode's own defaults, then ``overrides``."""
        if mode == "paper":
            base = cls(
                mode="paper", transform="none", false_rate=None, fdr=None, residual="global", temporal=False
            )
        elif mode == "default":
            base = cls()
        else:
            raise OptionError(f"unknown outlier mode {mode!r}; expected 'default' or 'paper'")
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise OptionError(f"unknown outlier parameter(s) {sorted(unknown)}")
        return replace(base, **overrides)


@dataclass
class OutlierResult:
    """What the detector found; apply it with :meth:`apply`.

    ``candidates`` are sorted flat pixel indices with weight below ``1 - eps``;
    ``weights``/``fill`` are their logistic weights and fill values (in per-frame
    units). Thresholds are in sigma units of the fitted space.
    """

    shape: tuple[int, int]
    n_frames: int
    candidates: np.ndarray
    weights: np.ndarray
    fill: np.ndarray
    neighbourly: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    transients: Transients | None = None
    transient_fill: np.ndarray | None = None

    @property
    def hard(self) -> np.ndarray:
        """Boolean over candidates: the hard outliers (weight below 0.5)."""
        return self.weights < 0.5

    def outlier_mask(self) -> np.ndarray:
        """Image of hard outliers (weight below 0.5) and transient pixels."""
        mask = np.zeros(self.shape, dtype=bool)
        mask.ravel()[self.candidates[self.hard]] = True
        if self.transients is not None:
            mask.ravel()[self.transients.index] = True
        return mask

    def static_mask(self) -> np.ndarray:
        """Image of the hard outliers filled in every frame (transients excluded)."""
        mask = np.zeros(self.shape, dtype=bool)
        mask.ravel()[self.candidates[self.hard]] = True
        return mask

    def transient_mask(self) -> np.ndarray:
        """Image of the transient pixels (filled only in their on-frames)."""
        mask = np.zeros(self.shape, dtype=bool)
        if self.transients is not None:
            mask.ravel()[self.transients.index] = True
        return mask

    def weight_image(self) -> np.ndarray:
        """Dense float32 weight image (1 outside the candidates)."""
        w = np.ones(self.shape, dtype=np.float32)
        w.ravel()[self.candidates] = self.weights
        return w

    def apply(
        self,
        stack: np.ndarray,
        *,
        out: np.ndarray | None = None,
        threads: int | None = None,
        first_frame: int = 0,
    ) -> np.ndarray:
        """Blend the correction into every frame of ``stack``; returns float32.

        Transient pixels are replaced only in their on-frames; ``first_frame`` is the
        index of ``stack[0]`` in the detected stack when applying in chunks.
        """
        squeeze = stack.ndim == 2
        data = stack[None] if squeeze else stack
        if data.shape[1:] != self.shape:
            raise CorrectionInputError(f"stack frames {data.shape[1:]} do not match {self.shape}")
        res = blend(data, self.candidates, self.weights, self.fill, out=out, threads=threads)
        if self.transients is not None and self.transient_fill is not None:
            fill_transients(res, first_frame, self.transients, self.transient_fill)
        return res[0] if squeeze else res


def _resolve_transform(settings: OutlierSettings, integer: bool, mean_sum: float) -> hist.Transform:
    if settings.transform == "auto":
        low_dose = integer and mean_sum < ANSCOMBE_BELOW
        return "anscombe" if settings.mode == "default" and low_dose else "none"
    return "anscombe" if settings.transform == "anscombe" else "none"


def _bounds(
    settings: OutlierSettings, start: tuple[float, float], poisson: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    mu0, s0 = start
    if settings.mode == "paper":
        lo, hi = settings.sigma_bounds or (0.7, 1.3)
        return (mu0 - 0.5 * poisson, mu0 + 0.5 * poisson), (lo * poisson, hi * poisson)
    lo, hi = settings.sigma_bounds or (0.5, 2.0)
    return (mu0 - s0, mu0 + s0), (lo * s0, hi * s0)


def _floor(settings: OutlierSettings) -> float:
    if settings.false_rate is None or settings.mode == "paper":
        return 0.0
    from scipy.special import ndtri

    return float(ndtri(1.0 - settings.false_rate / 2.0) / settings.rho)


def _source(fitted: float | None, floor: float, fallback: float, *, dark: bool) -> str:
    """Which rule set a threshold: "fit" (tail lines), "fallback" or "floor"."""
    value = fallback if fitted is None else fitted
    beyond = value > floor if dark else value < floor
    if beyond:
        return "floor"
    return "fallback" if fitted is None else "fit"


def _thresholds(settings: OutlierSettings, points: hist.CdfPoints) -> tuple[NormalFit, dict[str, Any]]:
    start = points.start if settings.mode != "paper" else (points.start[0], points.poisson_sigma)
    mu_b, s_b = _bounds(settings, points.start, points.poisson_sigma)
    fit = fit_normal_cdf(points.positions, points.cdf, start, mu_b, s_b)
    s, r = sigma_residual(points.positions, points.cdf, fit)
    anchor = (False, True) if settings.mode == "paper" else (True, True)
    t_dark, t_hot = tail_thresholds(s, r, settings.lim, include_anchor=anchor)
    floor = _floor(settings)
    info: dict[str, Any] = {
        "dark_fallback": t_dark is None,
        "hot_fallback": t_hot is None,
        "t_dark_fit": t_dark,
        "t_hot_fit": t_hot,
    }
    info["t_dark_source"] = _source(t_dark, -floor, settings.fallback[0], dark=True)
    info["t_hot_source"] = _source(t_hot, floor, settings.fallback[1], dark=False)
    t_dark = settings.fallback[0] if t_dark is None else t_dark
    t_hot = settings.fallback[1] if t_hot is None else t_hot
    info["t_dark"] = float(min(t_dark, -floor))
    info["t_hot"] = float(max(t_hot, floor))
    info["threshold_floor"] = floor
    return fit, info


#: The local residual's normal model is fitted to at least this many pixels (every k-th row).
FIT_SAMPLE = 1 << 21

#: Integer sums are histogrammed with ``bincount`` and looked up in a table only while
#: their value range stays below this plus four times the pixel count; wider ranges
#: (one stray 4e9 in a uint32 stack) take the float path, whose memory follows pixels.
LUT_SPAN = 1 << 20


def _lut_ok(total: np.ndarray) -> bool:
    if total.dtype.kind not in "iu":
        return False
    return int(total.max()) - int(total.min()) <= LUT_SPAN + 4 * total.size


def _cut(
    settings: OutlierSettings, sig_all: np.ndarray, td: float, th: float
) -> tuple[np.ndarray, np.ndarray]:
    low, high = weight_cut_levels(settings.k, settings.rho * td, settings.rho * th, settings.eps)
    cand = np.flatnonzero((sig_all < low) | (sig_all > high))
    return cand, np.asarray(sig_all[cand], dtype=np.float64)


def _local_sigma(
    settings: OutlierSettings,
    stat: _Statistic,
    total: np.ndarray,
    z_scale: float,
    thresholds: tuple[float, float],
    info: dict[str, Any],
    threads: int | None,
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Candidates of the local test, their sigma values (the exact z against the ring,
    :func:`~mrczio.corrections.residual.exact_z`, over ``z_scale``) and the thresholds
    ``(t_dark, t_hot)`` after the false-discovery-rate step.

    One pass over the image keeps every pixel whose deviance residual may reach the
    loosest cut the FDR step can move to; the deviance of those, then the exact z of
    the ones beyond the floor's cut, set the FDR thresholds; the exact z of the band
    the move opened is added, and everything is cut as :func:`_cut` does.
    """
    from mrczio.corrections.residual import bound_candidates, deviance_at, exact_z

    assert stat.expected is not None
    td, th = thresholds
    low, high = weight_cut_levels(settings.k, settings.rho * td, settings.rho * th, settings.eps)
    half = float(np.log((1.0 - settings.eps) / settings.eps) / settings.k) if settings.fdr else 0.0
    near = bound_candidates(
        total, stat.expected, stat.scale, (-low - half) * z_scale, (high - half) * z_scale, threads=threads
    )
    r = deviance_at(total, stat.expected, stat.scale, near) / z_scale
    slack = 1e-6 * (1.0 + np.abs(r))  # |r| >= |z| holds up to float64 rounding
    first = (r < low + slack) | (r > high - slack)
    z = np.zeros(near.size)
    z[first] = exact_z(total, stat.expected, stat.scale, near[first]) / z_scale
    if settings.fdr is not None:
        td, th = _fdr_thresholds(settings, z[first], total.size, td, th, info)
        low2, high2 = weight_cut_levels(settings.k, settings.rho * td, settings.rho * th, settings.eps)
        band = ~first & ((r < low2 + slack) | (r > high2 - slack))
        z[band] = exact_z(total, stat.expected, stat.scale, near[band]) / z_scale
        first |= band
    cand, sig = _cut(settings, z[first], td, th)
    return near[first][cand], sig, td, th


def _fdr_cut(magnitudes: np.ndarray, n_pixels: int, q: float) -> float | None:
    """Benjamini-Hochberg on one side at false discovery rate ``q`` over ``n_pixels``
    one-sided tests: the critical value ``-ndtri(q k / n_pixels)`` (k the number
    rejected), which lies between the last rejected and the first kept of
    ``magnitudes`` (the candidates' z on that side); None when nothing is rejected."""
    from scipy.special import ndtr, ndtri

    p = np.sort(ndtr(-np.asarray(magnitudes, dtype=np.float64)))
    ok = np.flatnonzero(p <= q * np.arange(1, p.size + 1) / n_pixels)
    return None if not ok.size else float(-ndtri(q * (int(ok[-1]) + 1) / n_pixels))


def _fdr_thresholds(
    settings: OutlierSettings, sig: np.ndarray, n_pixels: int, td: float, th: float, info: dict[str, Any]
) -> tuple[float, float]:
    """Each threshold moved to the Benjamini-Hochberg critical value at ``settings.fdr``
    (looser or stricter than the floor), never inside the candidates' cut (where the
    exact z values end); the floor stays where that side rejects nothing."""
    assert settings.fdr is not None
    low, high = weight_cut_levels(settings.k, settings.rho * td, settings.rho * th, settings.eps)
    out = []
    for side, t, bound in ((-1.0, td, -low), (1.0, th, high)):
        cut = _fdr_cut(side * sig[side * sig > 0], n_pixels, settings.fdr)
        name = "t_dark" if side < 0 else "t_hot"
        info[f"{name}_fdr"] = None if cut is None else side * cut / settings.rho
        if cut is not None:
            t = side * max(cut, bound) / settings.rho
            info[f"{name}_source"] = "fdr"
        out.append(t)
    info["t_dark"], info["t_hot"] = out
    return out[0], out[1]


def _global_sigma(
    total: np.ndarray, transform: hist.Transform, fit: NormalFit, settings: OutlierSettings,
    td: float, th: float,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Candidates and their sigma values on the sum image, via a LUT for integer sums."""
    flat = total.ravel()
    if not _lut_ok(total):
        parts = []
        for c0 in range(0, flat.size, hist.CHUNK):
            y = hist.forward(flat[c0 : c0 + hist.CHUNK].astype(np.float64), transform)
            cand, sig = _cut(settings, (y - fit.mu) / fit.sigma, td, th)
            parts.append((cand + c0, sig))
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    low, high = weight_cut_levels(settings.k, settings.rho * td, settings.rho * th, settings.eps)
    vmin, vmax = int(flat.min()), int(flat.max())
    values = np.arange(vmin, vmax + 1, dtype=np.float64)
    sig_lut = (hist.forward(values, transform) - fit.mu) / fit.sigma
    inside = np.flatnonzero((sig_lut >= low) & (sig_lut <= high))
    if inside.size:
        lo_v, hi_v = vmin + inside[0], vmin + inside[-1]
        cand = np.flatnonzero((flat < lo_v) | (flat > hi_v))
    else:
        cand = np.arange(flat.size)
    return cand, sig_lut[flat[cand].astype(np.intp) - vmin]


def _raw_sigma(fit: NormalFit, transform: hist.Transform) -> float:
    """The fitted sigma in sum units (Anscombe: sigma_y * sqrt(mu_raw + 3/8))."""
    if transform == "anscombe":
        return fit.sigma * float(np.sqrt(max(float(hist.inverse(fit.mu, "anscombe")), 0.0) + 0.375))
    return fit.sigma


@dataclass
class _Statistic:
    """What the normal model is fitted to: CDF points plus, for the local residual, the
    neighbours' expectation and the count scale (``expected`` is None when sigma values
    come from the sum image)."""

    points: hist.CdfPoints
    transform: str
    info: dict[str, Any]
    expected: np.ndarray | None = None
    scale: np.ndarray | float = 1.0


def _global_statistic(total: np.ndarray, settings: OutlierSettings) -> _Statistic:
    lut = _lut_ok(total)
    if lut:
        values, counts = hist.integer_counts(total)
        mean_sum = float((values * counts).sum() / total.size)
    else:
        mean_sum = float(total.mean(dtype=np.float64))
    transform = _resolve_transform(settings, total.dtype.kind in "iu", mean_sum)
    if lut and settings.mode == "paper" and transform == "none":
        points = hist.paper_cdf(values, counts, settings.max_sigma)
    elif lut and settings.mode == "default":
        points = hist.robust_cdf(values, counts, settings.max_sigma, transform)
    else:
        image = hist.forward(total.astype(np.float64, copy=False), transform)
        points = hist.float_cdf(image, settings.max_sigma, transform, settings.mode == "paper")
    return _Statistic(points, transform, {"residual": "global"})


def _local_statistic(
    total: np.ndarray,
    settings: OutlierSettings,
    scale: np.ndarray | float | None,
    forced: np.ndarray | None,
    threads: int | None,
) -> _Statistic:
    from mrczio.corrections import residual as res

    expected = res.local_expectation(total, threads=threads)
    if scale is None and settings.count_scale is not None:
        scale = settings.count_scale
    if scale is None:
        scale = 1.0 if total.dtype.kind in "iu" else res.count_scale(total, expected)
        source = "integer counts" if total.dtype.kind in "iu" else "estimated"
    else:
        source = "given"
    rows = slice(None, None, max(1, total.size // FIT_SAMPLE))  # every k-th row
    y = res.deviance_rows(total, expected, scale, rows)
    if forced is not None:
        y[forced[rows]] = 0.0
    points = hist.float_cdf(y, settings.max_sigma, "anscombe", False)  # unit Poisson sigma
    c = float(np.mean(scale))
    info = {
        "residual": "local",
        "count_scale": c,
        "count_scale_source": source,
        "mean_expected": float(expected.mean(dtype=np.float64)),
    }
    return _Statistic(points, "local-deviance", info, expected, scale)


def _at(scale: np.ndarray | float, idx: np.ndarray) -> np.ndarray | float:
    return scale if np.ndim(scale) == 0 else np.asarray(scale).ravel()[idx]


#: Half-width of the window whose median the global net compares a pixel with: a
#: defect block up to about 11 x 11 pixels leaves the median of 17 x 17 clean.
NET_RADIUS = 8

#: At most this fraction of the pixels is confirmed by the global net (the most extreme).
NET_MAX_FRACTION = 0.005


def _beyond(flat: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Flat indices of ``flat < lo`` or ``flat > hi`` without widening an integer image
    (the bounds become the equivalent integers, clipped to its range)."""
    if flat.dtype.kind not in "iu":
        return np.flatnonzero((flat < lo) | (flat > hi))
    info = np.iinfo(flat.dtype)
    low, high = int(np.ceil(lo)), int(np.floor(hi))
    below = flat < low if low > info.min else np.zeros(flat.shape, bool)
    return np.flatnonzero((flat > high) | below) if high < info.max else np.flatnonzero(below)


def _global_net(
    total: np.ndarray, settings: OutlierSettings, stat_local: _Statistic, td: float, th: float
) -> np.ndarray | None:
    """Pixels inside defect blocks wider than the local window, or None when disabled.

    Inside such a block a pixel and its ring mean both stand out of the image: the net
    takes the pixels whose sum is beyond the local test's hard cuts (``rho * td``,
    ``rho * th``) in robust sigma of the sum image (median and IQR of an even subsample)
    and whose ring mean is beyond half that, at most ``NET_MAX_FRACTION`` of the pixels
    (the most extreme), and keeps those whose exact Poisson tail against the median of
    their 17 x 17 window is beyond the same cuts (a specimen region darker than the
    image is not, a dead block is).
    Net pixels become weight-0 outliers even where the local test gave a soft weight.
    """
    if not settings.global_net:
        return None
    from mrczio.corrections.residual import poisson_z, window_median

    assert stat_local.expected is not None
    flat = total.ravel()
    step = max(1, flat.size // hist.SAMPLE)
    q25, med, q75 = np.percentile(flat[::step].astype(np.float64), (25, 50, 75))
    spread = max((q75 - q25) * hist.IQR_TO_SIGMA, 1e-12)
    lo, hi = settings.rho * td, settings.rho * th
    hard = _beyond(flat, med + lo * spread, med + hi * spread)
    ring = stat_local.expected.ravel()[hard].astype(np.float64) - med
    hard = hard[(ring < 0.5 * lo * spread) | (ring > 0.5 * hi * spread)]
    cap = max(1, int(NET_MAX_FRACTION * flat.size))
    if hard.size > cap:
        far = np.abs(flat[hard].astype(np.float64) - med)
        hard = np.sort(hard[np.argsort(far)[-cap:]])
    if hard.size:
        sc = _at(stat_local.scale, hard)
        level = window_median(total, hard, NET_RADIUS) / sc
        zs = poisson_z(flat[hard] / sc, level)
        hard = hard[(zs < lo) | (zs > hi)]
    net = np.zeros(total.shape, dtype=bool)
    net.ravel()[hard] = True
    return net


def _merge_forced(
    cand: np.ndarray, w: np.ndarray, sig: np.ndarray, forced: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Add the ``forced`` pixels as weight-0 candidates (sorted, unique)."""
    if forced is None or not forced.any():
        return cand, w, sig
    extra = np.flatnonzero(forced.ravel())
    allc = np.concatenate([cand, extra])
    allw = np.concatenate([w, np.zeros(extra.size, np.float32)])
    alls = np.concatenate([sig, np.full(extra.size, -np.inf)])
    order = np.argsort(allc, kind="stable")
    allc, allw, alls = allc[order], allw[order], alls[order]
    # a pixel present twice: keep its forced (last, weight 0) copy
    last = np.concatenate([allc[1:] != allc[:-1], [True]])
    return allc[last], allw[last], alls[last]


def _checked(
    stack: np.ndarray | None,
    total: np.ndarray | None,
    forced: np.ndarray | None,
    n_frames: int | None,
    threads: int | None,
) -> tuple[int, np.ndarray, np.ndarray | None]:
    if stack is None:
        if total is None or n_frames is None:
            raise CorrectionInputError("without the stack, pass its time sum and n_frames")
        n = checks.whole(n_frames, "n_frames", 1)
        total = checks.as_frames(total, "time sum")[0]
    else:
        data = checks.as_frames(stack)
        n = data.shape[0]
        if total is None:
            total = hist.time_sum(data, threads=threads)
    checks.require_shape(total, total.shape if stack is None else data.shape[1:], "time sum")
    checks.require_finite(total, "stack (its time sum)")
    if forced is not None:
        forced = np.asarray(forced, dtype=bool)
        checks.require_shape(forced, total.shape, "forced-outlier mask")
    return n, total, forced


def detect_outliers(
    stack: np.ndarray | None,
    settings: OutlierSettings | None = None,
    *,
    total: np.ndarray | None = None,
    forced: np.ndarray | None = None,
    scale: np.ndarray | float | None = None,
    bins: Bins | None = None,
    series: Callable[[np.ndarray], np.ndarray] | None = None,
    n_frames: int | None = None,
    threads: int | None = None,
    **overrides: Any,
) -> OutlierResult:
    """Find outliers in a (frames, ny, nx) stack (or one image) from its time sum.

    ``total`` may pass a precomputed time sum. ``forced`` is a boolean image of pixels
    that are always hard outliers (bad gain pixels). ``scale`` is the count scale of
    the local residual (data units per count; the gain factor ``G**gamma`` after the
    gain step). With ``temporal`` (default mode) transient hot pixels are found by
    :mod:`~mrczio.corrections.temporal`; ``bins`` (frame-bin sums,
    :class:`~mrczio.corrections.temporal.Bins`) and ``series`` (flat pixel indices ->
    their (frames, k) values) may be given when the stack is not in memory (then pass
    ``stack=None``, ``total`` and ``n_frames``; the temporal test runs only when
    ``bins`` and ``series`` are given). Keyword
    ``overrides`` replace fields of ``settings`` (or of ``OutlierSettings.for_mode(mode)``
    when only ``mode`` is given).
    """
    if settings is None:
        settings = OutlierSettings.for_mode(overrides.pop("mode", "default"), **overrides)
    elif overrides:
        settings = replace(settings, **overrides)
    local = settings.residual == "local" and settings.mode == "default"
    if stack is not None and total is None and bins is None and settings.temporal and local:
        frames = checks.as_frames(stack)
        if frames.shape[0] >= 3:  # the temporal test will want the bin sums: one pass
            total, bins = binned_sums(frames, threads=threads)
    n, total, forced = _checked(stack, total, forced, n_frames, threads)
    if settings.superres > 1:
        given = _Given(total, forced, scale, bins, series, n)
        return _detect_superres(stack, settings, given, temporal=settings.temporal and local, threads=threads)
    data = None if stack is None else checks.as_frames(stack)
    stat = (
        _local_statistic(total, settings, scale, forced, threads)
        if local
        else _global_statistic(total, settings)
    )
    points = stat.points
    fit, info = _thresholds(settings, points)
    td, th = info["t_dark"], info["t_hot"]
    if stat.expected is not None:
        z_scale = max(fit.sigma / RING_SIGMA, 1.0)
        stat.info["z_scale"] = z_scale
        cand, sig, td, th = _local_sigma(settings, stat, total, z_scale, (td, th), info, threads)
        mean_sum = stat.info.pop("mean_expected")
        frame_mean = mean_sum / n
        c = stat.info["count_scale"]
        raw_sigma = fit.sigma * float(np.sqrt(max(c * mean_sum, 0.0)))
    else:
        transform: hist.Transform = "anscombe" if stat.transform == "anscombe" else "none"
        cand, sig = _global_sigma(total, transform, fit, settings, td, th)
        frame_mean = float(hist.inverse(fit.mu, transform)) / n
        raw_sigma = _raw_sigma(fit, transform)
    w = logistic_weight(sig, settings.k, settings.rho * td, settings.rho * th)
    keep = w < 1.0 - settings.eps
    cand, w, sig = cand[keep], w[keep].astype(np.float32), sig[keep]
    net = _global_net(total, settings, stat, td, th) if stat.expected is not None else None
    n_net = 0 if net is None else int(np.count_nonzero(net) - np.count_nonzero(net.ravel()[cand[w < 0.5]]))
    both = net if forced is None else (forced if net is None else forced | net)
    cand, w, sig = _merge_forced(cand, w, sig, both)
    hard = w < 0.5
    mask = np.zeros(total.shape, dtype=bool)
    mask.ravel()[cand[hard]] = True
    mean_image = total.astype(np.float32)
    mean_image /= np.float32(n)
    trans, t_fill = None, None
    in_reach = data is not None or (bins is not None and series is not None)
    if settings.temporal and stat.expected is not None and in_reach and n >= 3:
        trans = _transients(data, total, n, stat, settings, bins, series, forced, threads)
        t_fill = fill_values(
            mean_image, trans.index, mask, psf_kernel(settings.psf), radius=settings.radius,
            min_good=settings.min_good, fallback=frame_mean,
        ).fill  # fmt: skip
        static = ~np.isin(cand, trans.index)
        cand, w, sig, hard = cand[static], w[static], sig[static], hard[static]
    filled = fill_values(
        mean_image,
        cand,
        mask,
        psf_kernel(settings.psf),
        radius=settings.radius,
        min_good=settings.min_good,
        fallback=frame_mean,
    )
    info.update(stat.info)
    info.update(
        mode=settings.mode,
        transform=stat.transform,
        mu_fit=fit.mu,
        sigma_fit=fit.sigma,
        sigma_poisson=points.poisson_sigma,
        sigma_ratio=fit.sigma / points.poisson_sigma,
        fit_converged=fit.converged,
        k=settings.k,
        rho=settings.rho,
        lim=settings.lim,
        eps=settings.eps,
        psf=settings.psf if isinstance(settings.psf, str) else "custom",
        frame_mean=frame_mean,
        frame_std=raw_sigma / float(np.sqrt(n)),
        n_frames=n,
        n_hot=int(np.count_nonzero(sig[hard] > th)),
        n_dead=int(np.count_nonzero(sig[hard] < td)),
        n_forced=0 if forced is None else int(np.count_nonzero(forced)),
        n_global_net=n_net,
        n_outliers=int(np.count_nonzero(hard)),
        n_neighbourly=int(np.count_nonzero(filled.neighbourly & hard)),
        n_candidates=int(cand.size),
        n_transient=0 if trans is None else int(trans.index.size),
        transient_screened=0 if trans is None else trans.n_screened,
        transient_llr_threshold=None if trans is None else trans.threshold,
    )
    info["fit_fell_back"] = bool(info["dark_fallback"] or info["hot_fallback"])
    return OutlierResult(total.shape, n, cand, w, filled.fill, filled.neighbourly, info, trans, t_fill)


@dataclass
class _Given:
    """The detection inputs at sub-pixel resolution (time sum checked)."""

    total: np.ndarray
    forced: np.ndarray | None
    scale: np.ndarray | float | None
    bins: Bins | None
    series: Callable[[np.ndarray], np.ndarray] | None
    n: int


def _detect_superres(
    stack: np.ndarray | None,
    settings: OutlierSettings,
    given: _Given,
    *,
    temporal: bool,
    threads: int | None,
) -> OutlierResult:
    """Detection of a super-resolution movie (``settings.superres`` = s > 1) on its
    s x s-binned sums, expanded back to sub-pixels by :func:`_expanded`.

    A sub-pixel listed in ``forced`` forces its whole physical pixel (its binned sum
    holds the bad value), so all s x s sub-pixels of that physical pixel are filled.
    """
    s = int(settings.superres)
    phys = sr.physical_shape(given.total.shape, s)
    bins, series = given.bins, given.series
    if stack is not None:
        flat = checks.as_frames(stack).reshape(given.n, -1)
        if temporal and given.n >= 3 and bins is None:
            bins = binned_sums(checks.as_frames(stack), threads=threads)[1]
        if series is None:

            def series(idx: np.ndarray) -> np.ndarray:
                return np.asarray(flat[:, idx])

    result = detect_outliers(
        None, replace(settings, superres=1), total=sr.bin_sum(given.total, s), n_frames=given.n,
        forced=sr.bin_any(given.forced, s), scale=sr.bin_mean(given.scale, s),
        bins=None if bins is None else sr.bin_bins(bins, s, threads=threads),
        series=None if series is None else sr.bin_series(series, phys, s), threads=threads,
    )  # fmt: skip
    return _expanded(result, given.total, settings, s)


def _expanded(result: OutlierResult, total: np.ndarray, settings: OutlierSettings, s: int) -> OutlierResult:
    """``result`` of the binned movie at sub-pixel resolution: each physical pixel's
    weight and on-frames for all its sub-pixels, fill values from the sub-pixel mean
    image with every flagged sub-pixel (soft ones and transients too) masked, so a
    sub-pixel is never filled from its own siblings. ``info`` stays the physical
    detection's (thresholds and counts in physical pixels) plus ``superres``."""
    cand, origin = sr.expand(result.candidates, result.shape, s)
    trans = result.transients
    if trans is not None:
        idx, o = sr.expand(trans.index, result.shape, s)
        trans = Transients(
            idx, trans.start[o], trans.stop[o], trans.llr[o], trans.n_screened, trans.threshold
        )
    mask = np.zeros(total.shape, dtype=bool)
    mask.ravel()[cand] = True
    if trans is not None:
        mask.ravel()[trans.index] = True
    mean_image = total.astype(np.float32)
    mean_image /= np.float32(result.n_frames)
    fallback = float(result.info["frame_mean"]) / (s * s)

    def fill(index: np.ndarray) -> Any:
        kernel = psf_kernel(settings.psf)
        return fill_values(
            mean_image, index, mask, kernel, radius=settings.radius, min_good=settings.min_good,
            fallback=fallback,
        )  # fmt: skip

    filled = fill(cand)
    t_fill = None if trans is None else fill(trans.index).fill
    info = dict(result.info, superres=s)
    weights = result.weights[origin]
    return OutlierResult(
        total.shape, result.n_frames, cand, weights, filled.fill, filled.neighbourly, info, trans, t_fill
    )


def _transients(
    data: np.ndarray | None,
    total: np.ndarray,
    n: int,
    stat: _Statistic,
    settings: OutlierSettings,
    bins: Bins | None,
    series: Callable[[np.ndarray], np.ndarray] | None,
    forced: np.ndarray | None,
    threads: int | None,
) -> Transients:
    """Screen by frame-bin chi-square, confirm by segment likelihood (see ``temporal``).
    Forced pixels stay static outliers (filled in every frame), never transients."""
    assert stat.expected is not None
    if bins is None:
        assert data is not None
        bins = binned_sums(data, threads=threads)[1]
    if series is None:
        assert data is not None
        flat = data.reshape(n, -1)

        def series(idx: np.ndarray) -> np.ndarray:
            return np.asarray(flat[:, idx])

    cand = screen(bins, total, stat.scale, threads=threads)
    if forced is not None:
        cand = cand[~forced.ravel()[cand]]
    rate = settings.false_rate if settings.false_rate is not None else 1e-5
    return find_transients(cand, series, stat.expected, n, stat.scale, rate)


def suppress_outliers(
    stack: np.ndarray,
    settings: OutlierSettings | None = None,
    *,
    out: np.ndarray | None = None,
    threads: int | None = None,
    **overrides: Any,
) -> tuple[np.ndarray, OutlierResult]:
    """Detect and blend in one call: returns (float32 stack, :class:`OutlierResult`)."""
    result = detect_outliers(stack, settings, threads=threads, **overrides)
    return result.apply(stack, out=out, threads=threads), result


def settings_dict(settings: OutlierSettings) -> dict[str, Any]:
    """``settings`` as a plain dict (a custom psf array becomes a nested list)."""
    d = asdict(settings)
    if not isinstance(settings.psf, str):
        d["psf"] = np.asarray(settings.psf).tolist()
    return d
