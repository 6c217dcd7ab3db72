"""Other tools write, mrczio reads: mrcfile, python-mrcz 0.6.0, gemmi, RELION, real files.

Each cell asserts that mrczio returns exactly (B2) what the writer was given (or, for
writers that convert, what the writer's own reader returns), with the writer's voxel
size, extended header bytes and metadata. Documented refusals are asserted as such.
"""

from __future__ import annotations

import bz2
import gzip
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cflib import readers
from cflib.cells import SHAPES, as_stack, observe, ok, record, refuse, sample
from conftest import require

import mrczio

VOXEL_ZYX = [1.5, 1.2, 1.0]  # python-mrcz's pixelsize order


def _mrczio_read(path: Path, **kwargs: Any) -> readers.Read:
    try:
        with mrczio.open(path, **kwargs) as handle:
            return readers.Read(as_stack(handle.read()), {
                "voxel_size": tuple(handle.voxel_size), "metadata": handle.metadata,
                "extended_header": handle.extended_header, "exttyp": handle.exttyp,
                "header": handle.header, "shape": handle.shape,
            })  # fmt: skip
    except mrczio.MrczioError as exc:
        raise readers.Refused(f"{type(exc).__name__}: {exc}") from exc


def _close(a: tuple[float, ...], b: tuple[float, ...] | list[float]) -> bool:
    return bool(np.allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-6, atol=0))


# -- mrcfile ----------------------------------------------------------------------------------

MRCFILE_DTYPES = ("int8", "int16", "float32", "complex64", "uint16", "float16")
MRCFILE_LAYOUTS = {"image": (6, 7), "stack": (3, 5, 7), "volume": (5, 6, 7), "volstack": (2, 3, 4, 5),
                   "row1": (3, 1, 9), "col1": (2, 8, 1)}  # fmt: skip


@pytest.mark.parametrize("byteorder", ["<", ">"])
@pytest.mark.parametrize("layout", sorted(MRCFILE_LAYOUTS))
@pytest.mark.parametrize("dtype", MRCFILE_DTYPES)
def test_mrcfile_writes(
    request: pytest.FixtureRequest, tmp_path: Path, dtype: str, layout: str, byteorder: str
) -> None:
    require("mrcfile")
    import mrcfile

    data = sample(dtype, MRCFILE_LAYOUTS[layout]).astype(np.dtype(dtype).newbyteorder(byteorder))
    path = tmp_path / "mrcfile.mrc"
    extended = bytes(range(256)) * 2 + b"SERI"  # 516 bytes: odd-sized blocks must survive
    with warnings.catch_warnings(), mrcfile.new(path) as mrc:
        warnings.simplefilter(
            "ignore", RuntimeWarning
        )  # mrcfile's own statistics overflow on float max
        mrc.set_data(data)
        if layout in ("stack", "row1", "col1"):
            mrc.set_image_stack()
        mrc.voxel_size = (1.25, 1.5, 2.0)
        mrc.set_extended_header(np.frombuffer(extended, dtype="V1"))
        mrc.header.exttyp = b"SERI"
    reference = data.astype(data.dtype.newbyteorder("="))
    observed = observe(lambda: _mrczio_read(path), as_stack(reference), ok("B2"))
    read = _mrczio_read(path)
    assert read.info["shape"] == data.shape, "mrczio must report mrcfile's shape (2-D, 3-D, 4-D)"
    assert _close(read.info["voxel_size"], readers.read_mrcfile(path).info["voxel_size"])
    assert read.info["extended_header"] == extended and read.info["exttyp"] == b"SERI"
    record(request, table="others write", writer=f"mrcfile {'BE' if byteorder == '>' else 'LE'}", reader="mrczio",
           dtype=dtype, shape=layout, expected="B2 + voxel + ext header", observed=observed)  # fmt: skip


