"""Plain MRC output opens in mrcfile strict mode and passes mrcfile.validate; real files."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import mrcfile
import numpy as np
import pytest

import mrczio

MRCFILE_DTYPES = ["int8", "int16", "uint16", "float16", "float32", "complex64"]


def validate_quietly(path: Path) -> tuple[bool, str]:
    log = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)  # mrcfile casts complex means
        return mrcfile.validate(str(path), print_file=log), log.getvalue()


@pytest.mark.parametrize("volume", [False, True])
@pytest.mark.parametrize("dtype", MRCFILE_DTYPES)
def test_plain_output_passes_mrcfile_validate(tmp_path: Path, rng: np.random.Generator, dtype: str, volume: bool) -> None:
    scale = 1 if dtype == "float16" else 20  # mrcfile.validate sums float16 squares in float16
    data = (rng.normal(size=(3, 14, 15)) * scale).astype(dtype)
    path = tmp_path / "a.mrc"
    mrczio.imwrite(path, data, voxel_size=(1.0, 2.0, 3.0), volume=volume)
    valid, log = validate_quietly(path)
    assert valid, log
    with mrcfile.open(str(path)) as mrc:
        assert mrc.data.tobytes() == data.tobytes()
        assert mrc.voxel_size.tolist() == pytest.approx((1.0, 2.0, 3.0))
        assert mrc.is_volume() == volume
        assert mrc.is_image_stack() == (not volume)


def test_uint8_plain_output_is_mode_0_for_mrcfile(tmp_path: Path, counts: np.ndarray) -> None:
    path = tmp_path / "a.mrc"
    mrczio.imwrite(path, counts)
    valid, log = validate_quietly(path)
    assert valid, log
    with mrcfile.open(str(path)) as mrc:
        assert int(mrc.header.mode) == 0
        assert np.array_equal(mrc.data.view(np.uint8), counts)
    assert mrczio.imread(path).dtype == np.uint8


def test_mrcfile_written_files_read_identically(tmp_path: Path, rng: np.random.Generator) -> None:
    for dtype in MRCFILE_DTYPES:
        data = (rng.normal(size=(4, 6, 7)) * 10).astype(dtype)
        path = tmp_path / f"{dtype}.mrc"
        with mrcfile.new(str(path)) as mrc:
            mrc.set_data(data)
            mrc.voxel_size = (1.5, 2.5, 3.5)
        with mrczio.open(path) as reader:
            assert reader.read().tobytes() == data.tobytes()
            assert reader.voxel_size == pytest.approx((1.5, 2.5, 3.5))


def test_mrcfile_big_endian_and_4d(tmp_path: Path, rng: np.random.Generator) -> None:
    data = rng.normal(size=(2, 3, 5, 6)).astype(">f4")
    path = tmp_path / "vs.mrc"
    with mrcfile.new(str(path)) as mrc:
        mrc.set_data(data)
    assert np.array_equal(mrczio.imread(path), data.astype("<f4"))
    assert mrczio.imread(path).shape == (2, 3, 5, 6)


@pytest.mark.parametrize("name", ["EMD-3001.map", "EMD-3197.map", "fei-extended.mrc"])
def test_real_files_match_mrcfile(sample_file, name: str) -> None:
    path = sample_file(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mrcfile.open(str(path), permissive=True) as mrc:
            expected, voxel, ext = mrc.data.copy(), mrc.voxel_size, bytes(mrc.extended_header)
    with mrczio.open(path) as reader:
        assert np.array_equal(reader.read(), expected)
        assert reader.read().dtype == expected.dtype.newbyteorder("=")
        assert reader.voxel_size == pytest.approx(tuple(voxel.tolist()))
        assert reader.extended_header == ext


@pytest.mark.parametrize("suffix", [".mrc", ".mrcz"])
def test_fei_extended_header_survives_conversion(tmp_path: Path, sample_file, suffix: str) -> None:
    source = sample_file("fei-extended.mrc")
    target = tmp_path / f"fei{suffix}"
    mrczio.convert(source, target, metadata_format="msgpack")
    with mrczio.open(source) as a, mrczio.open(target) as b:
        assert b.exttyp == b"FEI1"
        assert b.extended_header == a.extended_header
        assert np.array_equal(a.read(), b.read())
        assert b.voxel_size == pytest.approx(a.voxel_size)
    if suffix == ".mrc":
        with mrcfile.open(str(target)) as mrc:
            assert mrc.indexed_extended_header is not None
            assert int(mrc.indexed_extended_header[0]["Metadata size"]) == 768
