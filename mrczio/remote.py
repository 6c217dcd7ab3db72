"""Remote files (``https://``, ``s3://``, any fsspec URL) read by range requests.

:class:`RemoteFile` has the interface of :class:`mrczio.fileio.PositionalFile`
(``read_at``, ``readinto_at``, ``size``, ``path``, ``close``), so every format reader
works on URLs unchanged. What one open and one frame cost:

- opening: one size probe (HTTP ``HEAD``), then the first :attr:`RemoteSettings.prefix_bytes`
  and the last :attr:`RemoteSettings.tail_bytes` fetched together (two range requests
  in flight at once, or one for a file smaller than both). The MRC header, extended
  header, metadata footer, the first chunk headers and (later) a chunk index at the end
  of the file are then served from memory;
- small reads outside those blocks (the MRCZ chunk-header walk) fetch a read-ahead
  window that doubles while the reads are dense (small chunks: few requests for the whole
  walk) and drops to :attr:`RemoteSettings.min_readahead` when they jump (large chunks:
  one small request per chunk header, never the chunk bodies);
- a frame: one request for exactly its bytes, unless they are already in memory.

Needs ``pip install mrczio[remote]`` (fsspec, aiohttp); ``s3://`` also needs s3fs.
Per-protocol fsspec options (credentials, endpoints) go in
:attr:`RemoteSettings.storage_options` or fsspec's own configuration.
"""

from __future__ import annotations

import errno
import glob
import threading
from dataclasses import dataclass, field
from typing import Any

from mrczio.errors import MissingFileError, RemoteError, TruncatedFileError

KIB = 1 << 10
MIB = 1 << 20


@dataclass
class RemoteSettings:
    """How :class:`RemoteFile` trades bytes for requests (module-wide: :data:`settings`)."""

    prefix_bytes: int = 256 * KIB
    tail_bytes: int = 64 * KIB
    min_readahead: int = 16 * KIB
    max_readahead: int = 2 * MIB
    #: Chunk headers further apart than this are fetched alone (windows never grow over
    #: chunk bodies larger than this: their bytes would cost more than the requests saved).
    max_stride: int = 64 * KIB
    connect_timeout: float = 30.0
    read_timeout: float = 60.0
    #: fsspec options by protocol, e.g. ``{"s3": {"anon": True}}``.
    storage_options: dict[str, dict[str, Any]] = field(default_factory=dict)


settings = RemoteSettings()


@dataclass(frozen=True)
class _Block:
    start: int
    data: bytes

    @property
    def end(self) -> int:
        return self.start + len(self.data)

    def holds(self, offset: int, count: int) -> bool:
        return self.start <= offset and offset + count <= self.end


def _filesystem(url: str) -> tuple[Any, str]:
    """fsspec filesystem and path for ``url``, with bounded HTTP timeouts by default."""
    try:
        import fsspec
    except ImportError:
        raise RemoteError(f"{url}: reading URLs needs fsspec: pip install 'mrczio[remote]'") from None
    protocol = url.split("://", 1)[0].lower()
    options = dict(settings.storage_options.get(protocol, {}))
    if protocol in ("http", "https") and "client_kwargs" not in options:
        import aiohttp

        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=settings.connect_timeout, sock_read=settings.read_timeout
        )
        options["client_kwargs"] = {"timeout": timeout}
    try:
        fs, path = fsspec.core.url_to_fs(url, **options)
    except ImportError as exc:
        raise RemoteError(
            f"{url}: protocol {protocol!r} needs a package that is not installed: {exc}"
        ) from None
    except ValueError as exc:
        raise RemoteError(f"{url}: {exc}") from None
    return fs, path


def has_wildcards(url: str) -> bool:
    """True when ``url`` is a pattern to expand: ``*``, ``?`` or ``[`` in its path. For
    HTTP(S) only ``*`` counts, and only before any query string, so signed URLs
    (``...?X-Amz-Signature=...``) stay single files."""
    if url.split("://", 1)[0].lower() in ("http", "https"):
        return "*" in url.split("?", 1)[0]
    return glob.has_magic(url.split("://", 1)[1])


