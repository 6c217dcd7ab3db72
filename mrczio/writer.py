"""The writer every format returns: frames in, one finished file out.

Frames are accepted one at a time, in blocks, or from any iterable, so a writer never
needs the whole stack in memory. The file appears under its final name only when
:meth:`StackWriter.close` succeeds; an exception inside a ``with`` block, or
:meth:`StackWriter.abort`, leaves nothing behind (see :mod:`mrczio.publish`).

A plain ``OSError`` from a format's writing code (a full disk, a vanished folder)
reaches the caller as the matching mrczio error naming the final file, with its
``errno`` kept (:class:`~mrczio.errors.DiskFullError` for ``ENOSPC``).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Self

import numpy as np

from mrczio.errors import DataTypeError
from mrczio.oserrors import reraise_os_errors


class StackWriter(abc.ABC):
    """Base class for format writers.

    Subclasses set ``path``, ``frame_shape`` and ``dtype`` and implement
    :meth:`_write_block` (a C-contiguous (k, ny, nx) array of ``dtype``),
    :meth:`_finish` (complete and publish the file) and :meth:`_discard`.
    """

    path: str
    frame_shape: tuple[int, int]
    dtype: np.dtype[Any]
    frames_written: int = 0
    _closed: bool = False

    @abc.abstractmethod
    def _write_block(self, block: np.ndarray) -> None:
        """Append frames (k, ny, nx) to the file."""

    @abc.abstractmethod
    def _finish(self) -> None:
        """Write trailers and headers, then move the file to its final name."""

    @abc.abstractmethod
    def _discard(self) -> None:
        """Remove everything written so far."""

    def write(self, frames: np.ndarray | Iterable[np.ndarray]) -> None:
        """Append one frame (ny, nx), a block (k, ny, nx), or an iterable of either."""
        if isinstance(frames, np.ndarray):
            self._write_array(frames)
            return
        for item in frames:
            self._write_array(np.asarray(item))

    def _write_array(self, array: np.ndarray) -> None:
        block = array[np.newaxis] if array.ndim == 2 else array
        if block.ndim != 3 or block.shape[1:] != self.frame_shape:
            raise DataTypeError(
                f"{self.path}: expected frames of shape {self.frame_shape}, got {array.shape}"
            )
        if block.dtype != self.dtype:
            if not np.can_cast(block.dtype, self.dtype, casting="safe"):
                raise DataTypeError(
                    f"{self.path}: this file stores {self.dtype}; cannot append {block.dtype} frames"
                )
            block = block.astype(self.dtype)
        with reraise_os_errors(self.path, "writing"):
            self._write_block(np.ascontiguousarray(block))
        self.frames_written += block.shape[0]

    def close(self) -> None:
        """Finish the file. If finishing fails, nothing is left under the final name."""
        if self._closed:
            return
        self._closed = True
        try:
            with reraise_os_errors(self.path, "writing"):
                self._finish()
        except BaseException as error:
            self._discard_after(error)
            raise

    def _discard_after(self, error: BaseException) -> None:
        """Discard after ``error``; a second failure is noted on it, not raised over it."""
        try:
            self._discard()
        except Exception as second:
            error.add_note(f"removing the unfinished output also failed: {second}")

    def abort(self) -> None:
        """Drop the file being written."""
        if not self._closed:
            self._closed = True
            self._discard()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
