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
from mrczio.registry import Registry, get_registry
from mrczio_builtin.mrc import mrcz_geometry
from mrczio_builtin.mrc.packed4bit import MODE_4BIT
from mrczio_builtin.mrc.reader_base import MrcLayoutReader

COMMON_OPTIONS = frozenset({
    "overwrite", "byteorder", "volume", "extended_header", "exttyp", "metadata_format",
    "metadata_placement", "label", "voltage", "cs", "gain", "origin", "fsync", "compute_stats",
    "mode", "packed4bit", "clip", "header_like", "checksums",
})  # fmt: skip

_BYTEORDERS = {"<": "<", "little": "<", ">": ">", "big": ">", "=": "<" if np.little_endian else ">"}


@dataclass(frozen=True)
class HeaderOptions:
    """Header-level write options common to plain MRC and MRCZ.

    ``template`` is another file's header (``header_like=``): every field of it outside
    :data:`mrczio.header.RECOMPUTED_FIELDS` is carried. The microscope fields and the
    origin are ``None`` unless the caller gave them; given ones win over the template.
    """

    byteorder: str = "<"
    volume: bool = False
    extended_header: bytes = b""
    exttyp: bytes = b""
    label: str = ""
    voltage: float | None = None
    cs: float | None = None
    gain: float | None = None
    origin: tuple[float, float, float] | None = None
    template: np.ndarray | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> HeaderOptions:
        byteorder = _BYTEORDERS.get(str(options.get("byteorder", "<")))
        if byteorder is None:
            raise OptionError(f"byteorder must be 'little' or 'big', not {options.get('byteorder')!r}")
        exttyp = options.get("exttyp", b"") or b""
        origin = options.get("origin")
        return cls(
            byteorder=byteorder,
            volume=bool(options.get("volume", False)),
            extended_header=bytes(options.get("extended_header", b"") or b""),
            exttyp=exttyp.encode("ascii") if isinstance(exttyp, str) else bytes(exttyp),
            label=str(options.get("label", "")),
            voltage=_optional_float(options, "voltage"),
            cs=_optional_float(options, "cs"),
            gain=_optional_float(options, "gain"),
            origin=None if origin is None else _origin(origin),
            template=_template(options.get("header_like")),
        )


def _optional_float(options: Mapping[str, Any], name: str) -> float | None:
    value = options.get(name)
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise OptionError(f"{name} must be a number, not {value!r}") from None


def _template(value: Any) -> np.ndarray | None:
    """``header_like``: an MRC header array or a :func:`mrczio.header.header_record`."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        try:
            return mrc.header_from_record(dict(value))
        except (TypeError, ValueError, KeyError) as exc:
            raise OptionError(f"header_like: not a usable header record ({exc})") from None
    array = np.asarray(value)
    if array.dtype.names is None or set(array.dtype.names) != set(mrc.HEADER_DTYPE.names or ()):
        raise OptionError("header_like must be an MRC header (reader.header) or a header record")
    return array


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


def build_header(
    opts: HeaderOptions, new: NewFile, stats: tuple[float, float, float, float] | None
) -> np.ndarray:
    """The 1024-byte header of a newly written file."""
    header = mrc.new_header(opts.byteorder)
    ny, nx = new.frame_shape
    header["nx"], header["ny"], header["nz"] = nx, ny, new.nz
    header["mode"] = new.compressor_id * mrc.COMPRESSOR_FACTOR + new.mode.code
    if opts.template is not None and _same_grid(opts.template, new):
        _carry(header, opts.template, new)
    else:
        _fresh_geometry(header, opts, new)
    _apply_given(header, opts)
    header["nsymbt"] = new.extended_bytes
    header["exttyp"] = new.exttyp
    header["packed_bytes"] = new.packed_bytes
    if new.dtype == np.uint8:
        header["imod_stamp"], header["imod_flags"] = mrc.IMOD_STAMP, 0
    if stats is not None:
        header["dmin"], header["dmax"], header["dmean"], header["rms"] = stats
    _set_labels(header, opts.template, opts.label or f"mrczio {mrczio.__version__}")
    return header


def _set_labels(header: np.ndarray, template: np.ndarray | None, own: str) -> None:
    """The template's labels byte for byte, then ``own`` if there is room and it is not
    already the last one."""
    kept = 0
    if template is not None:
        kept = len(mrc.labels(template))
        header["label"][:kept] = template["label"][:kept]
        header["nlabl"] = kept
    texts = mrc.labels(header)
    if kept < 10 and (not texts or texts[-1] != own):
        mrc.set_label(header, kept, own)


def _same_grid(template: np.ndarray, new: NewFile) -> bool:
    """True when the template describes data of the new file's size (its sampling and
    cell then apply as they are)."""
    ny, nx = new.frame_shape
    return (int(template["nx"]), int(template["ny"]), int(template["nz"])) == (nx, ny, new.nz)


def _fresh_geometry(header: np.ndarray, opts: HeaderOptions, new: NewFile) -> None:
    """mrczio's own geometry: image stack or volume, sampling = size, cell = voxel * N."""
    ny, nx = new.frame_shape
    compressed = new.compressor_id > 0
    volume = opts.volume or (opts.template is not None and 1 <= int(opts.template["ispg"]) <= 230)
    header["ispg"] = 1 if volume else 0
    header["mx"], header["my"] = nx, ny
    # python-mrcz reads MZ as "slices per frame"; 0 = one monolithic array
    header["mz"] = 0 if compressed else (max(new.nz, 1) if volume else 1)
    voxel = new.voxel_size or (
        mrc.voxel_size(opts.template) if opts.template is not None else (0.0, 0.0, 0.0)
    )
    header["cella"] = (voxel[0] * nx, voxel[1] * ny, voxel[2] * (new.nz if compressed else int(header["mz"])))
    header["gain"] = 1.0


