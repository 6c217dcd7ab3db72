"""Synthetic detector: determinism, truth consistency, dynamic hot pixels."""

from __future__ import annotations

import numpy as np
import pytest

from mrczio.synthetic import REFERENCE_DOSE_RATE, DetectorModel, SyntheticDetector, counting_movie


def test_counting_movie_signature_and_determinism():
    a = counting_movie(4, (16, 8), 2.0, seed=7, dtype="uint16")
    assert a.shape == (4, 16, 8) and a.dtype == np.uint16
    np.testing.assert_array_equal(
        a, counting_movie(n_frames=4, shape=(16, 8), dose=2.0, seed=7, dtype="uint16")
    )


def test_detector_is_seeded_and_truth_is_consistent():
    model = DetectorModel(shape=(128, 128), static_hot=0.01, dead=0.005)
    s1 = SyntheticDetector(model, seed=3).stack(10, 4.0, 0.25, 0.1)
    s2 = SyntheticDetector(model, seed=3).stack(10, 4.0, 0.25, 0.1)
    np.testing.assert_array_equal(s1.data, s2.data)
    assert s1.data.dtype == np.uint8 and s1.data.shape == (10, 128, 128)
    assert not (s1.hot & s1.dead).any()
    assert (s1.data[:, s1.dead] == 0).all()
    assert (s1.strength[s1.hot] > 0).all() and (s1.strength[s1.dead] < 0).all()
    assert np.count_nonzero(s1.hot) / s1.hot.size == pytest.approx(0.011, rel=0.4)
    excess = s1.data.mean(0)[s1.hot] - s1.rate[s1.hot]
    assert excess.mean() == pytest.approx(s1.excess[s1.hot].mean(), rel=0.2)


def test_dynamic_hot_pixels_appear_and_disappear():
    model = DetectorModel(shape=(128, 128), hot_birth=5e-3, hot_death=0.5)
    det = SyntheticDetector(model, seed=4)
    stacks = list(det.series(4, n_frames=2, dose_rate=2.0, frame_time=0.25, contrast=0.0))
    assert all((s.hot & det.static_hot == det.static_hot).all() for s in stacks)
    dyn = [s.hot & ~det.static_hot for s in stacks]
    assert dyn[0].sum() == 0 and dyn[1].sum() > 0
    assert (dyn[2] & ~dyn[1]).any() and (dyn[1] & ~dyn[2]).any()


def test_flat_follows_gamma_and_vendor_gain_inverts_it():
    det = SyntheticDetector(DetectorModel(shape=(64, 64)), seed=5)
    np.testing.assert_allclose(det.flat(REFERENCE_DOSE_RATE), det.etch * det.cmos, rtol=2e-3)
    np.testing.assert_allclose(det.flat(7.0), det.etch ** det.gamma(7.0) * det.cmos)
    g = det.vendor_gain(1e6)
    prod = g * det.flat(REFERENCE_DOSE_RATE)
    assert prod.std() / prod.mean() < 0.003
