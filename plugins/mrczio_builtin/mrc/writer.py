"""The streaming writer shared by plain MRC and MRCZ.

Frames go to a temporary file as they arrive (raw sections, or one compressed chunk per
frame through :mod:`.pipeline`); statistics accumulate on the way; the header
(:mod:`.header_policy`) is written last, with the true frame count and
DMIN/DMAX/DMEAN/RMS, and then the file is renamed into place.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import IO, Any

import numpy as np

from mrczio import header as mrc
from mrczio.contracts import FrameCodec, MetadataSerializer, PixelMode, WriteRequest
from mrczio.errors import ConversionError, MrczioWarning, OptionError
from mrczio.publish import AtomicFile
from mrczio.registry import Registry
from mrczio.stats import RunningStats
from mrczio.writer import StackWriter
from mrczio_builtin.mrc import mrcz_geometry
from mrczio_builtin.mrc.checksums import ChecksumBlock, Entry, crc
from mrczio_builtin.mrc.codec_options import frame_workers
from mrczio_builtin.mrc.footer import footer_bytes
from mrczio_builtin.mrc.header_policy import HeaderOptions, NewFile, build_header, pick_mode
from mrczio_builtin.mrc.pipeline import CompressionPipeline


class FrameEncoder:
    """Turns blocks of pixels into stored bytes: packing, byte order, compression and
    statistics. Shared by new files (:class:`MrcFamilyWriter`) and appends."""

    def __init__(
        self,
        sink: IO[bytes],
        path: str,
        *,
        codec: FrameCodec | None,
        mode: PixelMode,
        byteorder: str,
        stats: RunningStats | None,
        clip: bool,
        workers: int,
        position: int,
        packed_bytes: int = 0,
        entries: list[Entry] | None = None,
        on_frame_written: Callable[[], None] | None = None,
    ) -> None:
        self.path = path
        #: Offset, length and CRC-32C of every frame written (and of earlier frames, for
        #: an append), for the checksum block.
        self.entries: list[Entry] = list(entries or [])
        self.position = position
        self.codec = codec
        self.mode = mode
        self.stats = stats
        self.clipped_pixels = 0
        self.packed_bytes = packed_bytes
        self._sink = sink
        self._storage = mode.storage_dtype(byteorder)
        self._clip = clip
        self._on_frame_written = on_frame_written
        self._pipeline = CompressionPipeline(codec, workers, self._write_chunk) if codec is not None else None

    def write_block(self, block: np.ndarray) -> None:
        if self._clip and hasattr(self.mode, "clip"):
            block, clipped = self.mode.clip(block)
            self.clipped_pixels += clipped
        try:
            packed = self.mode.pack(block)
        except ConversionError as exc:
            raise ConversionError(f"{self.path}: {exc}") from None
        stored = _as_storage(packed, self._storage)
        if self._pipeline is None:
            self._add_stats(block)
            for section in np.ascontiguousarray(stored).reshape(len(stored), -1):
                self._record(section.view(np.uint8).data, crc(section.view(np.uint8).data))
            return
        try:
            for frame, stored_frame in zip(block, stored, strict=True):
                self._pipeline.submit(np.ascontiguousarray(stored_frame))
                # While the helpers compress, this thread would only wait: the statistics
                # are computed here (measured: 1.17x -> 1.20x python-mrcz's write speed,
                # the last frame no longer compresses and sums on one helper alone).
                self._add_stats(frame[np.newaxis])
        finally:
            self._pipeline.flush()  # the caller may reuse its buffer once write() returns

    def _add_stats(self, block: np.ndarray) -> None:
        if self.stats is not None:
            for frame in block:
                self.stats.add(frame)

    def _write_chunk(self, chunk: bytes, checksum: int) -> None:
        self._record(chunk, checksum)
        self.packed_bytes += len(chunk)

    def _record(self, stored: bytes | memoryview, checksum: int) -> None:
        """Write one frame's stored bytes and remember where they went."""
        self._sink.write(stored)
        length = len(stored) if isinstance(stored, bytes) else stored.nbytes
        self.entries.append(Entry(self.position, length, checksum))
        self.position += length
        if self._on_frame_written is not None:
            self._on_frame_written()

    def close(self, *, raise_errors: bool = True) -> None:
        if self._pipeline is not None:
            self._pipeline.close(raise_errors=raise_errors)

    def warn_if_clipped(self) -> None:
        if self.clipped_pixels:  # after the commit: a warning turned error must not lose the file
            warnings.warn(
                f"{self.path}: clipped {self.clipped_pixels} pixels above "
                f"{getattr(self.mode, 'max_value', '?')} (clip=True)", MrczioWarning, stacklevel=4
            )  # fmt: skip


class EncodingWriter(StackWriter):
    """A writer whose frames go through a :class:`FrameEncoder` (new files and appends):
    the encoder's helper threads are finished on close and dropped on abort."""

    _encoder: FrameEncoder

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


