"""A-priori gain normalisation with dose-rate gamma (McLeod et al. 2017, section 5.1).

Eq. 8/9: ``I_norm = (I_raw - I_dark) * G**gamma(delta)``, where ``G`` is the vendor gain
(the reciprocal of a flat) normalised to mean 1 so that ``G**gamma`` does not rescale
the dose. Eq. 11 gives ``gamma(delta) = a1 * delta**b1 + a2 * delta + a3`` per detector;
:func:`fit_gamma` solves eq. 10 for one flat, :func:`fit_gamma_curve` refits eq. 11.
:func:`fit_gamma_robust` estimates gamma without the bias a CMOS row, column or block
pattern gives eq. 10 (such patterns do not scale with gamma).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter
from scipy.optimize import curve_fit, minimize_scalar

from mrczio.corrections import checks
from mrczio.corrections._parallel import for_each_block
from mrczio.corrections.koma import block_means
from mrczio.errors import CorrectionInputError, CorrectionWarning, NonFiniteInputError

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
    d = checks.positive(dose_rate, "dose_rate")
    if valid_range is not None:
        lo, hi = valid_range
        if not lo <= d <= hi:
            warnings.warn(
                f"dose rate {d} outside the calibrated range {valid_range}; clamped",
                CorrectionWarning,
                stacklevel=2,
            )
            d = min(max(d, lo), hi)
    a1, b1, a2, a3 = params
    return float(a1 * d**b1 + a2 * d + a3)


def bad_gain_pixels(gain: np.ndarray) -> np.ndarray:
    """Boolean image of gain pixels that are NaN, inf or <= 0 (always outliers)."""
    g = np.asarray(gain)
    if g.dtype.kind not in "biuf":
        raise CorrectionInputError(f"gain reference has non-numeric dtype {g.dtype}")
    with np.errstate(invalid="ignore"):
        return np.asarray(~(np.isfinite(g) & (g > 0)))


def normalize_gain(gain: np.ndarray) -> np.ndarray:
    """Float32 gain scaled to mean 1 over its finite positive pixels; others become 0."""
    g = np.asarray(gain)
    if g.ndim != 2 or 0 in g.shape:
        raise CorrectionInputError(f"gain reference must be a 2-D image, got shape {g.shape}")
    good = ~bad_gain_pixels(g)
    count = int(np.count_nonzero(good))
    if count == 0:
        raise CorrectionInputError("gain reference has no finite positive pixel")
    mean = float(np.add.reduce(g, axis=None, dtype=np.float64, where=good)) / count
    out = np.zeros(g.shape, dtype=np.float32)
    np.divide(g, mean, out=out, where=good, casting="unsafe", dtype=np.float64)
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

    ``gain`` is normalised to mean 1 first unless ``normalize=False``; gain pixels that
    are NaN, inf or <= 0 become 0 in the output (:func:`bad_gain_pixels` lists them;
    the outlier filter fills them when given that mask as ``forced``). NaN or inf in a
    float stack or in ``dark`` raise :class:`~mrczio.errors.NonFiniteInputError`.
    """
    data = checks.as_frames(stack)
    factor = gain_factor(gain, gamma, data.shape[1:], normalize=normalize)
    return apply_factor(stack, factor, dark=dark, out=out, threads=threads)


