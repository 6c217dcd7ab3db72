"""The streaming writer shared by plain MRC and MRCZ.

Frames go to a temporary file as they arrive (raw, or one compressed chunk per frame);
statistics accumulate on the way; the header is written last, with the true frame count,
DMIN/DMAX/DMEAN/RMS, and then the file is renamed into place.

Header policy (see docs/formats.md): NVERSION 20140, MX=NX and MY=NY (python-mrcz
leaves them 0), ``MAP `` and a machine stamp, label 0 naming mrczio. Plain MRC follows
mrcfile: image stacks get ISPG 0 and MZ 1, volumes ISPG 1 and MZ NZ. MRCZ keeps
python-mrcz's reading of MZ as "slices per frame" by writing MZ 0 and CELLA = voxel * N,
so python-mrcz returns one array with the right pixel size.
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Mapping
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

import mrczio
from mrczio import header as mrc
from mrczio.contracts import (
    CompressionSettings,
    FrameCodec,
    MetadataSerializer,
    PixelMode,
    WriteRequest,
)
from mrczio.errors import ConversionError, DataTypeError, MrczioWarning, OptionError
from mrczio.fileio import AtomicFile
from mrczio.registry import Registry
from mrczio.stats import RunningStats
from mrczio.writer import StackWriter
from mrczio_builtin.mrc_layout import footer_bytes

COMMON_OPTIONS = frozenset({
    "overwrite", "byteorder", "volume", "extended_header", "exttyp", "metadata_format",
    "metadata_placement", "label", "voltage", "cs", "gain", "origin", "fsync", "compute_stats",
    "mode", "packed4bit", "clip",
})  # fmt: skip

#: Frames in flight per compression thread (see MrcFamilyWriter._compress_later).
PIPELINE_DEPTH = 2


@dataclass(frozen=True)
class HeaderOptions:
    """Header-level write options common to plain MRC and MRCZ."""

    byteorder: str = "<"
    volume: bool = False
    extended_header: bytes = b""
    exttyp: bytes = b""
    label: str = ""
    voltage: float = 0.0
    cs: float = 0.0
    gain: float = 1.0
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> HeaderOptions:
        order = {"<": "<", "little": "<", ">": ">", "big": ">", "=": "<" if np.little_endian else ">"}
        byteorder = order.get(str(options.get("byteorder", "<")))
        if byteorder is None:
            raise OptionError(f"byteorder must be 'little' or 'big', not {options.get('byteorder')!r}")
        exttyp = options.get("exttyp", b"") or b""
        return cls(
            byteorder=byteorder,
            volume=bool(options.get("volume", False)),
            extended_header=bytes(options.get("extended_header", b"") or b""),
            exttyp=exttyp.encode("ascii") if isinstance(exttyp, str) else bytes(exttyp),
            label=str(options.get("label", "")),
            voltage=float(options.get("voltage", 0.0) or 0.0),
            cs=float(options.get("cs", 0.0) or 0.0),
            gain=float(options.get("gain", 1.0) or 1.0),
            origin=_origin(options.get("origin", (0.0, 0.0, 0.0))),
        )


def _origin(value: Any) -> tuple[float, float, float]:
    x, y, z = (float(v) for v in value)
    return (x, y, z)


def check_options(format_name: str, options: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise OptionError(
            f"format {format_name!r} does not take option(s) {', '.join(unknown)}; "
            f"it takes: {', '.join(sorted(allowed))}"
        )


def pick_mode(
    registry: Registry, dtype: np.dtype[Any], path: str, options: Mapping[str, Any] | None = None
) -> PixelMode:
    """The mode asked for (``mode=101`` or ``packed4bit=True``), else the default for ``dtype``."""
    options = options or {}
    code = options.get("mode")
    if code is None and options.get("packed4bit"):
        code = 101
    if code is not None:
        mode = registry.mode(int(code), path)
        if not (mode.dtype == dtype or mode.accepts(dtype)):
            raise DataTypeError(f"{path}: MRC mode {int(code)} stores {mode.dtype}, not {dtype}")
        return mode
    default = registry.mode_for_dtype(dtype)
    if default is None:
        hint = " (cast to float32 with dtype='float32')" if dtype == np.float64 else ""
        raise DataTypeError(f"{path}: no MRC mode stores {dtype} data{hint}")
    return default


class MrcFamilyWriter(StackWriter):
    """Writes plain MRC (``codec is None``) or MRCZ (one chunk per frame)."""

    def __init__(
        self,
        request: WriteRequest,
        registry: Registry,
        codec: FrameCodec | None,
        settings: CompressionSettings | None,
    ) -> None:
        self.path = request.path
        self.frame_shape = request.frame_shape
        self.dtype = np.dtype(request.dtype).newbyteorder("=")
        self._request = request
        self._setup_encoding(
            codec, settings,
            mode=pick_mode(registry, self.dtype, self.path, request.options),
            opts=HeaderOptions.from_options(request.options),
            stats=RunningStats() if request.options.get("compute_stats", True) else None,
            clip=bool(request.options.get("clip", False)),
        )  # fmt: skip
        self._serializer, self._extended, self._footer = self._place_metadata(registry, request)
        self._file = AtomicFile(
            self.path,
            overwrite=bool(request.options.get("overwrite", False)),
            fsync=bool(request.options.get("fsync", False)),
        )
        self._sink = self._file.file
        self._sink.write(bytes(mrc.HEADER_SIZE))
        self._sink.write(self._extended)

    def _setup_encoding(
        self,
        codec: FrameCodec | None,
        settings: CompressionSettings | None,
        *,
        mode: PixelMode,
        opts: HeaderOptions,
        stats: RunningStats | None,
        clip: bool,
        packed_bytes: int = 0,
    ) -> None:
        """State shared by new files and appends: how frames become stored bytes."""
        self._codec = codec
        self._settings = settings
        self._mode = mode
        self._opts = opts
        self._stats = stats
        self._clip = clip
        self.clipped_pixels = 0
        self._packed_bytes = packed_bytes
        self._tuned: CompressionSettings | None = None  # resolved on the first frame
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Future[tuple[bytes, RunningStats | None]]] | None = None
        self._workers = 1

    # -- metadata placement -------------------------------------------------------

    def _place_metadata(
        self, registry: Registry, request: WriteRequest
    ) -> tuple[MetadataSerializer | None, bytes, bytes]:
        """(serializer, extended header bytes, footer bytes) for this request."""
        options = request.options
        extended = self._opts.extended_header
        if not request.metadata:
            return None, extended, b""
        serializer = registry.serializer(str(options.get("metadata_format", "json")))
        payload = serializer.dumps(request.metadata)
        placement = options.get("metadata_placement", "extended")
        if placement not in ("extended", "footer"):
            raise OptionError(f"metadata_placement must be 'extended' or 'footer', not {placement!r}")
        if placement == "footer" or extended:
            return serializer, extended, footer_bytes(serializer, payload)
        return serializer, payload, b""

    # -- frames --------------------------------------------------------------------

    def _write_block(self, block: np.ndarray) -> None:
        if self._clip and hasattr(self._mode, "clip"):
            block, clipped = self._mode.clip(block)
            self.clipped_pixels += clipped
        try:
            packed = self._mode.pack(block)
        except ConversionError as exc:
            raise ConversionError(f"{self.path}: {exc}") from None
        stored = _as_storage(packed, self._mode.storage_dtype(self._opts.byteorder))
        if self._codec is None:
            self._add_stats(block)
            self._sink.write(np.ascontiguousarray(stored).data)
            return
        try:
            for frame, stored_frame in zip(block, stored, strict=True):
                self._compress_later(np.ascontiguousarray(stored_frame), frame)
        finally:
            self._wait_for_frames()  # the caller may reuse its buffer once write() returns

    def _add_stats(self, block: np.ndarray) -> None:
        if self._stats is not None:
            for frame in block:
                self._stats.add(frame)

    # -- the compression pipeline ----------------------------------------------------
    #
    # Frames are compressed in parallel, one frame per helper thread and one blosc thread
    # per frame (frame-level parallelism scales better than blosc's block-level threads,
    # which synchronise at every frame); each helper also computes its frame's statistics,
    # and the caller's thread writes finished chunks and merges statistics in order. At most PIPELINE_DEPTH frames per helper are
    # in flight, and every frame is written before _write_block returns, so no frame
    # outlives the write() call that passed it.

    def _compress_later(self, stored: np.ndarray, pixels: np.ndarray) -> None:
        """Queue one frame: its stored form is compressed, its pixels feed the statistics."""
        if self._tuned is None:
            self._start_pipeline(stored)
        assert self._pool is not None and self._pending is not None
        while len(self._pending) >= self._workers * PIPELINE_DEPTH:
            self._write_chunk(*self._pending.popleft().result())
        self._pending.append(self._pool.submit(self._encode_frame, stored, pixels))

    def _encode_frame(self, stored: np.ndarray, pixels: np.ndarray) -> tuple[bytes, RunningStats | None]:
        """Runs in a helper thread: the chunk and the frame's own statistics."""
        assert self._codec is not None and self._tuned is not None
        chunk = self._codec.encode(stored, self._tuned)
        if self._stats is None:
            return chunk, None
        stats = RunningStats()
        stats.add(pixels)
        return chunk, stats

    def _start_pipeline(self, frame: np.ndarray) -> None:
        """Resolve automatic settings on the first frame and start the helper threads."""
        assert self._codec is not None and self._settings is not None
        tune = getattr(self._codec, "tune", None)
        settings = tune(frame, self._settings) if tune is not None else self._settings
        self._workers = settings.resolved_threads()
        if self._workers > 1:
            settings = replace(settings, threads=1)
        self._tuned = settings
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="mrczio-write")
        self._pending = deque()

    def _write_chunk(self, chunk: bytes, stats: RunningStats | None) -> None:
        self._sink.write(chunk)
        self._packed_bytes += len(chunk)
        if stats is not None and self._stats is not None:
            self._stats.merge(stats)  # in frame order, like a sequential writer

    def _wait_for_frames(self) -> None:
        """Write every queued frame in order; on a failure, drop the rest and re-raise."""
        while self._pending:
            future = self._pending.popleft()
            try:
                chunk, stats = future.result()
            except BaseException:
                for other in self._pending:
                    other.cancel()
                    try:
                        other.exception()  # wait: the frames must not be touched after we return
                    except CancelledError:
                        pass
                self._pending.clear()
                raise
            self._write_chunk(chunk, stats)

    def _drain(self, *, raise_errors: bool = True) -> None:
        """Finish queued frames and stop the helper thread."""
        try:
            self._wait_for_frames()
        except BaseException:
            if raise_errors:
                raise
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def close(self) -> None:
        if not self._closed:
            try:
                self._drain()
            except BaseException:
                self.abort()
                raise
        super().close()

    def abort(self) -> None:
        self._drain(raise_errors=False)
        super().abort()

    # -- finishing -------------------------------------------------------------------

    def _finish(self) -> None:
        handle = self._sink
        handle.write(self._footer)
        handle.seek(0)
        handle.write(self._build_header().tobytes())
        self._file.commit()
        if self.clipped_pixels:  # after the commit: a warning turned error must not lose the file
            warnings.warn(
                f"{self.path}: clipped {self.clipped_pixels} pixels above "
                f"{getattr(self._mode, 'max_value', '?')} (clip=True)", MrczioWarning, stacklevel=3
            )

    def _discard(self) -> None:
        self._file.abort()

    def _build_header(self) -> np.ndarray:
        opts = self._opts
        header = mrc.new_header(opts.byteorder)
        ny, nx = self.frame_shape
        nz = self.frames_written
        compressor = self._codec.compressor_id if self._codec else 0
        header["nx"], header["ny"], header["nz"] = nx, ny, nz
        header["mode"] = compressor * mrc.COMPRESSOR_FACTOR + self._mode.code
        header["ispg"] = 1 if opts.volume else 0
        header["mx"], header["my"] = nx, ny
        header["mz"] = self._z_sampling(nz)
        header["cella"] = self._cell(nx, ny, nz, int(header["mz"]))
        header["origin"] = opts.origin
        header["nsymbt"] = len(self._extended)
        header["exttyp"] = self._exttyp()
        header["voltage"], header["cs"], header["gain"] = opts.voltage, opts.cs, opts.gain
        header["packed_bytes"] = self._packed_bytes
        if self.dtype == np.uint8:
            header["imod_stamp"], header["imod_flags"] = mrc.IMOD_STAMP, 0
        if self._stats is not None:
            header["dmin"], header["dmax"], header["dmean"], header["rms"] = self._stats.header_values()
        mrc.set_label(header, 0, opts.label or f"mrczio {mrczio.__version__}")
        return header

    def _z_sampling(self, nz: int) -> int:
        if self._codec is not None:
            return 0  # python-mrcz reads MZ as "slices per frame"; 0 = one monolithic array
        return max(nz, 1) if self._opts.volume else 1

    def _cell(self, nx: int, ny: int, nz: int, mz: int) -> tuple[float, float, float]:
        vx, vy, vz = self._request.voxel_size or (0.0, 0.0, 0.0)
        z_cells = nz if self._codec is not None else mz
        return (vx * nx, vy * ny, vz * z_cells)

    def _exttyp(self) -> bytes:
        if self._extended and self._serializer is not None and not self._footer:
            return self._serializer.exttyp
        return self._opts.exttyp


