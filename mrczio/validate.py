"""``mrczio validate``: findings as data, printing left to the caller.

Core decodes every frame (a frame that does not decode is a finding) while summarising
the pixels, then asks the file's format for its own checks
(:meth:`mrczio.FileFormat.validate`): MRC2014 header rules, sizes, statistics.
"""

from __future__ import annotations

import os

from mrczio import api
from mrczio.contracts import Finding, Severity
from mrczio.errors import MrczioError
from mrczio.reader import StackReader
from mrczio.registry import Registry, get_registry
from mrczio.stats import RunningStats

__all__ = ["Finding", "Severity", "validate"]


def validate(path: str | os.PathLike[str], registry: Registry | None = None) -> list[Finding]:
    """Check ``path``; an empty list means it is a valid file of its format."""
    name = os.fspath(path)
    reg = registry or get_registry()
    try:
        fmt = api.reader_format(name, None, reg)
        reader = fmt.open_reader(name, reg)
    except MrczioError as exc:
        return [Finding("unreadable", "error", str(exc))]
    except OSError as exc:
        return [Finding("unreadable", "error", f"{name}: {exc.strerror or exc}")]
    with reader:
        data, problem = _decode_all(reader)
        found = [problem] if problem is not None else []
        return found + fmt.validate(reader, data)


def _decode_all(reader: StackReader) -> tuple[RunningStats | None, Finding | None]:
    """A summary of every pixel, or the finding that stopped the decoding."""
    stats = RunningStats()
    try:
        for frame in reader:
            stats.add(frame)
    except MrczioError as exc:
        return None, Finding("data", "error", str(exc))
    return stats, None
