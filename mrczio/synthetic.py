"""Seeded synthetic detector data for tests, benchmarks and ``mrczio demo``.

:func:`counting_movie` makes plain Poisson frames. :class:`SyntheticDetector` models a
counting direct detector with known ground truth (filters.md section 3a)::

    X[t, p] ~ Poisson(lambda * (specimen (*) psf)[p] * E[p]**gamma(delta) * C[p] + h[p])

with an etching pattern ``E`` (diagonal sweeps plus blotches), a CMOS pattern ``C``
(column and row gains plus read-out seams), hot pixels ``h`` (a static population plus
a birth-death population that appears and disappears between stacks, optionally as
2x2 clusters) and dead pixels. Every stack comes back with its truth.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.ndimage import convolve, gaussian_filter

from mrczio.corrections.gain import K2_GAMMA_PARAMS, gamma_curve

#: Dose rate (e-/pix/s) at which the K2 gamma curve equals 1: the vendor-gain rate.
REFERENCE_DOSE_RATE = 2.52


def counting_movie(
    n_frames: int = 8,
    shape: tuple[int, int] = (512, 512),
    dose: float = 1.0,
    seed: int = 0,
    dtype: str = "uint8",
) -> np.ndarray:
    """Poisson counting frames of mean ``dose`` electrons per pixel, as ``dtype``.

    Values are clipped to the dtype's range (irrelevant for realistic doses).
    """
    rng = np.random.default_rng(seed)
    counts = rng.poisson(dose, size=(n_frames, *shape))
    info = np.iinfo(dtype)
    return np.clip(counts, info.min, info.max).astype(dtype)


@dataclass(frozen=True)
class DetectorModel:
    """Parameters of :class:`SyntheticDetector` (fractions are per pixel)."""

    shape: tuple[int, int] = (512, 512)
    etch_amplitude: float = 0.04
    column_gain: float = 0.01
    row_gain: float = 0.005
    seam_period: int = 256
    seam_depth: float = 0.03
    psf: tuple[float, float, float] = (0.952, 0.01, 0.002)
    static_hot: float = 0.003
    hot_birth: float = 6e-4
    hot_death: float = 0.2
    hot_z_median: float = 6.0
    hot_z_logsd: float = 1.0
    cluster_fraction: float = 0.1
    dead: float = 2e-4
    dead_level: float = 0.0
    gamma_params: tuple[float, float, float, float] = K2_GAMMA_PARAMS


@dataclass
class SyntheticStack:
    """One stack and its ground truth.

    ``rate`` is the expected counts per frame without outliers; ``excess`` the hot
    excess per frame; ``strength`` the outlier's excess in the n-frame sum in Poisson
    sigma of that sum (positive hot, negative dead, 0 elsewhere).
    """

    data: np.ndarray
    rate: np.ndarray
    excess: np.ndarray
    hot: np.ndarray
    dead: np.ndarray
    strength: np.ndarray
    dose_rate: float
    frame_time: float
    gamma: float
    index: int = 0
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def outliers(self) -> np.ndarray:
        """Truth mask of all outliers (hot or dead)."""
        return np.asarray(self.hot | self.dead)


def _psf_kernel(psf: tuple[float, float, float]) -> np.ndarray:
    c, e, d = psf
    k = np.array([[d, e, d], [e, c, e], [d, e, d]], dtype=np.float64)
    return np.asarray(k / k.sum())


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Zero-mean, unit-std Gaussian-smoothed white noise with correlation length ``scale``."""
    f = gaussian_filter(rng.standard_normal(shape), scale, mode="wrap")
    return np.asarray((f - f.mean()) / max(float(f.std()), 1e-12))


