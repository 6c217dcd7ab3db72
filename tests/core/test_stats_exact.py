"""RunningStats' integer paths give exactly the moments of an int64 reference, for every
8- and 16-bit type, any alignment and byte order, and sizes around the vector, flush,
slice and word boundaries: the compiled kernel (``mrczio._moments``) and the pure-numpy
path (packed 64-bit lane sums over cache-sized slices) alike."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from mrczio import stats
from mrczio.stats import RunningStats


def _reference(frame: np.ndarray) -> tuple[int, float, float, float, float]:
    x = frame.reshape(-1).astype(np.int64)
    n, total, squares = x.size, int(x.sum()), int((x * x).sum())
    return n, float(x.min()), float(x.max()), total / n, (n * squares - total * total) / n


def _frames(dtype: type, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    info = np.iinfo(dtype)
    return [
        rng.poisson(1.0, size).astype(dtype),  # counts: nibble-sized values
        rng.poisson(30.0, size).astype(dtype),  # squares beyond 8 bits
        rng.integers(info.min, info.max, size, endpoint=True).astype(dtype),  # full range
        np.full(size, info.max, dtype=dtype),
        np.full(size, info.min, dtype=dtype),
        rng.integers(max(info.min, -20), 10, size, endpoint=True).astype(dtype),  # negative minimum
    ]


Moments = Callable[[np.ndarray], tuple[int, float, float, float, float]]

#: Both implementations: the compiled kernel (through the dispatcher) and numpy's.
PATHS = {"compiled": stats._integer_moments, "numpy": stats._numpy_integer_moments}

#: Sizes around the word, vector (16 and 32 bytes), flush (64 KiB) and slice boundaries.
SIZES = [
    1,
    7,
    8,
    9,
    15,
    16,
    17,
    31,
    33,
    1000,
    65535,
    65536,
    65537,
    3 * 65536 + 17,
    (1 << 19) + 5,
    (1 << 20) + 3,
]


def test_the_compiled_kernel_is_built() -> None:
    """The test install builds it (setup.py); without it the first path would test numpy twice."""
    assert stats._compiled_kernel() is not None


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16])
@pytest.mark.parametrize("size", SIZES)
def test_integer_moments_are_exact(path: str, dtype: type, size: int) -> None:
    moments = PATHS[path]
    rng = np.random.default_rng(size)
    for frame in _frames(dtype, size, rng):
        assert moments(frame) == _reference(frame)
        shifted = np.empty(size + 1, dtype=dtype)[1:]  # not on an 8-byte boundary
        shifted[...] = frame
        assert moments(shifted) == _reference(frame)


@pytest.mark.parametrize("dtype", [">u2", ">i2"])
def test_swapped_byte_order_gives_the_values_not_the_bytes(dtype: str) -> None:
    frame = np.random.default_rng(4).integers(-300, 3000, 5000).clip(np.iinfo(dtype).min).astype(dtype)
    assert stats._integer_moments(frame) == _reference(frame)


def test_strided_frames_take_the_numpy_path_exactly() -> None:
    frame = np.random.default_rng(5).poisson(3.0, (300, 400)).astype(np.uint8)[:, ::3]
    assert not frame.flags.c_contiguous
    assert stats._integer_moments(frame) == _reference(frame)


def test_the_numpy_path_is_used_when_the_kernel_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = np.random.default_rng(6).poisson(1.0, 70_000).astype(np.uint8)
    calls: list[int] = []
    numpy_path = stats._numpy_integer_moments
    monkeypatch.setattr(stats, "_compiled_kernel", lambda: None)
    monkeypatch.setattr(stats, "_numpy_integer_moments", lambda f: calls.append(f.size) or numpy_path(f))
    assert stats._integer_moments(frame) == _reference(frame)
    assert calls == [frame.size]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16])
def test_slices_with_different_spans_combine_exactly(dtype: type) -> None:
    step = stats._SLICE_BYTES // np.dtype(dtype).itemsize
    rng = np.random.default_rng(3)
    high = min(np.iinfo(dtype).max, 3000)
    parts = [rng.poisson(1.0, step), 100 + rng.poisson(2.0, step), rng.integers(0, high, step // 3)]
    frame = np.concatenate(parts).astype(dtype)
    assert stats._numpy_integer_moments(frame) == _reference(frame)


def test_running_stats_of_a_stack_match_numpy() -> None:
    rng = np.random.default_rng(7)
    stack = rng.poisson(1.0, (3, 300, 301)).astype(np.uint8)
    running = RunningStats()
    for frame in stack:
        running.add(frame)
    n, lo, hi, mean, m2 = _reference(stack)
    assert (running.minimum, running.maximum, running.count) == (lo, hi, n)
    assert running.mean == pytest.approx(mean, rel=1e-15)
    assert running.rms == pytest.approx(np.sqrt(m2 / n), rel=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.uint32])
@pytest.mark.parametrize("size", [1, 1000, 65536, 65537, 3 * 65536 + 17])
def test_float_moments_over_slices_match_a_whole_frame_float64_reference(dtype: type, size: int) -> None:
    rng = np.random.default_rng(size)
    # An offset far from zero: a naive sum of squares would lose the variance.
    frame = (1e4 + rng.normal(0.0, 3.0, size)).astype(dtype)
    x = frame.astype(np.float64)
    n, lo, hi, mean, m2 = stats._float_moments(frame)
    assert (n, lo, hi) == (size, float(x.min()), float(x.max()))
    assert mean == pytest.approx(float(x.mean()), rel=1e-14)
    reference = float(((x - x.mean()) ** 2).sum())
    assert m2 == pytest.approx(reference, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("where", [0, 65535, 65536, 100_000])
def test_a_nan_anywhere_reaches_every_float_moment(where: int) -> None:
    frame = np.ones(3 * 65536, dtype=np.float32)
    frame[where] = np.nan
    n, lo, hi, mean, m2 = stats._float_moments(frame)
    assert n == frame.size and all(np.isnan(v) for v in (lo, hi, mean, m2))


@pytest.mark.parametrize("where", [0, 65535, 65536, 3 * 65536 - 1])
def test_an_infinity_anywhere_makes_the_mean_infinite_and_the_rms_nan(where: int) -> None:
    frame = np.full(3 * 65536, 5.0, dtype=np.float32)
    frame[where] = np.inf
    _, lo, hi, mean, m2 = stats._float_moments(frame)
    assert (lo, hi, mean) == (5.0, math.inf, math.inf) and math.isnan(m2)
    running = RunningStats()
    running.add(np.full(10, 1.0, dtype=np.float32))
    running.add(frame)
    assert running.mean == math.inf and math.isnan(running.rms)


def test_large_offset_with_a_tiny_spread_keeps_float64_accuracy() -> None:
    from fractions import Fraction

    x = 1e10 + np.random.default_rng(0).normal(0.0, 1e-3, 3 * 65536 + 5)
    n, _, _, mean, m2 = stats._float_moments(x)
    exact = [Fraction(v) for v in x]
    mu = sum(exact) / n
    reference = sum((v - mu) ** 2 for v in exact)
    assert abs(Fraction(m2) - reference) / reference < 1e-12
    assert abs(Fraction(mean) - mu) <= Fraction(4e-6)  # two float64 ulps at 1e10


def test_an_empty_frame_adds_nothing() -> None:
    running = RunningStats()
    running.add(np.ones(4, dtype=np.float32))
    running.add(np.ones(0, dtype=np.float32))
    assert (running.count, running.mean, running.rms) == (4, 1.0, 0.0)


def test_a_first_slice_far_from_the_mean_takes_the_centred_second_pass() -> None:
    rng = np.random.default_rng(5)
    frame = np.zeros(4 * 65536, dtype=np.float64)
    frame[65536:] = 1e6 + rng.normal(0.0, 1e-2, 3 * 65536)  # the shift (first slice: 0) is far off
    _, _, _, mean, m2 = stats._float_moments(frame)
    assert mean == pytest.approx(float(frame.mean()), rel=1e-15)
    assert m2 == pytest.approx(float(((frame - frame.mean()) ** 2).sum()), rel=1e-12)
