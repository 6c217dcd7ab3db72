"""Multi-page TIFF (one page per frame), as SerialEM and EPU ship counting movies.

Reading and writing go through tifffile (with imagecodecs for LZW, deflate and zstd).

Row order. An MRC file stores its first row at the bottom of the image (y = 0); a TIFF
page stores its first row at the top. IMOD, SerialEM, MotionCor2 and RELION therefore
flip rows whenever they read or write TIFF, so that a movie shows the same image in
either format. mrczio does the same: its arrays are always in MRC row order, so
``imread("m.tif")`` is ``tifffile.imread("m.tif")[..., ::-1, :]`` and converting MRC to
TIFF and back is the identity. The write option ``flip_y=False`` stores array rows top
down instead; such files record it in their description and mrczio reads them back
unflipped (other programs will show them upside down).

4-bit data. ``packed4bit=True`` (or ``"serialem"``) writes IMOD/SerialEM's packed 4-bit
TIFF: 8 bits per sample at half the width, two pixels per byte, low nibble first,
compressible. ``packed4bit="standard"`` writes BitsPerSample 4 (first pixel in the high
nibble; tifffile writes it only uncompressed). Both are read; a packed file is
recognised from mrczio's description or, like IMOD and RELION do, from a K2/K3
super-resolution frame size.

Metadata round-trips as JSON in page 0's ImageDescription, with the voxel size; the
pixel size also goes into XResolution/YResolution in pixels per centimetre (as RELION
writes it).
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import threading
import warnings
from collections.abc import Mapping
from typing import Any, BinaryIO, cast

import numpy as np

from mrczio import header as mrc
from mrczio.contracts import FileFormat, StorageLimits, WriteRequest
from mrczio.errors import (
    CodecError,
    ConversionError,
    CorruptFrameError,
    FormatError,
    MetadataError,
    MrczioError,
    MrczioWarning,
    OptionError,
    TruncatedFileError,
)
from mrczio.fileio import open_regular_file
from mrczio.geometry import geometry_of
from mrczio.hookspecs import hookimpl
from mrczio.positional import SourceStream, is_url, open_positional
from mrczio.publish import AtomicFile
from mrczio.reader import ReaderInfo, StackReader, VoxelSize
from mrczio.registry import Registry
from mrczio.writer import StackWriter
from mrczio_builtin.mrc.packed4bit import (
    IMOD_PACKED_SIZES,
    MAX_4BIT,
    Packed4BitMode,
    pack_nibbles,
    unpack_nibbles,
)

TIFF_MAGICS = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")
DESCRIPTION_KEY = "mrczio"
ANGSTROM_PER_CM = 1e8
ANGSTROM_PER_INCH = 2.54e8
CLASSIC_LIMIT = 2**32 - 2**25  # leave room for IFDs below the 4 GiB offset limit
COMPRESSIONS: dict[str, Any] = {
    # TIFF Compression tag values (tifffile.COMPRESSION), so tifffile loads only when used.
    "lzw": 5,
    "deflate": 8,
    "zlib": 8,
    "zstd": 50000,
    "none": None,
}
WRITE_OPTIONS = frozenset({
    "overwrite", "compression", "level", "predictor", "flip_y", "packed4bit", "clip",
    "bigtiff", "fsync", "metadata_format",
})  # fmt: skip
PACKINGS = {
    True: "serialem",
    "serialem": "serialem",
    "standard": "standard",
    False: None,
    None: None,
}


def is_packed_size(width: int, height: int) -> bool:
    """True for the stored (half-width) K2/K3 sizes IMOD and RELION unpack as 4-bit."""
    return any(
        (abs(width - a) <= 2 and abs(height - b) <= 2) or (abs(width - b) <= 2 and abs(height - a) <= 2)
        for a, b in IMOD_PACKED_SIZES
    )


def _kept_mrc_header(record: Any) -> tuple[np.ndarray | None, bytes, bytes]:
    """(header, extended header, EXTTYP) of the MRC file a TIFF was converted from, as
    the conversion kept them in the metadata (:func:`mrczio.header.header_record`)."""
    if not isinstance(record, dict):
        return None, b"", b""
    try:
        header = mrc.header_from_record(record)
        extended = bytes.fromhex(str(record.get("extended_header", "")))
    except (TypeError, ValueError):
        return None, b"", b""  # a damaged record: the pixels and voxel size still read
    return header, extended, str(record.get("exttyp", "")).encode("latin-1")[:4] if extended else b""


# -- reading ---------------------------------------------------------------------------


def _open_stream(path: str) -> tuple[BinaryIO, int]:
    """(binary stream, size) for a local path or, through :mod:`mrczio.remote`, a URL
    (tifffile then reads page directories and strips by range requests)."""
    if is_url(path):
        stream = SourceStream(open_positional(path))
        return cast(BinaryIO, stream), stream.source.size
    fd = open_regular_file(path)  # missing, directory, FIFO: mrczio errors, no hang
    handle = open(path, "rb", opener=lambda _path, _flags: fd)  # noqa: SIM115
    return handle, os.fstat(fd).st_size


class TiffReader(StackReader):
    """Pages of a TIFF as frames; decodes a page only when it is asked for.

    One reader may be shared between threads: tifffile keeps one file position and
    parses page directories lazily, so page access and decoding are serialised by a lock
    (decoding in parallel needs one reader per thread).
    """

    thread_safe = True

    def __init__(self, path: str, *, permissive: bool = False) -> None:
        import tifffile  # imported here: most reads never touch TIFF

        self._handle, self._size = _open_stream(path)
        self._lock = threading.Lock()
        self._permissive = permissive
        try:
            self._tif = tifffile.TiffFile(self._handle)
        except (tifffile.TiffFileError, ValueError, OSError) as exc:
            self._handle.close()
            raise FormatError(path, f"not a readable TIFF: {exc}") from exc
        try:
            super().__init__(self._describe(path))
        except BaseException:
            self.close()
            raise

    def _describe(self, path: str) -> ReaderInfo:
        pages = self._tif.pages
        if len(pages) == 0:
            raise FormatError(path, "TIFF contains no pages")
        first = pages.first
        if first.samplesperpixel != 1 or len(first.shape) != 2:
            raise FormatError(
                path,
                f"pages of shape {first.shape} with {first.samplesperpixel} samples are not grey frames",
            )
        try:
            last_offset = int(pages[-1].offset)
        except Exception as exc:  # tifffile raises many kinds for a damaged directory
            if not self._permissive:
                raise CorruptFrameError(
                    path, f"page {len(pages) - 1}: its directory cannot be read: {exc}", frame=len(pages) - 1
                ) from exc
        else:
            self._check_chain_end(path, last_offset)
        info = self._own_description(first)
        self._page_shape = tuple(int(n) for n in first.shape)
        self._page_dtype = np.dtype(first.dtype).newbyteorder("=")
        self._packing = info.get("packed4bit") or self._guess_packing(first)
        self._flip = info.get("rows", "bottom-up") != "top-down"
        ny, nx = self._page_shape
        if self._packing == "serialem":
            nx = int(info.get("width", 2 * nx))
        metadata = dict(info.get("metadata", {}))
        header, extended, exttyp = _kept_mrc_header(metadata.pop(mrc.HEADER_RECORD_KEY, None))
        return ReaderInfo(
            path=path, format_name="tiff", frame_shape=(ny, nx),
            dtype=np.dtype(np.uint8) if self._packing else self._page_dtype, n_frames=len(pages),
            voxel_size=self._voxel_size(first, info), metadata=metadata, header=header,
            extended_header=extended, exttyp=exttyp, geometry=geometry_of(header),
        )  # fmt: skip

    def _check_chain_end(self, path: str, last_offset: int) -> None:
        """The last page tifffile found must end the page chain.

        tifffile stops at a page directory it cannot read (a file cut inside the chain)
        and only logs it, which would silently drop every later page. The last page's
        "next directory" field is read here: a non-zero value means pages are missing.
        ``permissive=True`` turns the error into a warning and reads the pages found.
        """
        fmt = self._tif.tiff
        count_bytes = self._read_upto(last_offset, fmt.tagnosize)
        count = struct.unpack(fmt.tagnoformat, count_bytes)[0] if len(count_bytes) == fmt.tagnosize else 0
        raw = self._read_upto(last_offset + fmt.tagnosize + count * fmt.tagsize, fmt.offsetsize)
        following = struct.unpack(fmt.offsetformat, raw)[0] if len(raw) == fmt.offsetsize else -1
        if following == 0:
            return
        n_found = len(self._tif.pages)
        where = (
            "past the end of the file" if following < 0 or following >= self._size else f"at byte {following}"
        )
        message = (
            f"the TIFF page chain breaks after page {n_found - 1}: the next page's directory "
            f"({where}) is missing or damaged, so later pages are lost"
        )
        if not self._permissive:
            error = TruncatedFileError if following < 0 or following >= self._size else FormatError
            raise error(path, message + " (open with permissive=True to read the pages found)")
        warnings.warn(f"{path}: {message}; reading the {n_found} pages found", MrczioWarning, stacklevel=5)

    def _read_upto(self, offset: int, count: int) -> bytes:
        """Up to ``count`` bytes at ``offset`` (fewer at the end of the file); the stream's
        position, which tifffile relies on, is kept."""
        with self._lock:
            position = self._handle.tell()
            try:
                self._handle.seek(offset)
                return self._handle.read(max(0, min(count, self._size - offset)))
            finally:
                self._handle.seek(position)

    def _own_description(self, page: Any) -> dict[str, Any]:
        """The ``mrczio`` block of a description this module wrote, else {}.

        Any other description (another program's text, or JSON too deep or too large
        for mrczio's metadata bounds) is ignored as foreign.
        """
        from mrczio_builtin.meta_json import load_json_object

        try:
            value = load_json_object(str(page.description or ""), "TIFF description")
        except MetadataError:
            return {}
        block = value.get(DESCRIPTION_KEY)
        return block if isinstance(block, dict) else {}

    @staticmethod
    def _guess_packing(page: Any) -> str | None:
        if page.bitspersample == 4:
            return "standard"
        ny, nx = page.shape
        if page.dtype == np.uint8 and is_packed_size(nx, ny):
            return "serialem"
        return None

    @staticmethod
    def _voxel_size(page: Any, info: Mapping[str, Any]) -> VoxelSize:
        stored = info.get("voxel_size")
        if isinstance(stored, list) and len(stored) == 3:
            return VoxelSize(*(float(v) for v in stored))
        unit = page.tags.valueof("ResolutionUnit", 1)
        per = {2: ANGSTROM_PER_INCH, 3: ANGSTROM_PER_CM}.get(int(unit))
        xres, yres = page.tags.valueof("XResolution"), page.tags.valueof("YResolution")
        if per is None or not xres or not yres or not xres[0] or not yres[0]:
            return VoxelSize(0.0, 0.0, 0.0)
        return VoxelSize(per * xres[1] / xres[0], per * yres[1] / yres[0], 0.0)

    def _read_frames(self, start: int, stop: int, out: np.ndarray) -> None:
        for k in range(start, stop):
            with self._lock:
                frame = self._decode_page(k)
            out[k - start] = frame[::-1] if self._flip else frame

    def _decode_page(self, k: int) -> np.ndarray:
        page = self._page(k)
        try:
            data = page.asarray()
        except MrczioError:
            raise
        except Exception as exc:  # tifffile raises many kinds for damaged or unsupported pages
            raise CorruptFrameError(self.path, f"page {k} could not be decoded: {exc}", frame=k) from exc
        if self._packing == "serialem":
            ny, nx = self.frame_shape
            data = unpack_nibbles(data.reshape(1, -1), ny, nx)[0]
        return np.asarray(data)

    def _page(self, k: int) -> Any:
        """Page k, checked to match page 0 and to lie inside the file."""
        try:
            page = self._tif.pages[k]
        except MrczioError:
            raise
        except Exception as exc:  # a damaged page directory
            raise CorruptFrameError(self.path, f"page {k} cannot be found: {exc}", frame=k) from exc
        if (
            tuple(page.shape) != self._page_shape
            or np.dtype(page.dtype).newbyteorder("=") != self._page_dtype
        ):
            raise CorruptFrameError(
                self.path,
                f"page {k} is {page.shape} {page.dtype}, unlike page 0 ({self._page_shape} {self._page_dtype})",
                frame=k,
            )
        end = max((o + c for o, c in zip(page.dataoffsets, page.databytecounts, strict=False)), default=0)
        if end > self._size:
            raise TruncatedFileError(
                self.path, f"page {k} needs bytes up to {end} but the file has {self._size} bytes"
            )
        return page

    def close(self) -> None:
        with self._lock:
            if hasattr(self, "_tif"):
                self._tif.close()
            self._handle.close()


# -- writing ---------------------------------------------------------------------------


class TiffStackWriter(StackWriter):
    """Writes one TIFF page per frame to a temporary file, renamed into place at close."""

    def __init__(self, request: WriteRequest) -> None:
        options = request.options
        self.path = request.path
        self.frame_shape = request.frame_shape
        self.dtype = np.dtype(request.dtype).newbyteorder("=")
        self._packing = _packing(options)
        self._compression, self._compressionargs = _compression(options, self._packing)
        self._flip = bool(options.get("flip_y", True))
        self._clip = bool(options.get("clip", False))
        self._predictor = bool(options.get("predictor", False))
        self.clipped_pixels = 0
        self._pages = 0
        self._check_data(request)
        self._description = _description(request, self._packing, self._flip)
        self._resolution = _resolution(request.voxel_size)
        self._file = AtomicFile(
            self.path,
            overwrite=bool(options.get("overwrite", False)),
            fsync=bool(options.get("fsync", False)),
        )
        try:
            import tifffile

            self._tiff = tifffile.TiffWriter(self._file.file, bigtiff=_wants_bigtiff(request))
        except BaseException:
            self._file.abort()
            raise

    def _check_data(self, request: WriteRequest) -> None:
        if self._packing and self.dtype != np.uint8:
            raise ConversionError(f"{self.path}: 4-bit TIFF stores uint8 values 0..15, not {self.dtype}")
        if self._packing == "serialem" and self.frame_shape[1] % 2:
            raise ConversionError(
                f"{self.path}: SerialEM's packed 4-bit TIFF needs an even width, not {self.frame_shape[1]}; "
                "use packed4bit='standard' or an 8-bit TIFF"
            )
        if request.options.get("metadata_format", "json") != "json":
            raise OptionError(f"{self.path}: TIFF keeps metadata as JSON only (metadata_format='json')")

    def _write_block(self, block: np.ndarray) -> None:
        if self._packing:
            block = self._nibbles(block)
        for frame in block:
            self._write_page(frame[::-1] if self._flip else frame)

    def _nibbles(self, block: np.ndarray) -> np.ndarray:
        if self._clip:
            block, clipped = Packed4BitMode.clip(block)
            self.clipped_pixels += clipped
        try:
            packed = pack_nibbles(block)  # also refuses values above 15
        except ConversionError as exc:
            raise ConversionError(f"{self.path}: {exc}") from None
        if self._packing == "serialem":
            return packed.reshape(block.shape[0], block.shape[1], -1)
        return block

    def _write_page(self, page: np.ndarray) -> None:
        first = self._pages == 0
        self._pages += 1
        try:
            self._tiff.write(
                np.ascontiguousarray(page), photometric="minisblack", compression=self._compression,
                compressionargs=self._compressionargs, predictor=self._predictor,
                bitspersample=4 if self._packing == "standard" else None,
                description=self._description if first else None, metadata=None,
                resolution=self._resolution, resolutionunit="CENTIMETER" if self._resolution else None,
                software="mrczio", contiguous=False,
            )  # fmt: skip
        except (ValueError, TypeError, RuntimeError) as exc:
            raise CodecError(f"{self.path}: TIFF page could not be written: {exc}") from exc

    def _finish(self) -> None:
        self._tiff.close()
        self._file.commit()
        if self.clipped_pixels:
            from warnings import warn

            from mrczio.errors import MrczioWarning

            warn(
                f"{self.path}: clipped {self.clipped_pixels} pixels above 15 (clip=True)",
                MrczioWarning,
                stacklevel=3,
            )

    def _discard(self) -> None:
        with contextlib.suppress(Exception):  # the temporary file is removed either way
            self._tiff.close()
        self._file.abort()


def _packing(options: Mapping[str, Any]) -> str | None:
    value = options.get("packed4bit")
    if value not in PACKINGS:
        raise OptionError(f"packed4bit must be True, 'serialem', 'standard' or False, not {value!r}")
    return PACKINGS[value]


def _compression(options: Mapping[str, Any], packing: str | None) -> tuple[Any, dict[str, Any] | None]:
    asked = options.get("compression")
    name = str(asked if asked is not None else ("none" if packing == "standard" else "lzw")).lower()
    if name not in COMPRESSIONS:
        raise OptionError(f"TIFF compression must be one of {', '.join(COMPRESSIONS)}, not {name!r}")
    if packing == "standard" and name != "none":
        raise OptionError("packed4bit='standard' (BitsPerSample 4) is written uncompressed only")
    level = options.get("level")
    args = {"level": int(level)} if level is not None and name not in ("lzw", "none") else None
    return COMPRESSIONS[name], args


def _description(request: WriteRequest, packing: str | None, flip: bool) -> str:
    block: dict[str, Any] = {"version": 1, "rows": "bottom-up" if flip else "top-down"}
    if request.voxel_size is not None:
        block["voxel_size"] = [float(v) for v in request.voxel_size]
    if packing:
        block["packed4bit"] = packing
        block["width"] = request.frame_shape[1]
    if request.metadata:
        from mrczio_builtin.meta_json import JsonSerializer

        block["metadata"] = json.loads(JsonSerializer().dumps(request.metadata))
    return json.dumps({DESCRIPTION_KEY: block})


def _resolution(voxel: tuple[float, float, float] | None) -> tuple[float, float] | None:
    if voxel is None or voxel[0] <= 0 or voxel[1] <= 0:
        return None
    return (ANGSTROM_PER_CM / voxel[0], ANGSTROM_PER_CM / voxel[1])


def _wants_bigtiff(request: WriteRequest) -> bool:
    asked = request.options.get("bigtiff")
    if asked is not None:
        return bool(asked)
    if request.n_frames is None:
        return False
    ny, nx = request.frame_shape
    return request.n_frames * ny * nx * np.dtype(request.dtype).itemsize > CLASSIC_LIMIT


class TiffFormat(FileFormat):
    name = "tiff"
    extensions = (".tif", ".tiff")
    description = "multi-page TIFF, one page per frame (LZW by default), rows flipped as IMOD/RELION do"

    def claim(self, head: bytes, path: str) -> float:
        return 0.9 if head[:4] in TIFF_MAGICS else 0.0

    def open_reader(
        self, path: str, registry: Registry, *, permissive: bool = False, verify: bool = True
    ) -> StackReader:
        return TiffReader(os.fspath(path), permissive=permissive)

    def open_writer(self, request: WriteRequest, registry: Registry) -> StackWriter:
        unknown = sorted(set(request.options) - WRITE_OPTIONS)
        if unknown:
            raise OptionError(
                f"format 'tiff' does not take option(s) {', '.join(unknown)}; "
                f"it takes: {', '.join(sorted(WRITE_OPTIONS))}"
            )
        return TiffStackWriter(request)

    def write_options(self) -> list[str]:
        return sorted(WRITE_OPTIONS)

    def storage_limits(self, dtype: np.dtype[Any], options: Mapping[str, Any]) -> StorageLimits:
        if options.get("packed4bit"):
            return StorageLimits(np.dtype(np.uint8), MAX_4BIT, "4-bit packing")
        return StorageLimits(np.dtype(dtype))


@hookimpl
def mrczio_register_formats() -> list[Any]:
    return [TiffFormat()]
