"""Exact header statistics (DMIN, DMAX, DMEAN, RMS) accumulated frame by frame.

Frames are combined with Chan et al.'s pairwise update, so streaming a stack gives the
same mean and standard deviation as computing them on the whole array. Integer frames of
up to 16 bits use exact integer sums of values and squares, computed in cache-sized
slices (a 14 MB counting frame takes ~10 ms instead of ~60 ms with ``np.bincount``);
other dtypes use float64 moments.

Complex data follows mrcfile: the header gets only the RMS deviation of the complex
values, DMIN/DMAX/DMEAN stay undetermined. The exact complex extremes and mean (what
numpy's ``min``/``max``/``mean`` return, which ``mrcfile.validate`` compares with a
header) are still tracked, for validation.
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
        # Complex data: (real, imaginary) of the smallest and largest value in numpy's
        # order (real part first, then imaginary part).
        self._low: tuple[float, float] = (math.inf, math.inf)
        self._high: tuple[float, float] = (-math.inf, -math.inf)

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
            self._add_complex_extremes(values, frame.imag)
        if values.dtype.itemsize <= 2 and values.dtype.kind in "iu":
            n, lo, hi, mean, m2 = _integer_moments(values)
        else:
            n, lo, hi, mean, m2 = _float_moments(values)
        self._combine(n, lo, hi, mean, m2)

    def _add_complex_extremes(self, real: np.ndarray, imag: np.ndarray) -> None:
        lo, hi = real.min(), real.max()
        self._low = min(self._low, (float(lo), float(imag[real == lo].min(initial=math.inf))))
        self._high = max(self._high, (float(hi), float(imag[real == hi].max(initial=-math.inf))))

    def merge(self, other: RunningStats) -> None:
        """Add everything ``other`` has seen (statistics of frames computed elsewhere)."""
        if other.count:
            self._combine(other.count, other.minimum, other.maximum, other.mean, other._m2)
        if other._imaginary is not None:
            if self._imaginary is None:
                self._imaginary = RunningStats()
            self._imaginary.merge(other._imaginary)
            self._low = min(self._low, other._low)
            self._high = max(self._high, other._high)

    @property
    def is_complex(self) -> bool:
        """True once complex data has been added."""
        return self._imaginary is not None

    def _combine(self, n: int, lo: float, hi: float, mean: float, m2: float) -> None:
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self._m2 += m2 + delta * delta * self.count * n / total
        self.count = total
        self.minimum = _smaller(self.minimum, lo)
        self.maximum = -_smaller(-self.maximum, -hi)

    @property
    def rms(self) -> float:
        """Root-mean-square deviation from the mean (the MRC2014 ``rms`` field)."""
        if not self.count:
            return 0.0
        m2 = self._m2 + (self._imaginary._m2 if self._imaginary is not None else 0.0)
        return math.sqrt(m2 / self.count)

    def extremes(self) -> tuple[complex, complex] | tuple[float, float]:
        """numpy's ``data.min()`` and ``data.max()``: complex values are ordered by real
        part, then imaginary part."""
        if self._imaginary is None:
            return self.minimum, self.maximum
        return complex(*self._low), complex(*self._high)

    def full_mean(self) -> complex | float:
        """numpy's ``data.mean()``: complex for complex data."""
        if self._imaginary is None:
            return self.mean
        return complex(self.mean, self._imaginary.mean)

    def header_values(self) -> tuple[float, float, float, float]:
        """(dmin, dmax, dmean, rms), or MRC2014's "not computed" values when empty.

        Complex data gets only its RMS deviation; DMIN, DMAX and DMEAN stay undetermined
        (0, -1, -2), as mrcfile writes them: float32 fields cannot hold complex values,
        and ``mrcfile.validate`` rejects real-part statistics of complex data.
        """
        if self.count == 0:
            return UNDETERMINED
        if self._imaginary is not None:
            return UNDETERMINED[0], UNDETERMINED[1], UNDETERMINED[2], self.rms
        return self.minimum, self.maximum, self.mean, self.rms


#: MRC2014's "not computed" statistics (DMAX < DMIN, DMEAN < both, RMS < 0), as mrcfile
#: writes them.
UNDETERMINED = (0.0, -1.0, -2.0, -1.0)


def _smaller(current: float, new: float) -> float:
    """The smaller value; NaN once either is NaN (as numpy's ``min``)."""
    return new if new < current or math.isnan(new) else current


#: Elements per slice in :func:`_integer_moments` for 16-bit data (and the smallest for
#: 8-bit data): the widened copy stays in cache.
_SLICE = 1 << 16
_MAX_SLICE = 1 << 20

#: (widened type in which a square is exact, accumulator type of one slice's sums).
_WIDE_TYPES = {
    ("u", 1): (np.uint16, np.uint32),
    ("i", 1): (np.int16, np.int32),
    ("u", 2): (np.uint64, np.uint64),
    ("i", 2): (np.int64, np.int64),
}


def _integer_moments(frame: np.ndarray) -> tuple[int, float, float, float, float]:
    """Exact moments of an 8- or 16-bit integer frame from integer sums of v and v**2.

    Each slice is widened into a small reused buffer (8-bit to 16-bit is a fast SIMD
    cast), squared in place and summed in a 32- or 64-bit accumulator. For 8-bit data
    the slice is as long as the largest square allows without overflowing 32 bits
    (2**20 elements for counts below 64), so a K2 frame takes ~15 numpy calls.
    """
    flat = frame.reshape(-1)
    n = int(flat.size)
    lo, hi = int(flat.min()), int(flat.max())
    wide_type, sum_type = _WIDE_TYPES[(flat.dtype.kind, flat.dtype.itemsize)]
    step = _SLICE
    if flat.dtype.itemsize == 1:
        step = max(_SLICE, min(_MAX_SLICE, (2**31 - 1) // max(lo * lo, hi * hi, 1)))
    wide = np.empty(min(n, step), dtype=wide_type)
    total = squares = 0
    for start in range(0, n, step):
        part = wide[: min(step, n - start)]
        part[...] = flat[start : start + step]
        total += int(np.add.reduce(part, dtype=sum_type))
        np.multiply(part, part, out=part)
        squares += int(np.add.reduce(part, dtype=sum_type))
    m2 = (n * squares - total * total) / n  # exact integer numerator, one rounding
    return n, float(lo), float(hi), total / n, m2


def _float_moments(frame: np.ndarray) -> tuple[int, float, float, float, float]:
    n = int(frame.size)
    lo = float(np.min(frame))
    hi = float(np.max(frame))
    mean = float(np.mean(frame, dtype=np.float64))
    centred = frame.astype(np.float64).reshape(-1) - mean
    m2 = float(np.dot(centred, centred))
    return n, lo, hi, mean, m2
