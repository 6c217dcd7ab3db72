"""Appending frames to an existing plain MRC or MRCZ file.

An append holds an exclusive lock on the file (:mod:`mrczio.locking`) from start to end,
so a second writer waits (up to ``lock_timeout`` seconds, default 60) or fails with a
:class:`mrczio.LockError`; it never loses frames.

New frames are written after the last frame and the header is rewritten last, so until
the append finishes the header still describes the old frames. What followed the old
frames (metadata footer, checksum block) is first saved in a journal beside the file
(``.NAME.mrczio-append``); if the append is killed, the next append (or
:func:`recover_interrupted_append`) puts that tail back and the file is exactly as it was.
A file whose metadata lives in a footer is appended through a copy instead (the footer
must move behind the new frames), published only when complete. The file's layout and
chunk index are read through the handle the frames are written to.
"""

from __future__ import annotations

import builtins
import os
import struct
from typing import Any, BinaryIO

import numpy as np

from mrczio.byte_source import HandleSource
from mrczio.contracts import FrameCodec
from mrczio.errors import FormatError, OptionError, UnknownCodecError
from mrczio.fileio import AtomicFile
from mrczio.locking import FileLock, lock_file
from mrczio.registry import Registry
from mrczio.stats import RunningStats
from mrczio_builtin.mrc.chunk_index import data_end, walk_chunks
from mrczio_builtin.mrc.codec_options import WRITER_CODEC_OPTIONS, codec_from_options, frame_workers
from mrczio_builtin.mrc.footer import footer_bytes, footer_exttyp
from mrczio_builtin.mrc.header_policy import COMMON_OPTIONS, check_options
from mrczio_builtin.mrc.layout import MrcLayout, read_layout
from mrczio_builtin.mrc.writer import EncodingWriter, FrameEncoder, checksum_block

#: Unknown bytes after the data that an append keeps (moved behind the new frames).
MAX_KEPT_TRAILER = 1 << 20
APPEND_OPTIONS = frozenset({"lock_timeout"})
_JOURNAL = struct.Struct("<Q8s")
_JOURNAL_MAGIC = b"MRCZJRNL"


def journal_path(path: str) -> str:
    """Where an in-place append keeps the tail it is about to overwrite."""
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{name}.mrczio-append")


def recover_interrupted_append(path: str) -> bool:
    """Undo an append that was killed: put back the saved tail; True when one was undone.

    Call it with the file's lock held (appends do).
    """
    journal = journal_path(path)
    try:
        with builtins.open(journal, "rb") as handle:
            saved = handle.read()
    except FileNotFoundError:
        return False
    if len(saved) < _JOURNAL.size or saved[-8:] != _JOURNAL_MAGIC:
        os.unlink(journal)  # killed while writing the journal: the file was not touched yet
        return False
    end, _ = _JOURNAL.unpack_from(saved, len(saved) - _JOURNAL.size)
    with builtins.open(path, "r+b") as handle:
        handle.truncate(end)
        handle.seek(end)
        handle.write(saved[: -_JOURNAL.size])
        handle.flush()
        os.fsync(handle.fileno())
    os.unlink(journal)
    return True


def _header_stats(header: np.ndarray, count: int) -> RunningStats | None:
    dmin, dmax, dmean, rms = (float(header[k]) for k in ("dmin", "dmax", "dmean", "rms"))
    if count and rms >= 0 and dmax >= dmin and dmean >= min(dmin, dmax):
        return RunningStats.from_summary(count, dmin, dmax, dmean, rms)
    return None


