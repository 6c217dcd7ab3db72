"""Appending frames to an existing plain MRC or MRCZ file.

New frames are written after the last frame and the header is rewritten last, so until
the append finishes the header still describes the old frames: a crash leaves the
original file readable (at worst with unread bytes after its data). A file that carries a
metadata footer is appended through a copy instead (the footer must move behind the new
frames), and the copy replaces the original only when complete. The file is opened once:
its layout and chunk index are read through the same handle the frames are written to.
"""

from __future__ import annotations

import builtins
import os
import shutil
from typing import Any, BinaryIO

import numpy as np

from mrczio.byte_source import HandleSource
from mrczio.contracts import FrameCodec
from mrczio.errors import OptionError
from mrczio.registry import Registry
from mrczio.stats import RunningStats
from mrczio.writer import StackWriter
from mrczio_builtin.mrc.chunk_index import data_end, walk_chunks
from mrczio_builtin.mrc.codec_options import WRITER_CODEC_OPTIONS, codec_from_options, frame_workers
from mrczio_builtin.mrc.footer import footer_bytes, footer_exttyp
from mrczio_builtin.mrc.header_policy import COMMON_OPTIONS, check_options
from mrczio_builtin.mrc.layout import MrcLayout, read_layout
from mrczio_builtin.mrc.writer import FrameEncoder

#: Unknown bytes after the data that an append keeps (moved behind the new frames).
MAX_KEPT_TRAILER = 1 << 20


def _header_stats(header: np.ndarray, count: int) -> RunningStats | None:
    dmin, dmax, dmean, rms = (float(header[k]) for k in ("dmin", "dmax", "dmean", "rms"))
    if count and rms >= 0 and dmax >= dmin and dmean >= min(dmin, dmax):
        return RunningStats.from_summary(count, dmin, dmax, dmean, rms)
    return None


class MrcAppender(StackWriter):
    """Adds frames to ``path`` in place (or through a copy when it has a footer)."""

    def __init__(self, path: str, registry: Registry, options: dict[str, Any]) -> None:
        self.path = path
        self._handle: BinaryIO = builtins.open(path, "r+b")  # noqa: SIM115 - closed in _finish/_discard
        try:
            self._survey(registry, options)
        except BaseException:
            self._handle.close()
            raise

    def _survey(self, registry: Registry, options: dict[str, Any]) -> None:
        source = HandleSource(self._handle, self.path)
        layout = read_layout(source, registry, permissive=False)
        self._layout = layout
        self.frame_shape, self.dtype = layout.frame_shape, layout.dtype
        codec = self._codec(registry, layout, options)
        if codec is None:
            self._base_frames, self._data_end = layout.nz, layout.data_offset + layout.nz * layout.section_nbytes
        else:
            spans = walk_chunks(source, layout, permissive=False)
            self._base_frames, self._data_end = len(spans), data_end(layout, spans)
        self._trailer, self._footer = b"", b""
        if layout.metadata_location == "footer":
            serializer = registry.serializer_for_exttyp(footer_exttyp(source) or b"")
            assert serializer is not None  # read_layout decoded the footer with it
            self._footer = footer_bytes(serializer, serializer.dumps(layout.metadata))
        elif source.size > self._data_end:
            if source.size - self._data_end > MAX_KEPT_TRAILER:
                raise OptionError(f"{self.path}: {source.size - self._data_end} unknown bytes follow the data; not appending")
            self._trailer = source.read_at(self._data_end, source.size - self._data_end)
        self._sink = self._open_target()
        self._encoder = FrameEncoder(
            self._sink, self.path, codec=codec, mode=layout.mode, byteorder=layout.byteorder,
            stats=_header_stats(layout.header, self._base_frames * layout.nx * layout.ny), clip=False,
            workers=frame_workers(options), packed_bytes=int(layout.header["packed_bytes"]) if codec else 0,
        )  # fmt: skip

    def _codec(self, registry: Registry, layout: MrcLayout, options: dict[str, Any]) -> FrameCodec | None:
        if layout.compressor_id == 0:
            if options:
                raise OptionError(f"{layout.path}: plain MRC appends take no options ({', '.join(options)})")
            return None
        codec = registry.codec_for_id(layout.compressor_id)
        if codec is None:
            raise OptionError(f"{layout.path}: no installed codec writes compressor id {layout.compressor_id}")
        configured, rest = codec_from_options(registry, {**options, "codec": codec.name}, COMMON_OPTIONS)
        check_options(f"{layout.path} (append)", rest, frozenset(WRITER_CODEC_OPTIONS), configured)
        return configured

    def _open_target(self) -> BinaryIO:
        self._temp_path: str | None = None
        target = self._handle
        if self._layout.metadata_location == "footer":
            self._temp_path = f"{self.path}.append.part"
            self._handle.seek(0)
            target = builtins.open(self._temp_path, "w+b")  # noqa: SIM115 - closed in _finish/_discard
            shutil.copyfileobj(self._handle, target)
        target.seek(self._data_end)
        target.truncate()
        return target

    def _write_block(self, block: np.ndarray) -> None:
        self._encoder.write_block(block)

    def close(self) -> None:
        if not self._closed:
            try:
                self._encoder.close()
            except BaseException:
                self.abort()
                raise
        super().close()

    def abort(self) -> None:
        self._encoder.close(raise_errors=False)
        super().abort()

    def _finish(self) -> None:
        self._sink.write(self._footer or self._trailer)
        self._sink.flush()
        os.fsync(self._sink.fileno())  # frames reach the disk before the header names them
        self._sink.seek(0)
        self._sink.write(self._patched_header().tobytes())
        self._close_handles()
        if self._temp_path is not None:
            os.replace(self._temp_path, self.path)

    def _discard(self) -> None:
        if self._temp_path is not None:
            self._close_handles()
            os.unlink(self._temp_path)
            return
        self._sink.seek(self._data_end)
        self._sink.truncate()
        self._sink.write(self._trailer)
        self._close_handles()

    def _close_handles(self) -> None:
        if self._sink is not self._handle:
            self._sink.close()
        self._handle.close()

    def _patched_header(self) -> np.ndarray:
        header = self._layout.header.copy()
        encoder = self._encoder
        old_nz, nz = int(header["nz"]), self._base_frames + self.frames_written
        header["nz"] = nz
        if old_nz > 0 and (encoder.codec is not None or int(header["mz"]) == old_nz):
            header["cella"][2] = float(header["cella"][2]) / old_nz * nz
        if encoder.codec is None and int(header["mz"]) == old_nz and int(header["ispg"]) == 1:
            header["mz"] = nz
        header["packed_bytes"] = encoder.packed_bytes
        stats = encoder.stats.header_values() if encoder.stats is not None else (0.0, -1.0, -2.0, -1.0)
        header["dmin"], header["dmax"], header["dmean"], header["rms"] = stats
        patched: np.ndarray = header
        return patched