def _as_storage(packed: np.ndarray, storage: np.dtype[Any]) -> np.ndarray:
    """``packed`` in the file's item type: a view when only the signedness of bytes
    differs (uint8 is stored as mode 0 with the same bytes), else a converted copy."""
    if packed.dtype.itemsize == storage.itemsize == 1 and packed.dtype.kind in "iu" and storage.kind in "iu":
        return packed.view(storage)
    return packed.astype(storage, copy=False)


def compression_settings(options: Mapping[str, Any]) -> CompressionSettings:
    """Build :class:`CompressionSettings` from user options, with clear errors."""
    try:
        return CompressionSettings(
            codec=str(options.get("codec", "zstd")).lower(),
            level=int(options.get("level", 1)),
            filter=str(options.get("filter", "auto")).lower(),  # type: ignore[arg-type]
            blocksize=int(options.get("blocksize", 0) or 0),
            threads=int(options.get("threads", 0) or 0),
            chunk_format=str(options.get("chunk_format", "blosc1")).lower(),  # type: ignore[arg-type]
        )
    except (TypeError, ValueError) as exc:
        raise OptionError(f"bad compression option: {exc}") from exc


def validate_settings(settings: CompressionSettings) -> None:
    if not 0 <= settings.level <= 9:
        raise OptionError(f"level must be 0..9, not {settings.level}")
    if settings.filter not in ("auto", "bitshuffle", "shuffle", "none"):
        raise OptionError(f"filter must be auto, bitshuffle, shuffle or none, not {settings.filter!r}")
    if settings.chunk_format not in ("blosc1", "blosc2"):
        raise OptionError(f"chunk_format must be blosc1 or blosc2, not {settings.chunk_format!r}")
    if settings.blocksize < 0 or settings.threads < 0:
        raise OptionError("blocksize and threads must not be negative")
