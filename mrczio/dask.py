"""Lazy dask arrays over movies, one chunk per frame (or per group of frames).

``reader.to_dask()`` and :func:`open_dask` build a ``dask.array`` whose shape and dtype
come from the header alone. Each chunk is a task that reads its frames through a
:class:`FrameSource` - a small picklable record (path or URL, format, permissive flag)
that opens the file on first use in each process and keeps the reader in a per-process
cache - so the same graph runs on the threaded scheduler and on ``dask.distributed``
workers in other processes. dask is imported only when one of these functions runs
(``pip install mrczio[dask]``).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mrczio.errors import DataTypeError, MissingFileError, OptionError
from mrczio.positional import is_url
from mrczio.reader import StackReader, extensions

#: Readers kept open per process by :class:`FrameSource`.
CACHE_SIZE = 64


def source_path(path: str) -> str:
    """``path`` made absolute (tasks may run in another working directory); URLs as they are."""
    return path if is_url(path) else os.path.abspath(path)


def reopen(path: str, format_name: str | None, permissive: bool) -> StackReader:
    """Open ``path`` again (how a pickled :class:`~mrczio.reader.StackReader` comes back)."""
    from mrczio.api import open as open_reader

    return open_reader(path, format=format_name, permissive=permissive)


@dataclass(frozen=True)
class FrameSource:
    """Where a task finds its frames: reopened by path or URL in whichever process runs it."""

    path: str
    format: str | None = None
    permissive: bool = False

    @contextlib.contextmanager
    def reader(self) -> Iterator[StackReader]:
        """This process's open reader for the source (opened on first use)."""
        with _cache.use(self) as reader:
            yield reader


class _Entry:
    def __init__(self, reader: StackReader) -> None:
        self.reader = reader
        self.users = 0
        self.evicted = False
        safe = reader.thread_safe  # readers that are not get a lock of their own here
        self.lock: contextlib.AbstractContextManager[Any] = (
            contextlib.nullcontext() if safe else threading.Lock()
        )


class _ReaderCache:
    """Open readers by source, least recently used closed first (once nobody reads them)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[FrameSource, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._pid = os.getpid()

    @contextlib.contextmanager
    def use(self, source: FrameSource) -> Iterator[StackReader]:
        entry = self._acquire(source)
        try:
            with entry.lock:
                yield entry.reader
        finally:
            self._release(entry)

    def _acquire(self, source: FrameSource) -> _Entry:
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's open files are not ours
                self._entries, self._pid = OrderedDict(), os.getpid()
            entry = self._entries.get(source)
            if entry is not None:
                self._entries.move_to_end(source)
                entry.users += 1
                return entry
        opened = _Entry(reopen(source.path, source.format, source.permissive))
        with self._lock:
            entry = self._entries.setdefault(source, opened)
            entry.users += 1
            self._evict()
        if entry is not opened:  # another thread opened it first
            opened.reader.close()
        return entry

    def _evict(self) -> None:
        while len(self._entries) > self._size:
            _, old = self._entries.popitem(last=False)
            old.evicted = True
            if old.users == 0:
                old.reader.close()

    def _release(self, entry: _Entry) -> None:
        with self._lock:
            entry.users -= 1
            close = entry.evicted and entry.users == 0
        if close:
            entry.reader.close()

    def clear(self) -> None:
        with self._lock:
            entries, self._entries = list(self._entries.values()), OrderedDict()
        for entry in entries:
            entry.evicted = True
            if entry.users == 0:
                entry.reader.close()


_cache = _ReaderCache(CACHE_SIZE)


def clear_cache() -> None:
    """Close the readers this process keeps for dask tasks (readers in use close after)."""
    _cache.clear()


class FrameArray:
    """An array-like view of a source's frames, (n_frames, ny, nx), for ``da.from_array``."""

    def __init__(self, source: FrameSource, reader: StackReader) -> None:
        self.source = source
        self.shape = (reader.n_frames, *reader.frame_shape)
        self.dtype = reader.dtype
        self.ndim = 3
        self._stamp = _stamp(source.path)

    def __getitem__(self, index: Any) -> np.ndarray:
        index = index if isinstance(index, tuple) else (index,)
        with self.source.reader() as reader:
            frames = reader[index[0]]
        rest = index[1:]
        if not rest:
            return frames
        if frames.ndim == 2:  # an integer picked one frame
            return np.asarray(frames[rest])
        return np.asarray(frames[(slice(None), *rest)])

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        return (type(self).__name__, self.source, self.shape, str(self.dtype), self._stamp)