def test_mrcfile_widens_uint8(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """mrcfile stores uint8 as mode 6 (uint16, twice the size); mrczio returns uint16 values."""
    import mrcfile

    data = sample("uint8", (3, 5, 7))
    path = tmp_path / "u8.mrc"
    mrcfile.write(path, data)
    observed = observe(lambda: _mrczio_read(path), data.astype(np.uint16), ok("B2"))
    record(request, table="others write", writer="mrcfile LE", reader="mrczio", dtype="uint8",
           shape="volume", expected="B2 (uint16: mrcfile widens uint8 to mode 6)", observed=observed)  # fmt: skip


@pytest.mark.parametrize("compression", ["gzip", "bzip2"])
def test_mrcfile_compressed_is_refused(
    request: pytest.FixtureRequest, tmp_path: Path, compression: str
) -> None:
    """gzip/bzip2-wrapped MRC (mrcfile's compression=) is not read: decompress it first."""
    import mrcfile

    path = tmp_path / ("map.mrc.gz" if compression == "gzip" else "map.mrc.bz2")
    with mrcfile.new(path, compression=compression) as mrc:
        mrc.set_data(np.arange(105, dtype=np.float32).reshape(3, 5, 7))
    outcome = refuse("gzip/bzip2-wrapped MRC is not an mrczio format; decompress it first",
                     r"UnknownFormatError.*no installed format")  # fmt: skip
    observed = observe(
        lambda: _mrczio_read(path), np.arange(105, dtype=np.float32).reshape(3, 5, 7), outcome
    )
    opener = gzip.open if compression == "gzip" else bz2.open
    plain = tmp_path / "plain.mrc"
    with opener(path, "rb") as source:
        plain.write_bytes(source.read())
    observe(
        lambda: _mrczio_read(plain), np.arange(105, dtype=np.float32).reshape(3, 5, 7), ok("B2")
    )
    record(request, table="others write", writer=f"mrcfile {compression}", reader="mrczio", dtype="float32",
           shape="volume", expected=outcome.label(), observed=observed, reason=outcome.reason)  # fmt: skip


# -- python-mrcz 0.6.0 ---------------------------------------------------------------------

MRCZ_CODECS = (None, "blosclz", "lz4", "lz4hc", "zlib", "zstd")
MRCZ_DTYPES = ("int8", "int16", "float32", "complex64", "uint16", "int32", "uint32")
MRCZ_SHAPES = ("image", "stack", "prime", "row1")


@pytest.mark.parametrize("shape", MRCZ_SHAPES)
@pytest.mark.parametrize("dtype", MRCZ_DTYPES)
@pytest.mark.parametrize("codec", MRCZ_CODECS, ids=lambda c: c or "none")
def test_python_mrcz_writes(
    request: pytest.FixtureRequest, tmp_path: Path, codec: str | None, dtype: str, shape: str
) -> None:
    require("mrcz")
    import mrcz

    data = sample(dtype, SHAPES[shape])
    path = tmp_path / ("x.mrcz" if codec else "x.mrc")
    meta = {"detector": "K3", "dose": 1.5, "frames": [1, 2, 3]}
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", RuntimeWarning
        )  # python-mrcz's quick stats overflow on uint16
        mrcz.writeMRC(data, str(path), meta=meta, pixelsize=VOXEL_ZYX, voltage=300.0, C3=2.7,
                      compressor=codec, n_threads=1)  # fmt: skip
    observed = observe(lambda: _mrczio_read(path), as_stack(data), ok("B2"))
    read = _mrczio_read(path)
    assert read.info["metadata"] == meta
    assert _close(read.info["voxel_size"], VOXEL_ZYX[::-1])
    assert float(read.info["header"]["voltage"]) == 300.0
    record(request, table="others write", writer=f"python-mrcz {codec or 'uncompressed'}", reader="mrczio",
           dtype=dtype, shape=shape, expected="B2 + voxel + JSON metadata + voltage", observed=observed)  # fmt: skip


@pytest.mark.parametrize("variant", ["be", "blosc2", "list2d", "list3d", "clevel9-threads2"])
def test_python_mrcz_variants(request: pytest.FixtureRequest, tmp_path: Path, variant: str) -> None:
    require("mrcz")
    import mrcz

    data = sample("float32", (4, 16, 20))
    path = tmp_path / "v.mrcz"
    kwargs: dict[str, Any] = {"compressor": "zstd", "pixelsize": VOXEL_ZYX, "n_threads": 1}
    image: Any = data
    if variant == "be":
        kwargs["endian"] = "be"
    elif variant == "blosc2":
        kwargs["backend"] = "blosc2"
    elif variant == "list2d":
        image = list(data)
    elif variant == "list3d":
        image = [data[:2], data[2:]]
    else:
        kwargs.update(clevel=9, n_threads=2)
    mrcz.writeMRC(image, str(path), **kwargs)
    observed = observe(lambda: _mrczio_read(path), data, ok("B2"))
    assert _close(_mrczio_read(path).info["voxel_size"], VOXEL_ZYX[::-1]) or variant.startswith(
        "list"
    )
    record(request, table="others write", writer=f"python-mrcz zstd {variant}", reader="mrczio", dtype="float32",
           shape="stack", expected="B2", observed=observed)  # fmt: skip


# -- golden python-mrcz 0.5.7 files -------------------------------------------------------------

DATA = Path(__file__).resolve().parent / "data"
LEGACY = sorted(p.name for p in DATA.glob("v057_*"))


