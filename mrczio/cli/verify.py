"""Read-back verification before ``--rm`` removes an input.

An input is removed only when its output, read back completely, holds the same frames
(bit for bit, or value for value after a lossless dtype change), the same voxel size
and the same metadata. (File checksums will replace the second read once the formats
store them.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from mrczio import api


class VerificationError(Exception):
    """The output is not an exact copy of the input, so the input is kept."""


def verify_copy(source: str, output: str) -> None:
    """Raise :class:`VerificationError` unless ``output`` holds exactly what ``source`` does."""
    with api.open(source) as original, api.open(output) as copy:
        if len(original) != len(copy) or original.frame_shape != copy.frame_shape:
            raise VerificationError(
                f"{output}: {len(copy)} frames of {copy.frame_shape}, "
                f"but {source} has {len(original)} of {original.frame_shape}"
            )
        for index, (before, after) in enumerate(zip(original, copy, strict=True)):
            if not same_pixels(before, after):
                raise VerificationError(f"{output}: frame {index} differs from {source}")
        if not _same_voxel(original.voxel_size, copy.voxel_size):
            raise VerificationError(
                f"{output}: voxel size {tuple(copy.voxel_size)} differs from {tuple(original.voxel_size)}"
            )
        if not same_value(original.metadata, copy.metadata):
            raise VerificationError(f"{output}: metadata differs from {source}'s")


def same_pixels(before: np.ndarray, after: np.ndarray) -> bool:
    """Bit-identical when the dtypes match, else equal values (NaN equal to NaN)."""
    if before.shape != after.shape:
        return False
    if before.dtype.newbyteorder("=") == after.dtype.newbyteorder("="):
        native = before.dtype.newbyteorder("=")
        return before.astype(native).tobytes() == after.astype(native).tobytes()
    nan = before.dtype.kind in "fc" and after.dtype.kind in "fc"
    return bool(np.array_equal(before, after, equal_nan=nan))


def _same_voxel(before: tuple[float, ...], after: tuple[float, ...]) -> bool:
    return all(
        math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9) for a, b in zip(before, after, strict=True)
    )


def same_value(before: Any, after: Any) -> bool:
    """Deep equality for metadata: dicts, lists (a tuple equals a list: JSON has only
    lists), numbers, strings, and numpy arrays (same dtype and bits; an array that came
    back as a list is a difference)."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        return before.keys() == after.keys() and all(
            same_value(before[k], after[k]) for k in before
        )
    if isinstance(before, np.ndarray) or isinstance(after, np.ndarray):
        return (
            isinstance(before, np.ndarray)
            and isinstance(after, np.ndarray)
            and before.dtype.newbyteorder("=") == after.dtype.newbyteorder("=")
            and same_pixels(before, after)
        )
    if isinstance(before, list | tuple) and isinstance(after, list | tuple):
        return len(before) == len(after) and all(
            same_value(a, b) for a, b in zip(before, after, strict=True)
        )
    return bool(before == after)
