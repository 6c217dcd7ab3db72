"""Plain (uncompressed) MRC2014 files: ``.mrc``, ``.mrcs``, ``.map``, ``.st``, ``.ali``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mrczio import header as mrc
from mrczio.contracts import FileFormat, WriteRequest
from mrczio.errors import FormatError, MrczioError, TruncatedFileError
from mrczio.fileio import PositionalFile
from mrczio.hookspecs import hookimpl
from mrczio.reader import StackReader
from mrczio.registry import Registry
from mrczio.writer import StackWriter
from mrczio_builtin.mrc_layout import MrcLayout, complain, read_layout
from mrczio_builtin.mrc_writer import COMMON_OPTIONS, MrcFamilyWriter, check_options


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


class MrcLayoutReader(StackReader):
    """Fields every MRC-family reader fills from its :class:`MrcLayout`."""

    def _adopt(self, layout: MrcLayout, format_name: str, n_frames: int) -> None:
        self.path = layout.path
        self.format_name = format_name
        self.layout = layout
        self.frame_shape = layout.frame_shape
        self.n_frames = n_frames
        self.dtype = layout.dtype
        self.shape = layout.data_shape(n_frames)
        self.voxel_size = layout.voxel_size
        self.header = layout.header
        self.metadata = layout.metadata
        self.extended_header = layout.extended_header
        self.exttyp = layout.exttyp

    def _to_native(self, out: np.ndarray) -> None:
        if self.layout.byteorder != ("<" if np.little_endian else ">") and out.dtype.itemsize > 1:
            out.byteswap(inplace=True)


class MrcReader(MrcLayoutReader):
    """Reads sections straight from the file into the output array."""

    def __init__(self, path: str, registry: Registry, *, permissive: bool = False) -> None:
        self._file = PositionalFile(path)
        try:
            layout = read_layout(self._file, registry, permissive=permissive)
            if layout.compressor_id:
                raise FormatError(path, f"is compressed (MODE {int(layout.header['mode'])}); read it as MRCZ")
            self._adopt(layout, "mrc", self._count_frames(layout, permissive))
        except BaseException:
            self._file.close()
            raise

    @staticmethod
    def _count_frames(layout: MrcLayout, permissive: bool) -> int:
        available = layout.data_limit - layout.data_offset
        section = layout.section_nbytes
        if section == 0:
            return layout.nz
        needed = layout.nz * section
        if needed > available:
            complain(
                layout.path,
                f"data needs {needed} bytes ({layout.nz} sections of {section}) but only "
                f"{available} follow the header",
                permissive,
                TruncatedFileError,
            )
            return available // section
        return layout.nz

    def _read_frames(self, start: int, stop: int, out: np.ndarray) -> None:
        layout = self.layout
        offset = layout.data_offset + start * layout.section_nbytes
        if layout.mode.packed:
            raw = np.empty((stop - start, layout.section_nbytes), dtype=np.uint8)
            self._file.readinto_at(offset, memoryview(raw.data), what="packed sections")
            out[...] = layout.mode.unpack(raw, layout.ny, layout.nx)
            return
        self._file.readinto_at(offset, out.reshape(-1).view(np.uint8).data, what="sections")
        self._to_native(out)

    def close(self) -> None:
        self._file.close()


class MrcFormat(FileFormat):
    name = "mrc"
    extensions = (".mrc", ".mrcs", ".map", ".st", ".ali", ".rec", ".ccp4")
    description = "MRC2014 (uncompressed), as mrcfile, IMOD, RELION and CCP4 read it"

    def claim(self, head: bytes, path: str) -> float:
        return claim_mrc_header(head, compressed=False)

    def open_reader(self, path: str, registry: Registry, *, permissive: bool = False) -> StackReader:
        return MrcReader(path, registry, permissive=permissive)

    def open_writer(self, request: WriteRequest, registry: Registry) -> StackWriter:
        check_options(self.name, request.options, COMMON_OPTIONS)
        return MrcFamilyWriter(request, registry, codec=None, settings=None)

    def open_appender(self, path: str, registry: Registry, options: Mapping[str, Any]) -> StackWriter:
        from mrczio_builtin.mrc_append import MrcAppender

        return MrcAppender(path, registry, dict(options))

    def write_options(self) -> list[str]:
        return sorted(COMMON_OPTIONS)


@hookimpl
def mrczio_register_formats() -> list[Any]:
    return [MrcFormat()]
