"""``mrczio validate``: findings as data, printing left to the caller.

Core decodes every frame (a frame that does not decode is a finding) while summarising
the pixels, then asks the file's format for its own checks
(:meth:`mrczio.FileFormat.validate`): MRC2014 header rules, sizes, statistics. A file
that cannot be opened gives one finding whose code says why (``checksum``,
``unknown-codec``, ``mode``, ``size`` or ``unreadable``); a frame that does not decode
gives ``checksum`` or ``data``; what the reader warns about while reading becomes a
``read-warning`` finding.
"""

from __future__ import annotations

import os
import warnings

from mrczio import api
from mrczio.contracts import FileFormat, Finding, Severity
from mrczio.errors import (
    ChecksumError,
    MrczioError,
    MrczioWarning,
    TruncatedFileError,
    UnknownCodecError,
    UnsupportedModeError,
)
from mrczio.reader import StackReader
from mrczio.registry import Registry, get_registry
from mrczio.stats import RunningStats

__all__ = ["Finding", "Severity", "validate"]

#: Finding codes for files that cannot be opened, most specific error class first.
OPEN_ERROR_CODES: tuple[tuple[type[MrczioError], str], ...] = (
    (ChecksumError, "checksum"),
    (UnknownCodecError, "unknown-codec"),
    (UnsupportedModeError, "mode"),
    (TruncatedFileError, "size"),
    (MrczioError, "unreadable"),
)


def validate(path: str | os.PathLike[str], registry: Registry | None = None) -> list[Finding]:
    """Check ``path``; an empty list means it is a valid file of its format.

    A file is valid when no finding has severity ``"error"``.
    """
    name = os.fspath(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MrczioWarning)
        found = _check(name, registry or get_registry())
    for warning in caught:
        if issubclass(warning.category, MrczioWarning):
            found.append(Finding("read-warning", "warning", str(warning.message)))
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return found


def _check(name: str, reg: Registry) -> list[Finding]:
    try:
        fmt: FileFormat = api.reader_format(name, None, reg)
        reader = fmt.open_reader(name, reg)
    except MrczioError as exc:
        code = next(code for kind, code in OPEN_ERROR_CODES if isinstance(exc, kind))
        return [Finding(code, "error", str(exc))]
    except OSError as exc:
        return [Finding("unreadable", "error", f"{name}: {exc.strerror or exc}")]
    with reader:
        data, problem = _decode_all(reader)
        found = [problem] if problem is not None else []
        return found + fmt.validate(reader, data)


def _decode_all(reader: StackReader) -> tuple[RunningStats | None, Finding | None]:
    """A summary of every pixel, or the finding that stopped the decoding."""
    stats = RunningStats()
    k = 0  # the frame being decoded
    try:
        for frame in reader:
            stats.add(frame)
            k += 1
    except MrczioError as exc:
        message = str(exc) if f"frame {k}" in str(exc) else f"{exc} (frame {k} of {reader.n_frames})"
        return None, Finding("checksum" if isinstance(exc, ChecksumError) else "data", "error", message)
    return stats, None
