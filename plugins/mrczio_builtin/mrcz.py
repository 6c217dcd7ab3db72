"""MRCZ: an MRC2014 header followed by one compressed chunk per frame.

Reading walks the 16-byte chunk headers once at open (one small read per frame), so
``reader[k]`` decodes frame k alone (on all of blosc's threads). Several frames decode in
parallel, one per helper thread, each reading its chunk into a reused buffer and
decoding it straight into the output array.
"""

from __future__ import annotations

import mmap
import os
import threading
from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import numpy as np

from mrczio.chunks import CHUNK_HEADER_SIZE, FRAMED_VERSION, ChunkHeader
from mrczio.contracts import FileFormat, FrameCodec, WriteRequest
from mrczio.errors import FormatError, TruncatedFileError, UnknownCodecError
from mrczio.fileio import PositionalFile
from mrczio.hookspecs import hookimpl
from mrczio.reader import StackReader
from mrczio.registry import Registry
from mrczio.writer import StackWriter
from mrczio_builtin.blosc_codecs import decode_blosc_chunk
from mrczio_builtin.mrc import MrcLayoutReader, claim_mrc_header
from mrczio_builtin.mrc_layout import MrcLayout, complain, read_layout
from mrczio_builtin.mrc_writer import (
    COMMON_OPTIONS,
    MrcFamilyWriter,
    check_options,
    compression_settings,
    validate_settings,
)

COMPRESSION_OPTIONS = frozenset({"codec", "level", "filter", "blocksize", "threads", "chunk_format"})


