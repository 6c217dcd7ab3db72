"""A small corpus of valid MRC2014 maps and stacks for header-fidelity tests.

Every file is built here, in the tests, with gemmi or with a raw writer that follows the
MRC2014 layout (mrcfile validates each file that uses a mode mrcfile knows), so no binary
is committed. The corpus covers what issue 10 lists: all six MAPC/MAPR/MAPS orders,
non-zero (also negative) starts, monoclinic and triclinic cells, space groups 1, 4, 19
and 96, a volume stack (ISPG 401), an image stack, every pixel mode mrczio registers,
both byte orders, 0 to 10 labels, FEI1 and CCP4 extended headers, and the real EMDB
maps of ``/work/shared/data`` (via :func:`mrczio.sample_data.sample_path`).

The header is parsed here with its own layout (:data:`HEADER`), independent of
mrczio's parser, so a test compares field *values* of two files whatever their byte
order.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import permutations
from pathlib import Path
from typing import Any

import numpy as np

#: The MRC2014 header with the EXTRA area split as MRCZ (voltage, cs, gain,
#: packed_bytes) and IMOD (creatid, nint, nreal, imod_stamp, imod_flags) use it.
HEADER = np.dtype(
    [
        ("nx", "i4"), ("ny", "i4"), ("nz", "i4"), ("mode", "i4"),
        ("nxstart", "i4"), ("nystart", "i4"), ("nzstart", "i4"),
        ("mx", "i4"), ("my", "i4"), ("mz", "i4"),
        ("cella", "f4", (3,)), ("cellb", "f4", (3,)),
        ("mapc", "i4"), ("mapr", "i4"), ("maps", "i4"),
        ("dmin", "f4"), ("dmax", "f4"), ("dmean", "f4"),
        ("ispg", "i4"), ("nsymbt", "i4"),
        ("creatid", "i2"), ("extra1", "V6"), ("exttyp", "S4"), ("nversion", "i4"),
        ("extra2", "V16"), ("nint", "i2"), ("nreal", "i2"),
        ("voltage", "f4"), ("cs", "f4"), ("gain", "f4"), ("packed_bytes", "i8"),
        ("imod_stamp", "i4"), ("imod_flags", "i4"), ("extra3", "V36"),
        ("origin", "f4", (3,)), ("map", "S4"), ("machst", "u1", (4,)),
        ("rms", "f4"), ("nlabl", "i4"), ("label", "S80", (10,)),
    ]
)  # fmt: skip
assert HEADER.itemsize == 1024

#: Fields a conversion recomputes (issue 10 and the lead's policy); every other field
#: must come out of a conversion with the same value.
RECOMPUTED = frozenset({
    "nx", "ny", "nz", "mode", "dmin", "dmax", "dmean", "rms", "nsymbt", "exttyp", "map",
    "machst", "packed_bytes", "imod_stamp", "imod_flags", "nlabl", "label",
})  # fmt: skip
#: The fields compared for equality after a conversion.
CARRIED = tuple(name for name in HEADER.names or () if name not in RECOMPUTED)
#: The geometry fields (gemmi's view of a map).
GEOMETRY = ("ispg", "mx", "my", "mz", "cella", "cellb", "mapc", "mapr", "maps",
            "nxstart", "nystart", "nzstart", "origin")  # fmt: skip

IMOD_STAMP = 1146047817
LITTLE_STAMP = (0x44, 0x44, 0x00, 0x00)
BIG_STAMP = (0x11, 0x11, 0x00, 0x00)
DTYPE_OF_MODE = {0: "int8", 1: "int16", 2: "float32", 4: "complex64", 6: "uint16",
                 7: "int32", 8: "uint32", 12: "float16", 101: "uint8"}  # fmt: skip
MRCFILE_MODES = frozenset({0, 1, 2, 4, 6, 12})  # modes mrcfile 1.5.4 reads
GEMMI_MODES = frozenset({0, 1, 2, 6, 12})  # modes gemmi 0.7 reads
PYTHON_MRCZ_MODES = frozenset({0, 1, 2, 4, 6, 7, 8})  # modes python-mrcz 0.6 reads back


@dataclass(frozen=True)
class MapSpec:
    """One corpus file: pixels of ``dtype`` and ``shape`` (nz, ny, nx) in ``mode``, with
    header ``fields`` overriding the defaults, ``labels``, and an extended header."""

    name: str
    mode: int = 2
    shape: tuple[int, int, int] = (4, 5, 6)
    byteorder: str = "<"
    fields: Mapping[str, Any] = field(default_factory=dict)
    labels: tuple[str, ...] = ("built by tests/formats/mrc_corpus.py",)
    ext: bytes = b""
    unsigned_bytes: bool = False  # mode 0 with IMOD's stamp: uint8
    writer: str = "raw"  # "raw", "gemmi" or "sample" (a real file, copied)
    seed: int = 0

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.dtype("uint8" if self.unsigned_bytes else DTYPE_OF_MODE[self.mode])

    @property
    def ispg(self) -> int:
        return int(self.fields.get("ispg", 1))

    @property
    def filename(self) -> str:
        return self.name + (".map" if self.writer != "raw" else ".mrc")

    @property
    def mrcfile_validates(self) -> bool:
        """mrcfile's validator applies: a mode it knows, mode-0 bytes it reads alike, and
        not the real EMDB maps (they predate MRC2014: NVERSION 0)."""
        return self.mode in MRCFILE_MODES and not self.unsigned_bytes and self.writer != "sample"

    @property
    def gemmi_reads(self) -> bool:
        return self.mode in GEMMI_MODES

    def __str__(self) -> str:
        return self.name


def sample_data(spec: MapSpec) -> np.ndarray:
    """Deterministic pixels of ``spec`` (4-bit: 0..15; uint8: the full 0..255 range)."""
    rng = np.random.default_rng(spec.seed + sum(spec.name.encode()))
    shape = spec.shape
    dtype = spec.dtype
    if spec.mode == 101:
        return rng.integers(0, 15, size=shape, endpoint=True).astype(np.uint8)
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        low, high = max(info.min, -30000), min(info.max, 70000)
        data = rng.integers(low, high, size=shape, endpoint=True).astype(dtype)
        data.reshape(-1)[:2] = (info.min if info.bits <= 16 else low, min(info.max, high))
        return data
    if dtype.kind == "c":
        return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(dtype)
    return (rng.normal(size=shape) * 10).astype(dtype)


def header_stats(data: np.ndarray) -> tuple[float, float, float, float]:
    """(dmin, dmax, dmean, rms) as mrcfile's ``update_header_stats`` computes them
    (complex: min/max/mean undetermined, rms from the standard deviation)."""
    if data.dtype.kind == "c":
        return (0.0, -1.0, -2.0, float(np.float32(data.std().real)))
    return (
        float(np.float32(data.min())),
        float(np.float32(data.max())),
        float(data.mean(dtype=np.float32)),
        float(data.std(dtype=np.float32)),
    )


def pack_4bit(data: np.ndarray) -> bytes:
    """Mode 101 bytes (IMOD's layout): low nibble first, each row on a whole byte."""
    nz, ny, nx = data.shape
    padded = np.zeros((nz, ny, nx + nx % 2), np.uint8)
    padded[..., :nx] = data
    return (padded[..., 0::2] | (padded[..., 1::2] << 4)).astype(np.uint8).tobytes()


def new_header(spec: MapSpec, data: np.ndarray) -> np.ndarray:
    """The header of ``spec``: mrcfile-like defaults, then ``spec.fields``."""
    header = np.zeros((), HEADER.newbyteorder(spec.byteorder))
    nz, ny, nx = data.shape
    header["nx"], header["ny"], header["nz"], header["mode"] = nx, ny, nz, spec.mode
    header["mx"], header["my"], header["mz"] = nx, ny, (1 if spec.ispg == 0 else nz)
    header["cella"] = (1.5 * nx, 1.5 * ny, 1.5 * int(header["mz"]))
    header["cellb"] = 90.0
    header["mapc"], header["mapr"], header["maps"] = 1, 2, 3
    header["ispg"] = 1
    header["dmin"], header["dmax"], header["dmean"], header["rms"] = header_stats(data)
    header["nversion"] = 20140
    header["map"] = b"MAP "
    header["machst"] = LITTLE_STAMP if spec.byteorder == "<" else BIG_STAMP
    if spec.unsigned_bytes:
        header["imod_stamp"], header["imod_flags"] = IMOD_STAMP, 0
    header["nsymbt"] = len(spec.ext)
    for name, value in spec.fields.items():
        header[name] = value
    header["nlabl"] = len(spec.labels)
    for index, text in enumerate(spec.labels):
        header["label"][index] = text.encode("ascii")
    return header


def write_raw(spec: MapSpec, path: Path) -> None:
    data = sample_data(spec)
    header = new_header(spec, data)
    if spec.mode == 101:
        body = pack_4bit(data)
    else:
        body = data.astype(data.dtype.newbyteorder(spec.byteorder)).tobytes()
    path.write_bytes(header.tobytes() + spec.ext + body)


def write_gemmi(spec: MapSpec, path: Path) -> None:
    """A map as gemmi writes it: cell and space group from ``spec.fields``, a sub-box
    with non-zero starts when ``spec.fields["box"]`` gives fractional corners."""
    import gemmi

    a, b, c = (float(v) for v in spec.fields["cella"])
    alpha, beta, gamma = (float(v) for v in spec.fields.get("cellb", (90, 90, 90)))
    grid = gemmi.FloatGrid(
        sample_data(spec).astype(np.float32).transpose(2, 1, 0).copy(),
        gemmi.UnitCell(a, b, c, alpha, beta, gamma),
        gemmi.find_spacegroup_by_number(spec.ispg),
    )
    ccp4 = gemmi.Ccp4Map()
    ccp4.grid = grid
    ccp4.update_ccp4_header(2, True)
    box = spec.fields.get("box")
    if box is not None:
        extent = gemmi.FractionalBox()
        for corner in box:
            extent.extend(gemmi.Fractional(*corner))
        ccp4.set_extent(extent)
        boxed = np.array(ccp4.grid, copy=False)  # gemmi keeps the full grid's statistics
        for word, stat in zip((20, 21, 22, 55), header_stats(boxed), strict=True):
            ccp4.set_header_float(word, stat)
    ccp4.write_ccp4_map(str(path))


def build(spec: MapSpec, directory: Path) -> Path:
    """Write ``spec`` into ``directory`` and return its path."""
    path = directory / spec.filename
    if spec.writer == "gemmi":
        write_gemmi(spec, path)
    elif spec.writer == "sample":
        from mrczio.sample_data import sample_path

        shutil.copyfile(sample_path(spec.name + ".map"), path)
    else:
        write_raw(spec, path)
    return path


# -- reading any MRC-family header as values ----------------------------------------------


def read_header(path: str | Path) -> np.ndarray:
    """The 1024-byte header of ``path`` in its own byte order (machine stamp, else the
    order in which NX..MODE are plausible)."""
    raw = Path(path).read_bytes()[:1024]
    stamp = raw[212]
    order = "<" if stamp == 0x44 else ">" if stamp == 0x11 else None
    if order is None:
        little = np.frombuffer(raw, HEADER.newbyteorder("<"))[0]
        order = "<" if 0 < int(little["nx"]) < 1 << 24 else ">"
    return np.frombuffer(raw, HEADER.newbyteorder(order))[0].copy()


def byteorder(header: np.ndarray) -> str:
    order = header.dtype["nx"].byteorder
    return ("<" if np.little_endian else ">") if order == "=" else order


def value(header: np.ndarray, name: str) -> Any:
    """A field as a plain Python value (arrays as lists, bytes fields as bytes)."""
    item = np.asarray(header[name])
    if item.dtype.kind == "V":
        return item.tobytes()
    if item.ndim:
        return [v.item() for v in item]
    return item.item()


def labels(header: np.ndarray) -> list[bytes]:
    return [bytes(header["label"][i]) for i in range(max(0, min(int(header["nlabl"]), 10)))]


def differences(
    source: np.ndarray, other: np.ndarray, fields: tuple[str, ...] = CARRIED
) -> dict[str, tuple[Any, Any]]:
    """{field: (source value, other value)} for every field of ``fields`` that differs."""
    found = {}
    for name in fields:
        a, b = value(source, name), value(other, name)
        if a != b:
            found[name] = (a, b)
    return found


# -- the corpus ---------------------------------------------------------------------------

AXIS_ORDERS = tuple(permutations((1, 2, 3)))


def _axes_case(order: tuple[int, int, int]) -> MapSpec:
    return MapSpec(
        name="axes-" + "".join(map(str, order)),
        fields={
            "mapc": order[0], "mapr": order[1], "maps": order[2],
            "nxstart": -3 + order[0], "nystart": -7, "nzstart": 11,
            "mx": 40, "my": 12, "mz": 72, "cella": (17.93, 4.71, 33.03),
        },
    )  # fmt: skip


def _label_case(count: int) -> MapSpec:
    return MapSpec(
        name=f"labels-{count}",
        shape=(2, 3, 4),
        labels=tuple(f"label {i} of {count}, written by the corpus" for i in range(count)),
    )


def _mode_case(mode: int, *, unsigned: bool = False, order: str = "<") -> MapSpec:
    suffix = "-uint8-imod" if unsigned else ""
    return MapSpec(
        name=f"mode-{mode}{suffix}" + ("-big" if order == ">" else ""),
        mode=mode,
        shape=(3, 5, 8),
        byteorder=order,
        unsigned_bytes=unsigned,
        fields={"ispg": 0, "mz": 1, "nxstart": 4, "origin": (1.5, -2.25, 3.0)},
    )


def ccp4_symmetry_records(operators: tuple[str, ...]) -> bytes:
    """A CCP4 symmetry extended header: one 80-character record per operator."""
    return b"".join(op.encode("ascii").ljust(80) for op in operators)


def fei1_extended_header(sections: int) -> bytes:
    """An FEI1 extended header: one 768-byte metadata block per section (version 0)."""
    block = bytearray(768)
    block[0:4] = (768).to_bytes(4, "little")  # metadata size
    block[4:8] = (0).to_bytes(4, "little")  # metadata version
    return bytes(block) * sections


SPECS: tuple[MapSpec, ...] = (
    *(_axes_case(order) for order in AXIS_ORDERS),
    MapSpec(
        name="monoclinic-p21",
        fields={
            "ispg": 4,
            "cella": (17.93, 4.71, 33.03),
            "cellb": (90.0, 94.326, 90.0),
            "mapc": 3,
            "mapr": 1,
            "maps": 2,
            "nystart": -21,
            "nzstart": -12,
            "mx": 40,
            "my": 12,
            "mz": 72,
        },
    ),
    MapSpec(
        name="triclinic",
        fields={
            "ispg": 1,
            "cella": (21.5, 33.25, 17.0),
            "cellb": (81.25, 94.3, 103.5),
            "nxstart": -2,
            "nystart": 5,
            "nzstart": -9,
            "mx": 30,
            "my": 44,
            "mz": 18,
            "origin": (-12.5, 3.75, 100.0),
        },
    ),
    MapSpec(
        name="gemmi-p1",
        writer="gemmi",
        shape=(6, 8, 10),
        fields={"ispg": 1, "cella": (25.0, 30.0, 35.0), "cellb": (70.0, 80.0, 95.0)},
    ),
    MapSpec(
        name="gemmi-p21-box",
        writer="gemmi",
        shape=(12, 8, 10),
        fields={
            "ispg": 4,
            "cella": (20.0, 25.0, 30.0),
            "cellb": (90.0, 94.3, 90.0),
            "box": ((-0.2, -0.1, 0.3), (0.3, 0.4, 0.7)),
        },
    ),
    MapSpec(
        name="gemmi-p212121",
        writer="gemmi",
        shape=(8, 6, 10),
        fields={"ispg": 19, "cella": (30.0, 20.0, 40.0)},
    ),
    MapSpec(
        name="gemmi-p43212",
        writer="gemmi",
        shape=(12, 8, 8),
        fields={"ispg": 96, "cella": (32.0, 32.0, 48.0)},
    ),
    MapSpec(
        name="ccp4-symmetry-p21",
        fields={"ispg": 4, "cellb": (90.0, 101.5, 90.0), "exttyp": b"CCP4"},
        ext=ccp4_symmetry_records(("X,Y,Z", "-X,Y+1/2,-Z")),
    ),
    MapSpec(
        name="fei1-movie",
        mode=1,
        shape=(3, 6, 8),
        fields={"ispg": 0, "mz": 1, "exttyp": b"FEI1", "nxstart": 2},
        ext=fei1_extended_header(3),
    ),
    MapSpec(
        name="volume-stack-401",
        shape=(15, 9, 10),
        fields={"ispg": 401, "mz": 5, "cella": (15.0, 13.5, 7.5), "nzstart": -2},
    ),
    MapSpec(
        name="volume-stack-401-big",
        shape=(15, 9, 10),
        byteorder=">",
        mode=1,
        fields={"ispg": 401, "mz": 5, "cella": (15.0, 13.5, 7.5), "mapc": 2, "mapr": 1},
    ),
    MapSpec(
        name="image-stack",
        mode=6,
        shape=(4, 6, 8),
        fields={
            "ispg": 0,
            "mz": 1,
            "cella": (8.0, 6.0, 1.0),
            "creatid": 17,
            "nint": 4,
            "nreal": 32,
            "voltage": 300.0,
            "cs": 2.7,
            "gain": 1.25,
        },
    ),
    MapSpec(
        name="axes-312-big",
        byteorder=">",
        fields={
            "mapc": 3,
            "mapr": 1,
            "maps": 2,
            "nxstart": -4,
            "ispg": 4,
            "cellb": (90.0, 94.3, 90.0),
            "origin": (5.0, 6.0, 7.0),
        },
    ),
    _mode_case(0),
    _mode_case(0, unsigned=True),
    _mode_case(1),
    _mode_case(2),
    _mode_case(4),
    _mode_case(6),
    _mode_case(7),
    _mode_case(8),
    _mode_case(12),
    _mode_case(101),
    _mode_case(4, order=">"),
    _mode_case(12, order=">"),
    *(_label_case(count) for count in (0, 1, 9, 10)),
    MapSpec(name="EMD-3001", writer="sample"),
    MapSpec(name="EMD-3197", writer="sample"),
)
SPEC_BY_NAME = {spec.name: spec for spec in SPECS}
assert len(SPEC_BY_NAME) == len(SPECS), "corpus names must be unique"


def select(predicate: Callable[[MapSpec], bool]) -> list[MapSpec]:
    return [spec for spec in SPECS if predicate(spec)]


class Corpus:
    """Builds corpus files on first use into one directory (a module-scoped fixture)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._paths: dict[str, Path] = {}

    def path(self, spec: MapSpec) -> Path:
        if spec.name not in self._paths:
            self._paths[spec.name] = build(spec, self.directory)
        return self._paths[spec.name]
