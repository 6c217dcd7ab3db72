"""Resource limits that keep a lying or hostile file from exhausting memory or the stack.

``MAX_PIXELS`` is mrczio's counterpart of Pillow's ``Image.MAX_IMAGE_PIXELS``: the most
pixels one read may allocate as a new output array (``reader.read()``, ``reader[a:b]``,
``imread``). A header claiming more raises :class:`~mrczio.errors.PixelBudgetError`
before anything is allocated. The default, 2**32 pixels (4 GiB of uint8, 16 GiB of
float32), is far above a 20-frame K3 movie yet stops absurd headers; to read a larger
stack in one piece, raise it or switch it off::

    import mrczio.limits
    mrczio.limits.MAX_PIXELS = 2**34   # or None for no limit

or set the environment variable ``MRCZIO_MAX_PIXELS`` (an integer, or ``none``) before
mrczio is imported. Reading frame by frame (``imiter``, ``reader.iter_frames()``) or into
an array you pass as ``out=`` is never limited.

Metadata (JSON or msgpack, in a file's extended header, footer or TIFF description) may
nest at most ``MAX_METADATA_DEPTH`` levels and hold integers of at most
``MAX_METADATA_INT_DIGITS`` decimal digits; deeper or larger values raise
:class:`~mrczio.errors.MetadataError` instead of ``RecursionError`` or slow parsing.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any

from mrczio.errors import MrczioWarning, PixelBudgetError

DEFAULT_MAX_PIXELS = 2**32
MAX_METADATA_DEPTH = 64
MAX_METADATA_INT_DIGITS = 100


def _from_environment(default: int) -> int | None:
    value = os.environ.get("MRCZIO_MAX_PIXELS", "").strip().lower()
    if not value:
        return default
    if value in ("none", "off"):
        return None
    try:
        return int(value)
    except ValueError:
        warnings.warn(
            f"MRCZIO_MAX_PIXELS={value!r} is neither an integer nor 'none'; using {default}",
            MrczioWarning,
            stacklevel=2,
        )
        return default


#: Most pixels one read may allocate; ``None`` switches the check off.
MAX_PIXELS: int | None = _from_environment(DEFAULT_MAX_PIXELS)


def check_pixel_budget(path: str, shape: tuple[int, ...]) -> None:
    """Raise :class:`PixelBudgetError` if an array of ``shape`` exceeds :data:`MAX_PIXELS`."""
    limit = MAX_PIXELS
    if limit is None:
        return
    pixels = 1
    for n in shape:
        pixels *= int(n)
    if pixels > limit:
        raise PixelBudgetError(
            f"{path}: reading {'x'.join(str(int(n)) for n in shape)} needs {pixels:,} pixels, "
            f"more than mrczio.limits.MAX_PIXELS ({limit:,}); read fewer frames at a time, "
            "or raise MAX_PIXELS (None switches the check off) if the file is genuine"
        )


def metadata_depth(value: Any, limit: int = MAX_METADATA_DEPTH) -> int:
    """Nesting depth of dicts and lists in ``value``, counted without recursion.

    Stops counting once ``limit`` is exceeded (returns ``limit + 1``).
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def too_large_integer(value: Any) -> int | None:
    """The first integer in ``value`` (walked without recursion) longer than allowed."""
    bound = 10**MAX_METADATA_INT_DIGITS
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, bool):
            continue
        if isinstance(item, int):
            if abs(item) >= bound:
                return item
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return None
