"""apply_corrections corrects its own intermediate float32 stack in place."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import mrczio

FRAMES, SIDE = 40, 256


def _stack() -> tuple[np.ndarray, dict[str, dict[str, object]]]:
    rng = np.random.default_rng(11)
    rate = np.ones((SIDE, SIDE))
    rate[rng.random((SIDE, SIDE)) < 0.003] = 8.0  # hot pixels
    stack = np.minimum(rng.poisson(rate, (FRAMES, SIDE, SIDE)), 255).astype(np.uint8)
    gain = rng.uniform(0.9, 1.1, (SIDE, SIDE)).astype(np.float32)
    return stack, {"gain": {"gain": gain, "gamma": 0.9}}


def test_chain_equals_filters_run_one_by_one_and_leaves_the_input_alone() -> None:
    stack, params = _stack()
    before = stack.copy()
    chained = mrczio.apply_corrections(stack, {}, ["gain", "outliers"], params)
    gained = mrczio.apply_corrections(stack, {}, ["gain"], params)
    separate = mrczio.apply_corrections(gained.copy(), {}, ["outliers"])
    np.testing.assert_array_equal(stack, before)
    assert chained.dtype == np.float32
    np.testing.assert_array_equal(chained, separate)
    assert not np.array_equal(separate, gained)  # the outlier step did change pixels


def test_gain_then_outliers_holds_one_float32_stack() -> None:
    stack, params = _stack()
    mrczio.apply_corrections(stack[:2], {}, ["gain", "outliers"], params)  # imports, caches
    tracemalloc.start()
    try:
        result = mrczio.apply_corrections(stack, {}, ["gain", "outliers"], params)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    float_stack = result.nbytes
    # One float32 result plus per-pixel detection images (~45-75 bytes per frame pixel,
    # docs/corrections.md); a second float32 stack would add 4 bytes x every pixel of
    # every frame (10.5 MB here) and break this bound.
    assert peak < float_stack + 100 * SIDE * SIDE, (peak, float_stack)


class _Cached(mrczio.CorrectionFilter):
    """A third-party filter that returns an array it keeps (not fresh_result)."""

    name = "cached"

    def __init__(self) -> None:
        self.kept: np.ndarray | None = None

    def apply(self, stack: np.ndarray, **params: object) -> np.ndarray:
        if self.kept is None:
            self.kept = stack.astype(np.float32)
        return self.kept


def test_an_array_a_third_party_filter_keeps_is_never_written_into() -> None:
    from mrczio import hookimpl

    cached = _Cached()

    class Plugin:
        @hookimpl
        def mrczio_register_filters(self) -> list[mrczio.CorrectionFilter]:
            return [cached]

    import mrczio_builtin.filters as builtin_filters

    registry = mrczio.Registry.from_plugins([builtin_filters, Plugin()])
    stack, _ = _stack()
    result = mrczio.apply_corrections(stack, {}, ["cached", "outliers"], registry=registry)
    assert cached.kept is not None
    np.testing.assert_array_equal(cached.kept, stack.astype(np.float32))  # untouched
    assert not np.shares_memory(result, cached.kept)


def test_out_stored_in_a_files_metadata_is_ignored() -> None:
    stack, _ = _stack()
    metadata = {"corrections": {"outliers": {"out": [1, 2]}}}
    expected = mrczio.apply_corrections(stack, {}, ["outliers"])
    np.testing.assert_array_equal(mrczio.apply_corrections(stack, metadata, ["outliers"]), expected)


def test_parameters_that_are_not_numbers_or_mappings_are_option_errors() -> None:
    from decimal import Decimal

    from mrczio.errors import OptionError

    stack, _ = _stack()
    for bad in (
        {"outliers": {"k": Decimal("3")}},
        {"outliers": {"k": np.array("3")}},
        {"outliers": ["k", 3]},
    ):
        with pytest.raises(OptionError):
            mrczio.apply_corrections(stack, {}, ["outliers"], bad)  # type: ignore[arg-type]
