"""Low-level file access: positional reads and atomic (temp file + rename) writes."""

from __future__ import annotations

import os
import secrets
import threading
from types import TracebackType
from typing import BinaryIO, Self

from mrczio.errors import OutputExistsError, TruncatedFileError


class PositionalFile:
    """A read-only file read by offset, safe to share between threads."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed in close()
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
        if hasattr(os, "pread"):
            return os.pread(self._fd, count, offset)
        with self._lock:
            self._file.seek(offset)
            return self._file.read(count)

    def _preadv(self, buffer: memoryview, offset: int) -> int:
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


def check_output_path(path: str, overwrite: bool) -> None:
    """Refuse to replace an existing file unless asked (replacing is atomic, see AtomicFile)."""
    if os.path.lexists(path) and not overwrite:
        raise OutputExistsError(f"{path}: output file exists; pass overwrite=True to replace it")


class AtomicFile:
    """A file written under a temporary name and renamed into place on :meth:`commit`.

    Until ``commit`` nothing exists under the final name, so a crash or an exception
    never leaves a half-written file there. ``abort`` (or leaving a ``with`` block by an
    exception) removes the temporary file.
    """

    def __init__(self, path: str, *, overwrite: bool = False, fsync: bool = False) -> None:
        self.path = os.path.abspath(path)
        check_output_path(self.path, overwrite)
        directory, name = os.path.split(self.path)
        self.temp_path = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.part")
        self.file: BinaryIO = open(self.temp_path, "xb")  # noqa: SIM115 - closed in commit/abort
        self._fsync = fsync
        self._done = False

    def commit(self) -> None:
        if self._done:
            return
        self.file.flush()
        if self._fsync:
            os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.temp_path, self.path)
        self._done = True

    def abort(self) -> None:
        if self._done:
            return
        self.file.close()
        try:
            os.unlink(self.temp_path)
        except FileNotFoundError:
            pass
        self._done = True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
