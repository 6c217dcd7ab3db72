"""A local HTTP server that honours Range requests and counts them, for remote-read tests.

Python's ``http.server`` ignores ``Range``; this handler serves ``bytes=a-b``,
``bytes=a-`` and ``bytes=-n`` from one folder, on 127.0.0.1 only, and records every
request (method, path, range, bytes sent)::

    with RangeServer(folder) as server:
        url = server.url("movie.mrcz")
        ...
        server.log.requests, server.log.bytes_sent
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass
class RequestLog:
    """What the server was asked for: ``(method, path, range header)`` and bytes sent."""

    entries: list[tuple[str, str, str | None]] = field(default_factory=list)
    bytes_sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def requests(self) -> int:
        return len(self.entries)

    def reset(self) -> None:
        with self.lock:
            self.entries.clear()
            self.bytes_sent = 0

    def add(self, method: str, path: str, range_header: str | None, sent: int) -> None:
        with self.lock:
            self.entries.append((method, path, range_header))
            self.bytes_sent += sent


class _Handler(SimpleHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        path = self.translate_path(self.path)
        range_header = self.headers.get("Range")
        if os.path.isdir(path) and self.path.split("?", 1)[0].endswith("/"):
            self._list(path, range_header, body)
            return
        if not os.path.isfile(path):
            self.server.log.add(self.command, self.path, range_header, 0)
            self.send_error(404, "not found")
            return
        size = os.path.getsize(path)
        span = _parse_range(range_header, size) if range_header and self.server.honour_ranges else None
        if span == "bad":
            self.server.log.add(self.command, self.path, range_header, 0)
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start, end = span if isinstance(span, tuple) else (0, size)
        self.send_response(206 if isinstance(span, tuple) else 200)
        if isinstance(span, tuple):
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start))
        data = b""
        if body:
            with open(path, "rb") as handle:
                handle.seek(start)
                data = handle.read(end - start)
        # Logged before replying, so a client that has its answer always finds it counted.
        self.server.log.add(self.command, self.path, range_header, len(data))
        self.end_headers()
        self.wfile.write(data)

    def _list(self, path: str, range_header: str | None, body: bool) -> None:
        """A folder as an HTML page of links (what fsspec's HTTP glob reads)."""
        self.server.log.add(self.command, self.path, range_header, 0)
        listing = self.list_directory(path)  # sends the status and headers itself
        if listing is None:
            return
        with listing:
            if body:
                self.copyfile(listing, self.wfile)


def _parse_range(header: str, size: int) -> tuple[int, int] | str | None:
    """(start, end) for a single byte range, "bad" when unsatisfiable, None to send everything."""
    match = _RANGE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if not first:  # suffix: the last n bytes
        n = int(last)
        return (max(0, size - n), size) if n else "bad"
    start = int(first)
    end = min(size, int(last) + 1) if last else size
    return (start, end) if start < size and start < end else "bad"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    log: RequestLog
    honour_ranges: bool


class RangeServer:
    """Serve ``folder`` on 127.0.0.1 (a free port) from a background thread."""

    def __init__(self, folder: str | os.PathLike[str], *, honour_ranges: bool = True) -> None:
        self.folder = os.fspath(folder)
        directory = self.folder

        class Handler(_Handler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=directory, **kwargs)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.log = RequestLog()
        self._server.honour_ranges = honour_ranges
        self._server.timeout = 10
        self._thread = threading.Thread(target=self._server.serve_forever, name="range-server", daemon=True)

    @property
    def log(self) -> RequestLog:
        return self._server.log

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{quote(name)}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
