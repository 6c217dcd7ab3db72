"""Exact header statistics (DMIN, DMAX, DMEAN, RMS) accumulated frame by frame.

Frames are combined with Chan et al.'s pairwise update, so streaming a stack gives the
same mean and standard deviation as computing them on the whole array. Byte frames use
a histogram (``np.bincount``), which is exact and several times faster than float sums.
"""

from __future__ import annotations

import math

import numpy as np


class RunningStats:
    """Min, max, mean and RMS deviation of everything passed to :meth:`add`."""

    def __init__(self) -> None:
        self.count = 0
        self.minimum = math.inf
        self.maximum = -math.inf
        self.mean = 0.0
        self._m2 = 0.0  # sum of squared deviations from the mean
        self._imaginary: RunningStats | None = None  # complex data: stats of the imaginary part

    @classmethod
    def from_summary(cls, count: int, minimum: float, maximum: float, mean: float, rms: float) -> RunningStats:
        """Resume from statistics computed earlier (e.g. read from a header)."""
        stats = cls()
        if count > 0:
            stats._combine(count, minimum, maximum, mean, rms * rms * count)
        return stats

    def add(self, frame: np.ndarray) -> None:
        if frame.size == 0:
            return
        values = frame
        if np.iscomplexobj(frame):
            # As mrcfile: min, max and mean of the real part; RMS of the complex values.
            values = frame.real
            if self._imaginary is None:
                self._imaginary = RunningStats()
            self._imaginary.add(frame.imag)
        if values.dtype.itemsize == 1 and values.dtype.kind in "iu":
            n, lo, hi, mean, m2 = _byte_moments(values)
        else:
            n, lo, hi, mean, m2 = _float_moments(values)
        self._combine(n, lo, hi, mean, m2)

    def _combine(self, n: int, lo: float, hi: float, mean: float, m2: float) -> None:
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self._m2 += m2 + delta * delta * self.count * n / total
        self.count = total
        self.minimum = min(self.minimum, lo)
        self.maximum = max(self.maximum, hi)

    @property
    def rms(self) -> float:
        """Root-mean-square deviation from the mean (the MRC2014 ``rms`` field)."""
        if not self.count:
            return 0.0
        m2 = self._m2 + (self._imaginary._m2 if self._imaginary is not None else 0.0)
        return math.sqrt(m2 / self.count)

    def header_values(self) -> tuple[float, float, float, float]:
        """(dmin, dmax, dmean, rms), or MRC2014's "not computed" values when empty."""
        if self.count == 0:
            return 0.0, -1.0, -2.0, -1.0
        return self.minimum, self.maximum, self.mean, self.rms


def _byte_moments(frame: np.ndarray) -> tuple[int, float, float, float, float]:
    offset = 128 if frame.dtype.kind == "i" else 0
    flat = frame.reshape(-1).view(np.uint8) if offset == 0 else (frame.reshape(-1).astype(np.int16) + offset)
    hist = np.bincount(flat, minlength=256).astype(np.float64)
    levels = np.arange(hist.size, dtype=np.float64) - offset
    present = np.nonzero(hist)[0]
    n = int(frame.size)
    mean = float(hist @ levels) / n
    m2 = float(hist @ (levels - mean) ** 2)
    return n, float(levels[present[0]]), float(levels[present[-1]]), mean, m2


def _float_moments(frame: np.ndarray) -> tuple[int, float, float, float, float]:
    n = int(frame.size)
    lo = float(np.min(frame))
    hi = float(np.max(frame))
    mean = float(np.mean(frame, dtype=np.float64))
    centred = frame.astype(np.float64).reshape(-1) - mean
    m2 = float(np.dot(centred, centred))
    return n, lo, hi, mean, m2
