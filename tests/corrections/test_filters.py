"""The filter plugins: registration hook, parameters, metadata, reports."""

from __future__ import annotations

import numpy as np
import pytest
from mrczio_builtin.filters import GainFilter, KomaFilter, OutliersFilter, mrczio_register_filters

from mrczio.contracts import CorrectionFilter
from mrczio.errors import OptionError
from mrczio.synthetic import counting_movie


def test_hook_returns_named_correction_filters():
    filters = mrczio_register_filters()
    assert sorted(f.name for f in filters) == ["gain", "koma", "outliers"]
    assert all(isinstance(f, CorrectionFilter) for f in filters)


def test_outliers_filter_reports_and_returns_float32():
    x = counting_movie(20, (64, 64), 2.0, seed=1)
    x[:, 10, 10] = 40
    report: dict = {}
    out = OutliersFilter().apply(x, metadata={}, report=report, mode="paper", rho=0.925)
    assert out.dtype == np.float32 and out.shape == x.shape
    assert report["mode"] == "paper" and report["rho"] == 0.925
    for key in ("t_dark", "t_hot", "mu_fit", "sigma_fit", "n_hot", "n_dead", "fit_fell_back"):
        assert key in report
    assert out[:, 10, 10].max() < 10
    one = OutliersFilter().apply(x[0])
    assert one.shape == (64, 64)


def test_outliers_filter_rejects_unknown_parameters():
    x = counting_movie(2, (16, 16))
    with pytest.raises(OptionError):
        OutliersFilter().apply(x, sigma=3)
    with pytest.raises(OptionError):
        OutliersFilter().apply(x, mode="bogus")
    res = OutliersFilter().detect(x, psf="uniform", fallback=[-4, 3])
    assert res.info["psf"] == "uniform"


def test_gain_filter_uses_metadata_reference_and_dose_rate():
    x = np.ones((2, 4, 4), np.uint8) * 8
    gain = np.full((4, 4), 2.0, np.float32)
    gain[0, 0] = 4.0
    meta = {"gain_reference": gain, "dark_reference": np.ones((4, 4), np.float32)}
    report: dict = {}
    out = GainFilter().apply(x, metadata=meta, report=report, dose_rate=7.0)
    g = gain / gain.mean()
    np.testing.assert_allclose(
        out, np.broadcast_to((8 - 1) * g ** report["gamma"], x.shape), rtol=1e-5
    )
    assert report["gamma"] == pytest.approx(0.820, abs=1e-3) and report["dark_subtracted"]
    listed = GainFilter().apply(x, gain=gain.tolist(), gamma=1.0)
    np.testing.assert_allclose(listed, np.broadcast_to(8 * g, x.shape), rtol=1e-6)
    packed = {"data": gain.tobytes(), "shape": [4, 4], "dtype": "float32"}
    np.testing.assert_allclose(
        GainFilter().apply(x, gain=packed), np.broadcast_to(8 * g, x.shape), rtol=1e-6
    )
    with pytest.raises(OptionError):
        GainFilter().apply(x)


def test_koma_filter_with_neighbors_reference_and_stream():
    rng = np.random.default_rng(0)
    pattern = 1 + 0.2 * rng.random((8, 8))
    stacks = [(pattern * 5 * (1 + t)).astype(np.float32)[None].repeat(3, 0) for t in range(3)]
    flt = KomaFilter()
    report: dict = {}
    out = flt.apply(stacks[0], neighbors=stacks[1:], report=report)
    np.testing.assert_allclose(out, 5 * pattern.mean(), rtol=1e-5)
    assert report["mode"] == "multiply" and report["n_neighbors"] == 2
    meta = {"koma_reference": pattern}
    out2 = flt.apply(stacks[1], metadata=meta, mode="subtract")
    assert out2.std() < stacks[1].std()
    with pytest.raises(OptionError):
        flt.apply(stacks[0])
    assert flt.stream(2).latency == 2
    assert [i for i, _ in flt.correct_series(stacks, 1)] == [0, 1, 2]
