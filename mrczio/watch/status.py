"""A one-line status display for ``mrczio watch``, drawn only when the stream is a terminal."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TextIO


@dataclass
class Counts:
    """What the watcher has done in this run."""

    compressed: int = 0
    copied: int = 0
    deleted: int = 0
    skipped: int = 0
    failed: int = 0
    waiting: int = 0
    last: str = ""


class StatusLine:
    """Redraws ``counts`` in place with ``\\r``; silent when the stream is not a TTY."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._width = 0

    def show(self, counts: Counts) -> None:
        if not self.enabled:
            return
        text = (
            f"watch: {counts.compressed} compressed, {counts.copied} sidecars, {counts.deleted} deleted, "
            f"{counts.waiting} waiting, {counts.failed} failed" + (f" | {counts.last}" if counts.last else "")
        )
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = len(text)

    def close(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0
