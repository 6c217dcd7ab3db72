"""Stochastic outlier suppression (McLeod et al. 2017, section 4): the whole pipeline.

:func:`detect_outliers` turns a stack into an :class:`OutlierResult` (sparse candidate
indices, logistic weights, fill values, thresholds and counts); :meth:`OutlierResult.apply`
blends it into a float32 stack. :func:`suppress_outliers` does both.

Two modes share the code. ``paper`` follows the paper and zorro: unit bins over
mean +- 8 sqrt(mean), CDF normalised in range, sigma bounded to [0.7, 1.3] sqrt(mean),
fallback thresholds (-4, 3.25). ``default`` fixes what breaks on specimen and low-dose
data: a robust (IQR) sigma sets the histogram range and fit start, the CDF is normalised
by all pixels (mid-p for integer sums), integer count sums are Anscombe-transformed
when their mean is low, sigma is bounded to [0.5, 2] sigma_robust, and the thresholds
are never closer to 0 than a floor set by the tolerated null flag rate ``false_rate``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np

from mrczio.corrections import histogram as hist
from mrczio.corrections.blend import blend
from mrczio.corrections.fill import fill_values
from mrczio.corrections.kernels import psf_kernel
from mrczio.corrections.thresholds import (
    NormalFit,
    fit_normal_cdf,
    logistic_weight,
    sigma_residual,
    tail_thresholds,
    weight_cut_levels,
)

Mode = Literal["default", "paper"]

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
    sigma_bounds: tuple[float, float] | None = None
    eps: float = 1e-3
    psf: Any = "paper"
    radius: int = 2
    min_good: int = 3

    @classmethod
    def for_mode(cls, mode: Mode = "default", **overrides: Any) -> OutlierSettings:
        """Settings for ``mode`` with the mode's own defaults, then ``overrides``."""
        if mode == "paper":
            base = cls(mode="paper", transform="none", false_rate=None)
        elif mode == "default":
            base = cls()
        else:
            raise ValueError(f"unknown outlier mode {mode!r}; expected 'default' or 'paper'")
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

    @property
    def hard(self) -> np.ndarray:
        """Boolean over candidates: the hard outliers (weight below 0.5)."""
        return self.weights < 0.5

    def outlier_mask(self) -> np.ndarray:
        """Image of hard outliers (weight below 0.5)."""
        mask = np.zeros(self.shape, dtype=bool)
        mask.ravel()[self.candidates[self.hard]] = True
        return mask

    def weight_image(self) -> np.ndarray:
        """Dense float32 weight image (1 outside the candidates)."""
        w = np.ones(self.shape, dtype=np.float32)
        w.ravel()[self.candidates] = self.weights
        return w

    def apply(
        self, stack: np.ndarray, *, out: np.ndarray | None = None, threads: int | None = None
    ) -> np.ndarray:
        """Blend the correction into every frame of ``stack``; returns float32."""
        squeeze = stack.ndim == 2
        data = stack[None] if squeeze else stack
        if data.shape[1:] != self.shape:
            raise ValueError(f"stack frames {data.shape[1:]} do not match {self.shape}")
        res = blend(data, self.candidates, self.weights, self.fill, out=out, threads=threads)
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


def _thresholds(
    settings: OutlierSettings, points: hist.CdfPoints
) -> tuple[NormalFit, dict[str, Any]]:
    start = points.start if settings.mode != "paper" else (points.start[0], points.poisson_sigma)
    mu_b, s_b = _bounds(settings, points.start, points.poisson_sigma)
    fit = fit_normal_cdf(points.positions, points.cdf, start, mu_b, s_b)
    s, r = sigma_residual(points.positions, points.cdf, fit)
    anchor = (False, True) if settings.mode == "paper" else (True, True)
    t_dark, t_hot = tail_thresholds(s, r, settings.lim, include_anchor=anchor)
    floor = _floor(settings)
    info = {
        "dark_fallback": t_dark is None,
        "hot_fallback": t_hot is None,
        "t_dark_fit": t_dark,
        "t_hot_fit": t_hot,
    }
    t_dark = settings.fallback[0] if t_dark is None else t_dark
    t_hot = settings.fallback[1] if t_hot is None else t_hot
    info["t_dark"] = float(min(t_dark, -floor))
    info["t_hot"] = float(max(t_hot, floor))
    info["threshold_floor"] = floor
    return fit, info


