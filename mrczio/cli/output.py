"""What the command line prints: log messages on stderr, JSON lines and results on stdout.

Messages go through the ``logging`` module (logger ``mrczio``, like tifffile):
``--quiet`` shows errors only, ``--verbose`` adds details. Machine-readable output is
JSON Lines on stdout: one JSON object per line, keys documented in docs/cli.md.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

LOGGER_NAME = "mrczio"
log = logging.getLogger(LOGGER_NAME)


class _CliFormatter(logging.Formatter):
    """Plain text for results, ``mrczio: error: ...`` for problems."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            return f"mrczio: {record.levelname.lower()}: {message}"
        return message


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (tests swap it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def setup_logging(*, quiet: bool, verbose: bool) -> None:
    """Send the ``mrczio`` logger to stderr at the level the flags ask for."""
    for handler in list(log.handlers):
        if isinstance(handler, _CurrentStderr):
            log.removeHandler(handler)
    handler = _CurrentStderr()
    handler.setFormatter(_CliFormatter())
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.ERROR if quiet else logging.DEBUG if verbose else logging.INFO)


def emit_json(record: dict[str, Any]) -> None:
    """One JSON object on one line of stdout."""
    sys.stdout.write(json.dumps(record, default=_plain) + "\n")


def _plain(value: Any) -> Any:
    """numpy scalars and arrays, bytes and other oddities as JSON-able values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


def human_bytes(count: float) -> str:
    """``1234567`` -> ``"1.2 MB"`` (decimal units, as MB/s)."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(count) < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")
