"""What plain MRC and MRCZ files share: the header, the extended header, metadata.

Reading turns the first bytes of a file into an :class:`MrcLayout` (sizes, pixel mode,
where data starts and may end, decoded metadata) after checking every size against the
real file size, so a lying header raises instead of allocating.

Metadata lives either in the extended header (EXTTYP names the serializer, as
python-mrcz does with ``json``) or in the footer after the data (:mod:`.footer`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from mrczio import header as mrc
from mrczio.byte_source import ByteSource
from mrczio.contracts import MetadataSerializer, PixelMode
from mrczio.errors import (
    ChecksumError,
    FormatError,
    MetadataError,
    MrczioError,
    PermissiveReadWarning,
    TruncatedFileError,
)
from mrczio.reader import VoxelSize
from mrczio.registry import Registry
from mrczio_builtin.mrc.checksums import ChecksumBlock, find_damaged_block, read_block, verify_span
from mrczio_builtin.mrc.footer import read_footer
from mrczio_builtin.mrc.mrcz_geometry import geometry_header
from mrczio_builtin.mrc.packed4bit import MODE_4BIT, imod_mode0_packed, widen_imod_header
from mrczio_builtin.mrc.problems import complain


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
    #: The serializer the metadata was stored with ("json", "msgpack"...), or None.
    metadata_format: str | None
    #: The checksum block and chunk index (files mrczio wrote), or None.
    checksums: ChecksumBlock | None
    #: The header with MZ and CELLA as MRC2014 means them (MRCZ files: restored or
    #: derived, see :mod:`.mrcz_geometry`); the header itself for plain MRC.
    geometry_header: np.ndarray

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
        ispg, mz = int(self.geometry_header["ispg"]), int(self.geometry_header["mz"])
        if 401 <= ispg <= 630 and mz > 0 and n_frames % mz == 0:
            return (n_frames // mz, mz, self.ny, self.nx)
        if n_frames == 1 and ispg == 0:
            return (self.ny, self.nx)
        return (n_frames, self.ny, self.nx)


def read_layout(
    source: ByteSource, registry: Registry, *, permissive: bool, verify: bool = True
) -> MrcLayout:
    """Read and check everything before the pixels. With ``verify``, the header, the
    extended header and the metadata are checked against the checksum block."""
    path = source.path
    block = _checksum_block(source, mrc.HEADER_SIZE, permissive)
    if block is not None and verify:
        _verify_head(source, block)  # before parsing: a damaged header is reported as such
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
    if block is not None and block.data_end < data_offset:
        raise FormatError(path, "the checksum block overlaps the extended header")
    if block is None and find_damaged_block(source, int(header["nz"]), data_offset):
        complain(
            path,
            "the checksum block at the end of the file is truncated or damaged",
            permissive,
            ChecksumError,
        )
    end = block.start if block is not None else source.size
    extended = source.read_at(mrc.HEADER_SIZE, nsymbt, what="extended header")
    exttyp = bytes(header["exttyp"].item())
    metadata, location, data_limit, serializer = _read_metadata(
        source, registry, extended, exttyp, data_offset, permissive, end
    )
    dtype = np.dtype(np.uint8) if mode_code == 0 and mrc.is_unsigned_bytes(header) else mode.dtype
    record = metadata.pop(mrc.HEADER_RECORD_KEY, None)
    return MrcLayout(
        path=path, header=header, byteorder=mrc.header_byteorder(header),
        compressor_id=compressor_id, mode=mode, dtype=dtype,
        nx=int(header["nx"]), ny=int(header["ny"]), nz=int(header["nz"]),
        data_offset=data_offset, data_limit=data_limit, extended_header=extended,
        exttyp=exttyp, metadata=metadata, metadata_location=location, checksums=block,
        metadata_format=serializer.name if serializer is not None else None,
        geometry_header=geometry_header(header, record) if compressor_id else header,
    )  # fmt: skip


def _check_header_basics(path: str, header: np.ndarray, permissive: bool) -> None:
    if bytes(header["map"])[:3] != b"MAP" and not mrc.written_by_python_mrcz(header):
        # c-mrcz and some old writers omit MAP; sizes were already found plausible.
        complain(path, "map ID string 'MAP ' is missing at byte 208", permissive=True)
    if (int(header["nx"]) == 0 or int(header["ny"]) == 0) and int(header["nz"]) != 0:
        raise FormatError(path, f"frame size {int(header['nx'])}x{int(header['ny'])} is empty")


def _checksum_block(source: ByteSource, data_offset: int, permissive: bool) -> ChecksumBlock | None:
    try:
        return read_block(source, data_offset)
    except FormatError as exc:
        if not permissive:
            raise
        warnings.warn(f"{exc}; checksums ignored", PermissiveReadWarning, stacklevel=4)
        return None


def _verify_head(source: ByteSource, block: ChecksumBlock) -> None:
    """The header, extended header and metadata footer against their checksums."""
    verify_span(source, 0, block.header_bytes, block.header_crc, "the header or extended header")
    if block.middle_bytes:
        verify_span(source, block.data_end, block.middle_bytes, block.middle_crc, "the metadata footer")


def _read_metadata(
    source: ByteSource,
    registry: Registry,
    extended: bytes,
    exttyp: bytes,
    data_offset: int,
    permissive: bool,
    end: int,
) -> tuple[dict[str, Any], str | None, int, MetadataSerializer | None]:
    """(metadata, where it was found, end of the data region, its serializer)."""
    footer = read_footer(source, registry, data_offset, permissive, end)
    if footer is not None:
        serializer, payload, footer_start = footer
        return _decode(source.path, serializer, payload, permissive), "footer", footer_start, serializer
    in_header = registry.serializer_for_exttyp(exttyp) if extended else None
    if in_header is not None:
        return _decode(source.path, in_header, extended, permissive), "extended", end, in_header
    return {}, None, end, None


def _decode(path: str, serializer: MetadataSerializer, payload: bytes, permissive: bool) -> dict[str, Any]:
    try:
        return serializer.loads(payload)
    except MetadataError as exc:
        if not permissive:
            raise MetadataError(f"{path}: {exc}") from exc
        warnings.warn(f"{path}: {exc}; metadata skipped", PermissiveReadWarning, stacklevel=4)
        return {}


def claim_mrc_header(head: bytes, compressed: bool) -> float:
    """Confidence that ``head`` is an MRC header with (or without) an MRCZ compressor."""
    if len(head) < mrc.HEADER_SIZE:
        return 0.0
    try:
        header = mrc.parse_header(head, "<claim>")
    except MrczioError:
        return 0.0
    if (mrc.split_mode(header)[0] > 0) != compressed:
        return 0.0
    has_map = bytes(header["map"])[:3] == b"MAP"
    if not has_map and all(int(header[k]) == 0 for k in ("nx", "ny", "nz")):
        return 0.0  # no MAP and no sizes: a block of zeros, not an MRC header
    return 0.9 if has_map else 0.5
