"""``pytest.param`` lists for format x dtype x shape matrices and conversion pairs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pytest

from mrczio.registry import Registry
from mrczio.testing.cases import ALL_DTYPES, COUNTING, SHAPES, FormatCase, format_cases


def _shape_id(shape: Sequence[int]) -> str:
    return "x".join(str(n) for n in shape)


def matrix_params(
    cases: Iterable[FormatCase] | None = None,
    dtypes: Iterable[str] = ALL_DTYPES,
    shapes: Iterable[Sequence[int]] = SHAPES,
    registry: Registry | None = None,
) -> list[Any]:
    """(case, dtype, shape) for every combination a case holds, with readable ids."""
    chosen = list(cases) if cases is not None else format_cases(registry)
    return [
        pytest.param(case, dtype, tuple(shape), id=f"{case.id}-{dtype}-{_shape_id(shape)}")
        for case in chosen
        for dtype in dtypes
        for shape in shapes
        if case.holds(dtype, shape)
    ]


def pair_params(
    cases: Iterable[FormatCase] | None = None,
    dtypes: Iterable[str] = ALL_DTYPES,
    shape: Sequence[int] = (3, 8, 10),
    registry: Registry | None = None,
) -> list[Any]:
    """(source case, target case, dtype, shape) for every ordered pair of cases and
    every dtype both hold. Pairs that share only counting data get ``uint8`` capped at
    the smaller ``max_value`` (see :func:`pair_max_value`)."""
    chosen = list(cases) if cases is not None else format_cases(registry)
    params = []
    for source in chosen:
        for target in chosen:
            for dtype in dtypes:
                if source.holds(dtype, shape) and target.holds(dtype, shape):
                    params.append(
                        pytest.param(
                            source,
                            target,
                            dtype,
                            tuple(shape),
                            id=f"{source.id}->{target.id}-{dtype}",
                        )
                    )
    return params


def pair_max_value(source: FormatCase, target: FormatCase) -> int | None:
    """The value cap data must respect to fit both cases (None: the dtype's range)."""
    caps = [c.max_value for c in (source, target) if c.max_value is not None]
    return min(caps) if caps else None


def counting_dtype() -> np.dtype[Any]:
    return np.dtype(COUNTING)
