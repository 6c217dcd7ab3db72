"""TIFF rows (tifffile, Pillow, libtiff, RELION), imageio, and round trips through every
conversion path between the registered formats.

Row order is part of the contract: mrczio arrays are in MRC row order (first row at the
bottom), TIFF pages store the top row first, so mrczio flips rows on TIFF write and read,
as IMOD, SerialEM and RELION do. Each TIFF cell states the order it expects.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from cflib import readers
from cflib.cells import SHAPES, as_stack, observe, ok, record, refuse, sample
from conftest import require

import mrczio

REGISTRY = mrczio.get_registry()
HAS_TIFF = "tiff" in REGISTRY.formats
TIFF_DTYPES = (
    "uint8",
    "int8",
    "uint16",
    "int16",
    "float32",
    "float16",
    "int32",
    "uint32",
    "complex64",
)
TIFF_SHAPES = ("image", "stack", "prime", "even", "row1", "col1", "pixel1")
TIFF_READERS = ("mrczio", "tifffile", "pillow", "libtiff", "relion")


def test_tiff_plugin_is_registered() -> None:
    assert HAS_TIFF, "the TIFF format plugin (plugins/mrczio_builtin/tiff.py) is not registered"


def _pillow_read(path: Path) -> readers.Read:
    from PIL import Image

    try:
        with Image.open(path) as image:
            frames = []
            for k in range(image.n_frames):
                image.seek(k)
                frames.append(np.array(image))
    except Exception as exc:
        raise readers.Refused(f"{type(exc).__name__}: {exc}") from exc
    return readers.Read(np.stack(frames))


def _libtiff_read(path: Path, tmp: Path) -> readers.Read:
    """``tiffcp -c none`` decompresses with libtiff; tifffile then reads the raw strips."""
    import tifffile

    out = tmp / "libtiff-none.tif"
    proc = subprocess.run(
        ["tiffcp", "-c", "none", str(path), str(out)], capture_output=True, check=False
    )
    if proc.returncode != 0:
        raise readers.Refused(f"tiffcp exit {proc.returncode}: {proc.stderr.decode()[-200:]}")
    return readers.Read(as_stack(tifffile.imread(out)))


def _tiff_expect(reader: str, dtype: str, shape: tuple[int, ...]) -> object:
    if reader == "mrczio":
        return ok("B2", "round trip (rows flipped on write and on read)")
    if reader == "tifffile":
        return ok("B2", "TIFF row order: rows reversed relative to the mrczio/MRC array")
    if reader == "pillow":
        if dtype in ("float16", "complex64"):
            return refuse(f"Pillow has no mode for {dtype} TIFF samples", r".")
        if dtype in ("int8", "uint32"):
            return ok(
                "B1",
                f"Pillow returns {dtype} samples as {'uint8' if dtype == 'int8' else 'int32'} (same bytes)",
            )
        if dtype == "int16":
            return ok("V", "Pillow widens int16 samples to int32")
        return ok("B2", "TIFF row order, page by page")
    if reader == "libtiff":
        return ok("B2", "tiffcp -c none decodes identically; TIFF row order")
    if dtype in ("uint8", "int8", "uint16", "int16", "float32"):
        return ok("V", "RELION flips TIFF rows on read, so it returns the MRC row order (float32)")
    return refuse(
        f"RELION 3.1.3 reads 8/16-bit integer and float32 TIFF only, not {dtype}", r"exit"
    )


@pytest.mark.skipif(
    not HAS_TIFF, reason="TIFF plugin missing: test_tiff_plugin_is_registered fails instead"
)
@pytest.mark.parametrize("reader", TIFF_READERS)
@pytest.mark.parametrize("shape", TIFF_SHAPES)
@pytest.mark.parametrize("dtype", TIFF_DTYPES)
def test_tiff_cell(
    request: pytest.FixtureRequest, tmp_path: Path, dtype: str, shape: str, reader: str
) -> None:
    if reader != "mrczio":
        require(
            {"tifffile": "tifffile", "pillow": "pillow", "libtiff": "libtiff", "relion": "relion"}[
                reader
            ]
        )
    data = as_stack(sample(dtype, SHAPES[shape]))
    path = tmp_path / "movie.tif"
    mrczio.imwrite(path, data, voxel_size=1.25)
    outcome = _tiff_expect(reader, dtype, data.shape)
    flipped = np.ascontiguousarray(data[:, ::-1, :])
    if reader == "mrczio":
        observed = observe(lambda: readers.Read(as_stack(mrczio.imread(path))), data, outcome)
    elif reader == "tifffile":
        import tifffile

        observed = observe(lambda: readers.Read(as_stack(tifffile.imread(path))), flipped, outcome)
    elif reader == "pillow":
        observed = observe(lambda: _pillow_read(path), flipped, outcome)
    elif reader == "libtiff":
        observed = observe(lambda: _libtiff_read(path, tmp_path), flipped, outcome)
    else:
        observed = observe(lambda: readers.read_relion(path), data, outcome)
    record(request, table="TIFF", writer="mrczio tiff (LZW)", reader=reader, dtype=dtype, shape=shape,
           expected=outcome.label(), observed=observed, reason=outcome.reason)  # fmt: skip


# -- TIFF written by others ---------------------------------------------------------------


@pytest.mark.skipif(
    not HAS_TIFF, reason="TIFF plugin missing: test_tiff_plugin_is_registered fails instead"
)
@pytest.mark.parametrize(
    "writer", ["tifffile-lzw", "tifffile-deflate-predictor", "tifffile-bigtiff", "pillow-lzw"]
)
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_others_write_tiff(
    request: pytest.FixtureRequest, tmp_path: Path, writer: str, dtype: str
) -> None:
    """A TIFF page's top row is the last row of mrczio's (MRC-order) array."""
    import tifffile

    pages = as_stack(sample(dtype, (3, 13, 11)))
    path = tmp_path / "other.tif"
    if writer == "tifffile-lzw":
        tifffile.imwrite(path, pages, compression="lzw", photometric="minisblack")
    elif writer == "tifffile-deflate-predictor":
        tifffile.imwrite(path, pages, compression="zlib", predictor=True, photometric="minisblack")
    elif writer == "tifffile-bigtiff":
        tifffile.imwrite(path, pages, bigtiff=True, photometric="minisblack")
    else:
        from PIL import Image

        mode = {"uint8": "L", "uint16": "I;16", "float32": "F"}[dtype]
        images = [
            Image.fromarray(p, mode=mode)
            if dtype != "uint16"
            else Image.frombytes(mode, p.shape[::-1], p.tobytes())
            for p in pages
        ]
        images[0].save(path, save_all=True, append_images=images[1:], compression="tiff_lzw")
    observed = observe(
        lambda: readers.Read(as_stack(mrczio.imread(path))),
        np.ascontiguousarray(pages[:, ::-1]),
        ok("B2"),
    )
    record(request, table="TIFF", writer=writer, reader="mrczio", dtype=dtype, shape="prime",
           expected="B2 (rows flipped to MRC order)", observed=observed)  # fmt: skip


@pytest.mark.skipif(
    not HAS_TIFF, reason="TIFF plugin missing: test_tiff_plugin_is_registered fails instead"
)
@pytest.mark.parametrize("packing", ["serialem", "standard"])
def test_4bit_tiff(request: pytest.FixtureRequest, tmp_path: Path, packing: str) -> None:
    """4-bit TIFF: SerialEM/IMOD packing (8-bit, half width, low nibble first) and standard
    BitsPerSample 4 (high nibble first); tifffile and libtiff see the packed/standard form."""
    import tifffile

    data = sample("uint8", (2, 8, 10)) % 16
    path = tmp_path / "four.tif"
    mrczio.imwrite(path, data, packed4bit=packing)
    observed = observe(lambda: readers.Read(as_stack(mrczio.imread(path))), data, ok("B2"))
    stored = as_stack(tifffile.imread(path))[:, ::-1]
    if packing == "serialem":
        unpacked = np.stack([stored & 15, stored >> 4], axis=-1).reshape(data.shape)
        assert stored.shape == (2, 8, 5) and np.array_equal(unpacked, data)
    else:
        assert np.array_equal(stored, data)
    record(request, table="TIFF", writer=f"mrczio tiff 4-bit {packing}", reader="mrczio + tifffile",
           dtype="uint4", shape="even", expected="B2 (and the documented packing)", observed=observed)  # fmt: skip


# -- imageio v3 ----------------------------------------------------------------------------


@pytest.mark.parametrize("extension", [".mrc", ".mrcs", ".mrcz", ".map"])
@pytest.mark.parametrize("dtype", ["uint8", "int16", "float32", "uint16"])
def test_imageio_reads_and_writes(
    request: pytest.FixtureRequest, tmp_path: Path, extension: str, dtype: str
) -> None:
    require("imageio")
    import imageio.v3 as iio

    data = sample(dtype, (3, 5, 7))
    path = tmp_path / f"x{extension}"
    mrczio.imwrite(path, data)
    observed = observe(lambda: readers.Read(as_stack(iio.imread(path))), data, ok("B2"))
    back = tmp_path / f"y{extension}"
    iio.imwrite(back, data)
    observe(lambda: readers.Read(as_stack(mrczio.imread(back))), data, ok("B2"))
    record(request, table="imageio", writer="mrczio / imageio.v3.imwrite", reader="imageio.v3.imread",
           dtype=dtype, shape=extension, expected="B2 both ways", observed=observed)  # fmt: skip


# -- round trips through every conversion path -----------------------------------------------

CONVERSION_TARGETS = {"mrc": ".mrcs", "mrcz": ".mrcz", "tiff": ".tif"}


def _paths() -> list[object]:
    names = [n for n in CONVERSION_TARGETS if n in REGISTRY.formats]
    return [pytest.param(a, b, id=f"{a}->{b}->{a}") for a in names for b in names]


@pytest.mark.parametrize(("source", "target"), _paths())
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32", "int16"])
def test_conversion_round_trip(
    request: pytest.FixtureRequest, tmp_path: Path, source: str, target: str, dtype: str
) -> None:
    """src -> dst -> src keeps pixels, voxel size and metadata; between MRC-family files the
    extended header bytes and EXTTYP survive too."""
    data = sample(dtype, (3, 13, 11))
    meta = {"detector": "K3", "dose_per_frame": 1.25}
    first = tmp_path / f"a{CONVERSION_TARGETS[source]}"
    mrczio.imwrite(first, data, voxel_size=(1.25, 1.25, 2.0), metadata=meta)
    middle = tmp_path / f"b{CONVERSION_TARGETS[target]}"
    mrczio.convert(first, middle)
    last = tmp_path / f"c{CONVERSION_TARGETS[source]}"
    mrczio.convert(middle, last)
    observed = observe(lambda: readers.Read(as_stack(mrczio.imread(last))), data, ok("B2"))
    for step in (middle, last):
        with mrczio.open(step) as handle:
            assert np.allclose(handle.voxel_size[:2], (1.25, 1.25), rtol=1e-6)
            assert handle.metadata == meta, f"{step.name}: metadata lost"
    record(request, table="conversions", writer=f"{source} -> {target} -> {source}", reader="mrczio",
           dtype=dtype, shape="prime", expected="B2 + voxel + metadata", observed=observed)  # fmt: skip


@pytest.mark.parametrize("target", ["mrc", "mrcz"])
def test_conversion_keeps_extended_header(
    request: pytest.FixtureRequest, real_data: Path, tmp_path: Path, target: str
) -> None:
    """The FEI1 extended header of a real detector frame survives MRC <-> MRCZ byte for byte."""
    source = real_data / "fei-extended.mrc"
    middle = tmp_path / f"fei{CONVERSION_TARGETS[target]}"
    mrczio.convert(source, middle)
    back = tmp_path / "back.mrc"
    mrczio.convert(middle, back)
    with mrczio.open(source) as a, mrczio.open(back) as b, mrczio.open(middle) as m:
        assert m.extended_header == a.extended_header and m.exttyp == a.exttyp == b"FEI1"
        assert b.extended_header == a.extended_header
        observed = observe(lambda: readers.Read(as_stack(b.read())), as_stack(a.read()), ok("B2"))
    assert (
        readers.read_mrcfile(back).info["extended_header"]
        == readers.read_mrcfile(source).info["extended_header"]
    )
    record(request, table="conversions", writer=f"fei-extended.mrc -> {target} -> mrc", reader="mrczio + mrcfile",
           dtype="uint16", shape="3838x3710", expected="B2 + FEI1 extended header bytes", observed=observed)  # fmt: skip


@pytest.mark.skipif(
    not HAS_TIFF, reason="TIFF plugin missing: test_tiff_plugin_is_registered fails instead"
)
def test_mrc_to_tiff_row_order_matches_relion(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """RELION shows an MRC and its mrczio TIFF conversion as the same image (both flip)."""
    require("relion")
    data = sample("uint16", (2, 8, 10)) // 2  # < 32768: RELION 3.1.3 reads mode 6 as signed
    mrc_path, tif_path = tmp_path / "m.mrcs", tmp_path / "m.tif"
    mrczio.imwrite(mrc_path, data)
    mrczio.convert(mrc_path, tif_path)
    from_mrc = readers.read_relion(mrc_path).array
    observed = observe(lambda: readers.read_relion(tif_path), from_mrc, ok("B2"))
    record(request, table="conversions", writer="mrc -> tiff", reader="RELION (both files)", dtype="uint16",
           shape="even", expected="same image in RELION", observed=observed)  # fmt: skip
