"""Gain normalisation: eq. 8/9 arithmetic, eq. 11 curve, eq. 10 gamma fit."""

from __future__ import annotations

import numpy as np
import pytest

from mrczio.corrections.gain import (
    K2_GAMMA_PARAMS,
    apply_gain,
    fit_gamma,
    fit_gamma_curve,
    fit_gamma_robust,
    gain_from_flat,
    gamma_curve,
    normalize_gain,
)
from mrczio.errors import CorrectionInputError, NonFiniteInputError
from mrczio.synthetic import DetectorModel, SyntheticDetector


@pytest.mark.parametrize(
    ("rate", "gamma"), [(0.25, 1.541), (1.0, 1.126), (4.0, 0.933), (7.0, 0.820), (9.0, 0.749)]
)
def test_k2_gamma_curve_values(rate, gamma):
    assert gamma_curve(rate) == pytest.approx(gamma, abs=1e-3)


def test_gamma_curve_clamps_outside_calibrated_range():
    with pytest.warns(RuntimeWarning):
        assert gamma_curve(20.0) == pytest.approx(gamma_curve(9.0))
    assert gamma_curve(20.0, valid_range=None) < gamma_curve(9.0)


def test_eq8_dark_subtraction_and_gain_multiplication():
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 50, (3, 8, 9)).astype(np.uint16)
    dark = rng.random((8, 9)).astype(np.float32)
    gain = (0.5 + rng.random((8, 9))).astype(np.float32)
    g = gain / gain.mean()
    out = apply_gain(raw, gain, dark=dark, threads=2)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, (raw - dark) * g, rtol=1e-5)


def test_eq9_gamma_exponent_and_zero_gain_pixels():
    gain = np.full((4, 4), 2.0, np.float32)
    gain[0, 0] = 0.0
    gain[1, 1] = 4.0
    raw = np.ones((2, 4, 4), np.uint8) * 10
    out = apply_gain(raw, gain, gamma=0.5, normalize=False)
    assert out[0, 0, 0] == 0.0
    assert out[0, 1, 1] == pytest.approx(10 * 4.0**0.5)
    assert out[1, 2, 2] == pytest.approx(10 * 2.0**0.5)
    single = apply_gain(raw[0], gain, gamma=0.5, normalize=False)
    np.testing.assert_array_equal(single, out[0])


def test_normalize_and_flat_reciprocal():
    flat = np.array([[1.0, 2.0], [4.0, 0.0]])
    g = gain_from_flat(flat)
    assert g[1, 1] == 0.0 and g[g > 0].mean() == pytest.approx(1.0)
    assert g[0, 0] / g[0, 1] == pytest.approx(2.0)
    with pytest.raises(ValueError):
        normalize_gain(np.zeros((2, 2)))


@pytest.mark.parametrize("rate", [0.5, 7.0])
def test_gamma_fit_recovers_gamma(rate):
    model = DetectorModel(shape=(256, 256), column_gain=0, row_gain=0, seam_depth=0)
    det = SyntheticDetector(model, seed=2)
    true_gamma = det.gamma(rate)
    gain = 1.0 / det.etch
    flat = det.flat_counts(2000.0, rate)
    fit = fit_gamma(flat, gain)
    assert fit.gamma == pytest.approx(true_gamma, abs=0.02)
    assert fit.cv < fit.cv_at_one
    assert fit.cv < 3 * fit.noise_floor


def test_gamma_curve_refit_recovers_parameters():
    rates = np.array([0.25, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    gammas = np.array([gamma_curve(r) for r in rates])
    params = fit_gamma_curve(rates, gammas, start=(0.1, -1.0, -0.03, 1.0))
    np.testing.assert_allclose(params, K2_GAMMA_PARAMS, rtol=1e-3, atol=1e-4)


# ---------------------------------------------------------------- gamma robust to blocks


@pytest.mark.parametrize("rate", [0.5, 1.0, 7.0])
def test_fit_gamma_robust_to_block_pattern(rate):
    """A 1.5 % CMOS block pattern biases eq. 10 by several hundredths at 0.5 and 7
    e-/pix/s; the separable-free least squares stays within 0.015 of the truth and
    closer than eq. 10."""
    det = SyntheticDetector(DetectorModel(shape=(256, 256), block_pattern=0.015), seed=3)
    gain = det.vendor_gain(1e4)
    flat = det.flat_counts(300, rate)
    truth = det.gamma(rate)
    robust = fit_gamma_robust(flat, gain)
    plain = fit_gamma(flat, gain)
    assert abs(robust.gamma - truth) < 0.015
    assert abs(robust.gamma - truth) < abs(plain.gamma - truth)
    assert robust.cv < robust.cv_at_one


def test_fit_gamma_robust_without_blocks_matches_truth():
    det = SyntheticDetector(DetectorModel(shape=(256, 256)), seed=4)
    fit = fit_gamma_robust(det.flat_counts(300, 4.0), det.vendor_gain(1e4))
    assert abs(fit.gamma - det.gamma(4.0)) < 0.015


def test_fit_gamma_robust_rejects_bad_input():
    flat = np.full((64, 64), 100.0)
    with pytest.raises(CorrectionInputError):  # a purely separable gain carries no gamma
        fit_gamma_robust(flat, np.ones((64, 64)))
    with pytest.raises(CorrectionInputError):
        fit_gamma_robust(flat[:8, :8], np.ones((8, 8)))
    with pytest.raises(NonFiniteInputError):
        fit_gamma_robust(np.full((64, 64), np.nan), np.ones((64, 64)))
