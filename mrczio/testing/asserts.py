"""Bit-exact comparisons and one-call round trips."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

import mrczio
from mrczio.testing.cases import FormatCase


def assert_bit_exact(actual: np.ndarray, expected: np.ndarray, what: str = "data") -> None:
    """Same shape, same dtype (byte order aside) and the same bits, NaN payloads and -0.0
    included. Raises AssertionError saying where the first difference is."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype.newbyteorder("=") == expected.dtype.newbyteorder("="), (
        f"{what}: dtype {actual.dtype} != {expected.dtype}"
    )
    native = actual.dtype.newbyteorder("=")
    a = np.ascontiguousarray(actual.astype(native, copy=False)).view(np.uint8)
    b = np.ascontiguousarray(expected.astype(native, copy=False)).view(np.uint8)
    if not np.array_equal(a, b):
        differ = np.flatnonzero(a.reshape(-1) != b.reshape(-1))
        item = int(differ[0]) // max(native.itemsize, 1)
        raise AssertionError(
            f"{what}: {differ.size} bytes differ; first in element {np.unravel_index(item, actual.shape)} "
            f"({actual.reshape(-1)[item]!r} != {expected.reshape(-1)[item]!r})"
        )


def write_case(case: FormatCase, path: str | os.PathLike[str], data: np.ndarray, **kwargs: Any) -> str:
    """Write ``data`` with mrczio as ``case`` describes; returns the path."""
    name = os.fspath(path)
    mrczio.imwrite(name, data, format=case.format, **{**dict(case.options), **kwargs})
    return name


def round_trip(
    case: FormatCase, directory: str | os.PathLike[str], data: np.ndarray, **kwargs: Any
) -> np.ndarray:
    """Write ``data`` as ``case`` in ``directory``, read it back, assert it is bit-exact,
    and return what was read."""
    path = write_case(case, case.path(directory, f"rt-{case.id}"), data, **kwargs)
    back = mrczio.imread(path)
    assert_bit_exact(back, data, f"{case.id} round trip")
    return back
