"""Plain (uncompressed) MRC2014 files: ``.mrc``, ``.mrcs``, ``.map``, ``.st``, ``.ali``."""

from __future__ import annotations

from typing import Any

import numpy as np

from mrczio.contracts import WriteRequest
from mrczio.errors import ChecksumError, FormatError, TruncatedFileError
from mrczio.hookspecs import hookimpl
from mrczio.positional import open_positional
from mrczio.reader import StackReader
from mrczio.registry import Registry
from mrczio.writer import StackWriter
from mrczio_builtin.mrc.checksums import crc
from mrczio_builtin.mrc.chunk_index import frame_crcs
from mrczio_builtin.mrc.family import MrcFamilyFormat
from mrczio_builtin.mrc.header_policy import COMMON_OPTIONS, check_options
from mrczio_builtin.mrc.layout import MrcLayout, claim_mrc_header, read_layout
from mrczio_builtin.mrc.problems import complain
from mrczio_builtin.mrc.reader_base import MrcLayoutReader


class MrcReader(MrcLayoutReader):
    """Reads sections straight from the file into the output array."""

    def __init__(
        self, path: str, registry: Registry, *, permissive: bool = False, verify: bool = True
    ) -> None:
        self._file = open_positional(path)
        try:
            layout = read_layout(self._file, registry, permissive=permissive, verify=verify)
            self._crcs = frame_crcs(layout) if verify else None
            if self._crcs is not None and len(self._crcs) != layout.nz:
                raise FormatError(
                    path, f"the checksum block lists {len(self._crcs)} sections, the header {layout.nz}"
                )
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
            self._check_sections(start, raw)
            out[...] = layout.mode.unpack(raw, layout.ny, layout.nx)
            return
        self._file.readinto_at(offset, out.reshape(-1).view(np.uint8).data, what="sections")
        self._check_sections(start, out)
        self._to_native(out)

    def _check_sections(self, start: int, stored: np.ndarray) -> None:
        """Compare sections as stored (before byte swapping) with their checksums."""
        if self._crcs is None:
            return
        for k, section in enumerate(stored.reshape(len(stored), -1), start):
            if crc(section.view(np.uint8).data) != self._crcs[k]:
                raise ChecksumError(
                    self.path, f"section {k} does not match its checksum (the file is damaged)", frame=k
                )

    def close(self) -> None:
        self._file.close()


class MrcFormat(MrcFamilyFormat):
    name = "mrc"
    keeps_packing = True
    extensions = (".mrc", ".mrcs", ".map", ".st", ".ali", ".rec", ".ccp4")
    description = "MRC2014 (uncompressed), as mrcfile, IMOD, RELION and CCP4 read it"

    def claim(self, head: bytes, path: str) -> float:
        return claim_mrc_header(head, compressed=False)

    def open_reader(
        self, path: str, registry: Registry, *, permissive: bool = False, verify: bool = True
    ) -> StackReader:
        return MrcReader(path, registry, permissive=permissive, verify=verify)

    def open_writer(self, request: WriteRequest, registry: Registry) -> StackWriter:
        from mrczio_builtin.mrc.writer import MrcFamilyWriter  # reading never loads it

        check_options(self.name, request.options, COMMON_OPTIONS)
        return MrcFamilyWriter(request, registry, codec=None)

    def write_options(self) -> list[str]:
        return sorted(COMMON_OPTIONS)


@hookimpl
def mrczio_register_formats() -> list[Any]:
    return [MrcFormat()]
