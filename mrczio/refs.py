"""Zarr references: read an MRCZ or MRC file with stock zarr + fsspec, no mrczio needed.

:func:`references` describes a file as a kerchunk-style reference set (version 1): a
zarr v2 array of shape (frames, ny, nx) with one chunk per frame, each chunk a
``[url, offset, length]`` pointer into the original file. For MRCZ the chunks are the
file's blosc1 chunks, decoded by numcodecs' Blosc; for plain MRC they are the raw
sections (no compressor). Reading frame k is then one range request::

    fs = fsspec.filesystem("reference", fo=refs)           # or fo="movie.json"
    z = zarr.open_array(fs.get_mapper(), mode="r", zarr_format=2)
    z[17]

Arrays are in file (MRC) row order, like mrczio's. What cannot be expressed is refused
with :class:`mrczio.errors.RefsError`: blosc2 chunks (numcodecs' Blosc reads blosc1
only), chunks of non-blosc codecs, packed modes (4-bit) and modes whose stored pixels
are not one numpy item each, and TIFF.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from mrczio import header as mrc
from mrczio.errors import RefsError
from mrczio.positional import is_url
from mrczio.reader import StackReader

#: blosc flags' codec family -> the ``cname`` numcodecs' Blosc reports (decoding ignores it).
_CNAMES = {
    "blosclz": "blosclz",
    "lz4/lz4hc": "lz4",
    "snappy": "snappy",
    "zlib": "zlib",
    "zstd": "zstd",
}


def references(
    path: str | os.PathLike[str], *, url: str | None = None, format: str | None = None
) -> dict[str, Any]:
    """Kerchunk references (version 1) for ``path`` (a file or URL).

    ``url`` is where readers of the references will fetch the bytes (default: the URL
    given, or the absolute path of a local file); it must serve this exact file.
    """
    from mrczio.api import open as open_reader

    name = os.fspath(path)
    target = url or (name if is_url(name) else os.path.abspath(name))
    with open_reader(name, format=format) as reader:
        storage = _storage_dtype(reader)
        if reader.format_name == "mrcz":
            compressor, spans = _mrcz_chunks(reader)
        elif reader.format_name == "mrc":
            compressor, spans = None, _mrc_sections(reader, storage)
        else:
            raise RefsError(f"{name}: {reader.format_name} files cannot be described as zarr references")
        refs: dict[str, Any] = {
            ".zarray": json.dumps(_zarray(reader, storage, compressor)),
            ".zattrs": json.dumps(_zattrs(reader, target)),
        }
    for k, (offset, length) in enumerate(spans):
        refs[f"{k}.0.0"] = [target, offset, length]
    return {"version": 1, "refs": refs}


def write_references(
    path: str | os.PathLike[str], out: str | os.PathLike[str], *, url: str | None = None
) -> None:
    """Write :func:`references` of ``path`` as JSON to ``out`` (atomically)."""
    from mrczio.fileio import AtomicFile

    text = json.dumps(references(path, url=url), indent=1).encode()
    with AtomicFile(os.fspath(out), overwrite=True) as sink:
        sink.file.write(text)


def _storage_dtype(reader: StackReader) -> np.dtype[Any]:
    """The dtype of the pixels as stored (file byte order); refuse packed or converted modes."""
    from mrczio.registry import get_registry

    header = reader.header
    if header is None:
        raise RefsError(f"{reader.path}: no MRC header; only MRC and MRCZ can be referenced")
    _, code = mrc.split_mode(header)
    mode = get_registry().mode(code, reader.path)
    ny, nx = reader.frame_shape
    if mode.packed or (int(header["nx"]), int(header["ny"])) != (nx, ny):
        raise RefsError(
            f"{reader.path}: packed pixels (MRC mode {code}, 4-bit) need unpacking zarr cannot do"
        )
    if mode.section_nbytes(ny, nx) != ny * nx * reader.dtype.itemsize:
        raise RefsError(f"{reader.path}: MRC mode {code} is not stored as one {reader.dtype} per pixel")
    return reader.dtype.newbyteorder("<" if mrc.header_byteorder(header) == "<" else ">")


def _mrcz_chunks(reader: Any) -> tuple[dict[str, Any], list[tuple[int, int]]]:
    spans: list[tuple[int, int]] = reader.chunk_spans()
    cname = "zstd"
    for k in range(len(spans)):
        info = reader.chunk_info(k)
        if info.get("chunk_format") != "blosc1":
            kind = info.get("chunk_format") or f"codec {info.get('codec', 'unknown')}"
            raise RefsError(
                f"{reader.path}: frame {k} is a {kind} chunk; zarr references need blosc1 chunks "
                f"(numcodecs' Blosc cannot read blosc2 or other codecs); rewrite with chunk_format='blosc1'"
            )
        cname = _CNAMES.get(str(info.get("codec")), cname)
    compressor = {"id": "blosc", "cname": cname, "clevel": 1, "shuffle": 1, "blocksize": 0}
    return compressor, spans


def _mrc_sections(reader: StackReader, storage: np.dtype[Any]) -> list[tuple[int, int]]:
    assert reader.header is not None
    start = mrc.HEADER_SIZE + int(reader.header["nsymbt"])
    section = reader.frame_shape[0] * reader.frame_shape[1] * storage.itemsize
    return [(start + k * section, section) for k in range(reader.n_frames)]


def _zarray(reader: StackReader, storage: np.dtype[Any], compressor: dict[str, Any] | None) -> dict[str, Any]:
    ny, nx = reader.frame_shape
    return {
        "zarr_format": 2, "shape": [reader.n_frames, ny, nx], "chunks": [1, ny, nx],
        "dtype": storage.str, "compressor": compressor, "fill_value": None, "order": "C",
        "filters": None, "dimension_separator": ".",
    }  # fmt: skip


def _zattrs(reader: StackReader, target: str) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "_ARRAY_DIMENSIONS": ["frame", "y", "x"],
        "voxel_size_angstrom": list(reader.voxel_size),
        "mrczio": {
            "source": target,
            "format": reader.format_name,
            "row_order": "MRC (first row at y=0)",
        },
    }
    if reader.header is not None:
        attrs["header"] = {key: float(reader.header[key]) for key in ("dmin", "dmax", "dmean", "rms")}
    return attrs
