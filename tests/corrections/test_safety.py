"""Corrections refuse what they cannot correct: NaN/inf, empty stacks, nonsense
parameters, mismatched references; extreme integers cost memory by pixel, not by value."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from mrczio_builtin.filters import GainFilter, KomaFilter, OutliersFilter

from mrczio.corrections import checks
from mrczio.corrections.gain import apply_gain, gamma_curve, normalize_gain
from mrczio.corrections.histogram import time_sum
from mrczio.corrections.kernels import psf_kernel
from mrczio.corrections.koma import KomaStream, apply_reference, correct_series, stack_mean
from mrczio.corrections.metrics import mean_pair_r
from mrczio.corrections.outliers import OutlierSettings, detect_outliers, suppress_outliers
from mrczio.errors import (
    CorrectionInputError,
    CorrectionWarning,
    MrczioError,
    NonFiniteInputError,
    OptionError,
)
from mrczio.synthetic import counting_movie


def _float_stack() -> np.ndarray:
    return counting_movie(6, (32, 32), 3.0, seed=2).astype(np.float32)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_stack_is_refused_by_every_step(bad):
    x = _float_stack()
    x[3, 7, 9] = bad
    with pytest.raises(NonFiniteInputError, match=r"\(3, 7, 9\)|NaN/inf"):
        detect_outliers(x)
    with pytest.raises(NonFiniteInputError):
        suppress_outliers(x, mode="paper")
    with pytest.raises(NonFiniteInputError, match=r"\(3, 7, 9\)"):
        apply_gain(x, np.ones((32, 32)))
    with pytest.raises(NonFiniteInputError):
        stack_mean(x)
    with pytest.raises(NonFiniteInputError):
        OutliersFilter().apply(x)
    assert issubclass(NonFiniteInputError, ValueError)


def test_non_finite_dark_and_reference_are_refused():
    x = _float_stack()
    dark = np.zeros((32, 32), np.float32)
    dark[0, 0] = np.nan
    with pytest.raises(NonFiniteInputError, match="dark"):
        apply_gain(x, None, dark=dark)
    ref = np.ones((32, 32))
    ref[1, 1] = np.inf
    with pytest.raises(NonFiniteInputError, match="KOMA reference"):
        apply_reference(x, ref)


def test_one_nan_stack_does_not_poison_the_koma_running_sum():
    stream = KomaStream(1)
    good = [np.full((8, 8), 2.0 + i) for i in range(5)]
    stream.push(good[0])
    stream.push(good[1])
    bad = good[2].copy()
    bad[4, 4] = np.nan
    with pytest.raises(NonFiniteInputError, match="stack 2"):
        stream.push(bad)
    refs = dict(stream.push(good[2]) + stream.push(good[3]) + stream.flush())
    assert all(np.isfinite(r).all() for r in refs.values())
    np.testing.assert_allclose(refs[1], (good[0] + good[2]) / 2)
    stacks = [np.full((2, 8, 8), 5.0, np.float32) for _ in range(3)]
    stacks[1][0, 0, 0] = np.nan
    with pytest.raises(NonFiniteInputError):
        list(correct_series(stacks, 1))


def test_empty_and_misshaped_stacks_are_refused():
    empty = np.zeros((0, 16, 16), np.uint8)
    for call in (
        lambda: detect_outliers(empty),
        lambda: apply_gain(empty, np.ones((16, 16))),
        lambda: time_sum(empty),
        lambda: stack_mean(empty),
        lambda: detect_outliers(np.zeros((3, 0, 4), np.uint8)),
        lambda: detect_outliers(np.zeros((2, 2, 2, 2), np.uint8)),
        lambda: apply_gain(np.ones((2, 8, 8)), np.ones((8, 9))),
        lambda: apply_reference(np.ones((2, 8, 8)), np.ones((4, 4))),
        lambda: KomaStream(1).flush() or KomaStream(1).push(np.ones(3)),
        lambda: mean_pair_r(np.ones((1, 4, 4))),
    ):
        with pytest.raises(CorrectionInputError):
            call()
    with pytest.raises(CorrectionInputError, match="no finite positive"):
        normalize_gain(np.full((4, 4), np.nan))


@pytest.mark.parametrize(
    "params",
    [
        {"rho": 0},
        {"rho": -0.5},
        {"rho": 1.5},
        {"k": 0},
        {"k": float("nan")},
        {"eps": 0},
        {"eps": 1.0},
        {"lim": -1},
        {"max_sigma": 0},
        {"false_rate": 0},
        {"false_rate": 2.0},
        {"radius": 0},
        {"radius": 1.5},
        {"min_good": 0},
        {"fallback": (1, 2)},
        {"sigma_bounds": (2, 1)},
        {"count_scale": -1},
        {"residual": "median"},
        {"transform": "log"},
        {"sigmas": 3},
    ],
)
def test_nonsense_outlier_parameters_raise_option_error(params):
    x = counting_movie(4, (16, 16), 2.0)
    with pytest.raises(OptionError):
        detect_outliers(x, **params)
    with pytest.raises(OptionError):
        OutliersFilter().apply(x, **params)


def test_nonsense_gain_koma_and_kernel_parameters_raise_option_error():
    x = np.ones((2, 4, 4), np.uint8)
    for rate in (0.0, -1.0, float("nan"), "fast"):
        with pytest.raises(OptionError, match="dose_rate"):
            gamma_curve(rate)  # type: ignore[arg-type]
        with pytest.raises(OptionError):
            GainFilter().apply(x, gain=np.ones((4, 4)), dose_rate=rate)
    with pytest.raises(OptionError, match="gamma"):
        apply_gain(x, np.ones((4, 4)), gamma=float("inf"))
    with pytest.raises(OptionError, match="radius"):
        KomaStream(0)
    with pytest.raises(OptionError, match="mode"):
        apply_reference(x, np.ones((4, 4)), mode="divide")  # type: ignore[arg-type]
    with pytest.raises(OptionError):
        KomaFilter().apply(x, reference=np.ones((4, 4)), mode="divide")
    with pytest.raises(OptionError):
        psf_kernel("gaussian")
    with pytest.raises(OptionError):
        psf_kernel(np.ones((4, 4)))
    with pytest.raises(OptionError):
        OutlierSettings.for_mode("fancy")  # type: ignore[arg-type]
    with pytest.raises(OptionError):
        checks.whole(True, "radius", 1)


def test_dose_rate_outside_calibration_warns_with_mrczio_warning():
    with pytest.warns(CorrectionWarning, match="clamped"):
        gamma_curve(20.0)


def test_every_correction_error_is_an_mrczio_error_with_value_error_base():
    for cls in (CorrectionInputError, NonFiniteInputError, OptionError):
        assert issubclass(cls, MrczioError) and issubclass(cls, ValueError)


@pytest.mark.parametrize("mode", ["default", "paper"])
def test_one_huge_uint32_value_costs_memory_by_pixels_not_by_value(mode):
    x = counting_movie(8, (64, 64), 2.0, seed=4).astype(np.uint32)
    x[0, 20, 20] = 4_000_000_000
    tracemalloc.start()
    try:
        res = detect_outliers(x, mode=mode)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20  # the value-range LUT alone would be 32 GB
    assert res.outlier_mask()[20, 20]
    out = res.apply(x)
    assert np.isfinite(out).all()
    if mode == "default":  # the paper's mean-centred histogram is itself thrown by it
        assert out[0, 20, 20] < 100 and res.info["n_outliers"] < 20


def test_extreme_int64_and_negative_values_are_handled():
    x = counting_movie(8, (64, 64), 3.0, seed=5).astype(np.int64)
    x[2, 5, 5] = -(2**40)
    x[3, 9, 9] = 2**40
    res = detect_outliers(x)
    mask = res.outlier_mask()
    assert mask[5, 5] and mask[9, 9]
