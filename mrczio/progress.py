"""A progress bar on stderr with percentage, throughput and ETA, shown only on a terminal.

``Progress`` is a callable: the library calls it with a step count (``progress(1)`` after
every frame, see :func:`mrczio.convert`), so any callable works there and this class is
just the one the command line uses. The bar is drawn only when its stream is a terminal
(or when ``enabled=True``), so piped or logged output stays clean; redraws are limited
to about ten per second.
"""

from __future__ import annotations

import shutil
import sys
import time
from types import TracebackType
from typing import Self, TextIO

REDRAW_SECONDS = 0.1
MIN_BAR = 10


def format_duration(seconds: float) -> str:
    """``75.2`` -> ``"1:15"``, ``3725`` -> ``"1:02:05"``."""
    whole = max(round(seconds), 0)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Count steps towards ``total``; ``with`` ends the line.

    ``step_bytes`` is how many bytes one step stands for (one frame's size, say); when
    given, the bar shows MB/s, else steps per second. ``clear=True`` erases the bar when
    it closes instead of leaving it on its own line (for a result line printed next).
    """

    def __init__(
        self,
        total: int,
        label: str = "",
        *,
        enabled: bool | None = None,
        stream: TextIO | None = None,
        step_bytes: int = 0,
        clear: bool = False,
    ) -> None:
        self.total = max(total, 0)
        self.label = label
        self.done = 0
        self.step_bytes = step_bytes
        self.clear = clear
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = _is_terminal(self.stream) if enabled is None else enabled
        self._drawn = False
        self._last_draw = 0.0
        self._started = time.perf_counter()

    def __call__(self, steps: int = 1) -> None:
        self.done += steps
        now = time.perf_counter()
        if self.enabled and (now - self._last_draw >= REDRAW_SECONDS or self.done >= self.total):
            self._last_draw = now
            self._draw(now - self._started)

    def line(self, elapsed: float) -> str:
        """The text of the bar after ``elapsed`` seconds (without the leading ``\\r``)."""
        fraction = min(self.done / self.total, 1.0) if self.total else 1.0
        rate = self.done / elapsed if elapsed > 0 else 0.0
        speed = f"{rate * self.step_bytes / 1e6:.1f} MB/s" if self.step_bytes else f"{rate:.1f}/s"
        eta = format_duration((self.total - self.done) / rate) if rate > 0 else "?"
        tail = f" {fraction:4.0%} {self.done}/{self.total} {speed} ETA {eta}"
        columns = shutil.get_terminal_size((80, 24)).columns
        width = max(columns - len(self.label) - len(tail) - 4, MIN_BAR)
        filled = int(width * fraction)
        return f"{self.label} [{'#' * filled}{'-' * (width - filled)}]{tail}"

    def _draw(self, elapsed: float) -> None:
        self.stream.write("\r" + self.line(elapsed))
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self.enabled and self._drawn:
            self.stream.write("\r\x1b[K" if self.clear else "\n")
            self.stream.flush()
        self.enabled = False

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real stream
        return False
