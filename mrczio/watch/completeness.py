"""When is a file the microscope writes finished? Quiet for a while, and parses whole.

There is no portable "closed after writing" event (NFS and SMB shares least of all), so
a file counts as complete when its size and modification time have not changed for
``quiet_seconds`` of observation by this process (no clock comparison with the file
server) *and* it opens with :func:`mrczio.open` at its declared size with its last frame
decodable (a header that promises more frames than the file holds is not complete).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import mrczio
from mrczio.errors import MrczioError


@dataclass
class _Seen:
    signature: tuple[int, int]
    since: float
    changed: bool


class QuietTracker:
    """Remembers each file's (size, mtime_ns) and since when it has not changed."""

    def __init__(self, quiet_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.quiet_seconds = quiet_seconds
        self.clock = clock
        self._seen: dict[str, _Seen] = {}

    def observe(self, files: Iterable[tuple[str, tuple[int, int]]]) -> list[str]:
        """Record the current signatures; return the names quiet for long enough.

        Names not in ``files`` are forgotten.
        """
        now = self.clock()
        present = {}
        for name, signature in files:
            seen = self._seen.get(name)
            if seen is None or seen.signature != signature:
                seen = _Seen(signature, now, changed=seen is not None)
            present[name] = seen
        self._seen = present
        return [name for name, seen in present.items() if now - seen.since >= self.quiet_seconds]

    def changed(self, name: str) -> bool:
        """Whether ``name`` changed while this tracker watched it (it is being written)."""
        seen = self._seen.get(name)
        return seen is not None and seen.changed

    def restart(self, name: str) -> None:
        """Start the quiet period of ``name`` again (e.g. it changed while being processed)."""
        self._seen.pop(name, None)


def incomplete_reason(path: str) -> str | None:
    """None when ``path`` opens at its declared size and its last frame decodes, else why not."""
    try:
        with mrczio.open(path) as reader:
            if len(reader) == 0:
                return "declares no frames yet"
            reader[len(reader) - 1]
    except (MrczioError, OSError) as exc:
        return str(exc)
    return None
