"""The MRC2014 header: one structured dtype, byte-order detection, and field helpers.

The same 1024-byte layout serves plain MRC, MRCZ (which adds ``voltage``, ``cs``,
``gain`` and ``packed_bytes`` in the EXTRA area, as python-mrcz writes them) and the
IMOD fields (``imod_stamp``, ``imod_flags``) that decide whether mode-0 bytes are signed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mrczio.errors import FormatError, TruncatedFileError

HEADER_SIZE = 1024
NVERSION = 20140
IMOD_STAMP = 1146047817  # b"IMOD" read as a little-endian int32
IMOD_FLAG_SIGNED_BYTES = 1
COMPRESSOR_FACTOR = 1000  # MRCZ stores MODE = 1000 * compressor_id + mrc_mode
MAX_DIMENSION = 1 << 24  # a single axis beyond 16 Mi pixels is treated as a lying header

HEADER_DTYPE = np.dtype(
    [
        ("nx", "i4"),  # columns (fastest axis)
        ("ny", "i4"),  # rows
        ("nz", "i4"),  # sections (frames)
        ("mode", "i4"),  # pixel mode; MRCZ: 1000 * compressor id + mode
        ("nxstart", "i4"),
        ("nystart", "i4"),
        ("nzstart", "i4"),
        ("mx", "i4"),  # unit-cell sampling; voxel size = cella / m
        ("my", "i4"),
        ("mz", "i4"),  # 1 for image stacks, nz for volumes; python-mrcz: "slices"
        ("cella", "f4", (3,)),  # cell size in Angstrom (x, y, z)
        ("cellb", "f4", (3,)),  # cell angles in degrees
        ("mapc", "i4"),
        ("mapr", "i4"),
        ("maps", "i4"),
        ("dmin", "f4"),
        ("dmax", "f4"),
        ("dmean", "f4"),
        ("ispg", "i4"),  # 0 image stack, 1 volume, 401-630 volume stack
        ("nsymbt", "i4"),  # extended header bytes after byte 1024
        ("creatid", "i2"),  # IMOD
        ("extra1", "V6"),
        ("exttyp", "S4"),  # extended header type: FEI1, CCP4, SERI, json, ...
        ("nversion", "i4"),  # 20140 for MRC2014
        ("extra2", "V16"),
        ("nint", "i2"),  # SerialEM/IMOD: bytes per section in a SERI extended header
        ("nreal", "i2"),  # SerialEM/IMOD: flags of a SERI extended header
        ("voltage", "f4"),  # MRCZ: accelerating voltage in kV
        ("cs", "f4"),  # MRCZ: spherical aberration C3 in mm
        ("gain", "f4"),  # MRCZ: detector gain (counts per electron)
        ("packed_bytes", "i8"),  # MRCZ: total bytes of all compressed chunks
        ("imod_stamp", "i4"),  # 1146047817 when imod_flags is meaningful
        ("imod_flags", "i4"),  # bit 0: mode-0 bytes are signed
        ("extra3", "V36"),
        ("origin", "f4", (3,)),
        ("map", "S4"),  # b"MAP "
        ("machst", "u1", (4,)),  # machine stamp
        ("rms", "f4"),
        ("nlabl", "i4"),
        ("label", "S80", (10,)),
    ]
)
assert HEADER_DTYPE.itemsize == HEADER_SIZE

LITTLE_STAMP = (0x44, 0x44, 0x00, 0x00)
BIG_STAMP = (0x11, 0x11, 0x00, 0x00)

#: Header fields a reader can compare between two files, in output order.
SUMMARY_FIELDS = (
    "nx", "ny", "nz", "mode", "mx", "my", "mz", "cella", "ispg", "nsymbt", "exttyp",
    "nversion", "dmin", "dmax", "dmean", "rms", "origin", "nlabl",
)  # fmt: skip


def header_dtype(byteorder: str) -> np.dtype[Any]:
    """The header dtype in ``"<"`` (little) or ``">"`` (big) byte order."""
    return HEADER_DTYPE.newbyteorder("<" if byteorder == "<" else ">")


def new_header(byteorder: str = "<") -> np.ndarray:
    """A fresh MRC2014 header: zero sizes, 90-degree cell, axes 1,2,3, stamped."""
    header = np.zeros((), dtype=header_dtype(byteorder))
    header["cellb"] = 90.0
    header["mapc"], header["mapr"], header["maps"] = 1, 2, 3
    header["map"] = b"MAP "
    header["machst"] = LITTLE_STAMP if byteorder == "<" else BIG_STAMP
    header["nversion"] = NVERSION
    header["dmin"], header["dmax"], header["dmean"], header["rms"] = 0.0, -1.0, -2.0, -1.0
    return header


def header_byteorder(header: np.ndarray) -> str:
    """``"<"`` or ``">"``: the byte order of a header array."""
    order = header.dtype["nx"].byteorder
    if order == "=":
        return "<" if np.little_endian else ">"
    return "<" if order in ("<", "|") else ">"


def _plausible(header: np.ndarray) -> bool:
    dims = [int(header[k]) for k in ("nx", "ny", "nz")]
    mode = int(header["mode"])
    return (
        all(0 <= d <= MAX_DIMENSION for d in dims)
        and 0 <= mode < 1000 * 1000
        and 0 <= int(header["nsymbt"]) < (1 << 31)
    )


def _stamp_order(header: np.ndarray) -> str | None:
    first = int(header["machst"][0])
    if first == 0x44:
        return "<"
    if first == 0x11:
        return ">"
    return None


def parse_header(raw: bytes, path: str) -> np.ndarray:
    """Parse 1024 header bytes, choosing the byte order that makes sense.

    The machine stamp decides when it is valid and yields a plausible header; otherwise
    (zero or wrong stamps are common) the byte order in which dimensions and mode are
    plausible wins, as IMOD, RELION and python-mrcz do.
    """
    if len(raw) < HEADER_SIZE:
        raise TruncatedFileError(
            path, f"file has {len(raw)} bytes, fewer than the {HEADER_SIZE}-byte MRC header"
        )
    little = np.frombuffer(raw[:HEADER_SIZE], dtype=header_dtype("<"))[0]
    big = np.frombuffer(raw[:HEADER_SIZE], dtype=header_dtype(">"))[0]
    stamped = _stamp_order(little)
    candidates = [little, big] if stamped != ">" else [big, little]
    for candidate in candidates:
        if _plausible(candidate):
            return np.array(candidate, dtype=candidate.dtype)
    repaired = _repair_mixed_endian(big, little)
    if repaired is not None:
        return repaired
    raise FormatError(
        path,
        f"not an MRC header: dimensions {int(little['nx'])}x{int(little['ny'])}x"
        f"{int(little['nz'])} and mode {int(little['mode'])} are implausible in either byte order",
    )


#: Fields python-mrcz 0.5.x wrote little-endian into otherwise big-endian headers.
_MIXED_ENDIAN_LITTLE_FIELDS = (
    "mode", "dmin", "dmax", "dmean", "voltage", "cs", "gain", "nlabl", "packed_bytes",
)  # fmt: skip


def _repair_mixed_endian(big: np.ndarray, little: np.ndarray) -> np.ndarray | None:
    """Rebuild a python-mrcz 0.5.x big-endian header, whose MODE and a few more
    fields were written little-endian, as one consistent big-endian header."""
    if not bytes(big["label"][0]).startswith(b"MRCZ"):
        return None
    fixed = np.array(big, dtype=big.dtype)
    for name in _MIXED_ENDIAN_LITTLE_FIELDS:
        fixed[name] = little[name]
    if not 0 <= int(fixed["nsymbt"]) < (1 << 31):
        fixed["nsymbt"] = little["nsymbt"]
    return fixed if _plausible(fixed) else None


def split_mode(header: np.ndarray) -> tuple[int, int]:
    """(compressor id, pixel mode) from the MODE word."""
    mode = int(header["mode"])
    return mode // COMPRESSOR_FACTOR, mode % COMPRESSOR_FACTOR


def labels(header: np.ndarray) -> list[str]:
    """The used text labels, decoded leniently."""
    count = max(0, min(int(header["nlabl"]), 10))
    return [bytes(header["label"][i]).decode("latin-1").rstrip("\0 ") for i in range(count)]


def set_label(header: np.ndarray, index: int, text: str) -> None:
    """Write an ASCII label (truncated to 80 bytes) and keep ``nlabl`` contiguous."""
    header["label"][index] = text.encode("ascii", "replace")[:80]
    header["nlabl"] = max(int(header["nlabl"]), index + 1)


def written_by_python_mrcz(header: np.ndarray) -> bool:
    """True when label 0 carries python-mrcz's ``MRCZ<version>`` signature."""
    return bool(bytes(header["label"][0]).startswith(b"MRCZ"))


