"""One way to open a file for positional reads, local or remote.

:func:`open_positional` is what format readers call instead of constructing
:class:`~mrczio.fileio.PositionalFile` themselves: a plain path gets today's local file
(``pread`` straight into the caller's buffer), a URL (``https://``, ``s3://``, any
``protocol://`` fsspec knows) gets a :class:`~mrczio.remote.RemoteFile` with the same
interface, backed by HTTP range requests (see docs/lazy-and-remote.md).

Remote support is imported only when a URL is opened, so ``import mrczio`` stays cheap
and local reading does not need fsspec.
"""

from __future__ import annotations

import io
import re
import threading
from typing import TYPE_CHECKING, Any, Protocol

from mrczio.byte_source import ByteSource
from mrczio.fileio import PositionalFile

if TYPE_CHECKING:
    from mrczio.remote import RemoteFile

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


class PositionalSource(ByteSource, Protocol):
    """A :class:`~mrczio.byte_source.ByteSource` the reader owns and closes."""

    def close(self) -> None: ...

    @property
    def closed(self) -> bool: ...


def is_url(path: str) -> bool:
    """True for ``protocol://...`` (``http://``, ``s3://``, ``memory://``, ...)."""
    return bool(_URL.match(path))


_parked = threading.local()


def open_positional(path: str) -> PositionalSource:
    """A local :class:`PositionalFile` for a path, a :class:`RemoteFile` for a URL.

    Both have the same interface (``read_at``, ``readinto_at``, ``size``, ``path``,
    ``close``, ``closed``); tests/scale/test_remote.py checks that they stay alike.
    """
    if not is_url(path):
        return PositionalFile(path)
    parked: RemoteFile | None = getattr(_parked, "file", None)
    if parked is not None and parked.path == path and not parked.closed:
        _parked.file = None  # hand over the file :func:`read_head` just opened
        return parked
    from mrczio.remote import RemoteFile

    return RemoteFile(path)


def read_head(path: str, count: int) -> bytes:
    """The first ``count`` bytes of a URL (fewer if it is shorter), for format sniffing.

    The remote file stays open for this thread, so the reader that
    :func:`open_positional` opens next for the same URL reuses it: sniffing then
    opening costs no extra requests.
    """
    from mrczio.remote import RemoteFile

    previous: RemoteFile | None = getattr(_parked, "file", None)
    if previous is not None:
        previous.close()
    remote = RemoteFile(path)
    _parked.file = remote
    return remote.read_at(0, min(count, remote.size), what="header")


class SourceStream(io.RawIOBase):
    """A read-only, seekable binary stream over a :class:`PositionalSource`, for
    libraries that want a file object (tifffile): local paths and URLs alike. Closing
    the stream closes the source."""

    def __init__(self, source: PositionalSource) -> None:
        super().__init__()
        self.source = source
        self.name = source.path
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.source.size}[whence]
        if base + offset < 0:
            raise ValueError(f"{self.name}: cannot seek to byte {base + offset}")
        self._position = base + offset
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        count = max(0, min(view.nbytes, self.source.size - self._position))
        if count:
            view[:count] = self.source.read_at(self._position, count, what="TIFF data")
        self._position += count
        return count

    def close(self) -> None:
        if not self.closed:
            self.source.close()
        super().close()
