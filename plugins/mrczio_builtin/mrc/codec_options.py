"""Which MRCZ write options choose and configure the frame codec.

``codec`` names it (``"none"`` writes plain MRC sections); the codec's own parameters
(:attr:`mrczio.FrameCodec.parameters`, e.g. blosc's ``level`` and ``filter``) come as
keywords or together as ``codec_options={...}``; ``threads`` is the writer's: how many
frames are compressed at once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from mrczio.contracts import FrameCodec
from mrczio.errors import OptionError
from mrczio.registry import Registry

DEFAULT_CODEC = "zstd"
#: Options the writer itself reads to pick and run the codec.
WRITER_CODEC_OPTIONS = frozenset({"codec", "codec_options", "threads"})


def codec_from_options(
    registry: Registry, options: Mapping[str, Any], reserved: frozenset[str] = frozenset()
) -> tuple[FrameCodec | None, dict[str, Any]]:
    """(the configured codec or None for ``codec="none"``, the options left over).

    The leftover keeps ``threads`` and everything that is not one of the codec's
    parameters; the caller checks those against its own list. A codec parameter whose
    name is one of the writer's ``reserved`` options can only be given in
    ``codec_options``.
    """
    rest = dict(options)
    name = str(rest.pop("codec", DEFAULT_CODEC) or DEFAULT_CODEC).lower()
    extra = rest.pop("codec_options", None) or {}
    if not isinstance(extra, Mapping):
        raise OptionError(f"codec_options must be a mapping of codec parameters, not {type(extra).__name__}")
    if name == "none":
        if extra:
            raise OptionError(f"codec 'none' takes no codec_options ({', '.join(extra)})")
        return None, rest
    codec = registry.codec(name)
    given = {key: rest.pop(key) for key in list(rest) if key in codec.parameters and key not in reserved}
    return codec.configured(**{**given, **extra}), rest


def frame_workers(options: Mapping[str, Any]) -> int:
    """The ``threads`` option: frames compressed at once (0 = one per CPU)."""
    try:
        threads = int(options.get("threads", 0) or 0)
    except (TypeError, ValueError):
        raise OptionError(f"threads must be a whole number, not {options.get('threads')!r}") from None
    if threads < 0:
        raise OptionError(f"threads must not be negative, not {threads}")
    return threads or (os.cpu_count() or 1)
