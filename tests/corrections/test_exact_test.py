"""The default mode's local test: deviance residual, exact binomial z against the ring,
the sparse cut that keeps every pixel the exact test could flag, and the
Benjamini-Hochberg relaxation of the thresholds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtr, ndtri
from scipy.stats import binom, poisson

from mrczio.corrections import outliers, residual
from mrczio.corrections.histogram import time_sum
from mrczio.corrections.outliers import OutlierSettings, detect_outliers
from mrczio.synthetic import DetectorModel, SyntheticDetector, counting_movie


def _grid() -> tuple[np.ndarray, np.ndarray]:
    """Counts x and ring expectations mu covering 0.01 .. 3e4 counts and +-9 sigma."""
    xs, mus = [], []
    for mu in np.geomspace(0.01, 3e4, 60):
        x = np.arange(0, int(mu + 9 * np.sqrt(mu) + 25), max(1, int(np.sqrt(mu) / 8)))
        xs.append(x)
        mus.append(np.full(x.size, mu))
    return np.concatenate(xs).astype(np.float64), np.concatenate(mus)


def test_exact_z_is_the_binomial_tail_of_the_pixel_in_its_window():
    x, mu = _grid()
    z = residual.exact_z(x, mu, 1.0, np.arange(x.size))
    k = np.round(x + 24 * mu)
    sel = np.abs(k - (x + 24 * mu)) < 1e-9  # integer totals: compare with scipy.stats
    upper = binom.sf(x[sel] - 1, k[sel], 1 / 25)
    lower = binom.cdf(x[sel], k[sel], 1 / 25)
    hot = x[sel] > mu[sel]
    expect = np.where(hot, -ndtri(np.clip(upper, 1e-300, 0.5)), ndtri(np.clip(lower, 1e-300, 0.5)))
    ok = np.abs(expect) < 30  # beyond that both are clipped tails
    np.testing.assert_allclose(z[sel][ok], expect[ok], atol=1e-6, rtol=1e-6)
    # one count beside 24 empty pixels is not significant; 60 where 40 are expected is
    assert residual.exact_z(np.array([1.0]), np.array([0.0]), 1.0, np.array([0]))[0] < 2
    assert residual.exact_z(np.array([75.0]), np.array([40.0]), 1.0, np.array([0]))[0] > 4.5


def test_deviance_residual_never_understates_the_exact_z():
    """The sparse cut relies on |r| >= |exact Poisson z| >= |binomial z| (module doc)."""
    x, mu = _grid()
    for scale in (1.0, 0.37):
        r = residual.deviance_at(x * scale, mu * scale, scale, slice(None))
        z_binom = residual.exact_z(x * scale, mu * scale, scale, np.arange(x.size))
        hot = x > mu
        z_pois = np.where(
            hot,
            -ndtri(np.clip(poisson.sf(x - 1, mu), 1e-300, 0.5)),
            ndtri(np.clip(poisson.cdf(x, mu), 1e-300, 0.5)),
        )
        slack = 1e-9 * (1 + np.abs(r))
        assert (np.abs(r) + slack >= np.abs(z_pois)).all()
        assert (np.abs(z_pois) + 1e-6 >= np.abs(z_binom)).all()


@pytest.mark.parametrize("fdr", [None, 0.01])
def test_sparse_cut_equals_the_exact_test_on_every_pixel(fdr):
    det = SyntheticDetector(DetectorModel(shape=(128, 128), charge_sharing=0.1, block_pattern=0.015), seed=4)
    st = det.stack(30, dose_rate=2.0, frame_time=0.25, contrast=0.2)
    settings = OutlierSettings(temporal=False, global_net=False, fdr=fdr)
    res = detect_outliers(st.data, settings)
    total = time_sum(st.data)
    m = residual.local_expectation(total)
    z = residual.exact_z(total, m, 1.0, np.arange(total.size)) / res.info["z_scale"]
    low, high = outliers.weight_cut_levels(
        settings.k, settings.rho * res.info["t_dark"], settings.rho * res.info["t_hot"], settings.eps
    )
    np.testing.assert_array_equal(res.candidates, np.flatnonzero((z < low) | (z > high)))


def _bh_reference(p: np.ndarray, n: int, q: float) -> float:
    """Largest p-value rejected by Benjamini-Hochberg (0 when none is)."""
    order = np.sort(p)
    ok = np.flatnonzero(order <= q * np.arange(1, p.size + 1) / n)
    return float(order[ok[-1]]) if ok.size else 0.0


def test_fdr_cut_rejects_what_benjamini_hochberg_rejects():
    rng = np.random.default_rng(3)
    z = np.concatenate([rng.uniform(3.2, 4.4, 300), rng.uniform(5, 9, 400)])
    cut = outliers._fdr_cut(z, 100_000, 0.01)
    assert cut is not None
    rejected = ndtr(-z) <= _bh_reference(ndtr(-z), 100_000, 0.01)
    np.testing.assert_array_equal(z > cut, rejected)
    assert outliers._fdr_cut(rng.uniform(3.2, 4.0, 10), 10**6, 0.01) is None


def test_fdr_thresholds_follow_the_outliers_present_on_each_side():
    """No outlier: both thresholds stay at the false_rate floor. Many hot pixels and a
    few dead ones: Benjamini-Hochberg relaxes the hot threshold (more recall at the
    same precision) and tightens the dark one."""
    null = counting_movie(40, (256, 256), 1.0, seed=8)
    res = detect_outliers(null)
    assert res.info["t_hot_source"] == res.info["t_dark_source"] == "floor"
    assert res.info["n_outliers"] <= 3
    det = SyntheticDetector(DetectorModel(shape=(256, 256), static_hot=0.01, cluster_fraction=0.0), seed=2)
    st = det.stack(40, dose_rate=4.0, frame_time=0.25, contrast=0.1)
    fdr = detect_outliers(st.data, temporal=False)
    floor = detect_outliers(st.data, temporal=False, fdr=None)
    assert fdr.info["t_hot_source"] == fdr.info["t_dark_source"] == "fdr"
    assert fdr.info["t_hot"] < floor.info["t_hot"] == floor.info["threshold_floor"]
    assert fdr.info["t_dark"] < floor.info["t_dark"] == -floor.info["threshold_floor"]
    truth = st.outliers
    for r in (fdr, floor):
        mask = r.outlier_mask()
        assert np.count_nonzero(mask & truth) / np.count_nonzero(mask) >= 0.99
        assert np.count_nonzero(mask & st.dead) == st.dead.sum()
    recall = [np.count_nonzero(r.outlier_mask() & truth) / truth.sum() for r in (fdr, floor)]
    assert recall[0] > recall[1] + 0.01


def test_bound_candidates_keep_every_pixel_the_deviance_cut_keeps():
    x, mu = _grid()
    for scale in (1.0, 0.37):
        total, expected = (x * scale)[None], (mu * scale)[None]
        r = residual.deviance_at(total, expected, scale, slice(None))
        for dark, hot in ((2.1, 2.1), (3.3, 4.0), (5.0, 3.0)):
            got = residual.bound_candidates(total, expected.astype(np.float32), scale, dark, hot)
            want = np.flatnonzero((r < -dark) | (r > hot))
            assert np.isin(want, got).all()
            assert got.size < 1.5 * want.size + 10  # and not many more


def test_global_net_uses_the_local_cuts_also_without_a_floor():
    """With ``false_rate=None`` the thresholds fall back to (-4, 3.25); the net uses the
    same cuts instead of none, so a null stack gains no net pixel."""
    res = detect_outliers(counting_movie(40, (128, 128), 1.0, seed=2), false_rate=None)
    assert res.info["t_hot_source"] == "fallback" and res.info["n_global_net"] == 0
    assert res.info["n_outliers"] <= 0.001 * 128 * 128 + 5  # the fallback's own rate
