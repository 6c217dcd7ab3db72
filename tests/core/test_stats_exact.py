"""RunningStats' integer path (packed 64-bit lane sums over cache-sized slices) gives
exactly the moments of an int64 reference, for every 8- and 16-bit type, any alignment,
slices with different minima and spans, and sizes around the slice and word boundaries."""

from __future__ import annotations

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


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16])
@pytest.mark.parametrize("size", [1, 7, 8, 9, 1000, (1 << 19) + 5, (1 << 20) + 3])
def test_integer_moments_are_exact(dtype: type, size: int) -> None:
    rng = np.random.default_rng(size)
    for frame in _frames(dtype, size, rng):
        assert stats._integer_moments(frame) == _reference(frame)
        shifted = np.empty(size + 1, dtype=dtype)[1:]  # not on an 8-byte boundary
        shifted[...] = frame
        assert stats._integer_moments(shifted) == _reference(frame)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16])
def test_slices_with_different_spans_combine_exactly(dtype: type) -> None:
    step = stats._SLICE_BYTES // np.dtype(dtype).itemsize
    rng = np.random.default_rng(3)
    high = min(np.iinfo(dtype).max, 3000)
    parts = [rng.poisson(1.0, step), 100 + rng.poisson(2.0, step), rng.integers(0, high, step // 3)]
    frame = np.concatenate(parts).astype(dtype)
    assert stats._integer_moments(frame) == _reference(frame)


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
