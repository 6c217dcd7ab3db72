"""Seeded synthetic detector data for tests, benchmarks and ``mrczio demo``.

:func:`counting_movie` makes plain Poisson frames. :class:`SyntheticDetector` models a
counting direct detector with known ground truth (filters.md section 3a)::

    X[t, p] ~ Poisson(lambda * (specimen (*) psf)[p] * E[p]**gamma(delta) * C[p] + h[p])

with an etching pattern ``E`` (diagonal sweeps plus blotches), a CMOS pattern ``C``
(column and row gains plus read-out seams), hot pixels ``h`` (a static population plus
a birth-death population that appears and disappears between stacks, optionally as
2x2 clusters) and dead pixels. Every stack comes back with its truth.

Optional cases (all off by default, drawn from a second random stream so the default
model's output does not change): ``charge_sharing`` moves that fraction of each
pixel's counts to its neighbours with the paper's K2 PSF weights (counts become
correlated, not only the rate); ``block_pattern`` multiplies ``C`` by a CMOS block
pattern (``block_size`` squares of relative std ``block_pattern``); ``transient_hot``
pixels are hot only for ``transient_frames`` consecutive frames inside a stack;
``line_defects`` hot and dead column segments; ``pattern_drift`` lets the fixed
pattern evolve from stack to stack (for KOMA series); ``pixel_gain`` adds an
independent per-pixel gain of that relative std (real detectors: ~10 %).
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
    charge_sharing: float = 0.0
    block_pattern: float = 0.0
    block_size: int = 64
    transient_hot: float = 0.0
    transient_frames: int = 8
    line_defects: int = 0
    line_length: int = 32
    pattern_drift: float = 0.0
    pixel_gain: float = 0.0


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


#: Paper Table 1 (K2 PSF) charge-sharing weights by (|dy|, |dx|), centre excluded.
_SHARE_TAPS = {(0, 1): 0.173, (0, 2): 0.03, (1, 1): 0.084, (1, 2): 0.02, (2, 2): 0.007}


def share_charge(counts: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Move ``fraction`` of each pixel's counts to its 5x5 neighbours with the paper's
    K2 PSF weights (wrapping at the borders); the total count is kept."""
    taps = []
    for (a, b), w in _SHARE_TAPS.items():
        offsets = {(sy * a, sx * b) for sy in (-1, 1) for sx in (-1, 1)}
        offsets |= {(sy * b, sx * a) for sy in (-1, 1) for sx in (-1, 1)}
        taps += [(dy, dx, w) for dy, dx in offsets]
    weights = np.array([w for _, _, w in taps])
    weights = weights / weights.sum()
    moved = rng.binomial(counts, fraction)
    out = counts - moved
    left = moved
    remaining = 1.0
    for (dy, dx, _), w in zip(taps, weights, strict=True):
        part = rng.binomial(left, min(1.0, w / remaining)) if remaining > 0 else left
        left = left - part
        remaining -= w
        out += np.roll(part, (dy, dx), axis=(1, 2))
    out += left
    return np.asarray(out)


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
            np.log(self.model.hot_z_median) + self.model.hot_z_logsd * self.rng.standard_normal((ny, nx))
        ).astype(np.float32)
        self.static_hot = self._clustered(self.rng.random((ny, nx)) < self.model.static_hot)
        self.dead = (self.rng.random((ny, nx)) < self.model.dead) & ~self.static_hot
        self.dynamic_hot = np.zeros((ny, nx), dtype=bool)
        self.n_stacks = 0
        self.rng2 = np.random.default_rng([seed, 1])
        self.cmos = self.cmos * self._blocks()
        if self.model.pixel_gain > 0:
            pix = 1.0 + self.model.pixel_gain * self.rng2.standard_normal((ny, nx))
            self.cmos = self.cmos * np.clip(pix, 0.2, None)
        self.line_hot, line_dead = self._lines()
        self.dead |= line_dead & ~self.static_hot
        self.static_hot |= self.line_hot
        self.dead &= ~self.static_hot
        self.drift = smooth_field(self.rng2, (ny, nx), max(ny, nx) / 8)

    def _blocks(self) -> np.ndarray:
        """The multiplicative CMOS block pattern (ones when ``block_pattern`` is 0)."""
        m = self.model
        ny, nx = m.shape
        if m.block_pattern <= 0:
            return np.ones((ny, nx))
        by, bx = -(-ny // m.block_size), -(-nx // m.block_size)
        levels = 1.0 + m.block_pattern * self.rng2.standard_normal((by, bx))
        full = np.repeat(np.repeat(levels, m.block_size, 0), m.block_size, 1)[:ny, :nx]
        return np.asarray(full / full.mean())

    def _lines(self) -> tuple[np.ndarray, np.ndarray]:
        """Hot and dead column segments (``line_defects`` of each)."""
        m = self.model
        hot = np.zeros(m.shape, dtype=bool)
        dead = np.zeros(m.shape, dtype=bool)
        for target in (hot, dead):
            for _ in range(m.line_defects):
                x = int(self.rng2.integers(0, m.shape[1]))
                y0 = int(self.rng2.integers(0, max(1, m.shape[0] - m.line_length)))
                target[y0 : y0 + m.line_length, x] = True
        return hot, dead

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

    def flat(self, dose_rate: float, stack_index: int = 0) -> np.ndarray:
        """The relative response ``E**gamma(delta) * C`` at ``dose_rate`` (mean ~1).

        With ``pattern_drift`` the response of stack ``stack_index`` is multiplied by
        ``1 + pattern_drift * stack_index * D`` for a fixed smooth unit field ``D``.
        """
        g = gamma_curve(dose_rate, self.model.gamma_params, valid_range=None)
        f = self.etch**g * self.cmos
        if self.model.pattern_drift and stack_index:
            f = f * np.clip(1.0 + self.model.pattern_drift * stack_index * self.drift, 0.1, None)
        return np.asarray(f)

    def gamma(self, dose_rate: float) -> float:
        """The true gamma of this detector at ``dose_rate``."""
        return gamma_curve(dose_rate, self.model.gamma_params, valid_range=None)

    def vendor_gain(self, counts: float = 1e4, dose_rate: float = REFERENCE_DOSE_RATE) -> np.ndarray:
        """A vendor gain 1/flat estimated from a finite-count flat (``counts`` e-/pix)."""
        lam = counts * self.flat(dose_rate)
        measured = self.rng.poisson(lam).astype(np.float64)
        measured[measured <= 0] = np.nan
        g = np.where(np.isfinite(measured), 1.0 / measured, 0.0)
        good = g > 0
        g[good] /= g[good].mean()
        return g.astype(np.float32)

    def flat_counts(self, counts: float, dose_rate: float, with_outliers: bool = False) -> np.ndarray:
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
        rate = (lam * spec * self.flat(dose_rate, self.n_stacks - 1)).astype(np.float32)
        hot = (self.static_hot | self.dynamic_hot) if outliers else np.zeros(rate.shape, bool)
        dead = self.dead.copy() if outliers else np.zeros(rate.shape, bool)
        strength = np.zeros(rate.shape, dtype=np.float32)
        strength[hot] = self.z[hot]
        excess = np.zeros(rate.shape, dtype=np.float32)
        excess[hot] = self.z[hot] * np.sqrt(n_frames * rate[hot]) / n_frames
        live = np.where(dead, rate * self.model.dead_level, rate) + excess
        strength[dead] = -(1 - self.model.dead_level) * np.sqrt(n_frames * rate[dead])
        if self.model.charge_sharing > 0:
            counts = self._shared_counts(n_frames, rate, excess, dead)
        else:
            counts = self.rng.poisson(live[None], size=(n_frames, *rate.shape))
        extras: dict[str, Any] = {}
        if outliers and self.model.transient_hot > 0:
            extras = self._add_transients(counts, rate, hot | dead)
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
            extras,
        )

    def _shared_counts(
        self, n_frames: int, rate: np.ndarray, excess: np.ndarray, dead: np.ndarray
    ) -> np.ndarray:
        """Counts with charge sharing: electrons spread before the pixel electronics, so
        dead pixels read ``dead_level`` of what they collect and hot excess is added
        after sharing (it is not charge)."""
        counts = self.rng2.poisson(rate[None], size=(n_frames, *rate.shape))
        counts = share_charge(counts, self.model.charge_sharing, self.rng2)
        if dead.any():
            counts[:, dead] = self.rng2.binomial(counts[:, dead], self.model.dead_level)
        hot = excess > 0
        counts[:, hot] += self.rng2.poisson(excess[hot], size=(n_frames, int(hot.sum())))
        return np.asarray(counts)

    def _add_transients(self, counts: np.ndarray, rate: np.ndarray, taken: np.ndarray) -> dict[str, Any]:
        """Add hot excess to ``transient_hot`` of the pixels for ``transient_frames``
        consecutive frames; returns the truth (mask, flat indices, start, stop, z)."""
        m = self.model
        n = counts.shape[0]
        length = min(m.transient_frames, n)
        mask = (self.rng2.random(rate.shape) < m.transient_hot) & ~taken
        idx = np.flatnonzero(mask)
        start = self.rng2.integers(0, n - length + 1, size=idx.size)
        z = np.exp(np.log(m.hot_z_median) + m.hot_z_logsd * self.rng2.standard_normal(idx.size))
        r = rate.ravel()[idx]
        per_frame = z * np.sqrt(n * r) / length  # z sigma of the n-frame sum
        flat = counts.reshape(n, -1)
        for k in range(length):
            t = start + k
            flat[t, idx] += self.rng2.poisson(per_frame)
        return {
            "transient": mask,
            "transient_index": idx,
            "transient_start": start,
            "transient_stop": start + length,
            "transient_z": z.astype(np.float32),
        }

    def series(self, n_stacks: int, **stack_kwargs: Any) -> Iterator[SyntheticStack]:
        """``n_stacks`` consecutive stacks (see :meth:`stack` for the keywords)."""
        for _ in range(n_stacks):
            yield self.stack(**stack_kwargs)
