"""Fixtures shared by the tests of benchmarks/corrections_table.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mrczio.synthetic import DetectorModel

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"

#: A tiny version of the closing table's detector: every defect kind, 128 x 128 pixels.
TINY_MODEL: dict[str, Any] = {
    "charge_sharing": 0.1,
    "block_pattern": 0.015,
    "transient_hot": 0.01,
    "transient_frames": 4,
    "line_defects": 1,
    "line_length": 16,
}


@pytest.fixture(scope="module")
def table_module() -> Iterator[Any]:
    """benchmarks/corrections_table.py, imported from the source tree."""
    mp = pytest.MonkeyPatch()
    mp.syspath_prepend(str(BENCH))
    import corrections_table

    yield corrections_table
    mp.undo()


@pytest.fixture(scope="module")
def tiny_table_setup(table_module: Any) -> Callable[..., Any]:
    """``make(**model_overrides)``: a 12-frame, 128 x 128 ``Setup`` of the tiny detector."""

    def make(**overrides: Any) -> Any:
        model = DetectorModel(**{**TINY_MODEL, **overrides})
        return table_module.Setup(shape=(128, 128), n_frames=12, model=model, gamma_rates=(1.0,))

    return make
