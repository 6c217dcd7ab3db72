"""Exclusive advisory locks for appends and in-place rewrites of one file.

:class:`FileLock` takes an exclusive ``flock`` on the target file itself (no lock file
is created, so nothing is left behind). Only mrczio writers that modify an existing file
take it, and every one of them does, so two appends to one file run one after the
other instead of interleaving; readers are not blocked. A rewrite that replaces the file
by a renamed copy is handled too: after taking the lock the path is checked to still
name the locked file, and if it was replaced meanwhile the lock is taken again on the new
file.

``timeout=None`` waits as long as the other writer runs, ``timeout=0`` fails at once and
a number waits that many seconds; failing raises :class:`~mrczio.errors.LockError`
(a ``TimeoutError``) naming the file. ``flock`` locks work across processes on local
file systems and, on Linux, on NFS (where they are mapped to POSIX record locks).
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from types import TracebackType
from typing import Self

from mrczio.errors import LockError
from mrczio.fileio import open_regular_file
from mrczio.oserrors import reraise_os_errors

_FIRST_POLL = 0.001
_MAX_POLL = 0.05


class FileLock:
    """An exclusive lock on ``path`` for as long as it is held (a context manager)."""

    def __init__(self, path: str, *, timeout: float | None = None) -> None:
        self.path = path
        self.timeout = timeout
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, waiting as :attr:`timeout` allows."""
        if self._fd is not None:
            raise LockError(self.path, "this lock is already held by this object", errno.EDEADLK)
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        pause = _FIRST_POLL
        while True:
            fd = open_regular_file(self.path)
            if self._try_lock(fd):
                if self._still_names(fd):
                    self._fd = fd
                    return
                os.close(fd)  # replaced while we waited: lock the new file instead
                continue
            os.close(fd)
            if deadline is not None and time.monotonic() >= deadline:
                raise self._busy()
            time.sleep(pause if deadline is None else min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, _MAX_POLL)

    def _try_lock(self, fd: int) -> bool:
        try:
            with reraise_os_errors(self.path, "locking"):
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return False
        except BaseException:
            os.close(fd)
            raise
        return True

    def _still_names(self, fd: int) -> bool:
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            return False
        held = os.fstat(fd)
        return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)

    def _busy(self) -> LockError:
        waited = "" if not self.timeout else f" after waiting {self.timeout:g} s"
        return LockError(
            self.path,
            f"another process is appending to or rewriting this file (it holds the file's lock)"
            f"{waited}; try again when it has finished",
            errno.EWOULDBLOCK,
        )

    def release(self) -> None:
        """Release the lock (closing the descriptor releases the ``flock``)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __enter__(self) -> Self:
        if not self.held:  # ``with lock_file(path):`` arrives already holding it
            self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def lock_file(path: str, *, timeout: float | None = None) -> FileLock:
    """An acquired :class:`FileLock` on ``path``; release it (or use ``with``)."""
    lock = FileLock(path, timeout=timeout)
    lock.acquire()
    return lock
