"""The header mrczio writes for plain MRC and MRCZ, and what it carries from another file.

Policy (see docs/formats.md): NVERSION 20140, MX=NX and MY=NY (python-mrcz leaves them
0), ``MAP `` and a machine stamp, label 0 naming mrczio. Plain MRC follows mrcfile: image
stacks get ISPG 0 and MZ 1, volumes ISPG 1 and MZ NZ. MRCZ keeps python-mrcz's reading of
MZ as "slices per frame" by writing MZ 0 and CELLA = voxel * N, so python-mrcz returns one
array with the right pixel size.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

import mrczio
from mrczio import header as mrc
from mrczio.contracts import FrameCodec, PixelMode
from mrczio.errors import DataTypeError, OptionError
from mrczio.reader import StackReader
from mrczio.registry import Registry
from mrczio_builtin.mrc.packed4bit import MODE_4BIT
from mrczio_builtin.mrc.reader_base import MrcLayoutReader

COMMON_OPTIONS = frozenset({
    "overwrite", "byteorder", "volume", "extended_header", "exttyp", "metadata_format",
    "metadata_placement", "label", "voltage", "cs", "gain", "origin", "fsync", "compute_stats",
    "mode", "packed4bit", "clip",
})  # fmt: skip

_BYTEORDERS = {"<": "<", "little": "<", ">": ">", "big": ">", "=": "<" if np.little_endian else ">"}


@dataclass(frozen=True)
class HeaderOptions:
    """Header-level write options common to plain MRC and MRCZ."""

    byteorder: str = "<"
    volume: bool = False
    extended_header: bytes = b""
    exttyp: bytes = b""
    label: str = ""
    voltage: float = 0.0
    cs: float = 0.0
    gain: float = 1.0
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> HeaderOptions:
        byteorder = _BYTEORDERS.get(str(options.get("byteorder", "<")))
        if byteorder is None:
            raise OptionError(f"byteorder must be 'little' or 'big', not {options.get('byteorder')!r}")
        exttyp = options.get("exttyp", b"") or b""
        return cls(
            byteorder=byteorder,
            volume=bool(options.get("volume", False)),
            extended_header=bytes(options.get("extended_header", b"") or b""),
            exttyp=exttyp.encode("ascii") if isinstance(exttyp, str) else bytes(exttyp),
            label=str(options.get("label", "")),
            voltage=float(options.get("voltage", 0.0) or 0.0),
            cs=float(options.get("cs", 0.0) or 0.0),
            gain=float(options.get("gain", 1.0) or 1.0),
            origin=_origin(options.get("origin", (0.0, 0.0, 0.0))),
        )


def _origin(value: Any) -> tuple[float, float, float]:
    x, y, z = (float(v) for v in value)
    return (x, y, z)


def check_options(
    format_name: str, options: Mapping[str, Any], allowed: frozenset[str], codec: FrameCodec | None = None
) -> None:
    """Refuse options neither the format nor its codec takes, listing what they take."""
    unknown = sorted(set(options) - allowed)
    if unknown:
        takes = f"it takes: {', '.join(sorted(allowed))}"
        if codec is not None:
            takes += f"; codec {codec.name!r} takes: {', '.join(sorted(codec.parameters)) or 'nothing'}"
        raise OptionError(f"format {format_name!r} does not take option(s) {', '.join(unknown)}; {takes}")


def pick_mode(
    registry: Registry, dtype: np.dtype[Any], path: str, options: Mapping[str, Any] | None = None
) -> PixelMode:
    """The mode asked for (``mode=101`` or ``packed4bit=True``), else the default for ``dtype``."""
    options = options or {}
    code = options.get("mode")
    if code is None and options.get("packed4bit"):
        code = MODE_4BIT
    if code is not None:
        mode = registry.mode(int(code), path)
        if not (mode.dtype == dtype or mode.accepts(dtype)):
            raise DataTypeError(f"{path}: MRC mode {int(code)} stores {mode.dtype}, not {dtype}")
        return mode
    default = registry.mode_for_dtype(dtype)
    if default is None:
        hint = " (cast to float32 with dtype='float32')" if dtype == np.float64 else ""
        raise DataTypeError(f"{path}: no MRC mode stores {dtype} data{hint}")
    return default


def wants_packing(options: Mapping[str, Any]) -> bool:
    """True when the options ask for 4-bit mode 101."""
    return bool(options.get("packed4bit")) or options.get("mode") == MODE_4BIT


@dataclass(frozen=True)
class NewFile:
    """What the writer knows about the file when it writes the header."""

    frame_shape: tuple[int, int]
    nz: int
    dtype: np.dtype[Any]
    mode: PixelMode
    compressor_id: int
    voxel_size: tuple[float, float, float] | None
    extended_bytes: int
    exttyp: bytes
    packed_bytes: int


def build_header(opts: HeaderOptions, new: NewFile, stats: tuple[float, float, float, float] | None) -> np.ndarray:
    """The 1024-byte header of a newly written file."""
    header = mrc.new_header(opts.byteorder)
    ny, nx = new.frame_shape
    compressed = new.compressor_id > 0
    header["nx"], header["ny"], header["nz"] = nx, ny, new.nz
    header["mode"] = new.compressor_id * mrc.COMPRESSOR_FACTOR + new.mode.code
    header["ispg"] = 1 if opts.volume else 0
    header["mx"], header["my"] = nx, ny
    # python-mrcz reads MZ as "slices per frame"; 0 = one monolithic array
    header["mz"] = 0 if compressed else (max(new.nz, 1) if opts.volume else 1)
    vx, vy, vz = new.voxel_size or (0.0, 0.0, 0.0)
    header["cella"] = (vx * nx, vy * ny, vz * (new.nz if compressed else int(header["mz"])))
    header["origin"] = opts.origin
    header["nsymbt"] = new.extended_bytes
    header["exttyp"] = new.exttyp
    header["voltage"], header["cs"], header["gain"] = opts.voltage, opts.cs, opts.gain
    header["packed_bytes"] = new.packed_bytes
    if new.dtype == np.uint8:
        header["imod_stamp"], header["imod_flags"] = mrc.IMOD_STAMP, 0
    if stats is not None:
        header["dmin"], header["dmax"], header["dmean"], header["rms"] = stats
    mrc.set_label(header, 0, opts.label or f"mrczio {mrczio.__version__}")
    return header


def options_like(reader: StackReader, accepted: frozenset[str], *, keep_packing: bool) -> dict[str, Any]:
    """Header content of ``reader``'s file that a new MRC-family file can carry, as write
    options (only those in ``accepted``)."""
    header = reader.header
    if header is None:
        return {}
    ispg = int(header["ispg"])
    candidates: dict[str, Any] = {
        "volume": 1 <= ispg <= 230,
        "voltage": float(header["voltage"]),
        "cs": float(header["cs"]),
        "gain": float(header["gain"]),
        "origin": tuple(float(v) for v in header["origin"]),
    }
    if reader.extended_header and not reader.metadata:
        candidates["extended_header"] = reader.extended_header
        candidates["exttyp"] = reader.exttyp
    if keep_packing and _pixel_mode_code(reader) == MODE_4BIT:
        candidates["packed4bit"] = True
    return {k: v for k, v in candidates.items() if k in accepted}


def _pixel_mode_code(reader: StackReader) -> int:
    """The pixel mode of an MRC-family reader's file (IMOD's mode-0 4-bit files: 101)."""
    if isinstance(reader, MrcLayoutReader):
        return int(reader.layout.mode.code)
    assert reader.header is not None
    return int(reader.header["mode"]) % mrc.COMPRESSOR_FACTOR
