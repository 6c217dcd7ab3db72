"""Parallel frame compression for the MRCZ writer.

Frames are compressed one per helper thread, each with one codec thread (frame-level
parallelism scales better than blosc's block-level threads, which synchronise at every
frame); the helpers also compute each chunk's CRC-32C, and the caller's thread writes
finished chunks in frame order. At most :data:`PIPELINE_DEPTH` frames per helper are in
flight, and :meth:`CompressionPipeline.flush` writes every queued frame before returning,
so no frame outlives the ``write()`` call that passed it. The caller's thread is free
between submitting and writing: the writer computes header statistics there.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor

import numpy as np

from mrczio.contracts import FrameCodec
from mrczio_builtin.mrc.checksums import crc

#: Frames in flight per compression thread.
PIPELINE_DEPTH = 2

ChunkSink = Callable[[bytes, int], None]


class CompressionPipeline:
    """Compresses frames on ``workers`` threads and hands chunks to ``sink`` in order."""

    def __init__(self, codec: FrameCodec, workers: int, sink: ChunkSink) -> None:
        self._codec = codec
        self._workers = max(1, workers)
        self._sink = sink
        self._tuned: FrameCodec | None = None  # resolved on the first frame
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Future[tuple[bytes, int]]] = deque()

    def submit(self, stored: np.ndarray) -> None:
        """Queue one frame's stored form for compression (writing finished chunks first
        when :data:`PIPELINE_DEPTH` frames per helper are in flight)."""
        if self._pool is None:
            self._tuned = self._codec.tune(stored)
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="mrczio-write")
        while len(self._pending) >= self._workers * PIPELINE_DEPTH:
            self._sink(*self._pending.popleft().result())
        self._pending.append(self._pool.submit(self._encode, stored))

    def _encode(self, stored: np.ndarray) -> tuple[bytes, int]:
        """Runs in a helper thread: the chunk and its CRC-32C."""
        assert self._tuned is not None
        chunk = self._tuned.encode(stored, threads=1)
        return chunk, crc(chunk)

    def flush(self) -> None:
        """Write every queued frame in order; on a failure, drop the rest and re-raise."""
        while self._pending:
            future = self._pending.popleft()
            try:
                chunk, checksum = future.result()
            except BaseException:
                self._cancel_rest()
                raise
            self._sink(chunk, checksum)

    def _cancel_rest(self) -> None:
        for other in self._pending:
            other.cancel()
            with contextlib.suppress(CancelledError):
                other.exception()  # wait: the frames must not be touched after we return
        self._pending.clear()

    def close(self, *, raise_errors: bool = True) -> None:
        """Finish queued frames (or drop them) and stop the helper threads."""
        try:
            self.flush()
        except BaseException:
            if raise_errors:
                raise
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
