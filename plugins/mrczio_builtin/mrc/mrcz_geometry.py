"""How an MRCZ file keeps map geometry that python-mrcz would misread.

python-mrcz reads MZ as "slices per frame" (0: one monolithic array) and computes the
pixel size as CELLA / (NX, NY, NZ). So an MRCZ header written by mrczio says CELLA z =
voxel z * NZ, and MZ 0, except for volume stacks (ISPG 401..630), whose MZ already means
"sections per volume" to both and is kept. The source's own MZ and CELLA, when a reader could not
derive them from that header (:func:`derived`), are kept in the metadata under
:data:`mrczio.header.HEADER_RECORD_KEY` and put back on reading
(:func:`geometry_header`), so MRC -> MRCZ -> MRC reproduces the header.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from mrczio import header as mrc


def written(template: np.ndarray, nz: int) -> tuple[int, tuple[float, float, float]]:
    """(MZ, CELLA) an MRCZ header gets for data carried from ``template``."""
    cella = tuple(float(c) for c in template["cella"])
    mz = int(template["mz"]) if mrc.is_volume_stack(template) else 0
    voxel_z = mrc.voxel_size(template)[2]
    return mz, (cella[0], cella[1], float(np.float32(voxel_z * nz)))


def derived(header: np.ndarray) -> tuple[int, tuple[float, float, float]]:
    """(MZ, CELLA) in MRC2014's sense, inferred from an MRCZ header alone."""
    cx, cy, cz = (float(c) for c in header["cella"])
    mz, nz, ispg = int(header["mz"]), int(header["nz"]), int(header["ispg"])
    if mz != 0 and not mrc.is_volume_stack(header):
        return mz, (cx, cy, cz)  # python-mrcz's "list of mz-section frames"
    mz = mz or mrc.default_mz(ispg, nz)
    if nz > 0 and mz > 0:
        cz = float(np.float32(cz / nz * mz))
    return mz, (cx, cy, cz)


def record_for(template: np.ndarray, header: np.ndarray) -> dict[str, Any] | None:
    """What the metadata must keep so :func:`geometry_header` restores ``template``'s MZ
    and CELLA from the written ``header``; None when they can be derived."""
    want = (int(template["mz"]), tuple(float(np.float32(c)) for c in template["cella"]))
    if int(template["mz"]) <= 0 or derived(header) == want:
        return None
    return mrc.header_record(template, ("mz", "cella"))


def geometry_header(header: np.ndarray, record: Any) -> np.ndarray:
    """A copy of an MRCZ ``header`` with MZ and CELLA as the source file had them."""
    restored = header.copy()
    mz, cella = derived(header)
    restored["mz"], restored["cella"] = mz, cella
    if isinstance(record, dict):
        # a damaged record: keep what the header itself says
        with contextlib.suppress(TypeError, ValueError):
            mrc.apply_record(restored, {k: record[k] for k in ("mz", "cella") if k in record})
    return restored