def glob_urls(pattern: str) -> list[str]:
    """The URLs matching ``pattern``, sorted, through the protocol's fsspec filesystem
    (object stores list prefixes; HTTP needs a server that lists the folder as links).
    Raises :class:`MissingFileError` when nothing matches."""
    fs, path = _filesystem(pattern)
    try:
        matches = sorted(fs.glob(path))
    except (OSError, ValueError) as exc:
        raise RemoteError(f"{pattern}: the pattern could not be expanded: {exc}") from exc
    if not matches:
        raise MissingFileError(pattern, "no files match this pattern", errno.ENOENT)
    return [_as_url(fs, match, pattern) for match in matches]


def _as_url(fs: Any, match: str, pattern: str) -> str:
    """A match as a full URL (HTTP matches already are; others lose their protocol)."""
    return match if "://" in match else str(fs.unstrip_protocol(match))


class RemoteFile:
    """A read-only remote file read by offset; safe to share between threads.

    ``requests`` and ``bytes_received`` count what this object asked the server for.
    """

    def __init__(self, url: str, options: RemoteSettings | None = None) -> None:
        self.path = url
        self._settings = options or settings
        self._fs, self._fspath = _filesystem(url)
        self._lock = threading.Lock()
        self._closed = False
        self.requests = 0
        self.bytes_received = 0
        if type(self._fs).__name__ == "HTTPFileSystem":
            self.size, self._pinned = self._http_ends()
        else:
            self.size = self._probe_size()
            self._pinned = self._fetch_ends()
        self._window: _Block | None = None
        self._window_size = self._settings.prefix_bytes
        self._last_window_end = self._pinned[0].end if self._pinned else 0
        self._last_small_read = -1

    # -- requests ----------------------------------------------------------------------

    def _call(self, what: str, function: Any, *args: Any) -> Any:
        if self._closed:
            raise RemoteError(f"{self.path}: read after close")
        try:
            return function(*args)
        except FileNotFoundError:
            raise RemoteError(f"{self.path}: not found on the server") from None
        except RemoteError:
            raise
        except Exception as exc:  # fsspec backends raise their own kinds (aiohttp, botocore)
            raise RemoteError(f"{self.path}: {what} failed: {type(exc).__name__}: {exc}") from exc

    def _count(self, requests: int, received: int) -> None:
        with self._lock:
            self.requests += requests
            self.bytes_received += received

    def _probe_size(self) -> int:
        info = self._call("size probe", self._fs.info, self._fspath)
        self._count(1, 0)
        size = info.get("size")
        if not isinstance(size, int) or size < 0:
            raise RemoteError(f"{self.path}: the server does not report the file size")
        return size

    def _fetch(self, start: int, end: int, what: str) -> bytes:
        data = self._call(f"reading {what}", self._fs.cat_file, self._fspath, start, end)
        self._count(1, len(data))
        return self._checked(data, start, end, what)

    def _checked(self, data: bytes, start: int, end: int, what: str) -> bytes:
        if len(data) == end - start:
            return bytes(data)
        if len(data) > end - start:
            raise RemoteError(
                f"{self.path}: the server ignored a range request ({len(data)} bytes for "
                f"{what} at {start}..{end}); it must honour HTTP Range for remote reading"
            )
        raise TruncatedFileError(self.path, f"short read of {what} at byte {start} (file changed?)")

    def _fetch_ends(self) -> list[_Block]:
        """The prefix and the tail, fetched together (one request for a small file)."""
        head, tail = self._settings.prefix_bytes, self._settings.tail_bytes
        if self.size <= head + tail:
            return [_Block(0, self._fetch(0, self.size, "the file"))] if self.size else []
        starts, ends = [0, self.size - tail], [head, self.size]
        paths = [self._fspath, self._fspath]
        parts = self._call("reading header and tail", self._fs.cat_ranges, paths, starts, ends)
        for part in parts:
            if isinstance(part, BaseException):
                raise RemoteError(f"{self.path}: reading header and tail failed: {part}") from part
        self._count(2, sum(len(p) for p in parts))
        return [
            _Block(s, self._checked(p, s, e, "header")) for p, s, e in zip(parts, starts, ends, strict=True)
        ]

    def _http_ends(self) -> tuple[int, list[_Block]]:
        """HTTP: prefix and tail in two parallel range requests, no HEAD.

        The tail is asked for as a suffix range (``bytes=-N``), whose ``Content-Range``
        reply gives the file size, so opening costs one round trip.
        """
        from fsspec.asyn import sync

        head, tail = self._settings.prefix_bytes, self._settings.tail_bytes
        replies = self._call("reading header and tail", sync, self._fs.loop, _http_ranges, self._fs,
                             self._fspath, [f"bytes=0-{head - 1}", f"bytes=-{tail}"], head + tail)  # fmt: skip
        self._count(2, sum(len(data) for data, _ in replies))
        (first, size), (last, _) = replies
        if size < 0:
            raise RemoteError(f"{self.path}: the server does not report the file size (no Content-Range)")
        prefix = self._checked(first, 0, min(head, size), "header")
        suffix = self._checked(last, max(0, size - tail), size, "tail")
        if size <= head:
            return size, [_Block(0, prefix)]
        return size, [_Block(0, prefix), _Block(size - len(suffix), suffix)]

    # -- the PositionalFile interface -------------------------------------------------

    def _check_bounds(self, offset: int, count: int, what: str) -> None:
        if offset < 0 or count < 0 or offset + count > self.size:
            raise TruncatedFileError(
                self.path,
                f"{what} needs bytes {offset}..{offset + count} but the file has {self.size} bytes",
            )

    def _cached(self, offset: int, count: int) -> bytes | None:
        with self._lock:
            blocks = [*self._pinned, *([self._window] if self._window else [])]
        for block in blocks:
            if block.holds(offset, count):
                return block.data[offset - block.start : offset - block.start + count]
        return None

    def read_at(self, offset: int, count: int, *, what: str = "data") -> bytes:
        """Exactly ``count`` bytes at ``offset``; small reads fetch a read-ahead window."""
        self._check_bounds(offset, count, what)
        if count > self._settings.max_readahead:
            return self._cached(offset, count) or self._fetch(offset, offset + count, what)
        with self._lock:
            stride, self._last_small_read = offset - self._last_small_read, offset
        cached = self._cached(offset, count)
        if cached is not None:
            return cached
        start, end = offset, min(self.size, offset + max(count, self._next_window(offset, stride)))
        block = _Block(start, self._fetch(start, end, what))
        with self._lock:
            self._window, self._last_window_end = block, block.end
        return block.data[:count]

    def _next_window(self, offset: int, stride: int) -> int:
        """Grow the window while small reads are dense (misses follow the previous window
        closely, consecutive reads at most ``max_stride`` apart), else stay small."""
        with self._lock:
            dense = 0 < stride <= self._settings.max_stride
            if dense and 0 <= offset - self._last_window_end < self._window_size:
                self._window_size = min(2 * self._window_size, self._settings.max_readahead)
            else:
                self._window_size = self._settings.min_readahead
            return self._window_size

    def readinto_at(self, offset: int, buffer: memoryview, *, what: str = "data") -> None:
        """Fill ``buffer`` from ``offset``: from memory, or by one request for exactly its bytes."""
        count = buffer.nbytes
        self._check_bounds(offset, count, what)
        data = self._cached(offset, count)
        if data is None:
            data = self._fetch(offset, offset + count, what)
        buffer.cast("B")[:] = data

    def close(self) -> None:
        self._closed = True
        with self._lock:
            self._pinned, self._window = [], None

    @property
    def closed(self) -> bool:
        return self._closed


async def _http_ranges(fs: Any, url: str, ranges: list[str], limit: int) -> list[tuple[bytes, int]]:
    """(body, file size from Content-Range or -1) for each range header, in parallel."""
    import asyncio

    session = await fs.set_session()

    async def one(value: str) -> tuple[bytes, int]:
        options = dict(fs.kwargs)
        headers = {**options.pop("headers", {}), "Range": value, "Accept-Encoding": "identity"}
        async with session.get(fs.encode_url(url), headers=headers, **options) as reply:
            if reply.status == 404:
                raise FileNotFoundError(url)
            reply.raise_for_status()
            if reply.status != 206 and (reply.content_length or limit + 1) > limit:
                raise RemoteError(f"{url}: the server ignored a range request; it must honour HTTP Range")
            total = reply.headers.get("Content-Range", "").rpartition("/")[2]
            body = await reply.read()
            size = int(total) if total.isdigit() else (len(body) if reply.status == 200 else -1)
            return body, size

    return list(await asyncio.gather(*(one(value) for value in ranges)))
