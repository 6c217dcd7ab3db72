"""What the plain MRC and the MRCZ reader share: adopting a layout, byte order, info."""

from __future__ import annotations

from typing import Any

import numpy as np

from mrczio import header as mrc
from mrczio.geometry import MapGeometry
from mrczio.reader import ReaderInfo, StackReader
from mrczio_builtin.mrc.layout import MrcLayout


class MrcLayoutReader(StackReader):
    """A reader whose file is described by an :class:`MrcLayout`."""

    layout: MrcLayout
    thread_safe = True  # positional reads, per-thread chunk buffers

    def _adopt(self, layout: MrcLayout, format_name: str, n_frames: int) -> None:
        self.layout = layout
        super().__init__(
            ReaderInfo(
                path=layout.path, format_name=format_name, frame_shape=layout.frame_shape,
                n_frames=n_frames, dtype=layout.dtype, shape=layout.data_shape(n_frames),
                voxel_size=layout.voxel_size, header=layout.geometry_header, metadata=layout.metadata,
                extended_header=layout.extended_header, exttyp=layout.exttyp,
                geometry=MapGeometry.from_header(layout.geometry_header),
                checksums=layout.checksums is not None,
            )
        )  # fmt: skip

    def _to_native(self, out: np.ndarray) -> None:
        if self.layout.byteorder != ("<" if np.little_endian else ">") and out.dtype.itemsize > 1:
            out.byteswap(inplace=True)

    def chunk_spans(self) -> list[tuple[int, int]]:
        """(offset, length) of every frame's compressed chunk; empty for plain MRC."""
        return []

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info["header"] = mrc.header_summary(self.layout.header)
        info["mode"] = self.layout.mode.code
        info["metadata_location"] = self.layout.metadata_location
        info["checksums"] = "CRC-32C" if self.layout.checksums is not None else None
        return info