class MrcAppender(EncodingWriter):
    """Adds frames to ``path`` in place (or through a copy when it has a footer)."""

    def __init__(self, path: str, registry: Registry, options: dict[str, Any]) -> None:
        self.path = path
        timeout = options.pop("lock_timeout", 60.0)
        self._lock: FileLock = lock_file(path, timeout=None if timeout is None else float(timeout))
        self._copy: AtomicFile | None = None
        self._journal: str | None = None
        try:
            recover_interrupted_append(path)
            self._handle: BinaryIO = builtins.open(path, "r+b")  # noqa: SIM115 - closed in _finish/_discard
            try:
                self._survey(registry, options)
            except BaseException:
                self._handle.close()
                raise
        except BaseException:
            self._lock.release()
            raise

    def _survey(self, registry: Registry, options: dict[str, Any]) -> None:
        source = HandleSource(self._handle, self.path)
        layout = read_layout(source, registry, permissive=False)
        self._layout = layout
        self.frame_shape, self.dtype = layout.frame_shape, layout.dtype
        codec = self._codec(registry, layout, options)
        if codec is None:
            self._base_frames, self._data_end = (
                layout.nz,
                layout.data_offset + layout.nz * layout.section_nbytes,
            )
        else:
            spans = walk_chunks(source, layout, permissive=False)
            self._base_frames, self._data_end = len(spans), data_end(layout, spans)
        self._trailer = self._old_tail(source, layout)
        self._footer = self._new_footer(registry, source, layout)
        self._sink = self._open_target(source)
        entries = list(layout.checksums.entries) if layout.checksums is not None else None
        self._encoder = FrameEncoder(
            self._sink, self.path, codec=codec, mode=layout.mode, byteorder=layout.byteorder,
            stats=self._resumed_stats(registry, layout), clip=False,
            workers=frame_workers(options), position=self._data_end, entries=entries,
            packed_bytes=int(layout.header["packed_bytes"]) if codec else 0,
        )  # fmt: skip

    def _resumed_stats(self, registry: Registry, layout: MrcLayout) -> RunningStats | None:
        """Statistics of the frames already in the file, to extend with the new ones.

        They come from the header, except for complex data: its header holds only the
        RMS deviation (DMIN/DMAX/DMEAN undetermined, as mrcfile writes them), which cannot
        be combined with new frames, so the existing frames are read once instead. A
        header whose statistics are undetermined stays so.
        """
        stats = _header_stats(layout.header, self._base_frames * layout.nx * layout.ny)
        if stats is not None or layout.dtype.kind != "c" or float(layout.header["rms"]) < 0:
            return stats
        resumed = RunningStats()
        name = "mrcz" if layout.compressor_id else "mrc"
        with registry.format(name).open_reader(self.path, registry) as reader:
            for frame in reader.iter_frames(0, self._base_frames):
                resumed.add(frame)
        return resumed

    def _old_tail(self, source: HandleSource, layout: MrcLayout) -> bytes:
        """Unknown bytes after the data that are kept (not a footer or checksum block)."""
        if layout.metadata_location == "footer" or layout.checksums is not None:
            return b""
        extra = source.size - self._data_end
        if extra > MAX_KEPT_TRAILER:
            raise FormatError(self.path, f"{extra} unknown bytes follow the data; not appending")
        return source.read_at(self._data_end, extra) if extra > 0 else b""

    def _new_footer(self, registry: Registry, source: HandleSource, layout: MrcLayout) -> bytes:
        if layout.metadata_location != "footer":
            return b""
        end = layout.checksums.start if layout.checksums is not None else source.size
        serializer = registry.serializer_for_exttyp(footer_exttyp(source, end) or b"")
        assert serializer is not None  # read_layout decoded the footer with it
        return footer_bytes(serializer, serializer.dumps(layout.metadata))

    def _codec(self, registry: Registry, layout: MrcLayout, options: dict[str, Any]) -> FrameCodec | None:
        if layout.compressor_id == 0:
            if options:
                raise OptionError(f"{layout.path}: plain MRC appends take no options ({', '.join(options)})")
            return None
        codec = registry.codec_for_id(layout.compressor_id)
        if codec is None:
            raise UnknownCodecError(
                layout.compressor_id,
                f"{layout.path}: no installed codec writes compressor id {layout.compressor_id}",
            )
        configured, rest = codec_from_options(registry, {**options, "codec": codec.name}, COMMON_OPTIONS)
        check_options(f"{layout.path} (append)", rest, WRITER_CODEC_OPTIONS | APPEND_OPTIONS, configured)
        return configured

    def _open_target(self, source: HandleSource) -> BinaryIO:
        if self._layout.metadata_location == "footer":
            self._copy = AtomicFile(self.path, overwrite=True, copy_of=self.path)
            target = self._copy.file
        else:
            self._save_tail(source)
            target = self._handle
        target.seek(self._data_end)
        target.truncate()
        return target

    def _save_tail(self, source: HandleSource) -> None:
        """Write what follows the data to the journal (fsynced) before overwriting it."""
        tail = (
            source.read_at(self._data_end, source.size - self._data_end)
            if source.size > self._data_end
            else b""
        )
        self._journal = journal_path(self.path)
        fd = os.open(self._journal, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(tail + _JOURNAL.pack(self._data_end, _JOURNAL_MAGIC))
            handle.flush()
            os.fsync(handle.fileno())

    def _finish(self) -> None:
        sink = self._sink
        sink.write(self._footer or self._trailer)
        header = self._patched_header().tobytes()
        if self._layout.checksums is not None:
            head = header + self._layout.extended_header
            sink.write(checksum_block(head, self._footer, self._encoder.entries))
        sink.flush()
        os.fsync(sink.fileno())  # frames reach the disk before the header names them
        sink.seek(0)
        sink.write(header)
        if self._copy is not None:
            self._copy.commit()
        else:
            sink.flush()
            os.fsync(sink.fileno())
        self._release()

    def _discard(self) -> None:
        try:
            if self._copy is not None:
                self._copy.abort()
            else:
                self._handle.seek(self._data_end)
                self._handle.truncate()
                self._handle.write(self._trailer)
                self._handle.flush()
                recover_interrupted_append(self.path)
        finally:
            self._release()

    def _release(self) -> None:
        self._handle.close()
        if self._journal is not None and os.path.exists(self._journal):
            os.unlink(self._journal)
        self._lock.release()

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


__all__ = ["MrcAppender", "journal_path", "recover_interrupted_append"]
