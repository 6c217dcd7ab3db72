"""Outlier thresholds from a cumulative histogram (steps 2-4 of McLeod et al. 2017, section 4).

The experimental CDF is fitted with a normal CDF (eq. 1, L1 norm, L-BFGS-B), both are
moved to sigma space (eqs. 2-3, using (d - mu)/sigma without the printed sqrt(2)), the
residual r = s - q is formed (zorro's sign; eq. 4 prints the opposite) and straight lines
through the fat tails (|r| > lim) give the zero crossings t_dark and t_hot (eq. 5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, ndtr, ndtri


@dataclass(frozen=True)
class NormalFit:
    """Result of the CDF fit; ``converged`` is False when the optimiser gave up."""

    mu: float
    sigma: float
    converged: bool


def fit_normal_cdf(
    positions: np.ndarray,
    cdf: np.ndarray,
    start: tuple[float, float],
    mu_bounds: tuple[float, float],
    sigma_bounds: tuple[float, float],
) -> NormalFit:
    """Minimise sum |cdf - Phi((d - mu)/sigma)| over (mu, sigma) within bounds (eq. 1)."""
    mu0, s0 = start
    scale = max(s0, 1e-12)

    def loss(p: np.ndarray) -> float:
        mu, sigma = mu0 + p[0] * scale, p[1] * scale
        return float(np.abs(cdf - ndtr((positions - mu) / sigma)).sum())

    bounds = [
        ((mu_bounds[0] - mu0) / scale, (mu_bounds[1] - mu0) / scale),
        (sigma_bounds[0] / scale, sigma_bounds[1] / scale),
    ]
    x0 = np.array([0.0, np.clip(1.0, *bounds[1])])
    if positions.size < 3:
        return NormalFit(mu0, s0, False)
    res = minimize(loss, x0, method="L-BFGS-B", bounds=bounds)
    return NormalFit(float(mu0 + res.x[0] * scale), float(res.x[1] * scale), bool(res.success))


def sigma_residual(positions: np.ndarray, cdf: np.ndarray, fit: NormalFit) -> tuple[np.ndarray, np.ndarray]:
    """``(s, r)``: model sigma values and residual r = s - ndtri(cdf), finite bins only."""
    s = (positions - fit.mu) / fit.sigma
    with np.errstate(divide="ignore", invalid="ignore"):
        q = ndtri(cdf)
    r = s - q
    keep = np.isfinite(r)
    return s[keep], r[keep]


def _line_zero(s: np.ndarray, r: np.ndarray) -> float | None:
    """Zero crossing of the least-squares line through (s, r), or None if unusable."""
    if s.size < 2 or np.ptp(s) == 0:
        return None
    a, b = np.polyfit(s, r, 1)
    if not np.isfinite(a) or a <= 0:
        return None
    return float(-b / a)


def tail_thresholds(
    s: np.ndarray, r: np.ndarray, lim: float, *, include_anchor: tuple[bool, bool] = (False, True)
) -> tuple[float | None, float | None]:
    """``(t_dark, t_hot)`` zero crossings of lines through the fat tails; None = failed.

    Dark side: the leading run of bins with r <= -lim. Hot side: the trailing run with
    r >= lim. ``include_anchor`` adds the first bin inside the band to the (dark, hot)
    run, as zorro does on the hot side. A result of the wrong sign counts as failed.
    """
    t_dark = t_hot = None
    if s.size:
        inside = np.flatnonzero(r > -lim)
        if inside.size:
            stop = inside[0] + (1 if include_anchor[0] else 0)
            t = _line_zero(s[:stop], r[:stop])
            t_dark = t if t is not None and t < 0 else None
        inside = np.flatnonzero(r < lim)
        if inside.size:
            first = inside[-1] + (0 if include_anchor[1] else 1)
            t = _line_zero(s[first:], r[first:])
            t_hot = t if t is not None and t > 0 else None
    return t_dark, t_hot


def logistic_weight(sigma_values: np.ndarray | float, k: float, t_dark: float, t_hot: float) -> np.ndarray:
    """Eq. 6 with already relaxed thresholds: expit(k(s - t_dark)) * expit(-k(s - t_hot))."""
    s = np.asarray(sigma_values, dtype=np.float64)
    return np.asarray(expit(k * (s - t_dark)) * expit(-k * (s - t_hot)), dtype=np.float64)


def weight_cut_levels(k: float, t_dark: float, t_hot: float, eps: float) -> tuple[float, float]:
    """``(low, high)`` sigma values between which both logistic factors exceed ``1 - eps``.

    Each factor alone reaches ``1 - eps`` at ``t -+ ln((1-eps)/eps)/k``. Pixels inside the
    interval have weight at least ``(1 - eps)**2`` and are left untouched by the filter.
    """
    eps = float(np.clip(eps, 1e-12, 0.999999))
    half = np.log((1.0 - eps) / eps) / k
    return t_dark + half, t_hot - half
