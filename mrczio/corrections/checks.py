"""Input and parameter checks shared by the detector corrections.

Every correction refuses what it cannot correct with an mrczio error instead of
returning NaN, dividing by zero or allocating by value range: empty or non-3-D stacks
and mismatched references raise :class:`~mrczio.errors.CorrectionInputError`, NaN or
infinity raise :class:`~mrczio.errors.NonFiniteInputError`, and nonsensical parameters
(rho <= 0, a negative dose rate, ...) raise :class:`~mrczio.errors.OptionError`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from mrczio.errors import CorrectionInputError, NonFiniteInputError, OptionError


def as_frames(stack: Any, what: str = "stack") -> np.ndarray:
    """``stack`` as a non-empty numeric (frames, ny, nx) array (a 2-D image gets one frame)."""
    data = np.asarray(stack)
    if data.ndim == 2:
        data = data[None]
    if data.ndim != 3:
        raise CorrectionInputError(f"{what}: expected (frames, ny, nx), got shape {data.shape}")
    if data.dtype.kind not in "biuf":
        raise CorrectionInputError(f"{what}: expected numeric pixels, got dtype {data.dtype}")
    if 0 in data.shape:
        raise CorrectionInputError(f"{what} is empty (shape {data.shape}); nothing to correct")
    return data


def require_finite(array: np.ndarray, what: str) -> None:
    """Raise :class:`NonFiniteInputError` if a float ``array`` holds NaN or infinity."""
    if array.dtype.kind not in "fc":
        return
    bad = ~np.isfinite(array)
    if bad.any():
        first = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), array.shape))
        raise NonFiniteInputError(
            f"{what} holds {int(bad.sum())} NaN/inf value(s) (first at index {first}); "
            "replace them (e.g. numpy.nan_to_num) or mask the pixels before correcting"
        )


def require_shape(array: np.ndarray, shape: tuple[int, ...], what: str) -> None:
    """Raise :class:`CorrectionInputError` unless ``array.shape == shape``."""
    if tuple(array.shape) != tuple(shape):
        raise CorrectionInputError(f"{what} has shape {array.shape}, frames are {shape}")


def number(value: Any, name: str) -> float:
    """``value`` as a finite float, else :class:`OptionError` naming the parameter."""
    if not isinstance(value, numbers.Real):  # "2" or Decimal("2") pass float() but fail later
        raise OptionError(f"parameter {name}={value!r} is a {type(value).__name__}, not a real number")
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise OptionError(f"parameter {name}={value!r} is not a number") from exc
    if not math.isfinite(v):
        raise OptionError(f"parameter {name}={value!r} must be finite")
    return v


def positive(value: Any, name: str) -> float:
    """A finite float > 0, else :class:`OptionError`."""
    v = number(value, name)
    if v <= 0:
        raise OptionError(f"parameter {name}={value!r} must be > 0")
    return v


def in_range(value: Any, name: str, lo: float, hi: float, *, closed: bool = False) -> float:
    """A finite float in the open interval (lo, hi) (closed when ``closed``), else OptionError."""
    v = number(value, name)
    ok = lo <= v <= hi if closed else lo < v < hi
    if not ok:
        brackets = "[]" if closed else "()"
        raise OptionError(f"parameter {name}={value!r} must be in {brackets[0]}{lo}, {hi}{brackets[1]}")
    return v


def whole(value: Any, name: str, minimum: int) -> int:
    """An integer >= ``minimum``, else :class:`OptionError`."""
    if isinstance(value, bool) or not float(number(value, name)).is_integer():
        raise OptionError(f"parameter {name}={value!r} must be an integer")
    v = int(value)
    if v < minimum:
        raise OptionError(f"parameter {name}={value!r} must be >= {minimum}")
    return v