def is_unsigned_bytes(header: np.ndarray) -> bool:
    """Mode-0 bytes are unsigned when IMOD's stamp is set and its signed flag is not.

    Without the stamp, mode 0 is signed int8 as MRC2014 says (mrcfile does the same).
    """
    return int(header["imod_stamp"]) == IMOD_STAMP and not int(header["imod_flags"]) & IMOD_FLAG_SIGNED_BYTES


def voxel_size(header: np.ndarray) -> tuple[float, float, float]:
    """(x, y, z) voxel size in Angstrom: ``cella / m``, falling back to ``cella / n``.

    python-mrcz leaves MX/MY at 0 and writes CELLA = pixel size * (NX, NY, NZ); dividing
    by N then gives its intended pixel size. A zero divisor gives 0.0, never inf.
    """
    cella = [float(c) for c in header["cella"]]
    sampling = [int(header["mx"]), int(header["my"]), int(header["mz"])]
    sizes = [int(header["nx"]), int(header["ny"]), int(header["nz"])]
    if written_by_python_mrcz(header) or split_mode(header)[0] > 0:
        sampling[2] = 0  # python-mrcz uses MZ for "slices per frame", not sampling
    result = []
    for length, m, n in zip(cella, sampling, sizes, strict=True):
        divisor = m if m > 0 else n
        value = length / divisor if divisor > 0 else 0.0
        result.append(value if math.isfinite(value) else 0.0)
    return (result[0], result[1], result[2])