def _sigma_image_weights(
    total: np.ndarray,
    transform: hist.Transform,
    fit: NormalFit,
    settings: OutlierSettings,
    td: float,
    th: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidates, their weights and sigma values, via a LUT for integer sums."""
    low, high = weight_cut_levels(settings.k, settings.rho * td, settings.rho * th, settings.eps)
    flat = total.ravel()
    if total.dtype.kind in "iu":
        vmin, vmax = int(flat.min()), int(flat.max())
        values = np.arange(vmin, vmax + 1, dtype=np.float64)
        sig_lut = (hist.forward(values, transform) - fit.mu) / fit.sigma
        inside = np.flatnonzero((sig_lut >= low) & (sig_lut <= high))
        if inside.size:
            lo_v, hi_v = vmin + inside[0], vmin + inside[-1]
            cand = np.flatnonzero((flat < lo_v) | (flat > hi_v))
        else:
            cand = np.arange(flat.size)
        sig = sig_lut[flat[cand].astype(np.intp) - vmin]
    else:
        y = hist.forward(flat.astype(np.float64, copy=False), transform)
        sig_all = (y - fit.mu) / fit.sigma
        cand = np.flatnonzero((sig_all < low) | (sig_all > high))
        sig = sig_all[cand]
    w = logistic_weight(sig, settings.k, settings.rho * td, settings.rho * th)
    keep = w < 1.0 - settings.eps
    return cand[keep], w[keep].astype(np.float32), sig[keep]


def _raw_sigma(fit: NormalFit, transform: hist.Transform) -> float:
    """The fitted sigma in sum units (Anscombe: sigma_y * sqrt(mu_raw + 3/8))."""
    if transform == "anscombe":
        return fit.sigma * float(np.sqrt(max(float(hist.inverse(fit.mu, "anscombe")), 0.0) + 0.375))
    return fit.sigma


def detect_outliers(
    stack: np.ndarray,
    settings: OutlierSettings | None = None,
    *,
    total: np.ndarray | None = None,
    threads: int | None = None,
    **overrides: Any,
) -> OutlierResult:
    """Find outliers in a (frames, ny, nx) stack (or one image) from its time sum.

    ``total`` may pass a precomputed time sum. Keyword ``overrides`` replace fields of
    ``settings`` (or of ``OutlierSettings.for_mode(mode)`` when only ``mode`` is given).
    """
    if settings is None:
        settings = OutlierSettings.for_mode(overrides.pop("mode", "default"), **overrides)
    elif overrides:
        settings = replace(settings, **overrides)
    data = stack[None] if stack.ndim == 2 else stack
    n = data.shape[0]
    if total is None:
        total = hist.time_sum(data, threads=threads)
    integer = total.dtype.kind in "iu"
    if integer:
        values, counts = hist.integer_counts(total)
        mean_sum = float((values * counts).sum() / total.size)
    else:
        mean_sum = float(total.mean(dtype=np.float64))
    transform = _resolve_transform(settings, integer, mean_sum)
    if integer and settings.mode == "paper" and transform == "none":
        points = hist.paper_cdf(values, counts, settings.max_sigma)
    elif integer and settings.mode == "default":
        points = hist.robust_cdf(values, counts, settings.max_sigma, transform)
    else:
        image = hist.forward(total.astype(np.float64), transform)
        points = hist.float_cdf(image, settings.max_sigma, transform, settings.mode == "paper")
    fit, info = _thresholds(settings, points)
    td, th = info["t_dark"], info["t_hot"]
    cand, w, sig = _sigma_image_weights(total, transform, fit, settings, td, th)
    hard = w < 0.5
    mask = np.zeros(total.shape, dtype=bool)
    mask.ravel()[cand[hard]] = True
    frame_mean = float(hist.inverse(fit.mu, transform)) / n
    mean_image = total.astype(np.float32) / np.float32(n)
    filled = fill_values(
        mean_image,
        cand,
        mask,
        psf_kernel(settings.psf),
        radius=settings.radius,
        min_good=settings.min_good,
        fallback=frame_mean,
    )
    info.update(
        mode=settings.mode,
        transform=transform,
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
        frame_std=_raw_sigma(fit, transform) / float(np.sqrt(n)),
        n_frames=n,
        n_hot=int(np.count_nonzero(sig[hard] > th)),
        n_dead=int(np.count_nonzero(sig[hard] < td)),
        n_outliers=int(np.count_nonzero(hard)),
        n_neighbourly=int(np.count_nonzero(filled.neighbourly & hard)),
        n_candidates=int(cand.size),
    )
    info["fit_fell_back"] = bool(info["dark_fallback"] or info["hot_fallback"])
    return OutlierResult(total.shape, n, cand, w, filled.fill, filled.neighbourly, info)


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
