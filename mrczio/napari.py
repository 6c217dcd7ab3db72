"""napari reader (npe2 contribution, manifest ``mrczio/napari.yaml``): movies as dask arrays.

napari calls :func:`get_reader` with a path (or a list of paths) matching the manifest's
patterns; the returned function gives one image layer per file whose data is
``reader.to_dask()`` - frames are decoded only when napari shows them. Contrast limits
come from the header's DMIN/DMAX (or a ``dmin``/``dmax`` pair in the metadata), so
napari does not read every frame to find them; only when neither is known is the middle
frame read for them. The voxel size (Angstrom) becomes the layer scale. napari itself
is never imported here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from mrczio.positional import is_url
from mrczio.reader import StackReader

LayerData = tuple[Any, dict[str, Any], str]
PathOrPaths = str | Sequence[str]
EXTENSIONS = (".mrc", ".mrcs", ".mrcz", ".map", ".st", ".ali", ".rec", ".tif", ".tiff")


def get_reader(path: PathOrPaths) -> Callable[[PathOrPaths], list[LayerData]] | None:
    """:func:`read_layers` when every path has an extension mrczio reads, else None."""
    paths = [path] if isinstance(path, str) else list(path)
    if not paths or not all(os.fspath(p).lower().endswith(EXTENSIONS) for p in paths):
        return None
    return read_layers


def read_layers(path: PathOrPaths) -> list[LayerData]:
    """One lazy image layer per file: ``(dask_array, layer keywords, "image")``."""
    from mrczio.api import open as open_reader

    layers = []
    for name in [path] if isinstance(path, str) else list(path):
        with open_reader(name) as reader:
            layers.append((reader.to_dask(), layer_keywords(reader), "image"))
    return layers


def layer_keywords(reader: StackReader) -> dict[str, Any]:
    """name, scale, contrast_limits and metadata for an image layer of ``reader``."""
    vx, vy, vz = (v if v > 0 else 1.0 for v in reader.voxel_size)
    scale = {2: (vy, vx), 3: (vz, vy, vx), 4: (1.0, vz, vy, vx)}[reader.ndim]
    name = (
        reader.path.rstrip("/").rsplit("/", 1)[-1] if is_url(reader.path) else os.path.basename(reader.path)
    )
    return {
        "name": name,
        "scale": scale,
        "contrast_limits": contrast_limits(reader),
        "metadata": {
            "path": reader.path,
            "format": reader.format_name,
            "voxel_size": tuple(reader.voxel_size),
        },
    }


def contrast_limits(reader: StackReader) -> tuple[float, float]:
    """(min, max) from the header or metadata, else from the middle frame."""
    stored = _stored_range(reader)
    if stored is not None:
        return stored
    if reader.n_frames == 0:
        return (0.0, 1.0)
    frame = reader[reader.n_frames // 2]
    low, high = float(frame.min().real), float(frame.max().real)
    return (low, high) if high > low else (low, low + 1.0)


def _stored_range(reader: StackReader) -> tuple[float, float] | None:
    """DMIN/DMAX when the header holds real statistics (MRC2014: DMAX < DMIN means unknown)."""
    candidates: list[tuple[Any, Any]] = []
    if reader.header is not None:
        candidates.append((reader.header["dmin"], reader.header["dmax"]))
    candidates.append((reader.metadata.get("dmin"), reader.metadata.get("dmax")))
    for pair in candidates:
        try:
            low, high = float(pair[0]), float(pair[1])
        except (TypeError, ValueError):
            continue
        if high > low:
            return (low, high)
    return None
