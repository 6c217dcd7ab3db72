"""The fast paths of the default detection give the results of the plain definitions.

Each shortcut (separable ring mean, local update after clipping, binned sums, float32
prescreen, segment bound) is checked against the direct formula (the sparse residual
cut in test_exact_test.py).
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
def test_binned_sums_equal_the_separate_sums(dtype):
    x = np.random.default_rng(3).poisson(2.0, (19, 33, 17))
    x = (x > 1) if dtype is np.bool_ else x.astype(dtype)
    total, bins = temporal.binned_sums(x, threads=2)
    ref = time_sum(x)
    assert total.dtype == ref.dtype
    np.testing.assert_array_equal(total, ref)
    edges = temporal.bin_edges(19)
    assert edges.tolist() == bins.edges.tolist() and len(edges) == temporal.BINS + 1
    for k in range(edges.size - 1):
        part = x[edges[k] : edges[k + 1]].astype(np.float64).sum(axis=0)
        np.testing.assert_allclose(bins.sums[k], part, rtol=1e-6)


def test_uint8_bins_stay_exact_for_255_counts():
    x = np.full((300, 4, 4), 255, np.uint8)
    total, bins = temporal.binned_sums(x)
    assert total.dtype == np.uint32 and (total == 300 * 255).all()
    assert bins.sums.dtype == np.uint16 and int(bins.sums.sum()) == 300 * 255 * 16


def _pearson(y: np.ndarray, lengths: np.ndarray, sc: np.ndarray | float) -> np.ndarray:
    """Pearson chi-square of bins y (bins, k) against a constant rate, in counts."""
    s = y.sum(axis=0)
    e = s[None] * (lengths / lengths.sum())[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(s > 0, ((y - e) ** 2 / np.where(e > 0, e, 1)).sum(axis=0), 0) / sc
    return d


@pytest.mark.parametrize("scale, integer", [(1.0, True), (1.0, False), (0.37, False), ("image", False)])
@pytest.mark.parametrize("corrected", [False, True])
def test_screen_keeps_every_pixel_of_the_exact_chi_square(scale, integer, corrected):
    x = counting_movie(30, (96, 96), 1.5, seed=4).astype(np.uint16 if integer else np.float64)
    x[5:12, 10, 10] += 9  # a transient
    x[:, 50, 50] *= 3  # overdispersed
    sc = np.linspace(0.5, 2.0, 96 * 96).reshape(96, 96) if scale == "image" else scale
    total, bins = temporal.binned_sums(x * sc)
    if corrected:  # raw bins read through a dark and a gain factor, as in the stream
        dark = np.full((96, 96), 0.01, np.float32)
        factor = np.linspace(0.8, 1.2, 96 * 96).reshape(96, 96).astype(np.float32)
        bins = temporal.Bins(bins.sums, bins.edges, dark=dark, factor=factor)
        total = (total - 30 * dark) * factor
    y = bins.at(np.arange(96 * 96))
    d = _pearson(y, bins.lengths.astype(np.float64), np.ravel(sc) if scale == "image" else sc)
    exact = np.flatnonzero(d > temporal.screen_cut(temporal.BINS))
    got = temporal.screen(bins, total, sc)
    np.testing.assert_array_equal(got, exact)
    assert np.ravel_multi_index((10, 10), (96, 96)) in got


def test_segment_bound_is_never_below_the_best_segment():
    rng = np.random.default_rng(5)
    series = rng.poisson(1.0, (40, 500)).astype(np.float64)
    series[10:18, :50] += rng.poisson(4.0, (8, 50))
    rate = np.full(500, 1.0)
    _, _, llr, _ = temporal.best_segments(series, rate)
    assert (temporal.segment_bound(series, rate) >= llr - 1e-9).all()
