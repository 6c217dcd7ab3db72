"""Outlier filter: golden cases against hand-computed fills, thresholds and null rates."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtr

from mrczio.corrections.histogram import sum_dtype, time_sum
from mrczio.corrections.kernels import PAPER_TABLE, psf_kernel
from mrczio.corrections.outliers import OutlierSettings, detect_outliers, suppress_outliers
from mrczio.corrections.thresholds import (
    NormalFit,
    fit_normal_cdf,
    logistic_weight,
    tail_thresholds,
    weight_cut_levels,
)
from mrczio.synthetic import DetectorModel, SyntheticDetector, counting_movie


def _stack_with(hot: list[tuple[int, int]], shape=(64, 64), n=20, lam=4.0, extra=30, seed=3):
    x = counting_movie(n, shape, lam, seed=seed).astype(np.uint16)
    for y, xx in hot:
        x[:, y, xx] += extra
    return x


def _kernel_mean(mean: np.ndarray, y: int, x: int, kernel: np.ndarray) -> float:
    c = kernel.shape[0] // 2
    num = den = 0.0
    for dy in range(-c, c + 1):
        for dx in range(-c, c + 1):
            yy, xx = y + dy, x + dx
            if (dy or dx) and 0 <= yy < mean.shape[0] and 0 <= xx < mean.shape[1]:
                num += kernel[dy + c, dx + c] * mean[yy, xx]
                den += kernel[dy + c, dx + c]
    return num / den


def test_sum_dtype_is_narrowest_safe_integer():
    assert sum_dtype(np.uint8, 257) == np.uint16
    assert sum_dtype(np.uint8, 258) == np.uint32
    assert sum_dtype(np.int16, 10) == np.int32
    assert sum_dtype(np.float32, 10) == np.float64


def test_time_sum_matches_numpy():
    x = counting_movie(9, (70, 33), 3.0, seed=1)
    s = time_sum(x, threads=2, block=8)
    assert s.dtype == np.uint16
    np.testing.assert_array_equal(s, x.sum(axis=0))


def test_paper_kernel_follows_table_and_sums_to_one():
    k = psf_kernel("paper")
    assert k.shape == (5, 5) and k[2, 2] == 0 and k.sum() == pytest.approx(1.0)
    assert k[2, 3] / k[3, 4] == pytest.approx(PAPER_TABLE[(0, 1)] / PAPER_TABLE[(1, 2)])
    np.testing.assert_allclose(k, k.T)
    np.testing.assert_allclose(k, k[::-1, ::-1])
    assert psf_kernel("zorro3x3").shape == (3, 3)
    with pytest.raises(ValueError):
        psf_kernel(np.ones((4, 4)))
    with pytest.raises(ValueError):
        psf_kernel("gaussian")


def test_single_hot_pixel_is_filled_with_kernel_mean():
    x = _stack_with([(30, 30)])
    out, res = suppress_outliers(x)
    i = int(np.flatnonzero(res.candidates == 30 * 64 + 30)[0])
    assert res.weights[i] < 1e-6 and not res.neighbourly[i]
    expected = _kernel_mean(x.sum(0) / x.shape[0], 30, 30, psf_kernel("paper"))
    np.testing.assert_allclose(out[:, 30, 30], expected, rtol=1e-5)
    assert res.info["n_outliers"] >= 1 and res.info["n_neighbourly"] == 0


def test_user_kernel_is_used_for_singletons():
    x = _stack_with([(20, 40)])
    kern = np.zeros((3, 3))
    kern[1, 0] = 1.0  # take the left neighbour only
    out, _ = suppress_outliers(x, psf=kern)
    np.testing.assert_allclose(out[:, 20, 40], x[:, 20, 39].mean(), rtol=1e-5)


def test_border_singleton_renormalises_over_inside_taps():
    x = _stack_with([(0, 0)])
    out, _res = suppress_outliers(x)
    expected = _kernel_mean(x.sum(0) / x.shape[0], 0, 0, psf_kernel("paper"))
    np.testing.assert_allclose(out[:, 0, 0], expected, rtol=1e-5)


def test_2x2_cluster_takes_neighbourhood_mean_without_outliers():
    cluster = [(30, 30), (30, 31), (31, 30), (31, 31)]
    x = _stack_with(cluster)
    out, res = suppress_outliers(x)
    mask = res.outlier_mask()
    assert all(mask[p] for p in cluster)
    assert res.info["n_neighbourly"] >= 4
    mean = x.sum(0) / x.shape[0]
    y0, x0 = 30, 30
    win = mean[y0 - 2 : y0 + 3, x0 - 2 : x0 + 3]
    good = ~mask[y0 - 2 : y0 + 3, x0 - 2 : x0 + 3]
    np.testing.assert_allclose(out[:, y0, x0], win[good].mean(), rtol=1e-5)


def test_window_full_of_outliers_falls_back_to_frame_mean():
    block = [(y, x) for y in range(28, 33) for x in range(28, 33)]
    x = _stack_with(block, shape=(96, 96))
    out, res = suppress_outliers(x)
    assert res.outlier_mask()[28:33, 28:33].all()
    np.testing.assert_allclose(out[:, 30, 30], res.info["frame_mean"], rtol=1e-6)
    assert res.info["frame_mean"] == pytest.approx(4.0, rel=0.05)


def test_null_stack_flags_almost_nothing_in_default_mode():
    x = counting_movie(50, (256, 256), 1.0, seed=11)
    res = detect_outliers(x)
    assert res.info["n_outliers"] <= 5
    assert res.info["transform"] == "local-deviance" and res.info["residual"] == "local"
    assert detect_outliers(x, residual="global").info["transform"] == "anscombe"
    paper = detect_outliers(x, mode="paper")
    assert paper.info["n_outliers"] > res.info["n_outliers"]


def test_paper_mode_records_fallback_thresholds_on_null_dark_side():
    x = counting_movie(50, (128, 128), 1.0, seed=5)
    res = detect_outliers(x, mode="paper")
    assert res.info["dark_fallback"] is True and res.info["t_dark"] == -4.0
    assert res.info["fit_fell_back"] is True
    assert res.info["mode"] == "paper" and res.info["rho"] == 0.95


def test_candidate_weights_equal_the_logistic_formula():
    x = _stack_with([(10, 10), (40, 50)], seed=8)
    res = detect_outliers(x, mode="paper", eps=1e-2)
    total = x.sum(0).astype(np.float64).ravel()
    sig = (total - res.info["mu_fit"]) / res.info["sigma_fit"]
    rho = res.info["rho"]
    w_all = logistic_weight(sig, 6.0, rho * res.info["t_dark"], rho * res.info["t_hot"])
    np.testing.assert_allclose(res.weights, w_all[res.candidates], rtol=1e-5, atol=1e-30)
    others = np.setdiff1d(np.arange(total.size), res.candidates)
    assert w_all[others].min() >= 1 - 2.01e-2


def test_paper_mode_integer_and_float_input_agree():
    x = _stack_with([(10, 10), (40, 50)], seed=9)
    a = detect_outliers(x, mode="paper")
    b = detect_outliers(x.astype(np.float32), mode="paper")
    assert a.info["t_hot"] == pytest.approx(b.info["t_hot"], rel=1e-6)
    np.testing.assert_array_equal(a.outlier_mask(), b.outlier_mask())


def test_default_mode_on_float_input_finds_hot_pixel():
    x = _stack_with([(12, 12)], lam=20.0).astype(np.float32) * 0.5
    res = detect_outliers(x)
    assert res.info["count_scale_source"] == "estimated" and res.outlier_mask()[12, 12]
    assert res.info["count_scale"] == pytest.approx(0.5, rel=0.1)
    assert detect_outliers(x, residual="global").info["transform"] == "none"


def test_normal_cdf_fit_recovers_parameters():
    d = np.linspace(-20, 40, 200)
    cdf = ndtr((d - 10.0) / 6.0)
    fit = fit_normal_cdf(d, cdf, (9.0, 5.0), (0.0, 20.0), (2.0, 12.0))
    assert fit.mu == pytest.approx(10.0, abs=0.05) and fit.sigma == pytest.approx(6.0, abs=0.05)


def test_tail_lines_cross_zero_where_constructed():
    s = np.linspace(-6, 6, 121)
    r = np.zeros_like(s)
    r[s < -3] = 0.8 * (s[s < -3] + 3.5)
    r[s > 3] = 0.6 * (s[s > 3] - 2.5)
    td, th = tail_thresholds(s, r, 0.5, include_anchor=(False, False))
    assert td == pytest.approx(-3.5) and th == pytest.approx(2.5)
    assert tail_thresholds(s, np.zeros_like(s), 0.5) == (None, None)


def test_weight_cut_levels_bound_each_factor():
    lo, hi = weight_cut_levels(6.0, -4.0, 3.0, 1e-3)
    w = logistic_weight(np.array([lo, hi]), 6.0, -4.0, 3.0)
    assert np.all(w >= (1 - 1e-3) ** 2 - 1e-12) and np.all(w <= 1 - 1e-3 + 1e-9)


def test_default_mode_is_precise_on_synthetic_specimen():
    det = SyntheticDetector(DetectorModel(shape=(256, 256)), seed=4)
    st = det.stack(50, dose_rate=4.0, frame_time=0.25, contrast=0.1)
    res = detect_outliers(st.data)
    mask = res.outlier_mask()
    tp = np.count_nonzero(mask & st.outliers)
    assert tp / mask.sum() > 0.9
    strong = st.outliers & (np.abs(st.strength) > 8)
    assert np.count_nonzero(mask & strong) / strong.sum() > 0.9


def test_blend_reuses_out_buffer_and_handles_single_image():
    x = _stack_with([(5, 5)])
    res = detect_outliers(x)
    buf = np.empty(x.shape, np.float32)
    out = res.apply(x, out=buf, threads=2)
    assert out is buf
    one = res.apply(x[0].astype(np.float32))
    assert one.shape == x.shape[1:] and one[5, 5] == pytest.approx(out[0, 5, 5])
    inplace = x.astype(np.float32)
    res.apply(inplace, out=inplace)
    np.testing.assert_array_equal(inplace, out)


def test_settings_modes_and_overrides():
    s = OutlierSettings.for_mode("paper", rho=0.925)
    assert s.transform == "none" and s.false_rate is None and s.rho == 0.925
    with pytest.raises(ValueError):
        OutlierSettings.for_mode("fancy")
    assert isinstance(NormalFit(0, 1, True), NormalFit)
