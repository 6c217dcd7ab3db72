"""Matrix cells: sample data, expected outcomes, comparison levels, and recording.

A cell is (what wrote the file, what reads it, dtype, shape) plus its expected outcome:

- ``ok`` at a comparison level (see docs/conformance.md and mrc-conformance.md 5.1):
  ``B1`` data bytes equal (the reader's items reinterpret the written bytes, e.g. int8
  for uint8 mode 0), ``B2`` exact array (same dtype, compared bit for bit), ``B2s`` the
  same items in the same order when a reader drops one-pixel axes, ``V`` exact
  values after a lossless cast (gemmi and RELION give float32);
- ``refuse``: the reader must reject the file, with an error text matching ``pattern``;
- ``garbage``: the reader "succeeds" but returns documented wrong data, which ``check``
  must reproduce exactly (e.g. RELION wraps uint16 >= 32768 to negative).

A cell whose observed outcome differs from the expected one fails.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cflib.readers import Read, Refused

#: Frame-stack shapes (frames, ny, nx): odd, prime, one-pixel edges.
SHAPES: dict[str, tuple[int, ...]] = {
    "image": (6, 7),  # a single 2-D image
    "stack": (3, 5, 7),
    "prime": (2, 13, 11),
    "even": (2, 8, 10),
    "row1": (3, 1, 9),  # one-pixel-high frames
    "col1": (2, 8, 1),  # one-pixel-wide frames
    "pixel1": (1, 1, 1),
}
VOLUME_SHAPES = ("stack", "prime", "even")


def sample(dtype: Any, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Deterministic data reaching both ends of the dtype's range (finite floats)."""
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed + 7 * len(shape) + sum(shape))
    count = int(np.prod(shape))
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        values = np.linspace(info.min, info.max, num=max(count, 2), dtype=np.float64)[:count]
        values = np.round(values).astype(dtype)
        if count == 1:
            values[0] = info.max  # one pixel: the value most likely to be mistreated
        return rng.permutation(values).reshape(shape)
    if dtype.kind == "c":
        parts = rng.normal(0, 1000, size=(2, count)).astype(np.float32)
        return (parts[0] + 1j * parts[1]).astype(dtype).reshape(shape)
    finite = np.finfo(dtype)
    specials = np.array([0.0, -0.0, 1.0, -1.0, float(finite.max), float(finite.min),
                         float(finite.tiny), float(finite.eps)], dtype=dtype)  # fmt: skip
    values = rng.normal(0, 100, size=count).astype(dtype)
    values[: min(count, len(specials))] = specials[: min(count, len(specials))]
    return rng.permutation(values).reshape(shape)


def as_stack(array: np.ndarray) -> np.ndarray:
    return array[np.newaxis] if array.ndim == 2 else array


# -- outcomes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What a cell must produce."""

    kind: str  # "ok", "refuse" or "garbage"
    level: str = ""  # ok: B1, B2, V, H; garbage: name of the check
    reason: str = ""  # why (shown in the report)
    pattern: str = ""  # refuse: regex the error text must match
    check: Callable[[np.ndarray, np.ndarray], bool] | None = field(default=None, compare=False)

    def label(self) -> str:
        if self.kind == "ok":
            return self.level
        return f"{self.kind}: {self.reason}" if self.reason else self.kind


def ok(level: str, reason: str = "") -> Outcome:
    return Outcome("ok", level, reason)


def refuse(reason: str, pattern: str) -> Outcome:
    return Outcome("refuse", "", reason, pattern)


def garbage(reason: str, check: Callable[[np.ndarray, np.ndarray], bool]) -> Outcome:
    return Outcome("garbage", "garbage", reason, check=check)


# -- comparison levels ----------------------------------------------------------------------


def _bits(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    return (
        array.view(f"u{array.dtype.itemsize}")
        if array.dtype.itemsize in (1, 2, 4, 8)
        else array.view(np.uint8)
    )


def same_array(got: np.ndarray, expected: np.ndarray) -> bool:
    """B2: same shape, same native dtype, every bit equal (NaN payloads and -0.0 count)."""
    expected = np.ascontiguousarray(expected).astype(expected.dtype.newbyteorder("="))
    if got.shape != expected.shape or got.dtype != expected.dtype:
        return False
    return bool(np.array_equal(_bits(got), _bits(expected)))


def same_bytes(got: np.ndarray, expected: np.ndarray) -> bool:
    """B1: same number of items, and the native bytes of both arrays are identical
    (the reader's item type and shape may differ, e.g. int8 for uint8)."""
    return (
        got.size == expected.size
        and np.ascontiguousarray(got).tobytes()
        == np.ascontiguousarray(expected.astype(expected.dtype.newbyteorder("="))).tobytes()
    )


def same_squeezed(got: np.ndarray, expected: np.ndarray) -> bool:
    """B2s: B2 of the flattened arrays (for readers that drop one-pixel axes)."""
    return same_array(got.reshape(-1), expected.reshape(-1))


def same_values(got: np.ndarray, expected: np.ndarray) -> bool:
    """V: same shape, and every value equal after casting ``expected`` to ``got``'s dtype,
    where that cast is lossless (checked by casting back)."""
    if got.shape != expected.shape:
        return False
    cast = expected.astype(got.dtype)
    if not np.array_equal(
        cast.astype(expected.dtype), expected, equal_nan=expected.dtype.kind in "fc"
    ):
        return False
    return bool(np.array_equal(got, cast, equal_nan=got.dtype.kind in "fc"))


LEVELS = {"B1": same_bytes, "B2": same_array, "B2s": same_squeezed, "V": same_values}


def observe(read: Callable[[], Read], expected: np.ndarray, outcome: Outcome) -> str:
    """Run one cell; return a short text of what happened; raise AssertionError when the
    observed outcome is not ``outcome``."""
    try:
        result = read()
    except Refused as exc:
        text = str(exc)
        assert outcome.kind == "refuse", (
            f"expected {outcome.label()}, but the reader refused: {text}"
        )
        assert re.search(outcome.pattern, text), (
            f"the reader refused as expected, but with {text!r}, not matching {outcome.pattern!r}"
        )
        return f"refused: {text[:120]}"
    got = result.array
    if outcome.kind == "refuse":
        raise AssertionError(
            f"expected a refusal ({outcome.reason}) but the reader returned {got.shape} {got.dtype}"
        )
    if outcome.kind == "garbage":
        assert outcome.check is not None
        assert outcome.check(got, expected), (
            f"expected the documented garbage ({outcome.reason}); got {got.shape} {got.dtype} "
            f"{got.ravel()[:6]!r} for {expected.ravel()[:6]!r}"
        )
        return f"garbage as documented: {outcome.reason}"
    compare = LEVELS[outcome.level]
    assert compare(got, expected), (
        f"{outcome.level} comparison failed: got {got.shape} {got.dtype} {got.ravel()[:6]!r}, "
        f"expected {expected.shape} {expected.dtype} {expected.ravel()[:6]!r}"
    )
    return outcome.level


def record(request: Any, **cell: Any) -> None:
    """Attach a matrix cell to the running test, for conformance/report.py."""
    request.node.user_properties.append(("cell", json.dumps(cell, default=str)))
