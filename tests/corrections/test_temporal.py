"""Transient hot pixels: found by the per-pixel temporal test, filled only where on."""

from __future__ import annotations

import numpy as np
import pytest

from mrczio.corrections.outliers import detect_outliers
from mrczio.corrections.temporal import Transients, best_segments, fill_transients
from mrczio.synthetic import DetectorModel, SyntheticDetector, counting_movie


def test_best_segment_is_the_constructed_burst():
    series = np.ones((20, 3))
    series[5:9, 0] += 10
    series[0:3, 1] += 6
    start, stop, llr, outside = best_segments(series, np.ones(3))
    assert (start[0], stop[0]) == (5, 9) and (start[1], stop[1]) == (0, 3)
    assert llr[2] == 0 and outside[0] == 0
    assert llr[0] == pytest.approx(44 * np.log(44 / 4) - 40)


def test_fill_transients_touches_only_the_on_frames():
    frames = np.zeros((6, 2, 3), np.float32)
    t = Transients(np.array([1, 4]), np.array([2, 0]), np.array([4, 6]), np.zeros(2), 2, 1.0)
    fill_transients(frames[3:], 3, t, np.array([7.0, 9.0]))
    assert frames[3, 0, 1] == 7 and frames[4, 0, 1] == 0 and frames[2, 0, 1] == 0
    assert (frames[3:, 1, 1] == 9).all() and (frames[:3] == 0).all()


@pytest.fixture(scope="module")
def transient_stack():
    model = DetectorModel(shape=(128, 128), transient_hot=0.004, static_hot=0.002)
    return SyntheticDetector(model, seed=8).stack(40, dose_rate=4.0, frame_time=0.25)


def test_transients_are_found_and_only_their_on_frames_change(transient_stack):
    st = transient_stack
    res = detect_outliers(st.data)
    truth = st.extras["transient"]
    idx, z = st.extras["transient_index"], st.extras["transient_z"]
    strong = np.zeros(truth.shape, bool)
    strong.ravel()[idx[z >= 6]] = True
    found = res.transient_mask()
    assert np.count_nonzero(found & strong) / strong.sum() > 0.9
    assert np.count_nonzero(found & ~(truth | st.outliers)) == 0
    out = res.apply(st.data)
    tr = res.transients
    assert tr is not None and tr.index.size == res.info["n_transient"] > 0
    true_start = dict(zip(idx, st.extras["transient_start"], strict=True))
    flat_in, flat_out = st.data.reshape(40, -1), out.reshape(40, -1)
    for p, a, b in zip(tr.index, tr.start, tr.stop, strict=True):
        on = np.zeros(40, bool)
        on[a:b] = True
        np.testing.assert_array_equal(flat_out[~on, p], flat_in[~on, p])
        assert np.ptp(flat_out[on, p]) == 0  # one fill value over the on-frames
        if p in true_start:
            assert abs(a - true_start[p]) <= 2
    in_chunks = np.concatenate(
        [res.apply(st.data[k : k + 7], first_frame=k) for k in range(0, 40, 7)]
    )
    np.testing.assert_array_equal(in_chunks, out)


def test_temporal_off_fills_every_frame(transient_stack):
    res = detect_outliers(transient_stack.data, temporal=False)
    assert res.transients is None and res.info["n_transient"] == 0


@pytest.mark.parametrize("dose", [0.2, 1.0, 5.0])
def test_null_stacks_have_no_transient_and_almost_no_outlier(dose):
    x = counting_movie(40, (192, 192), dose, seed=int(dose * 10))
    res = detect_outliers(x)
    assert res.info["n_transient"] == 0
    assert res.info["n_outliers"] <= 2