class MrcFamilyWriter(EncodingWriter):
    """Writes plain MRC (``codec is None``) or MRCZ (one chunk per frame)."""

    def __init__(self, request: WriteRequest, registry: Registry, codec: FrameCodec | None) -> None:
        self.path = request.path
        self.frame_shape = request.frame_shape
        self.dtype = np.dtype(request.dtype).newbyteorder("=")
        self._request = request
        self._opts = HeaderOptions.from_options(request.options)
        mode = pick_mode(registry, self.dtype, self.path, request.options)
        self._serializer, self._extended, self._footer = _place_metadata(
            registry, request, self._opts, compressed=codec is not None
        )
        self._file = AtomicFile(
            self.path,
            overwrite=bool(request.options.get("overwrite", False)),
            fsync=bool(request.options.get("fsync", False)),
        )
        self._sink = self._file.file
        self._sink.write(bytes(1024))
        self._sink.write(self._extended)
        self._encoder = FrameEncoder(
            self._sink, self.path, codec=codec, mode=mode, byteorder=self._opts.byteorder,
            stats=RunningStats() if request.options.get("compute_stats", True) else None,
            clip=bool(request.options.get("clip", False)), workers=frame_workers(request.options),
            position=mrc.HEADER_SIZE + len(self._extended), on_frame_written=self._file.start_writeback,
        )  # fmt: skip
        self._checksums = bool(request.options.get("checksums", codec is not None))

    @property
    def clipped_pixels(self) -> int:
        return self._encoder.clipped_pixels

    def _finish(self) -> None:
        handle = self._sink
        handle.write(self._footer)
        header = self._build_header().tobytes()
        if self._checksums:
            handle.write(checksum_block(header + self._extended, self._footer, self._encoder.entries))
        handle.seek(0)
        handle.write(header)
        self._file.commit()
        self._encoder.warn_if_clipped()

    def _discard(self) -> None:
        self._file.abort()

    def _build_header(self) -> np.ndarray:
        encoder = self._encoder
        new = NewFile(
            frame_shape=self.frame_shape, nz=self.frames_written, dtype=self.dtype, mode=encoder.mode,
            compressor_id=encoder.codec.compressor_id if encoder.codec else 0,
            voxel_size=self._request.voxel_size, extended_bytes=len(self._extended),
            exttyp=self._exttyp(), packed_bytes=encoder.packed_bytes,
        )  # fmt: skip
        stats = encoder.stats.header_values() if encoder.stats is not None else None
        return build_header(self._opts, new, stats)

    def _exttyp(self) -> bytes:
        if self._extended and self._serializer is not None and not self._footer:
            return self._serializer.exttyp
        return self._opts.exttyp


def _place_metadata(
    registry: Registry, request: WriteRequest, opts: HeaderOptions, compressed: bool
) -> tuple[MetadataSerializer | None, bytes, bytes]:
    """(serializer, extended header bytes, footer bytes) for this request.

    A header record that came with the metadata (from a TIFF) is dropped: the header now
    holds those fields. An MRCZ file whose MZ/CELLA python-mrcz would misread keeps them
    in a record (:mod:`.mrcz_geometry`): beside the user's metadata, or alone in the footer,
    which python-mrcz does not read.
    """
    options: Mapping[str, Any] = request.options
    extended = opts.extended_header
    metadata = {k: v for k, v in (request.metadata or {}).items() if k != mrc.HEADER_RECORD_KEY}
    record = _geometry_record(opts, compressed)
    placement = options.get("metadata_placement", "extended")
    if placement not in ("extended", "footer"):
        raise OptionError(f"metadata_placement must be 'extended' or 'footer', not {placement!r}")
    if record is not None:
        placement = placement if metadata else "footer"
        metadata[mrc.HEADER_RECORD_KEY] = record
    if not metadata:
        return None, extended, b""
    serializer = registry.serializer(str(options.get("metadata_format", "json")))
    payload = serializer.dumps(metadata)
    if placement == "footer" or extended:
        return serializer, extended, footer_bytes(serializer, payload)
    return serializer, payload, b""


def _geometry_record(opts: HeaderOptions, compressed: bool) -> dict[str, Any] | None:
    template = opts.template
    if template is None or not compressed:
        return None
    written = template.copy()
    written["mz"], written["cella"] = mrcz_geometry.written(template, int(template["nz"]))
    return mrcz_geometry.record_for(template, written)


def checksum_block(head: bytes, middle: bytes, entries: list[Entry]) -> bytes:
    """The encoded checksum block for a file whose first bytes are ``head`` (header and
    extended header), whose metadata footer is ``middle`` and whose frames are ``entries``."""
    end = entries[-1].offset + entries[-1].length if entries else len(head)
    block = ChecksumBlock.from_entries(
        (crc(head), len(head)), (crc(middle), len(middle)), entries, end + len(middle)
    )
    return block.encode()


def _as_storage(packed: np.ndarray, storage: np.dtype[Any]) -> np.ndarray:
    """``packed`` in the file's item type: a view when only the signedness of bytes
    differs (uint8 is stored as mode 0 with the same bytes), else a converted copy."""
    if packed.dtype.itemsize == storage.itemsize == 1 and packed.dtype.kind in "iu" and storage.kind in "iu":
        return packed.view(storage)
    return packed.astype(storage, copy=False)
