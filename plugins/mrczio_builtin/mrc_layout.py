"""What plain MRC and MRCZ files share: the header, the extended header, metadata.

Reading turns the first bytes of a file into an :class:`MrcLayout` (sizes, pixel mode,
where data starts and may end, decoded metadata) after checking every size against the
real file size, so a lying header raises instead of allocating.

Metadata lives either in the extended header (EXTTYP names the serializer, as
python-mrcz does with ``json``) or in a footer after the data, laid out as::

    payload | exttyp (4 bytes) | payload length (uint64 LE) | b"MRCZMETA"

The footer is used when asked for, or when the extended header already holds something
else (an FEI1 or SERI block being preserved).
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from mrczio import header as mrc
from mrczio.contracts import MetadataSerializer, PixelMode
from mrczio.errors import FormatError, MetadataError, PermissiveReadWarning, TruncatedFileError
from mrczio.fileio import PositionalFile
from mrczio.reader import VoxelSize
from mrczio.registry import Registry
from mrczio_builtin.mode4bit import MODE_4BIT, imod_mode0_packed, widen_imod_header

FOOTER_MAGIC = b"MRCZMETA"
FOOTER_TRAILER = struct.Struct("<4sQ8s")


@dataclass
class MrcLayout:
    """Everything known about an MRC-family file before reading pixels."""

    path: str
    header: np.ndarray
    byteorder: str
    compressor_id: int
    mode: PixelMode
    dtype: np.dtype[Any]
    nx: int
    ny: int
    nz: int
    data_offset: int
    data_limit: int
    extended_header: bytes
    exttyp: bytes
    metadata: dict[str, Any]
    metadata_location: str | None

    @property
    def frame_shape(self) -> tuple[int, int]:
        return (self.ny, self.nx)

    @property
    def voxel_size(self) -> VoxelSize:
        return VoxelSize(*mrc.voxel_size(self.header))

    @property
    def section_nbytes(self) -> int:
        return self.mode.section_nbytes(self.ny, self.nx)

    def data_shape(self, n_frames: int) -> tuple[int, ...]:
        """The array shape mrcfile would report, for ``n_frames`` readable sections."""
        ispg, mz = int(self.header["ispg"]), int(self.header["mz"])
        if 401 <= ispg <= 630 and mz > 0 and n_frames % mz == 0 and self.compressor_id == 0:
            return (n_frames // mz, mz, self.ny, self.nx)
        if n_frames == 1 and ispg == 0:
            return (self.ny, self.nx)
        return (n_frames, self.ny, self.nx)


def complain(path: str, message: str, permissive: bool, error: type[FormatError] = FormatError) -> None:
    """Raise ``error`` or, in permissive mode, warn and carry on."""
    if not permissive:
        raise error(path, message)
    warnings.warn(f"{path}: {message}", PermissiveReadWarning, stacklevel=3)


def read_layout(source: PositionalFile, registry: Registry, *, permissive: bool) -> MrcLayout:
    path = source.path
    header = mrc.parse_header(source.read_at(0, min(source.size, mrc.HEADER_SIZE), what="header"), path)
    _check_header_basics(path, header, permissive)
    compressor_id, mode_code = mrc.split_mode(header)
    if mode_code == 0 and imod_mode0_packed(header):
        # IMOD's older 4-bit files: mode 0 with half the true nx (see mode4bit.py).
        header, mode_code = widen_imod_header(header), MODE_4BIT
    mode = registry.mode(mode_code, path)
    nsymbt = int(header["nsymbt"])
    data_offset = mrc.HEADER_SIZE + nsymbt
    if data_offset > source.size:
        raise TruncatedFileError(
            path, f"extended header of {nsymbt} bytes runs past the end of the {source.size}-byte file"
        )
    extended = source.read_at(mrc.HEADER_SIZE, nsymbt, what="extended header")
    exttyp = bytes(header["exttyp"].item())
    metadata, location, data_limit = _read_metadata(source, registry, extended, exttyp, data_offset, permissive)
    dtype = np.dtype(np.uint8) if mode_code == 0 and mrc.is_unsigned_bytes(header) else mode.dtype
    return MrcLayout(
        path=path, header=header, byteorder=mrc.header_byteorder(header),
        compressor_id=compressor_id, mode=mode, dtype=dtype,
        nx=int(header["nx"]), ny=int(header["ny"]), nz=int(header["nz"]),
        data_offset=data_offset, data_limit=data_limit, extended_header=extended,
        exttyp=exttyp, metadata=metadata, metadata_location=location,
    )  # fmt: skip


def _check_header_basics(path: str, header: np.ndarray, permissive: bool) -> None:
    if bytes(header["map"])[:3] != b"MAP" and not mrc.written_by_python_mrcz(header):
        # c-mrcz and some old writers omit MAP; sizes were already found plausible.
        complain(path, "map ID string 'MAP ' is missing at byte 208", permissive=True)
    if (int(header["nx"]) == 0 or int(header["ny"]) == 0) and int(header["nz"]) != 0:
        raise FormatError(path, f"frame size {int(header['nx'])}x{int(header['ny'])} is empty")


def _read_metadata(
    source: PositionalFile,
    registry: Registry,
    extended: bytes,
    exttyp: bytes,
    data_offset: int,
    permissive: bool,
) -> tuple[dict[str, Any], str | None, int]:
    """(metadata, where it was found, end of the data region)."""
    footer = _read_footer(source, registry, data_offset, permissive)
    if footer is not None:
        serializer, payload, footer_start = footer
        return _decode(source.path, serializer, payload, permissive), "footer", footer_start
    in_header = registry.serializer_for_exttyp(exttyp) if extended else None
    if in_header is not None:
        return _decode(source.path, in_header, extended, permissive), "extended", source.size
    return {}, None, source.size


def _read_footer(
    source: PositionalFile, registry: Registry, data_offset: int, permissive: bool
) -> tuple[MetadataSerializer, bytes, int] | None:
    if source.size < data_offset + FOOTER_TRAILER.size:
        return None
    trailer = source.read_at(source.size - FOOTER_TRAILER.size, FOOTER_TRAILER.size, what="footer")
    exttyp, length, magic = FOOTER_TRAILER.unpack(trailer)
    if magic != FOOTER_MAGIC:
        return None
    start = source.size - FOOTER_TRAILER.size - length
    if length > source.size or start < data_offset:
        complain(source.path, f"metadata footer claims {length} bytes, more than the file holds", permissive)
        return None
    serializer = registry.serializer_for_exttyp(exttyp)
    if serializer is None:
        complain(source.path, f"metadata footer has unknown type {exttyp!r}", permissive)
        return None
    return serializer, source.read_at(start, length, what="metadata footer"), start


def _decode(path: str, serializer: MetadataSerializer, payload: bytes, permissive: bool) -> dict[str, Any]:
    try:
        return serializer.loads(payload)
    except MetadataError as exc:
        if not permissive:
            raise MetadataError(f"{path}: {exc}") from exc
        warnings.warn(f"{path}: {exc}; metadata skipped", PermissiveReadWarning, stacklevel=4)
        return {}


def footer_bytes(serializer: MetadataSerializer, payload: bytes) -> bytes:
    return payload + FOOTER_TRAILER.pack(serializer.exttyp, len(payload), FOOTER_MAGIC)