def header_summary(header: np.ndarray) -> dict[str, Any]:
    """Plain-Python dict of the commonly compared header fields."""
    summary: dict[str, Any] = {}
    for name in SUMMARY_FIELDS:
        value = np.asarray(header[name])
        if value.ndim:
            summary[name] = [v.item() for v in value]
        elif value.dtype.kind == "S":
            summary[name] = bytes(value.item()).decode("latin-1")
        else:
            summary[name] = value.item()
    summary["labels"] = labels(header)
    summary["byteorder"] = "little" if header_byteorder(header) == "<" else "big"
    return summary


# -- carrying a header into another file ------------------------------------------------

#: Fields a new file never copies from another file's header: sizes and mode follow the
#: data, statistics are recomputed, the stamps and sizes of what follows the header are
#: the writer's own, labels are merged (:func:`merged_labels`).
RECOMPUTED_FIELDS = frozenset({
    "nx", "ny", "nz", "mode", "dmin", "dmax", "dmean", "rms", "nsymbt", "exttyp", "map",
    "machst", "packed_bytes", "imod_stamp", "imod_flags", "nlabl", "label",
})  # fmt: skip

#: Every other field: geometry (ISPG, sampling, cell, axes, start, origin), NVERSION and
#: the EXTRA area (IMOD's creatid/nint/nreal, python-mrcz's voltage/cs/gain).
CARRIED_FIELDS = tuple(name for name in HEADER_DTYPE.names or () if name not in RECOMPUTED_FIELDS)

#: The metadata key under which a file that cannot hold an MRC header (TIFF), or an MRCZ
#: file whose MZ python-mrcz would misread, keeps the header fields it cannot store.
HEADER_RECORD_KEY = "mrczio_mrc_header"


def header_record(header: np.ndarray, fields: tuple[str, ...] = CARRIED_FIELDS) -> dict[str, Any]:
    """JSON-friendly copy of ``fields`` of ``header`` (raw bytes fields as hex), plus the
    labels, for :data:`HEADER_RECORD_KEY`."""
    record: dict[str, Any] = {}
    for name in fields:
        value = np.asarray(header[name])
        if value.dtype.kind == "V" and value.ndim == 0:
            record[name] = bytes(value.tobytes()).hex()
        elif value.dtype.kind == "S":
            record[name] = bytes(value.item()).decode("latin-1")
        elif value.ndim:
            record[name] = [v.item() for v in value]
        else:
            record[name] = value.item()
    if fields == CARRIED_FIELDS:
        record.update(nx=int(header["nx"]), ny=int(header["ny"]), nz=int(header["nz"]))
        record["labels"] = labels(header)
        record["label_bytes"] = bytes(header["label"][: len(record["labels"])].tobytes()).hex()
    return record


def apply_record(header: np.ndarray, record: dict[str, Any]) -> None:
    """Write the fields of a :func:`header_record` into ``header`` (unknown keys ignored);
    a malformed value raises ``ValueError`` or ``TypeError``."""
    for name, value in record.items():
        if name not in CARRIED_FIELDS and name not in ("nx", "ny", "nz"):
            continue
        field = header.dtype[name]
        kind = field.base.kind if field.subdtype is not None else field.kind
        if kind == "V":
            raw = bytes.fromhex(str(value))
            header[name] = np.frombuffer(
                raw.ljust(header.dtype[name].itemsize, b"\0"), dtype=header.dtype[name]
            )[0]
        elif kind == "S":
            header[name] = str(value).encode("latin-1")
        else:
            header[name] = value


def header_from_record(record: dict[str, Any]) -> np.ndarray:
    """A new little-endian header holding a :func:`header_record` (and its labels)."""
    header = new_header("<")
    apply_record(header, record)
    texts = list(record.get("labels", []))[:10]
    raw = bytes.fromhex(str(record.get("label_bytes", "")))
    if len(raw) == 80 * len(texts):
        header["label"][: len(texts)] = np.frombuffer(raw, dtype="S80")
        header["nlabl"] = len(texts)
    else:
        for index, text in enumerate(texts):
            set_label(header, index, str(text))
    return header


def merged_labels(source: list[str], own: str) -> list[str]:
    """The source's labels, then ``own`` if there is room and it is not already last."""
    kept = [text for text in source if text][:10]
    if len(kept) < 10 and (not kept or kept[-1] != own):
        kept.append(own)
    return kept


def default_mz(ispg: int, nz: int) -> int:
    """MZ as mrcfile writes it: 1 for an image stack, NZ for a volume (0 when unknown)."""
    if ispg == 0:
        return 1
    if 1 <= ispg <= 230:
        return nz
    return 0


def is_volume_stack(header: np.ndarray) -> bool:
    """ISPG 401..630 with MZ dividing NZ: NZ / MZ volumes of MZ sections each."""
    ispg, mz, nz = int(header["ispg"]), int(header["mz"]), int(header["nz"])
    return 401 <= ispg <= 630 and mz > 0 and nz % mz == 0