def _carry(header: np.ndarray, template: np.ndarray, new: NewFile) -> None:
    """Copy every carried field of ``template``; MZ and CELLA as the target's convention
    needs them (:mod:`.mrcz_geometry` for MRCZ)."""
    for name in mrc.CARRIED_FIELDS:
        header[name] = template[name]
    if new.compressor_id > 0:
        header["mz"], header["cella"] = mrcz_geometry.written(template, new.nz)
    elif int(template["mz"]) <= 0:
        header["mz"] = max(mrc.default_mz(int(template["ispg"]), new.nz), 1)  # python-mrcz's 0
    if new.voxel_size is not None and not _same_voxel(mrc.voxel_size(header), new.voxel_size):
        ny, nx = new.frame_shape
        z_cells = new.nz if new.compressor_id > 0 else (int(header["mz"]) or new.nz)
        sampling = (int(header["mx"]) or nx, int(header["my"]) or ny, z_cells)
        header["cella"] = tuple(v * m for v, m in zip(new.voxel_size, sampling, strict=True))


def _same_voxel(a: tuple[float, float, float], b: tuple[float, float, float]) -> bool:
    return all(
        np.float32(x) == np.float32(y) or abs(x - y) <= 1e-6 * max(abs(x), abs(y))
        for x, y in zip(a, b, strict=True)
    )


def _apply_given(header: np.ndarray, opts: HeaderOptions) -> None:
    """Fields the caller gave explicitly win over a template and the defaults."""
    for name in ("voltage", "cs", "gain"):
        value = getattr(opts, name)
        if value is not None:
            header[name] = value
    if opts.origin is not None:
        header["origin"] = opts.origin


def options_like(reader: StackReader, accepted: frozenset[str], *, keep_packing: bool) -> dict[str, Any]:
    """Write options that make a new MRC-family file carry ``reader``'s header: the header
    itself as a template (or the record a TIFF kept of it), the extended header when it
    is not the metadata, and 4-bit packing for plain copies."""
    template: Any = reader.header
    record = reader.metadata.get(mrc.HEADER_RECORD_KEY)
    if template is None and isinstance(record, Mapping):
        template = dict(record)
    if template is None:
        return {}
    candidates: dict[str, Any] = {"header_like": template}
    if reader.extended_header and not _extended_is_metadata(reader):
        candidates["extended_header"] = reader.extended_header
        candidates["exttyp"] = reader.exttyp
    elif isinstance(record, Mapping) and record.get("extended_header"):
        candidates["extended_header"] = bytes.fromhex(str(record["extended_header"]))
        candidates["exttyp"] = str(record.get("exttyp", ""))
    if keep_packing and _pixel_mode_code(reader) == MODE_4BIT:
        candidates["packed4bit"] = True
    if isinstance(reader, MrcLayoutReader) and reader.layout.metadata_format and reader.metadata:
        candidates["metadata_format"] = reader.layout.metadata_format  # msgpack keeps arrays
    return {k: v for k, v in candidates.items() if k in accepted}


def _extended_is_metadata(reader: StackReader) -> bool:
    """True when the extended header holds the metadata (so it is rewritten, not copied)."""
    if isinstance(reader, MrcLayoutReader):
        return reader.layout.metadata_location == "extended"
    return bool(reader.metadata) and get_registry().serializer_for_exttyp(reader.exttyp) is not None


def _pixel_mode_code(reader: StackReader) -> int:
    """The pixel mode of an MRC-family reader's file (IMOD's mode-0 4-bit files: 101)."""
    if isinstance(reader, MrcLayoutReader):
        return int(reader.layout.mode.code)
    return int(reader.header["mode"]) % mrc.COMPRESSOR_FACTOR if reader.header is not None else -1
