"""A-priori gain normalisation with dose-rate gamma (McLeod et al. 2017, section 5.1).

Eq. 8/9: ``I_norm = (I_raw - I_dark) * G**gamma(delta)``, where ``G`` is the vendor gain
(the reciprocal of a flat) normalised to mean 1 so that ``G**gamma`` does not rescale
the dose. Eq. 11 gives ``gamma(delta) = a1 * delta**b1 + a2 * delta + a3`` per detector;
:func:`fit_gamma` solves eq. 10 for one flat, :func:`fit_gamma_curve` refits eq. 11.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter
from scipy.optimize import curve_fit, minimize_scalar

from mrczio.corrections._parallel import for_each_block

#: Eq. 11 parameters (a1, b1, a2, a3) for the Gatan K2, at zorro's precision.
K2_GAMMA_PARAMS: tuple[float, float, float, float] = (
    0.12035633,
    -1.04171635,
    -0.03363192,
    1.03902726,
)

#: Dose-rate range (e-/pixel/s) over which the K2 curve was calibrated.
K2_DOSE_RANGE: tuple[float, float] = (0.25, 9.0)


def gamma_curve(
    dose_rate: float,
    params: tuple[float, float, float, float] = K2_GAMMA_PARAMS,
    *,
    valid_range: tuple[float, float] | None = K2_DOSE_RANGE,
) -> float:
    """Eq. 11: gamma at ``dose_rate`` (e-/physical pixel/s).

    The rate is clamped to ``valid_range`` (warning when outside); pass ``None`` to
    evaluate the curve anywhere.
    """
    d = float(dose_rate)
    if valid_range is not None:
        lo, hi = valid_range
        if not lo <= d <= hi:
            warnings.warn(
                f"dose rate {d} outside the calibrated range {valid_range}; clamped",
                RuntimeWarning,
                stacklevel=2,
            )
            d = min(max(d, lo), hi)
    a1, b1, a2, a3 = params
    return float(a1 * d**b1 + a2 * d + a3)


def normalize_gain(gain: np.ndarray) -> np.ndarray:
    """Float32 gain scaled to mean 1 over its finite positive pixels; others become 0."""
    g = np.asarray(gain, dtype=np.float64)
    good = np.isfinite(g) & (g > 0)
    if not good.any():
        raise ValueError("gain reference has no finite positive pixel")
    out = np.zeros(g.shape, dtype=np.float32)
    out[good] = g[good] / g[good].mean()
    return out


def gain_from_flat(flat: np.ndarray) -> np.ndarray:
    """Vendor-style gain: the reciprocal of a flat, zeros screened out, mean 1."""
    f = np.asarray(flat, dtype=np.float64)
    with np.errstate(divide="ignore"):
        g = np.where(f > 0, 1.0 / f, 0.0)
    return normalize_gain(g)


def apply_gain(
    stack: np.ndarray,
    gain: np.ndarray | None = None,
    *,
    dark: np.ndarray | float | None = None,
    gamma: float = 1.0,
    normalize: bool = True,
    out: np.ndarray | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Eq. 8/9: float32 ``(stack - dark) * gain**gamma`` for a stack or a single image.

    ``gain`` is normalised to mean 1 first unless ``normalize=False``; non-positive
    gain pixels stay 0 in the output (a dead pixel for the outlier filter to fill).
    """
    data = stack[None] if stack.ndim == 2 else stack
    factor = None
    if gain is not None:
        g = normalize_gain(gain) if normalize else np.asarray(gain, dtype=np.float32)
        if g.shape != data.shape[1:]:
            raise ValueError(f"gain shape {g.shape} does not match frames {data.shape[1:]}")
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(g > 0, g.astype(np.float64) ** gamma, 0.0).astype(np.float32)
    d = None if dark is None else np.asarray(dark, dtype=np.float32)
    if out is None:
        out = np.empty(data.shape, dtype=np.float32)
    else:
        out = out[None] if out.ndim == 2 else out

    def work(r0: int, r1: int) -> None:
        blk = out[:, r0:r1]
        np.copyto(blk, data[:, r0:r1], casting="unsafe")
        if d is not None:
            blk -= d if d.ndim == 0 else d[r0:r1]
        if factor is not None:
            blk *= factor[r0:r1]

    for_each_block(work, data.shape[1], block=32, threads=threads)
    return out[0] if stack.ndim == 2 else out


def smoothed_cv(image: np.ndarray, size: int = 64, crop: int | None = None) -> float:
    """Coefficient of variation (std/mean) of ``uniform_filter(image, size)``.

    ``crop`` pixels (default size//2) are removed from each border after filtering.
    """
    crop = size // 2 if crop is None else crop
    sm = uniform_filter(np.asarray(image, dtype=np.float64), size=size, mode="reflect")
    if crop:
        sm = sm[crop:-crop, crop:-crop]
    return float(sm.std() / sm.mean())


@dataclass(frozen=True)
class GammaFit:
    """Eq. 10 result: the best gamma, the smoothed CV there and at gamma = 1, and the
    shot-noise floor of that CV (1 / (size * sqrt(mean counts)))."""

    gamma: float
    cv: float
    cv_at_one: float
    noise_floor: float


def fit_gamma(
    flat: np.ndarray,
    gain: np.ndarray,
    *,
    size: int = 64,
    bounds: tuple[float, float] = (0.0, 2.0),
    crop: int | None = None,
) -> GammaFit:
    """Eq. 10: the gamma minimising the smoothed CV of ``flat * gain**gamma``.

    ``flat`` is a flat-field count image (outliers already suppressed), ``gain`` the
    vendor gain. CV rather than std is used so the scale of ``gain**gamma`` cannot bias
    the result. The search is bounded to ``bounds``.
    """
    f = np.asarray(flat, dtype=np.float64)
    g = normalize_gain(gain).astype(np.float64)
    logg = np.log(np.where(g > 0, g, 1.0))

    def cost(gamma: float) -> float:
        return smoothed_cv(f * np.exp(gamma * logg), size, crop)

    res = minimize_scalar(cost, bounds=bounds, method="bounded", options={"xatol": 1e-4})
    mean_counts = max(float(f.mean()), 1e-12)
    return GammaFit(float(res.x), float(res.fun), cost(1.0), 1.0 / (size * np.sqrt(mean_counts)))


def _power_linear(d: np.ndarray, a1: float, b1: float, a2: float, a3: float) -> np.ndarray:
    return a1 * d**b1 + a2 * d + a3


def fit_gamma_curve(
    dose_rates: np.ndarray,
    gammas: np.ndarray,
    start: tuple[float, float, float, float] = K2_GAMMA_PARAMS,
) -> tuple[float, float, float, float]:
    """Refit eq. 11 ``(a1, b1, a2, a3)`` to measured (dose rate, gamma) pairs."""
    popt, _ = curve_fit(
        _power_linear,
        np.asarray(dose_rates, dtype=np.float64),
        np.asarray(gammas, dtype=np.float64),
        p0=start,
        maxfev=20000,
    )
    return tuple(float(v) for v in popt)  # type: ignore[return-value]