def apply_factor(
    stack: np.ndarray,
    factor: np.ndarray | None,
    *,
    dark: np.ndarray | float | None = None,
    out: np.ndarray | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """:func:`apply_gain` with a precomputed :func:`gain_factor` (``None``: dark only),
    so a stream over chunks of frames computes the factor once."""
    data = checks.as_frames(stack)
    if factor is not None:
        checks.require_shape(factor, data.shape[1:], "gain factor")
    d = _dark(dark, data.shape[1:])
    out = np.empty(data.shape, dtype=np.float32) if out is None else out[None] if out.ndim == 2 else out
    finite = [True]

    def work(r0: int, r1: int) -> None:
        blk = out[:, r0:r1]
        np.copyto(blk, data[:, r0:r1], casting="unsafe")
        if data.dtype.kind == "f" and not np.isfinite(blk).all():
            finite[0] = False
        if d is not None:
            blk -= d if d.ndim == 0 else d[r0:r1]
        if factor is not None:
            blk *= factor[r0:r1]

    for_each_block(work, data.shape[1], block=32, threads=threads)
    if not finite[0]:
        checks.require_finite(data, "stack")
    return out[0] if stack.ndim == 2 else out


def gain_factor(
    gain: np.ndarray | None, gamma: float, shape: tuple[int, ...], *, normalize: bool = True
) -> np.ndarray | None:
    """The float32 per-pixel factor ``G**gamma`` (0 at bad gain pixels), or None."""
    gamma = checks.number(gamma, "gamma")
    if gain is None:
        return None
    g = normalize_gain(gain) if normalize else np.asarray(gain, dtype=np.float32)
    checks.require_shape(g, tuple(shape), "gain reference")
    bad = bad_gain_pixels(g)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        factor = np.where(bad, 0.0, np.abs(g).astype(np.float64) ** gamma)
    if not np.isfinite(factor).all():
        raise NonFiniteInputError(f"gain**gamma overflows for gamma={gamma}")
    return np.asarray(factor, dtype=np.float32)


def _dark(dark: np.ndarray | float | None, shape: tuple[int, ...]) -> np.ndarray | None:
    if dark is None:
        return None
    d = np.asarray(dark, dtype=np.float32)
    if d.ndim:
        checks.require_shape(d, tuple(shape), "dark reference")
    checks.require_finite(d, "dark reference")
    return d


def orientation_check(total: np.ndarray, gain: np.ndarray, size: int = 3) -> dict[str, float]:
    """How well the high-passed sum matches the flat ``1/G`` in each orientation.

    A vendor gain is the reciprocal of a flat, so the raw time sum ``total`` of counts
    correlates positively with ``1/G`` at the pixel level once both are divided by
    their ``size`` x ``size`` local mean (removing the specimen and the smooth part of
    the pattern, which may be symmetric). Returns the Pearson R for ``"as given"``
    and the flipped/rotated variants (transposes only on square detectors).
    """
    g = normalize_gain(gain)
    checks.require_shape(g, np.shape(total), "gain reference")
    flat: np.ndarray = np.ones(g.shape, dtype=np.float32)
    np.divide(np.float32(1.0), g, out=flat, where=g > 0)
    a = _highpass(total, size)
    square = flat.shape[0] == flat.shape[1]
    if size % 2:
        # A centred window with mirrored borders commutes with flips and transposes, so
        # the high-pass of every orientation is that orientation of one high-pass (the
        # transposed family: flips of one contiguous transposed copy), all of one norm.
        b = _highpass(flat, size)
        variants = _orientations(b, np.ascontiguousarray(b.T) if square else None)
        norms = dict.fromkeys(variants, _dot(b, b))
    else:  # an even window is not centred: high-pass every orientation itself
        views = _orientations(flat, flat.T if square else None)
        variants = {name: _highpass(np.ascontiguousarray(v), size) for name, v in views.items()}
        norms = {name: _dot(v, v) for name, v in variants.items()}
    norm_a = _dot(a, a)
    out = {}
    for name, v in variants.items():
        den = float(np.sqrt(norm_a * norms[name]))
        out[name] = _dot(a, v) / den if den > 0 else 0.0
    return out


def _orientations(image: np.ndarray, transposed: np.ndarray | None) -> dict[str, np.ndarray]:
    """The image flipped and rotated (views); the transposed family only when given."""
    views = {
        "as given": image,
        "flipped up-down": image[::-1],
        "flipped left-right": image[:, ::-1],
        "rotated 180": image[::-1, ::-1],
    }
    if transposed is not None:
        views["transposed"] = transposed
        views["rotated 90"] = transposed[::-1]
        views["rotated 270"] = transposed[:, ::-1]
        views["anti-transposed"] = transposed[::-1, ::-1]
    return views


def _highpass(image: np.ndarray, size: int) -> np.ndarray:
    """``image / local mean - 1`` (0 where the local mean is not positive), mean 0, float32."""
    data = np.asarray(image, dtype=np.float32)
    hp: np.ndarray = uniform_filter(data, size=size, mode="mirror")
    positive = hp > 0
    np.divide(data, hp, out=hp, where=positive)
    hp[~positive] = 1.0
    hp -= np.float32(1.0)
    hp -= np.float32(hp.mean(dtype=np.float64))
    return hp


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Sum of ``a * b`` over two images (views of any strides): float32 rows, float64 total."""
    return float(np.einsum("ij,ij->i", a, b).sum(dtype=np.float64))


def warn_if_misoriented(total: np.ndarray, gain: np.ndarray) -> dict[str, float]:
    """Run :func:`orientation_check`; warn (:class:`~mrczio.errors.CorrectionWarning`)
    when a flipped or transposed gain matches the data clearly better than the one
    given. Returns the correlations."""
    r = orientation_check(total, gain)
    noise = 1.0 / float(np.sqrt(np.size(total)))
    best = max(r, key=lambda k: r[k])
    if best != "as given" and r[best] > 6 * noise and r[best] > r["as given"] + 6 * noise:
        warnings.warn(
            f"the gain reference matches the data better {best} (R={r[best]:.3f}) than as "
            f"given (R={r['as given']:.3f}); check its orientation",
            CorrectionWarning,
            stacklevel=3,
        )
    return r


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
    checks.require_finite(f, "flat")
    g = normalize_gain(gain).astype(np.float64)
    checks.require_shape(g, f.shape, "gain reference")
    logg = np.log(np.where(g > 0, g, 1.0))

    def cost(gamma: float) -> float:
        return smoothed_cv(f * np.exp(gamma * logg), size, crop)

    res = minimize_scalar(cost, bounds=bounds, method="bounded", options={"xatol": 1e-4})
    mean_counts = max(float(f.mean()), 1e-12)
    return GammaFit(float(res.x), float(res.fun), cost(1.0), 1.0 / (size * np.sqrt(mean_counts)))


def _without_separable(image: np.ndarray, block_size: int) -> np.ndarray:
    """``image`` minus its row means, column means and ``block_size`` block means."""
    x = image - image.mean(axis=1, keepdims=True)
    x = x - x.mean(axis=0, keepdims=True)
    return np.asarray(x - block_means(x, block_size))


def fit_gamma_robust(flat: np.ndarray, gain: np.ndarray, *, block_size: int = 64, size: int = 16) -> GammaFit:
    """Gamma from the part of the pattern that gamma can explain (robust to blocks).

    ``log(flat * G**gamma) = log flat + gamma log G`` is linear in gamma. A CMOS pattern
    of rows, columns and ``block_size`` blocks is in both the flat and the vendor gain
    but does not scale with gamma, so eq. 10 trades it off against the etching pattern
    (a 1.5 % block pattern moves eq. 10 by several hundredths). Here row, column and
    block means are removed from ``log flat`` and ``log G``, both are smoothed by a
    ``size`` box (shot noise; borders cropped) and gamma is the least-squares solution
    of ``A + gamma B = 0``. ``cv`` and ``cv_at_one`` are the std of that smoothed
    residual at gamma and at 1; ``noise_floor`` its shot-noise level.
    """
    f = np.asarray(flat, dtype=np.float64)
    checks.require_finite(f, "flat")
    g = normalize_gain(gain).astype(np.float64)
    checks.require_shape(g, f.shape, "gain reference")
    block = checks.whole(block_size, "block_size", 1)
    size = checks.whole(size, "size", 1)
    crop = size // 2
    if min(f.shape) <= 2 * crop + 1:
        raise CorrectionInputError(f"flat {f.shape} too small for smoothing size {size}")
    logf = np.log(np.maximum(f, 1.0))
    logg = np.log(np.where(g > 0, g, 1.0))
    parts = [_without_separable(x, block) for x in (logf, logg)]
    a, b = (uniform_filter(x, size=size, mode="reflect")[crop:-crop, crop:-crop] for x in parts)
    bb = float((b * b).sum())
    if bb <= 0:
        raise CorrectionInputError("gain reference has no pattern beyond rows, columns and blocks")
    gamma = -float((a * b).sum()) / bb
    mean_counts = max(float(f.mean()), 1e-12)
    return GammaFit(
        gamma, float((a + gamma * b).std()), float((a + b).std()), 1.0 / (size * np.sqrt(mean_counts))
    )


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