class MrczReader(MrcLayoutReader):
    """Random-access reader over the chunk chain of an MRCZ file."""

    def __init__(self, path: str, registry: Registry, *, permissive: bool = False, threads: int = 0) -> None:
        self._file = PositionalFile(path)
        self._registry = registry
        self._threads = threads
        self._prefetcher: ThreadPoolExecutor | None = None
        self._buffers = threading.local()
        try:
            layout = read_layout(self._file, registry, permissive=permissive)
            self._chunks = self._walk_chunks(layout, permissive)
            self._adopt(layout, "mrcz", len(self._chunks))
            self._codec = self._codec_for(layout)
        except BaseException:
            self._file.close()
            raise

    # -- the chunk chain -------------------------------------------------------------

    def _walk_chunks(self, layout: MrcLayout, permissive: bool) -> list[tuple[int, int]]:
        """(offset, length) of every frame's chunk, checked against the file size."""
        if layout.compressor_id == 0:
            raise FormatError(layout.path, "is not compressed; read it as plain MRC")
        chunks: list[tuple[int, int]] = []
        position = layout.data_offset
        for k in range(layout.nz):
            problem = self._chunk_problem(layout, position)
            if problem:
                complain(layout.path, f"frame {k} of {layout.nz}: {problem}", permissive, TruncatedFileError)
                break
            length = ChunkHeader.parse(self._file.read_at(position, CHUNK_HEADER_SIZE)).cbytes
            chunks.append((position, length))
            position += length
        return chunks

    def _chunk_problem(self, layout: MrcLayout, position: int) -> str | None:
        if position + CHUNK_HEADER_SIZE > layout.data_limit:
            return f"chunk header at byte {position} is past the end of the data"
        header = ChunkHeader.parse(self._file.read_at(position, CHUNK_HEADER_SIZE, what="chunk header"))
        return header.problem(layout.section_nbytes, layout.data_limit - position)

    def _codec_for(self, layout: MrcLayout) -> FrameCodec | None:
        """The registered codec for framed (non-blosc) chunks; blosc chunks need none."""
        if not self._chunks:
            return None
        first = ChunkHeader.parse(self._file.read_at(self._chunks[0][0], CHUNK_HEADER_SIZE))
        if first.version != FRAMED_VERSION:
            return None
        codec = self._registry.codec_for_id(layout.compressor_id)
        if codec is None:
            raise UnknownCodecError(
                layout.compressor_id,
                f"{layout.path}: chunks use compressor id {layout.compressor_id}, "
                f"which no installed codec plugin provides",
            )
        return codec

    def chunk_spans(self) -> list[tuple[int, int]]:
        """(offset, length) of every frame's chunk, in frame order."""
        return list(self._chunks)

    def chunk_info(self, k: int) -> dict[str, Any]:
        """Offset, length and self-description of frame k's chunk."""
        offset, length = self._chunks[self._check_index(k)]
        chunk = self._file.read_at(offset, min(length, 64), what="chunk header")
        info: dict[str, Any] = {"offset": offset, "cbytes": length}
        header = ChunkHeader.parse(chunk)
        if header.is_blosc:
            info.update({
                "codec": header.codec_format, "chunk_format": f"blosc{header.blosc_format}",
                "filter": header.shuffle if header.blosc_format == 1 else "(blosc2 pipeline)",
                "blocksize": header.blocksize, "typesize": header.typesize,
            })  # fmt: skip
        elif self._codec is not None:
            info.update(self._codec.describe(chunk))
        return info

    # -- decoding --------------------------------------------------------------------

    def _read_chunk_reusing(self, k: int) -> memoryview:
        """Frame k's chunk, read into this thread's reused buffer (no fresh allocation)."""
        offset, length = self._chunks[k]
        buffer: np.ndarray | None = getattr(self._buffers, "chunk", None)
        if buffer is None or buffer.size < length:
            buffer = self._buffers.chunk = np.empty(length, dtype=np.uint8)
        view = buffer.data[:length]
        self._file.readinto_at(offset, view, what=f"chunk of frame {k}")
        return view

    def _decode(self, chunk: bytes | memoryview, out: np.ndarray) -> None:
        # Helper threads decode one frame each on one blosc thread; the caller's thread
        # (a single frame) uses all of them.
        threads = getattr(self._buffers, "blosc_threads", self._threads)
        try:
            if self._codec is not None:
                self._codec.decode_into(chunk, out)
            else:
                decode_blosc_chunk(chunk, out, threads)
        except FormatError:
            raise
        except Exception as exc:
            raise FormatError(self.path, f"frame chunk could not be decoded: {exc}") from exc

    def _read_frames(self, start: int, stop: int, out: np.ndarray) -> None:
        """Decode frames in parallel, one frame per helper thread with one blosc thread
        each; a single frame is decoded alone with all of blosc's threads."""
        workers = self._threads or (os.cpu_count() or 1)
        if stop - start == 1 or workers == 1:
            for k in range(start, stop):
                self._decode_frame(self._read_chunk_reusing(k), out[k - start])
            return
        pool = self._helpers(workers)
        pending: deque[Future[None]] = deque()
        try:
            for k in range(start, stop):
                while len(pending) >= 2 * workers:
                    pending.popleft().result()
                pending.append(pool.submit(self._read_and_decode, k, out[k - start]))
            while pending:
                pending.popleft().result()
        finally:
            for future in pending:  # after a failure: let no helper write into out later
                future.cancel()
            wait(pending)

    def _empty(self, count: int) -> np.ndarray:
        """A new output array with its pages already mapped.

        Helper threads that fault in fresh pages of one array at the same time run at
        half speed or worse (measured: 650 vs 1250 MB/s for 30 K2 frames); touching one
        byte per page here, on one thread, costs ~0.1 s per GB.
        """
        out = super()._empty(count)
        if count > 1:
            out.reshape(-1).view(np.uint8)[:: mmap.PAGESIZE] = 0
        return out

    def _read_and_decode(self, k: int, out: np.ndarray) -> None:
        self._buffers.blosc_threads = 1
        self._decode_frame(self._read_chunk_reusing(k), out)

    def _helpers(self, workers: int) -> ThreadPoolExecutor:
        if self._prefetcher is None:
            self._prefetcher = ThreadPoolExecutor(workers, thread_name_prefix="mrczio-read")
        return self._prefetcher

    def _decode_frame(self, chunk: bytes | memoryview, out: np.ndarray) -> None:
        layout = self.layout
        if layout.mode.packed:
            raw = np.empty((1, layout.section_nbytes), dtype=np.uint8)
            self._decode(chunk, raw)
            out[...] = layout.mode.unpack(raw, layout.ny, layout.nx)[0]
            return
        self._decode(chunk, out)
        self._to_native(out)

    def close(self) -> None:
        if self._prefetcher is not None:
            self._prefetcher.shutdown(wait=True)
        self._file.close()


class MrczFormat(FileFormat):
    name = "mrcz"
    extensions = (".mrcz",)
    description = "MRCZ: MRC2014 with one blosc-compressed chunk per frame (python-mrcz compatible)"

    def claim(self, head: bytes, path: str) -> float:
        return claim_mrc_header(head, compressed=True)

    def open_reader(self, path: str, registry: Registry, *, permissive: bool = False) -> StackReader:
        return MrczReader(path, registry, permissive=permissive)

    def open_writer(self, request: WriteRequest, registry: Registry) -> StackWriter:
        check_options(self.name, request.options, COMMON_OPTIONS | COMPRESSION_OPTIONS)
        settings = compression_settings(request.options)
        if settings.codec == "none":
            return MrcFamilyWriter(request, registry, codec=None, settings=None)
        validate_settings(settings)
        codec = registry.codec(settings.codec)
        return MrcFamilyWriter(request, registry, codec=codec, settings=settings)

    def open_appender(self, path: str, registry: Registry, options: Mapping[str, Any]) -> StackWriter:
        from mrczio_builtin.mrc_append import MrcAppender

        return MrcAppender(path, registry, dict(options))

    def write_options(self) -> list[str]:
        return sorted(COMMON_OPTIONS | COMPRESSION_OPTIONS)


@hookimpl
def mrczio_register_formats() -> list[Any]:
    return [MrczFormat()]