def _stamp(path: str) -> tuple[int, int] | None:
    """Size and modification time of a local file, so a rewritten file gets new task names."""
    if is_url(path):
        return None
    status = os.stat(path)
    return (status.st_size, status.st_mtime_ns)


def _frames_array(source: FrameSource, reader: StackReader, frames_per_chunk: int) -> Any:
    import dask.array as da
    from dask.base import tokenize

    if frames_per_chunk < 1:
        raise DataTypeError(f"frames_per_chunk must be at least 1, got {frames_per_chunk}")
    frames = FrameArray(source, reader)
    chunks = (frames_per_chunk, *reader.frame_shape)
    meta = np.empty((0, 0, 0), dtype=reader.dtype)
    token = tokenize(frames, chunks)
    name = f"mrczio-{token}"
    return da.from_array(frames, chunks=chunks, name=name, meta=meta, fancy=False, lock=False)  # type: ignore[no-untyped-call]


def reader_to_dask(reader: StackReader, frames_per_chunk: int = 1) -> Any:
    """See :meth:`mrczio.reader.StackReader.to_dask`."""
    source = FrameSource(source_path(reader.path), reader.format_name, reader.permissive)
    array = _frames_array(source, reader, frames_per_chunk)
    return array if array.shape == reader.shape else array.reshape(reader.shape)


def expand_paths(
    paths_or_glob: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
) -> list[str]:
    """A list of paths/URLs from one path, one URL, a glob pattern (local, or a URL whose
    file system can list folders: ``s3://bucket/run/*.mrcz``, ``memory://``, an HTTP
    folder listing), or a sequence."""
    if isinstance(paths_or_glob, str | os.PathLike):
        name = os.fspath(paths_or_glob)
        if is_url(name):
            from mrczio.remote import glob_urls, has_wildcards

            return glob_urls(name) if has_wildcards(name) else [name]
        if not glob.has_magic(name):
            return [name]
        matches = sorted(glob.glob(name))
        if not matches:
            raise MissingFileError(name, "no files match this pattern", errno.ENOENT)
        return matches
    names = [os.fspath(p) for p in paths_or_glob]
    if not names:
        raise OptionError("open_dask: no files given")
    return names


def open_dask(
    paths_or_glob: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    frames_per_chunk: int = 1,
    format: str | None = None,
    permissive: bool = False,
) -> Any:
    """A lazy ``dask.array`` stacking the movies along a new first axis.

    ``paths_or_glob`` is one path or URL, a glob pattern (``"data/*.mrcz"``, or a URL such
    as ``"s3://bucket/run/*.mrcz"``; sorted)
    or a sequence of paths and URLs; the result has shape ``(n_files, *movie_shape)``
    (like ``dask.array.image.imread``) with one chunk per ``frames_per_chunk`` frames of
    each movie. Every movie must have the same shape and dtype. Only headers are read
    here; pixels are read when the graph is computed, in whichever process runs it.
    """
    import dask.array as da

    names = [source_path(name) for name in expand_paths(paths_or_glob)]
    arrays = []
    first: tuple[str, tuple[int, ...], np.dtype[Any]] | None = None
    for name in names:
        source = FrameSource(name, format, permissive)
        with source.reader() as reader:
            if first is None:
                first = (name, reader.shape, reader.dtype)
            elif (reader.shape, reader.dtype) != first[1:]:
                raise DataTypeError(
                    f"{name}: shape {reader.shape} {reader.dtype} differs from "
                    f"{first[0]}: {first[1]} {first[2]}; movies stacked by open_dask must match"
                )
            array = _frames_array(source, reader, frames_per_chunk)
            arrays.append(array if array.shape == reader.shape else array.reshape(reader.shape))
    return da.stack(arrays, axis=0)  # type: ignore[no-untyped-call]


def _reopen_args(reader: StackReader) -> tuple[Any, ...]:
    return (source_path(reader.path), reader.format_name, reader.permissive)


# Lend readers their to_dask() and pickling (mrczio.reader imports nothing above it).
extensions().to_dask = reader_to_dask
extensions().reopen = reopen
extensions().reopen_args = _reopen_args
