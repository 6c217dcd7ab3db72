"""Exact header statistics (DMIN, DMAX, DMEAN, RMS) accumulated frame by frame.

Frames are combined with Chan et al.'s pairwise update, so streaming a stack gives the
same mean and standard deviation as computing them on the whole array. Integer frames of
up to 16 bits use exact integer sums of values and squares: each cache-sized slice is
copied once, shifted by its minimum and summed as packed lanes of 64-bit words, so
nearly all work is native 64-bit SIMD additions (a 14 MB counting frame: ~8 ms of CPU
on the shared benchmark machine; ``np.bincount`` takes ~190 ms, as it widens every
byte to int64); other dtypes use float64 moments.

Complex data follows mrcfile: the header gets only the RMS deviation of the complex
values, DMIN/DMAX/DMEAN stay undetermined. The exact complex extremes and mean (what
numpy's ``min``/``max``/``mean`` return, which ``mrcfile.validate`` compares with a
header) are still tracked, for validation.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

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
    def from_summary(
        cls, count: int, minimum: float, maximum: float, mean: float, rms: float
    ) -> RunningStats:
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
        self.mean, self._m2 = _chan(self.count, self.mean, self._m2, n, mean, m2)
        self.count += n
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


#: Bytes per slice of the integer paths: the slice and its temporaries (3.5 MiB for
#: 8-bit frames) stay in cache and far below a frame in memory.
_SLICE_BYTES = 1 << 19

#: Elements per piece of :func:`_widened_sums` (16-bit slices spanning more than 255).
_SLICE = 1 << 16

_UNSIGNED = {1: np.uint8, 2: np.uint16}


def _integer_moments(frame: np.ndarray) -> tuple[int, float, float, float, float]:
    """Exact moments of an 8- or 16-bit integer frame: compiled when built, else numpy."""
    kernel = _compiled_kernel()
    if kernel is None or not frame.flags.c_contiguous or frame.size > _KERNEL_MAX_VALUES:
        return _numpy_integer_moments(frame)
    n = int(frame.size)
    signed = frame.dtype.kind == "i"
    native = frame if frame.dtype.isnative else frame.astype(frame.dtype.newbyteorder("="))
    lo, hi, total, squares = kernel(native, frame.dtype.itemsize, signed)
    shift = 1 << (8 * frame.dtype.itemsize - 1) if signed else 0
    # The kernel summed u = v + shift; undo the shift exactly in Python integers.
    total -= shift * n
    squares -= 2 * shift * (total + shift * n) - shift * shift * n
    m2 = (n * squares - total * total) / n
    return n, float(lo - shift), float(hi - shift), total / n, m2


#: Values per call of the compiled kernel (its 64-bit sums are exact up to here).
_KERNEL_MAX_VALUES = 1 << 32


@functools.cache
def _compiled_kernel() -> Callable[[np.ndarray, int, bool], tuple[int, int, int, int]] | None:
    """``mrczio._moments.integer_moments`` when the C extension is built, else None."""
    try:
        from mrczio._moments import integer_moments
    except ImportError:
        return None
    return integer_moments


def _numpy_integer_moments(frame: np.ndarray) -> tuple[int, float, float, float, float]:
    """Exact moments of an 8- or 16-bit integer frame from integer sums of v and v**2.

    The frame is walked in cache-sized slices (:class:`_SliceSums`); each slice is copied
    once from memory, and its extremes, the sums of ``u = v - min`` and of ``u**2`` are
    all taken from the cached copy. The slices' exact integer sums are combined at the end.
    """
    flat = frame.reshape(-1)
    n = int(flat.size)
    sums = _SliceSums(flat.dtype, min(n, _SLICE_BYTES // flat.dtype.itemsize))
    lo, hi, total, squares = math.inf, -math.inf, 0, 0
    for start in range(0, n, sums.step):
        part_lo, part_hi, part_total, part_squares = sums.add(flat[start : start + sums.step])
        lo, hi = min(lo, part_lo), max(hi, part_hi)
        total += part_total
        squares += part_squares
    m2 = (n * squares - total * total) / n  # exact integer numerator, one rounding
    return n, float(lo), float(hi), total / n, m2


class _SliceSums:
    """Reused buffers and the exact (min, max, sum v, sum v**2) of one slice of a frame.

    A slice is copied into an aligned buffer whose padding stays zero (a frame of a stack
    need not start on an 8-byte boundary), shifted by its minimum (``u = v - lo``, exact
    in the unsigned type of the same width when the slice spans at most 255) and summed
    as packed lanes of 64-bit words (:func:`_packed_sum`). ``u**2`` is exact in
    16 bits when ``u <= 255``; a 16-bit slice spanning more is widened to 64 bits instead.
    """

    def __init__(self, dtype: np.dtype[Any], step: int) -> None:
        self.dtype = dtype
        self.step = step
        itemsize = dtype.itemsize
        per_word = 8 // itemsize
        self._raw = np.zeros(-(-step // per_word) * per_word, dtype=_UNSIGNED[itemsize])
        self._values = self._raw.view(dtype)  # the same bytes in the frame's own type
        self._squared = np.zeros(self._raw.size, dtype=np.uint16)
        self._scratch = np.empty((2, self._squared.nbytes // 8), dtype=np.uint64)

    def add(self, part: np.ndarray) -> tuple[int, int, int, int]:
        count = part.size
        if count < self._raw.size:  # a short (last) slice: zero the padding again
            self._raw[count:] = 0
        values = self._values[:count]
        np.copyto(values, part)
        lo, hi = int(values.min()), int(values.max())
        span = hi - lo
        if span > 255:
            total, squares = _widened_sums(values)
            return lo, hi, total, squares
        raw = self._raw[:count]
        if lo:
            np.subtract(raw, raw.dtype.type(lo % (1 << (8 * raw.itemsize))), out=raw)
        shifted_total = _packed_sum(self._raw.view(np.uint64), 8 * raw.itemsize, span, self._scratch)
        shifted_squares = self._square_sum(span)
        total = shifted_total + count * lo
        return lo, hi, total, shifted_squares + 2 * lo * shifted_total + count * lo * lo

    def _square_sum(self, span: int) -> int:
        """The sum of ``u**2`` over the shifted slice (padding included: it is zero)."""
        np.multiply(self._raw, self._raw, out=self._squared, dtype=np.uint16)
        return _packed_sum(self._squared.view(np.uint64), 16, span * span, self._scratch)


_LANE_MASKS = {
    bits: np.uint64(sum(((1 << bits) - 1) << shift for shift in range(0, 64, 2 * bits)))
    for bits in (8, 16, 32)
}


def _packed_sum(words: np.ndarray, bits: int, lane_max: int, scratch: np.ndarray) -> int:
    """Exact sum of all ``bits``-wide lanes of ``words`` when each lane is <= ``lane_max``.

    Rows of words are added as whole words while no lane can overflow, then neighbouring
    lanes are added into lanes twice as wide, and so on: almost all of the work is native
    64-bit additions over ever fewer words. ``words`` is not modified; ``scratch`` is a
    (2, >= words.size) uint64 buffer for the lane splits (fresh arrays would cost a page
    fault per 4 KiB).
    """
    if lane_max == 0:
        return 0
    while bits < 64:
        rows = min(((1 << bits) - 1) // lane_max, math.isqrt(words.size))  # <= size/rows left over
        if rows >= 3:
            words, lane_max = _fold_rows(words, rows - 1), lane_max * rows
        mask = _LANE_MASKS[bits]
        odd = np.right_shift(words, np.uint64(bits), out=scratch[1, : words.size])
        np.bitwise_and(odd, mask, out=odd)
        widened = np.bitwise_and(words, mask, out=scratch[0, : words.size])  # may be words itself
        widened += odd
        words, bits, lane_max = widened, 2 * bits, 2 * lane_max
    return int(np.add.reduce(words))  # whole words now; far below 2**64 for any frame


def _fold_rows(words: np.ndarray, rows: int) -> np.ndarray:
    """Add ``words`` as ``rows`` rows (plus the few left over onto the first row)."""
    width = words.size // rows
    folded: np.ndarray = np.add.reduce(words[: rows * width].reshape(rows, width), axis=0)
    rest = words[rows * width :]
    folded[: rest.size] += rest
    return folded


def _widened_sums(values: np.ndarray) -> tuple[int, int]:
    """(sum of v, sum of v**2) of a 16-bit slice, widened to 64 bits piece by piece."""
    wide_type = np.uint64 if values.dtype.kind == "u" else np.int64
    wide = np.empty(min(values.size, _SLICE), dtype=wide_type)
    total = squares = 0
    for start in range(0, values.size, _SLICE):
        part = wide[: min(_SLICE, values.size - start)]
        part[...] = values[start : start + _SLICE]
        total += int(np.add.reduce(part))
        np.multiply(part, part, out=part)
        squares += int(np.add.reduce(part))
    return total, squares


def _chan(
    count: int, mean: float, m2: float, n: int, part_mean: float, part_m2: float
) -> tuple[float, float]:
    """Mean and sum of squared deviations of two parts (Chan et al.'s update). With an
    infinite or NaN mean the mean is the weighted one (inf stays inf, as numpy's
    ``mean`` gives) and the squared deviations are NaN."""
    total = count + n
    if n == 0:
        return mean, m2
    if not (math.isfinite(mean) and math.isfinite(part_mean)):
        return (mean * count + part_mean * n) / total if count else part_mean, math.nan
    delta = part_mean - mean
    return mean + delta * n / total, m2 + part_m2 + delta * delta * count * n / total


def _float_moments(frame: np.ndarray) -> tuple[int, float, float, float, float]:
    """Moments of any other real frame in float64, over cache-sized slices.

    One pass widens each slice into a reused float64 buffer and sums its deviations
    from a shift (the first slice's mean) and their squares; no full-frame float64 copy
    is made. When the shift lies far from the mean compared with the spread, so that
    ``sum d**2 - (sum d)**2 / n`` would cancel, a second pass sums the deviations from
    the mean itself ("corrected two-pass"), which keeps the accuracy of centring the
    whole frame. NaN propagates to every moment; an infinity makes the mean infinite
    and the RMS NaN, as numpy's reductions do.
    """
    flat = frame.reshape(-1)
    n = int(flat.size)
    if n == 0:
        return 0, math.inf, -math.inf, 0.0, 0.0
    buffer = np.empty(min(n, _SLICE), dtype=np.float64)
    first = float(np.add.reduce(flat[:_SLICE], dtype=np.float64)) / buffer.size
    shift = first if math.isfinite(first) else 0.0
    lo, hi, total, squares = math.inf, -math.inf, 0.0, 0.0
    for start in range(0, n, _SLICE):
        part = flat[start : start + _SLICE]
        lo = float(np.minimum(lo, np.minimum.reduce(part)))
        hi = float(np.maximum(hi, np.maximum.reduce(part)))
        deviations = buffer[: part.size]
        np.subtract(part, shift, out=deviations, dtype=np.float64)
        total += float(np.add.reduce(deviations))
        np.multiply(deviations, deviations, out=deviations)
        squares += float(np.add.reduce(deviations))
    offset = total / n
    mean = shift + offset
    if not math.isfinite(mean):
        return n, lo, hi, mean, math.nan
    if offset * offset <= 0.01 * (squares / n):  # the shift is near the mean: little cancellation
        return n, lo, hi, mean, squares - total * total / n
    return n, lo, hi, mean, _centred_squares(flat, mean, buffer)


def _centred_squares(flat: np.ndarray, mean: float, buffer: np.ndarray) -> float:
    """Sum of squared deviations from ``mean``, corrected by the deviations' own sum."""
    residual = squares = 0.0
    for start in range(0, flat.size, _SLICE):
        centred = buffer[: min(_SLICE, flat.size - start)]
        np.subtract(flat[start : start + _SLICE], mean, out=centred, dtype=np.float64)
        residual += float(np.add.reduce(centred))
        np.multiply(centred, centred, out=centred)
        squares += float(np.add.reduce(centred))
    return squares - residual * residual / flat.size
