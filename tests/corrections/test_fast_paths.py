"""The fast paths of the default detection give the results of the plain definitions.

Each shortcut (separable ring mean, local update after clipping, fused sums, float32
prescreen, segment bound, sparse residual cut) is checked against the direct formula.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import uniform_filter

from mrczio.corrections import residual, temporal
from mrczio.corrections.histogram import time_sum
from mrczio.synthetic import counting_movie


def _ring_reference(image: np.ndarray) -> np.ndarray:
    box = uniform_filter(image.astype(np.float64), size=5, mode="mirror") * 25
    return (box - image) / 24


@pytest.mark.parametrize("shape", [(1, 5), (2, 3), (7, 9), (67, 130)])
def test_ring_mean_matches_the_mirrored_box_filter(shape):
    img = np.random.default_rng(1).poisson(40, shape).astype(np.float32)
    got = residual._ring_mean(img, 2)
    np.testing.assert_allclose(got, _ring_reference(img), rtol=1e-6, atol=1e-4)
    idx = np.arange(img.size)
    np.testing.assert_array_equal(residual._ring_at(img, idx).reshape(shape), got)


def test_local_update_after_clipping_equals_a_full_recompute(monkeypatch):
    rng = np.random.default_rng(2)
    img = rng.poisson(30, (90, 70)).astype(np.float32)
    img[rng.random(img.shape) < 0.01] += 300  # hot, also on the edges
    img[0, :4] = 0
    img[45, 30] = 4e9  # a change float32 cannot add back exactly
    fast = residual.local_expectation(img)
    monkeypatch.setattr(residual, "LOCAL_UPDATE_BELOW", -1.0)
    full = residual.local_expectation(img)
    np.testing.assert_allclose(fast, full, rtol=1e-6, atol=1e-3)


@pytest.mark.parametrize("dtype", [np.uint8, np.bool_, np.int16, np.float32])
def test_fused_sums_equal_the_separate_sums(dtype):
    x = np.random.default_rng(3).poisson(2.0, (9, 33, 17))
    x = (x > 1) if dtype is np.bool_ else x.astype(dtype)
    total, square = temporal.sums(x, threads=2)
    ref = time_sum(x)
    assert total.dtype == ref.dtype
    np.testing.assert_array_equal(total, ref)
    np.testing.assert_array_equal(square, (x.astype(np.float64) ** 2).sum(axis=0))
    np.testing.assert_array_equal(temporal.sum_of_squares(x), square)


def test_uint8_squares_stay_exact_for_255_counts():
    x = np.full((300, 4, 4), 255, np.uint8)
    total, square = temporal.sums(x)
    assert total.dtype == np.uint32 and (total == 300 * 255).all()
    assert (square == 300 * 255.0**2).all()


@pytest.mark.parametrize("scale", [1.0, 0.37, "image"])
def test_prescreen_keeps_every_pixel_of_the_exact_screen(scale):
    x = counting_movie(30, (96, 96), 1.5, seed=4).astype(np.float64)
    x[5:12, 10, 10] += 9  # a transient
    x[:, 50, 50] *= 3  # overdispersed
    sc = np.linspace(0.5, 2.0, 96 * 96).reshape(96, 96) if scale == "image" else scale
    x = x * sc
    total, square = x.sum(axis=0), (x * x).sum(axis=0)
    z = temporal._dispersion_z(
        total.ravel(), square.ravel(), 30, temporal.scale_at(sc, slice(None))
    )
    exact = np.flatnonzero(z > temporal.SCREEN)
    got = temporal.screen(total, square, 30, sc)
    np.testing.assert_array_equal(got, exact)
    assert np.ravel_multi_index((10, 10), (96, 96)) in got


def test_segment_bound_is_never_below_the_best_segment():
    rng = np.random.default_rng(5)
    series = rng.poisson(1.0, (40, 500)).astype(np.float64)
    series[10:18, :50] += rng.poisson(4.0, (8, 50))
    rate = np.full(500, 1.0)
    _, _, llr, _ = temporal.best_segments(series, rate)
    assert (temporal.segment_bound(series, rate) >= llr - 1e-9).all()
