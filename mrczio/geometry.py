"""Map geometry: where a 3-D map sits in its crystal frame, as the MRC2014 header says.

Voxel size is not enough for maps: EMDB maps carry a space group, an axis order
(MAPC/MAPR/MAPS), start indices, a unit cell that may be monoclinic, and an origin.
Readers of MRC-family files expose this as ``reader.geometry``; formats without such
a header give ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MapGeometry:
    """The geometry fields of an MRC2014 header, typed.

    ``axis_order`` is (MAPC, MAPR, MAPS): which crystal axis (1 = x, 2 = y, 3 = z) runs
    along columns, rows and sections. ``start`` is (NXSTART, NYSTART, NZSTART) in the
    same column/row/section order, ``sampling`` (MX, MY, MZ) the unit-cell grid, cell
    lengths in Angstrom and angles in degrees, ``origin`` in Angstrom.
    """

    space_group: int
    axis_order: tuple[int, int, int]
    start: tuple[int, int, int]
    sampling: tuple[int, int, int]
    cell_lengths: tuple[float, float, float]
    cell_angles: tuple[float, float, float]
    origin: tuple[float, float, float]
    sections: int
    frame_shape: tuple[int, int]

    @classmethod
    def from_header(cls, header: np.ndarray) -> MapGeometry:
        def ints(*names: str) -> tuple[int, int, int]:
            a, b, c = (int(header[n]) for n in names)
            return (a, b, c)

        def floats(name: str) -> tuple[float, float, float]:
            a, b, c = (float(v) for v in header[name])
            return (a, b, c)

        return cls(
            space_group=int(header["ispg"]),
            axis_order=ints("mapc", "mapr", "maps"),
            start=ints("nxstart", "nystart", "nzstart"),
            sampling=ints("mx", "my", "mz"),
            cell_lengths=floats("cella"),
            cell_angles=floats("cellb"),
            origin=floats("origin"),
            sections=int(header["nz"]),
            frame_shape=(int(header["ny"]), int(header["nx"])),
        )

    @property
    def is_image_stack(self) -> bool:
        """ISPG 0: a stack of 2-D images (movie frames, particles)."""
        return self.space_group == 0

    @property
    def is_volume_stack(self) -> bool:
        """ISPG 401..630 with MZ dividing NZ: several volumes of MZ sections each."""
        depth = self.sampling[2]
        return 401 <= self.space_group <= 630 and depth > 0 and self.sections % depth == 0

    @property
    def volume_shape(self) -> tuple[int, int, int] | None:
        """(sections, ny, nx) of one volume of a volume stack, else None."""
        if not self.is_volume_stack:
            return None
        return (self.sampling[2], *self.frame_shape)

    @property
    def n_volumes(self) -> int:
        """Volumes in a volume stack; 1 for a single map; 0 for an image stack."""
        if self.is_volume_stack:
            return self.sections // self.sampling[2]
        return 0 if self.is_image_stack else 1


def geometry_of(header: np.ndarray | None) -> MapGeometry | None:
    """The geometry of an MRC header, or None without one."""
    return None if header is None else MapGeometry.from_header(header)


__all__ = ["MapGeometry", "geometry_of"]
