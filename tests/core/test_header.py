"""The header model: byte order detection, python-mrcz quirks, statistics."""

from __future__ import annotations

from pathlib import Path

import mrcz
import numpy as np
import pytest

import mrczio
from mrczio import header as mrc
from mrczio.stats import RunningStats


def test_header_dtype_is_1024_bytes_with_mrcz_fields_in_place() -> None:
    assert mrc.HEADER_DTYPE.itemsize == 1024
    offsets = {name: mrc.HEADER_DTYPE.fields[name][1] for name in mrc.HEADER_DTYPE.names}
    assert offsets["mode"] == 12 and offsets["exttyp"] == 104 and offsets["nversion"] == 108
    assert offsets["voltage"] == 132 and offsets["packed_bytes"] == 144
    assert offsets["imod_stamp"] == 152 and offsets["imod_flags"] == 156
    assert offsets["origin"] == 196 and offsets["machst"] == 212 and offsets["label"] == 224


def test_wrong_machine_stamp_is_overruled_by_plausibility(tmp_path: Path, rng: np.random.Generator) -> None:
    data = rng.normal(size=(2, 5, 6)).astype(np.float32)
    path = tmp_path / "a.mrc"
    mrczio.imwrite(path, data)
    raw = bytearray(path.read_bytes())
    raw[212:216] = b"\x11\x11\x00\x00"  # claims big-endian; the words are little-endian
    path.write_bytes(bytes(raw))
    assert np.array_equal(mrczio.imread(path), data)


def test_python_mrcz_05_mixed_endian_header_is_repaired(tmp_path: Path, rng: np.random.Generator) -> None:
    """0.5.x wrote MODE, stats, voltage/C3/gain, NLABL and packedBytes little-endian
    inside otherwise big-endian headers; rebuild such a file from a 0.6.0 one."""
    data = rng.normal(size=(3, 8, 10)).astype(np.float32)
    path = tmp_path / "old.mrcz"
    mrcz.writeMRC(data, str(path), compressor="zstd", endian="be", pixelsize=[1.0, 1.0, 1.0])
    raw = bytearray(path.read_bytes())
    big = np.frombuffer(bytes(raw[:1024]), mrc.header_dtype(">"))[0]
    little = np.zeros((), mrc.header_dtype("<"))
    for name in ("mode", "dmin", "dmax", "dmean", "voltage", "cs", "gain", "nlabl", "packed_bytes"):
        little[name] = big[name]
        offset = mrc.HEADER_DTYPE.fields[name][1]
        size = mrc.HEADER_DTYPE.fields[name][0].itemsize
        raw[offset : offset + size] = little.tobytes()[offset : offset + size]
    raw[224:233] = b"MRCZ0.5.7"
    path.write_bytes(bytes(raw))
    assert np.array_equal(mrczio.imread(path), data)


def test_uint8_is_stamped_unsigned_for_imod(tmp_path: Path, counts: np.ndarray) -> None:
    path = tmp_path / "a.mrc"
    mrczio.imwrite(path, counts)
    header = np.frombuffer(path.read_bytes()[:1024], mrc.HEADER_DTYPE)[0]
    assert int(header["mode"]) == 0
    assert int(header["imod_stamp"]) == mrc.IMOD_STAMP and int(header["imod_flags"]) & 1 == 0
    signed = tmp_path / "b.mrc"
    mrczio.imwrite(signed, counts.astype(np.int8))
    assert mrczio.imread(signed).dtype == np.int8


def test_voxel_size_never_infinite() -> None:
    header = mrc.new_header()
    header["nx"], header["ny"], header["nz"] = 10, 10, 0
    header["cella"] = (10.0, 10.0, 5.0)
    assert mrc.voxel_size(header) == (1.0, 1.0, 0.0)


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "float32", "complex64"])
def test_streamed_statistics_equal_whole_array(rng: np.random.Generator, dtype: str) -> None:
    data = (rng.normal(size=(5, 30, 40)) * 30).astype(dtype) if dtype[0] in "fc" else rng.integers(-100, 100, size=(5, 30, 40)).astype(dtype)
    stats = RunningStats()
    for frame in data:
        stats.add(frame)
    real = data.real if np.iscomplexobj(data) else data
    assert stats.minimum == real.min() and stats.maximum == real.max()
    assert stats.mean == pytest.approx(real.astype(np.float64).mean(), rel=1e-9, abs=1e-9)
    assert stats.rms == pytest.approx(np.std(data.astype(np.complex128 if np.iscomplexobj(data) else np.float64)), rel=1e-9)
