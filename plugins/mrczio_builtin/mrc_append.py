"""Appending frames to an existing plain MRC or MRCZ file.

New frames are written after the last frame and the header is rewritten last, so until
the append finishes the header still describes the old frames: a crash leaves the
original file readable (at worst with unread bytes after its data). A file that carries a
metadata footer is appended through a copy instead (the footer must move behind the new
frames), and the copy replaces the original only when complete.
"""

from __future__ import annotations

import builtins
import os
import shutil
from typing import Any

import numpy as np

from mrczio.contracts import CompressionSettings, FrameCodec
from mrczio.errors import OptionError
from mrczio.fileio import PositionalFile
from mrczio.registry import Registry
from mrczio.stats import RunningStats
from mrczio_builtin.mrc_layout import read_layout
from mrczio_builtin.mrc_writer import HeaderOptions, MrcFamilyWriter, compression_settings

MAX_KEPT_TRAILER = 1 << 20


def _data_end(registry: Registry, layout: Any, compressed: bool) -> tuple[int, int]:
    """(frames, byte offset after the last frame) of an existing file."""
    if not compressed:
        return layout.nz, layout.data_offset + layout.nz * layout.section_nbytes
    from mrczio_builtin.mrcz import MrczReader  # the chunk walk lives with the reader

    with MrczReader(layout.path, registry) as reader:
        chunks = reader.chunk_spans()
    end = chunks[-1][0] + chunks[-1][1] if chunks else layout.data_offset
    return len(chunks), end


def _header_stats(header: np.ndarray, count: int) -> RunningStats | None:
    dmin, dmax, dmean, rms = (float(header[k]) for k in ("dmin", "dmax", "dmean", "rms"))
    if count and rms >= 0 and dmax >= dmin and dmean >= min(dmin, dmax):
        return RunningStats.from_summary(count, dmin, dmax, dmean, rms)
    return None


class MrcAppender(MrcFamilyWriter):
    """Adds frames to ``path`` in place (or through a copy when it has a footer)."""

    def __init__(self, path: str, registry: Registry, options: dict[str, Any]) -> None:
        source = PositionalFile(path)
        try:
            layout = read_layout(source, registry, permissive=False)
            compressed = layout.compressor_id > 0
            base_frames, data_end = _data_end(registry, layout, compressed)
            self._trailer = b""
            if layout.metadata_location != "footer" and source.size - data_end > 0:
                if source.size - data_end > MAX_KEPT_TRAILER:
                    raise OptionError(f"{path}: {source.size - data_end} unknown bytes follow the data; not appending")
                self._trailer = source.read_at(data_end, source.size - data_end)
        finally:
            source.close()
        self._init_fields(path, layout, registry, options, base_frames)
        self._open_target(path, layout, data_end, options)

    def _init_fields(self, path: str, layout: Any, registry: Registry, options: dict[str, Any], base: int) -> None:
        self.path = path
        self.frame_shape = layout.frame_shape
        self.dtype = layout.dtype
        self._layout = layout
        self._base_frames = base
        codec, settings = self._codec_settings(registry, layout, options)
        self._setup_encoding(
            codec, settings, mode=layout.mode, opts=HeaderOptions(byteorder=layout.byteorder),
            stats=_header_stats(layout.header, base * layout.nx * layout.ny), clip=False,
            packed_bytes=int(layout.header["packed_bytes"]) if codec else 0,
        )  # fmt: skip
        self._footer = b""
        if layout.metadata_location == "footer":
            from mrczio_builtin.mrc_layout import footer_bytes

            serializer = registry.serializer_for_exttyp(self._footer_exttyp(path))
            assert serializer is not None
            self._footer = footer_bytes(serializer, serializer.dumps(layout.metadata))

    @staticmethod
    def _footer_exttyp(path: str) -> bytes:
        from mrczio_builtin.mrc_layout import FOOTER_TRAILER

        with builtins.open(path, "rb") as handle:
            handle.seek(-FOOTER_TRAILER.size, os.SEEK_END)
            exttyp: bytes = FOOTER_TRAILER.unpack(handle.read(FOOTER_TRAILER.size))[0]
            return exttyp

    @staticmethod
    def _codec_settings(
        registry: Registry, layout: Any, options: dict[str, Any]
    ) -> tuple[FrameCodec | None, CompressionSettings | None]:
        if layout.compressor_id == 0:
            if options:
                raise OptionError(f"{layout.path}: plain MRC appends take no options ({', '.join(options)})")
            return None, None
        codec = registry.codec_for_id(layout.compressor_id)
        if codec is None:
            raise OptionError(f"{layout.path}: no installed codec writes compressor id {layout.compressor_id}")
        return codec, compression_settings({"codec": codec.name, **options})

    def _open_target(self, path: str, layout: Any, data_end: int, options: dict[str, Any]) -> None:
        self._data_end = data_end
        self._temp_path: str | None = None
        target = path
        if layout.metadata_location == "footer":
            self._temp_path = f"{path}.append.part"
            shutil.copyfile(path, self._temp_path)
            target = self._temp_path
        self._sink = builtins.open(target, "r+b")  # noqa: SIM115 - closed in _finish/_discard
        self._sink.seek(data_end)
        self._sink.truncate()

    def _finish(self) -> None:
        self._sink.write(self._footer or self._trailer)
        self._sink.flush()
        os.fsync(self._sink.fileno())  # frames reach the disk before the header names them
        self._sink.seek(0)
        self._sink.write(self._patched_header().tobytes())
        self._sink.close()
        if self._temp_path is not None:
            os.replace(self._temp_path, self.path)

    def _discard(self) -> None:
        if self._temp_path is not None:
            self._sink.close()
            os.unlink(self._temp_path)
            return
        self._sink.seek(self._data_end)
        self._sink.truncate()
        self._sink.write(self._trailer)
        self._sink.close()

    def _patched_header(self) -> np.ndarray:
        header = self._layout.header.copy()
        old_nz, nz = int(header["nz"]), self._base_frames + self.frames_written
        header["nz"] = nz
        if old_nz > 0 and (self._codec is not None or int(header["mz"]) == old_nz):
            header["cella"][2] = float(header["cella"][2]) / old_nz * nz
        if self._codec is None and int(header["mz"]) == old_nz and int(header["ispg"]) == 1:
            header["mz"] = nz
        header["packed_bytes"] = self._packed_bytes
        if self._stats is not None:
            header["dmin"], header["dmax"], header["dmean"], header["rms"] = self._stats.header_values()
        else:
            header["dmin"], header["dmax"], header["dmean"], header["rms"] = 0.0, -1.0, -2.0, -1.0
        patched: np.ndarray = header
        return patched
