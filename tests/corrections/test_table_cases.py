"""The gain-first and super-resolution cases of the issue-16 closing table
(benchmarks/corrections_table.py) on tiny stacks: the sub-pixel split keeps every
count, truth masks are 2x2 blocks, metrics of the gain case are in counts, every column
is finite and the markdown holds all cases. No timing thresholds."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest


@pytest.fixture(scope="module")
def setup(tiny_table_setup: Any) -> Any:
    return tiny_table_setup(block_size=32)


@pytest.fixture(scope="module")
def results(table_module: Any, setup: Any) -> list[dict[str, Any]]:
    return [table_module.run_table(setup, case=case) for case in table_module.CASES[1:]]


def test_split_subpixels_keeps_counts(table_module: Any) -> None:
    rng = np.random.default_rng(0)
    counts = rng.poisson(200.0, size=(3, 16, 8)).astype(np.uint8)
    sub = table_module.split_subpixels(counts, np.random.default_rng(1))
    assert sub.shape == (3, 32, 16) and sub.dtype == np.uint8
    regrouped = sub.reshape(3, 16, 2, 8, 2).sum(axis=(2, 4))
    assert np.array_equal(regrouped, counts)
    share = sub.reshape(3, 16, 2, 8, 2).sum(axis=(0, 1, 3)) / counts.sum()
    w = table_module.SUBPIXEL_WEIGHTS / table_module.SUBPIXEL_WEIGHTS.sum()
    assert np.allclose(share, w, atol=0.01)
    again = table_module.split_subpixels(counts, np.random.default_rng(1))
    assert np.array_equal(sub, again)


def test_super_resolution_truth_is_2x2_blocks(table_module: Any, setup: Any) -> None:
    cd = table_module.prepare(setup, table_module.CASES[2])
    assert cd.data.shape == (12, 128, 128) and cd.gain is None
    for mask in (cd.hot, cd.dead, cd.transient):
        assert mask.any()
        assert np.array_equal(mask, np.kron(mask[::2, ::2], np.ones((2, 2), bool)))
    assert cd.block_size == 64  # the detector's 32 px blocks on the sub-pixel grid
    for flat, gain, _ in cd.flats:
        assert flat.shape[1:] == gain.shape == (128, 128)


def test_gain_case_metrics_are_in_counts(table_module: Any, setup: Any) -> None:
    cd = table_module.prepare(setup, table_module.CASES[1])
    assert cd.gain is not None and cd.factor is not None
    mask, out = table_module.METHODS["no correction"](cd.data, cd.gain)
    assert not mask.any() and out.dtype == np.float32
    back = out / cd.factor
    assert np.allclose(back, cd.data, rtol=1e-5, atol=1e-4)
    row = table_module._row(cd, mask, out)
    assert row["normal moved >2 sigma per Mpix"] == 0


def test_every_column_finite_in_each_case(table_module: Any, results: list[dict[str, Any]]) -> None:
    for result in results:
        assert [r["method"] for r in result["rows"]] == list(table_module.case_methods(result["case"]))
        assert result["n_hot"] > 0 and result["n_dead"] > 0 and result["n_transient"] > 0
        for row in result["rows"]:
            values = {k: row[k] for k in table_module.COLUMNS}
            if row["method"] == "no correction":
                assert math.isnan(values.pop("precision"))
            assert all(math.isfinite(v) for v in values.values()), (result["case"], row["method"])
            for k in ("recall hot", "recall dead", "hot restored 4 sigma", "dead restored 4 sigma"):
                assert 0 <= row[k] <= 1


def test_default_mode_beats_no_correction(results: list[dict[str, Any]]) -> None:
    for result in results:
        rows = {r["method"]: r for r in result["rows"]}
        ours, raw = rows["mrczio default mode"], rows["no correction"]
        assert ours["R specimen subtracted"] < raw["R specimen subtracted"], result["case"]
        assert ours["hot restored 4 sigma"] > raw["hot restored 4 sigma"], result["case"]


def test_markdown_has_every_case_and_column(table_module: Any, results: list[dict[str, Any]]) -> None:
    block = table_module.markdown(results)
    assert block.startswith(table_module.START) and block.endswith(table_module.END)
    for case in table_module.CASES[1:]:
        assert f"**{case.name}**" in block
        assert block.count(f"| {case.name} | ") == 2 * len(table_module.case_methods(case))
    for column in table_module.COLUMNS:
        assert f" {column} |" in block
