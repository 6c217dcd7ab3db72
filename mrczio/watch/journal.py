"""The watch journal: one JSON object per line, fsynced, replayed on start.

Events (``event`` key) for a file ``path`` relative to the watched folder:

``start``    compression began (``size``, ``mtime_ns`` of the source, ``output``);
``done``     the output was verified and published (``sha256`` of the output,
             ``adopted: true`` when an existing output was verified instead of rewritten);
``copied``   a sidecar was copied and checked (``sha256``);
``deleting`` the source is about to be removed (its verified output is on disk);
``deleted``  the source was removed (written after the removal; a restart that finds
             ``deleting`` without ``deleted`` and the source gone writes it);
``failed``   the file cannot be processed as it is (``error``);
``abandoned`` the source changed while it was being compressed.

A line cut short by a kill is dropped on the next start. The journal's folder also
holds a lock file: one watcher per destination.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from mrczio.errors import FormatError, MrczioError


class WatchLockedError(MrczioError, BlockingIOError):
    """Another watcher holds the destination's lock."""


@dataclass
class FileState:
    """What the journal says about one source file."""

    done: dict[str, Any] | None = None
    failed: dict[str, Any] | None = None
    deleting: bool = False
    deleted: bool = False


class Journal:
    """Append-only JSON-lines journal with an exclusive lock (use as a context manager)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.states: dict[str, FileState] = {}
        self._fd = -1
        self._lock_fd = -1

    def __enter__(self) -> Self:
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self._lock()
        self._replay(self._load_lines())
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # closing releases the flock
        self._fd = self._lock_fd = -1

    def _lock(self) -> None:
        lock_path = self.path + ".lock"
        self._lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            self._lock_fd = -1
            raise WatchLockedError(f"{lock_path}: another mrczio watch is using this journal") from None

    def _load_lines(self) -> list[dict[str, Any]]:
        """Parse every complete line; cut a trailing partial line left by a kill."""
        try:
            with open(self.path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return []
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) != len(data):
            os.truncate(self.path, len(complete))
        records = []
        for number, line in enumerate(complete.splitlines(), start=1):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                raise FormatError(self.path, f"line {number} is not JSON; fix or move the journal") from None
        return records

    def _replay(self, records: list[dict[str, Any]]) -> None:
        for record in records:
            self._apply(record)

    def _apply(self, record: dict[str, Any]) -> None:
        state = self.states.setdefault(str(record.get("path")), FileState())
        event = record.get("event")
        if event in ("done", "copied"):
            state.done, state.failed, state.deleting, state.deleted = record, None, False, False
        elif event == "failed":
            state.failed = record
        elif event == "deleting":
            state.deleting = True
        elif event == "deleted":
            state.deleted = True

    def state(self, path: str) -> FileState:
        return self.states.get(path, FileState())

    def record(self, event: str, path: str, **fields: Any) -> dict[str, Any]:
        """Append one event and fsync it before returning."""
        record = {"time": round(time.time(), 6), "event": event, "path": path, **fields}
        os.write(self._fd, (json.dumps(record, sort_keys=True) + "\n").encode())
        os.fsync(self._fd)
        self._apply(record)
        return record
