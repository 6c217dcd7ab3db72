"""Low-level file access: positional reads of regular files.

:class:`PositionalFile` opens only regular files: a FIFO, socket or device is refused at
once (:class:`~mrczio.errors.NotRegularFileError`) instead of blocking, and operating
system errors become mrczio errors that keep their stdlib base (a missing file is a
:class:`~mrczio.errors.MissingFileError`, also a ``FileNotFoundError``).

Writing lives in :mod:`mrczio.publish`; :class:`AtomicFile` and
:func:`check_output_path` are re-exported here for existing imports.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import threading
from typing import BinaryIO

from mrczio.errors import DirectoryGivenError, NotRegularFileError, TruncatedFileError
from mrczio.oserrors import reraise_os_errors
from mrczio.publish import AtomicFile, check_output_path

__all__ = ["AtomicFile", "PositionalFile", "check_output_path", "open_regular_file"]


def open_regular_file(path: str) -> int:
    """A read-only descriptor of ``path``, refusing anything but a regular file at once.

    The file is opened non-blocking (so a FIFO cannot hang the open) and checked with
    ``fstat`` on the open descriptor (so it cannot be swapped after the check).
    """
    with reraise_os_errors(path, "opening"):
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode):
                raise DirectoryGivenError(path, "is a directory, not a file", errno.EISDIR)
            if not stat.S_ISREG(mode):
                raise NotRegularFileError(path, f"is a {_kind(mode)}, not a regular file")
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        except BaseException:
            os.close(fd)
            raise
    return fd


def read_prefix(path: str, count: int) -> bytes:
    """Up to ``count`` bytes from the start of a regular file (for format sniffing)."""
    fd = open_regular_file(path)
    try:
        with reraise_os_errors(path, "reading"):
            return os.pread(fd, count, 0)
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


class PositionalFile:
    """A read-only file read by offset, safe to share between threads."""

    def __init__(self, path: str) -> None:
        self.path = path
        fd = open_regular_file(path)
        self._file: BinaryIO = open(path, "rb", opener=lambda _path, _flags: fd)  # noqa: SIM115
        self._fd = self._file.fileno()
        self._lock = threading.Lock()
        self.size = os.fstat(self._fd).st_size

    def read_at(self, offset: int, count: int, *, what: str = "data") -> bytes:
        """Exactly ``count`` bytes at ``offset``; a short read is a truncated file."""
        if offset < 0 or count < 0 or offset + count > self.size:
            raise TruncatedFileError(
                self.path,
                f"{what} needs bytes {offset}..{offset + count} but the file has {self.size} bytes",
            )
        data = self._pread(count, offset)
        if len(data) != count:
            raise TruncatedFileError(self.path, f"short read of {what} at byte {offset}")
        return data

    def readinto_at(self, offset: int, buffer: memoryview, *, what: str = "data") -> None:
        """Fill ``buffer`` from ``offset`` without an intermediate copy."""
        count = buffer.nbytes
        if offset < 0 or offset + count > self.size:
            raise TruncatedFileError(
                self.path,
                f"{what} needs bytes {offset}..{offset + count} but the file has {self.size} bytes",
            )
        done = 0
        flat = buffer.cast("B")
        while done < count:
            got = self._preadv(flat[done:], offset + done)
            if got <= 0:
                raise TruncatedFileError(self.path, f"short read of {what} at byte {offset + done}")
            done += got

    def _pread(self, count: int, offset: int) -> bytes:
        with reraise_os_errors(self.path, "reading"):
            if hasattr(os, "pread"):
                return os.pread(self._fd, count, offset)
            with self._lock:
                self._file.seek(offset)
                return self._file.read(count)

    def _preadv(self, buffer: memoryview, offset: int) -> int:
        with reraise_os_errors(self.path, "reading"):
            if hasattr(os, "preadv"):
                return os.preadv(self._fd, [buffer], offset)
            with self._lock:
                self._file.seek(offset)
                return os.readv(self._fd, [buffer])

    def close(self) -> None:
        self._file.close()

    @property
    def closed(self) -> bool:
        return self._file.closed
