"""What format readers need from a file: its size and exact reads at an offset.

:class:`mrczio.fileio.PositionalFile` is the local implementation; anything with the
same four members (a remote file, an already open handle) can stand in for it.
"""

from __future__ import annotations

import os
from typing import BinaryIO, Protocol

from mrczio.errors import TruncatedFileError


class ByteSource(Protocol):
    """A read-only sequence of bytes read by offset."""

    path: str
    size: int

    def read_at(self, offset: int, count: int, *, what: str = "data") -> bytes:
        """Exactly ``count`` bytes at ``offset``; fewer is a :class:`TruncatedFileError`."""
        ...

    def readinto_at(self, offset: int, buffer: memoryview, *, what: str = "data") -> None:
        """Fill ``buffer`` with the bytes at ``offset``."""
        ...


class HandleSource:
    """Positional reads on a file the caller already holds open (and keeps open)."""

    def __init__(self, handle: BinaryIO, path: str) -> None:
        self.path = path
        self._fd = handle.fileno()
        self.size = os.fstat(self._fd).st_size

    def read_at(self, offset: int, count: int, *, what: str = "data") -> bytes:
        if offset < 0 or count < 0 or offset + count > self.size:
            raise TruncatedFileError(
                self.path, f"{what} needs bytes {offset}..{offset + count} but the file has {self.size} bytes"
            )
        data = os.pread(self._fd, count, offset)
        if len(data) != count:
            raise TruncatedFileError(self.path, f"short read of {what} at byte {offset}")
        return data

    def readinto_at(self, offset: int, buffer: memoryview, *, what: str = "data") -> None:
        buffer.cast("B")[:] = self.read_at(offset, buffer.nbytes, what=what)
