"""Default-mode detection on the local residual: dead pixels in either order, bad gain
pixels always filled, specimen contrast not widening sigma, gain orientation check."""

from __future__ import annotations

import numpy as np
import pytest
from mrczio_builtin.filters import GainFilter, OutliersFilter

from mrczio.api import apply_corrections
from mrczio.corrections.gain import apply_gain, orientation_check
from mrczio.corrections.outliers import detect_outliers
from mrczio.errors import CorrectionWarning
from mrczio.registry import get_registry
from mrczio.synthetic import DetectorModel, SyntheticDetector


def _detector(shape=(128, 128), **kw) -> SyntheticDetector:
    model = DetectorModel(shape=shape, dead=0.004, charge_sharing=0.3, block_pattern=0.015, **kw)
    return SyntheticDetector(model, seed=21)


def _recall(mask: np.ndarray, truth: np.ndarray) -> float:
    return float(np.count_nonzero(mask & truth) / truth.sum())


def test_dead_pixels_found_on_counts_and_after_gain_at_20_counts_per_pixel():
    det = _detector()
    st = det.stack(40, dose_rate=2.0, frame_time=0.25, contrast=0.1)  # 20 counts/pixel sum
    gained = apply_gain(st.data, det.vendor_gain(1e4), gamma=st.gamma)
    on_counts = detect_outliers(st.data)
    after_gain = detect_outliers(gained)
    assert after_gain.info["count_scale_source"] == "estimated"
    assert _recall(on_counts.outlier_mask(), st.dead) == 1.0
    assert _recall(after_gain.outlier_mask(), st.dead) == 1.0
    # the sum-image statistic of the paper cannot see them once the data are float
    assert _recall(detect_outliers(gained, residual="global").outlier_mask(), st.dead) < 0.5


@pytest.mark.parametrize("bad", [np.nan, np.inf, 0.0, -1.0])
def test_bad_gain_pixels_are_always_filled(bad):
    det = _detector((64, 64))
    st = det.stack(10, dose_rate=0.2, frame_time=0.25, contrast=0.0)  # 0.5 counts/pixel sum
    gain = det.vendor_gain(1e4)
    spots = [(10, 10), (30, 41), (50, 5)]
    for p in spots:
        gain[p] = bad
    report: dict = {}
    gained = GainFilter().apply(st.data, gain=gain, report=report, check_orientation=False)
    assert report["n_bad_gain"] == 3 and all(gained[:, y, x].max() == 0 for y, x in spots)
    res = OutliersFilter().detect(gained, gain=gain)
    assert res.info["n_forced"] == 3
    out = res.apply(gained)
    for y, x in spots:
        assert res.outlier_mask()[y, x]
        assert out[0, y, x] == pytest.approx(out[1, y, x]) and out[0, y, x] > 0
    meta = {"gain_reference": gain}
    chained = apply_corrections(
        st.data, meta, ["gain", "outliers"], {"gain": {"check_orientation": False}},
        get_registry(),
    )  # fmt: skip
    assert all(chained[0, y, x] > 0 for y, x in spots)


def test_local_residual_keeps_sigma_at_poisson_under_specimen_contrast():
    det = _detector((128, 128))
    st = det.stack(40, dose_rate=16.0, frame_time=0.25, contrast=0.3)
    local = detect_outliers(st.data)
    glob = detect_outliers(st.data, residual="global")
    assert local.info["sigma_fit"] == pytest.approx(1.0, abs=0.12)
    assert glob.info["sigma_ratio"] > 1.4
    strong = st.hot & (st.strength >= 6)
    assert _recall(local.outlier_mask(), strong) > _recall(glob.outlier_mask(), strong)
    for key in ("t_dark", "t_hot", "threshold_floor", "t_dark_fit", "t_hot_fit"):
        assert key in local.info
    assert local.info["t_hot_source"] in ("fit", "floor", "fallback", "fdr")
    relaxed = local.info["t_hot_source"] == "fdr"  # many hot pixels: Benjamini-Hochberg cut
    assert (local.info["t_hot"] < local.info["threshold_floor"]) == relaxed


def test_block_of_defects_wider_than_the_window_is_caught_by_the_global_net():
    det = _detector((96, 96))
    st = det.stack(20, dose_rate=8.0, frame_time=0.25, contrast=0.0)
    x = st.data.astype(np.uint16)
    x[:, 40:47, 40:47] += 30
    res = detect_outliers(x)
    assert res.outlier_mask()[40:47, 40:47].all() and res.info["n_global_net"] > 0
    assert not detect_outliers(x, global_net=False).outlier_mask()[43, 43]


@pytest.mark.parametrize("shape", [(96, 96), (64, 96)])
def test_flipped_or_transposed_gain_is_warned_about(shape):
    det = SyntheticDetector(DetectorModel(shape=shape, pixel_gain=0.08), seed=3)
    st = det.stack(20, dose_rate=4.0, frame_time=0.25, contrast=0.1)
    gain = det.vendor_gain(1e4)
    GainFilter().apply(st.data, gain=gain)  # right way round: no warning (warnings are errors)
    wrong = gain.T if shape[0] == shape[1] else gain[:, ::-1]
    with pytest.warns(CorrectionWarning, match="orientation"):
        GainFilter().apply(st.data, gain=np.ascontiguousarray(wrong))
    r = orientation_check(st.data.sum(0), gain)
    assert max(r, key=lambda k: r[k]) == "as given"