@pytest.mark.parametrize("name", LEGACY)
def test_python_mrcz_057_files(request: pytest.FixtureRequest, name: str) -> None:
    import json

    expected = np.load(DATA / "legacy_expected.npz")[name]
    calls = json.loads((DATA / "legacy_expected.json").read_text())["writeMRC_calls"][name]
    path = DATA / name
    mode101 = 101 in mrczio.get_registry().modes
    if name == "v057_uint4.mrc" and not mode101:
        outcome = refuse(
            "no installed plugin provides mode 101 (4-bit)", r"UnsupportedModeError.*101"
        )
    else:
        outcome = ok("B2")
    observed = observe(
        lambda: _mrczio_read(path), as_stack(expected) if expected.ndim == 2 else expected, outcome
    )
    if outcome.kind == "ok":
        read = _mrczio_read(path)
        assert _close(read.info["voxel_size"], VOXEL_ZYX[::-1])
        assert read.info["metadata"] == calls["kwargs"].get("meta", {})
        assert float(read.info["header"]["voltage"]) == calls["kwargs"].get("voltage", 0.0)
    record(request, table="others write", writer="python-mrcz 0.5.7 (golden)", reader="mrczio",
           dtype=str(expected.dtype), shape=name, expected=outcome.label(), observed=observed,
           reason=outcome.reason)  # fmt: skip


# -- gemmi and RELION --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["map-float32", "mask-int8"])
def test_gemmi_writes(request: pytest.FixtureRequest, tmp_path: Path, kind: str) -> None:
    require("gemmi")
    import gemmi

    dtype = np.float32 if kind == "map-float32" else np.int8
    data = sample(dtype, (3, 5, 7))
    ccp4 = gemmi.Ccp4Map() if dtype == np.float32 else gemmi.Ccp4Mask()
    grid_type = gemmi.FloatGrid if dtype == np.float32 else gemmi.Int8Grid
    ccp4.grid = grid_type(np.ascontiguousarray(data.transpose(2, 1, 0)))
    ccp4.grid.set_unit_cell(gemmi.UnitCell(7 * 1.25, 5 * 1.5, 3 * 2.0, 90, 90, 90))
    ccp4.update_ccp4_header()
    path = tmp_path / "gemmi.map"
    ccp4.write_ccp4_map(str(path))
    observed = observe(lambda: _mrczio_read(path), data, ok("B2"))
    assert _close(_mrczio_read(path).info["voxel_size"], (1.25, 1.5, 2.0))
    record(request, table="others write", writer=f"gemmi {kind}", reader="mrczio", dtype=str(np.dtype(dtype)),
           shape="volume", expected="B2 + voxel", observed=observed)  # fmt: skip


@pytest.mark.parametrize("dtype", ["int8", "int16", "float32"])
def test_relion_writes(request: pytest.FixtureRequest, tmp_path: Path, dtype: str) -> None:
    """RELION converts any input to a float32 stack; mrczio reads exactly what mrcfile reads."""
    require("relion")
    source = tmp_path / "in.mrcs"
    data = sample(dtype, (3, 5, 7))
    mrczio.imwrite(source, data, voxel_size=1.5)
    target = tmp_path / "out.mrcs"
    proc = readers._run(
        ["relion_image_handler", "--i", str(source), "--o", str(target)], cwd=tmp_path
    )
    assert proc.returncode == 0, readers._exit_text(proc)
    observed = observe(lambda: _mrczio_read(target), readers.read_mrcfile(target).array, ok("B2"))
    assert np.array_equal(_mrczio_read(target).array, data.astype(np.float32))
    record(request, table="others write", writer="RELION 3.1.3 relion_image_handler", reader="mrczio",
           dtype=f"{dtype} -> float32", shape="stack", expected="B2 (vs mrcfile) and V (vs input)",
           observed=observed)  # fmt: skip


# -- real files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["EMD-3001.map", "EMD-3197.map", "fei-extended.mrc"])
def test_real_files(request: pytest.FixtureRequest, real_data: Path, name: str) -> None:
    require("mrcfile")
    path = real_data / name
    reference = readers.read_mrcfile(path)
    observed = observe(lambda: _mrczio_read(path), reference.array, ok("B2"))
    read = _mrczio_read(path)
    assert read.info["extended_header"] == reference.info["extended_header"]
    assert read.info["exttyp"] == reference.info["exttyp"].rstrip(b"\0")
    assert _close(read.info["voxel_size"], reference.info["voxel_size"])
    assert read.info["shape"] == reference.info["shape"]
    record(request, table="others write", writer=f"real file {name}", reader="mrczio",
           dtype=str(reference.array.dtype), shape="x".join(map(str, reference.info["shape"])),
           expected="B2 + ext header + voxel (vs mrcfile)", observed=observed)  # fmt: skip