class SyntheticDetector:
    """A seeded synthetic counting detector; see the module docstring for the model."""

    def __init__(self, model: DetectorModel | None = None, seed: int = 0) -> None:
        self.model = model or DetectorModel()
        self.rng = np.random.default_rng(seed)
        self.etch = self._etching()
        self.cmos = self._cmos()
        ny, nx = self.model.shape
        self.z = np.exp(
            np.log(self.model.hot_z_median)
            + self.model.hot_z_logsd * self.rng.standard_normal((ny, nx))
        ).astype(np.float32)
        self.static_hot = self._clustered(self.rng.random((ny, nx)) < self.model.static_hot)
        self.dead = (self.rng.random((ny, nx)) < self.model.dead) & ~self.static_hot
        self.dynamic_hot = np.zeros((ny, nx), dtype=bool)
        self.n_stacks = 0

    def _etching(self) -> np.ndarray:
        ny, nx = self.model.shape
        y, x = np.mgrid[0:ny, 0:nx].astype(np.float64)
        u = (x + y) / max(nx, ny)
        sweeps = np.sin(2 * np.pi * (7 * u + 0.8 * np.sin(2 * np.pi * 1.3 * u)))
        blotch = smooth_field(self.rng, (ny, nx), max(ny, nx) / 16)
        e = 1.0 + self.model.etch_amplitude * (0.7 * sweeps + 0.5 * blotch)
        return np.asarray(e / e.mean(), dtype=np.float64)

    def _cmos(self) -> np.ndarray:
        ny, nx = self.model.shape
        m = self.model
        cols = 1.0 + m.column_gain * self.rng.standard_normal(nx)
        rows = 1.0 + m.row_gain * self.rng.standard_normal(ny)
        c = rows[:, None] * cols[None, :]
        if m.seam_period > 0:
            c[:, m.seam_period - 1 :: m.seam_period] *= 1.0 - m.seam_depth
            c[m.seam_period - 1 :: m.seam_period, :] *= 1.0 - m.seam_depth
        return np.asarray(c / c.mean())

    def _clustered(self, seeds: np.ndarray) -> np.ndarray:
        """Grow a ``cluster_fraction`` of the seed pixels into 2x2 clusters."""
        grow = seeds & (self.rng.random(seeds.shape) < self.model.cluster_fraction)
        out = seeds.copy()
        out[1:, :] |= grow[:-1, :]
        out[:, 1:] |= grow[:, :-1]
        out[1:, 1:] |= grow[:-1, :-1]
        z = self.z if hasattr(self, "z") else None
        if z is not None:
            for dy, dx in ((1, 0), (0, 1), (1, 1)):
                src = np.zeros_like(grow)
                src[dy:, dx:] = grow[: grow.shape[0] - dy, : grow.shape[1] - dx]
                z[src] = np.roll(np.roll(z, dy, 0), dx, 1)[src]
        return out

    def flat(self, dose_rate: float) -> np.ndarray:
        """The relative response ``E**gamma(delta) * C`` at ``dose_rate`` (mean ~1)."""
        g = gamma_curve(dose_rate, self.model.gamma_params, valid_range=None)
        return np.asarray(self.etch**g * self.cmos)

    def gamma(self, dose_rate: float) -> float:
        """The true gamma of this detector at ``dose_rate``."""
        return gamma_curve(dose_rate, self.model.gamma_params, valid_range=None)

    def vendor_gain(
        self, counts: float = 1e4, dose_rate: float = REFERENCE_DOSE_RATE
    ) -> np.ndarray:
        """A vendor gain 1/flat estimated from a finite-count flat (``counts`` e-/pix)."""
        lam = counts * self.flat(dose_rate)
        measured = self.rng.poisson(lam).astype(np.float64)
        measured[measured <= 0] = np.nan
        g = np.where(np.isfinite(measured), 1.0 / measured, 0.0)
        good = g > 0
        g[good] /= g[good].mean()
        return g.astype(np.float32)

    def flat_counts(
        self, counts: float, dose_rate: float, with_outliers: bool = False
    ) -> np.ndarray:
        """A flat-field count image of mean ``counts`` at ``dose_rate``."""
        lam = counts * self.flat(dose_rate)
        if with_outliers:
            lam = np.where(self.dead, lam * self.model.dead_level, lam)
        return self.rng.poisson(lam).astype(np.float64)

    def specimen(self, contrast: float, scale: float = 6.0) -> np.ndarray:
        """A smooth positive specimen transmission of mean ~1 and std ``contrast``."""
        if contrast <= 0:
            return np.ones(self.model.shape)
        return np.clip(1.0 + contrast * smooth_field(self.rng, self.model.shape, scale), 0.05, None)

    def _step_dynamic(self) -> None:
        m = self.model
        alive = self.dynamic_hot & (self.rng.random(m.shape) >= m.hot_death)
        born = self.rng.random(m.shape) < m.hot_birth
        self.dynamic_hot = (alive | self._clustered(born)) & ~self.dead

    def stack(
        self,
        n_frames: int = 50,
        dose_rate: float = 4.0,
        frame_time: float = 0.25,
        contrast: float = 0.1,
        *,
        outliers: bool = True,
        dtype: str = "uint8",
    ) -> SyntheticStack:
        """Acquire the next stack; dynamic hot pixels evolve between calls."""
        if self.n_stacks:
            self._step_dynamic()
        self.n_stacks += 1
        lam = dose_rate * frame_time
        spec = convolve(self.specimen(contrast), _psf_kernel(self.model.psf), mode="reflect")
        rate = (lam * spec * self.flat(dose_rate)).astype(np.float32)
        hot = (self.static_hot | self.dynamic_hot) if outliers else np.zeros(rate.shape, bool)
        dead = self.dead.copy() if outliers else np.zeros(rate.shape, bool)
        strength = np.zeros(rate.shape, dtype=np.float32)
        strength[hot] = self.z[hot]
        excess = np.zeros(rate.shape, dtype=np.float32)
        excess[hot] = self.z[hot] * np.sqrt(n_frames * rate[hot]) / n_frames
        live = np.where(dead, rate * self.model.dead_level, rate) + excess
        strength[dead] = -(1 - self.model.dead_level) * np.sqrt(n_frames * rate[dead])
        counts = self.rng.poisson(live[None], size=(n_frames, *rate.shape))
        info = np.iinfo(dtype)
        data = np.clip(counts, info.min, info.max).astype(dtype)
        return SyntheticStack(
            data,
            rate,
            excess,
            hot,
            dead,
            strength,
            dose_rate,
            frame_time,
            self.gamma(dose_rate),
            self.n_stacks - 1,
        )

    def series(self, n_stacks: int, **stack_kwargs: Any) -> Iterator[SyntheticStack]:
        """``n_stacks`` consecutive stacks (see :meth:`stack` for the keywords)."""
        for _ in range(n_stacks):
            yield self.stack(**stack_kwargs)
