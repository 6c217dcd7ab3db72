"""Both directions with python-mrcz 0.6.0: identical pixels and metadata."""

from __future__ import annotations

from pathlib import Path

import mrcz
import numpy as np
import pytest

import mrczio

CODECS = ["blosclz", "lz4", "lz4hc", "zlib", "zstd"]
MRCZ_DTYPES = ["int8", "int16", "float32", "complex64", "uint16", "int32", "uint32"]


def make(dtype: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    dt = np.dtype(dtype)
    if dt.kind == "c":
        return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(dt)
    if dt.kind == "f":
        return rng.normal(size=shape).astype(dt)
    return rng.integers(0, 100, size=shape).astype(dt)


def read_with_mrcz(path: Path) -> tuple[np.ndarray, dict]:
    image, header = mrcz.readMRC(str(path))
    if isinstance(image, list):
        image = np.stack(image)
    return np.asarray(image), header


@pytest.mark.parametrize("dtype", MRCZ_DTYPES)
@pytest.mark.parametrize("codec", CODECS)
def test_mrczio_output_reads_in_python_mrcz(tmp_path: Path, rng: np.random.Generator, codec: str, dtype: str) -> None:
    data = make(dtype, (3, 17, 23), rng)
    path = tmp_path / "a.mrcz"
    meta = {"session": "demo", "dose": 1.5, "frames": [1, 2, 3]}
    mrczio.imwrite(path, data, codec=codec, voxel_size=(1.1, 1.2, 1.3), metadata=meta, voltage=300.0, cs=2.7)
    image, header = read_with_mrcz(path)
    assert image.dtype.newbyteorder("=") == data.dtype
    assert image.tobytes() == data.tobytes()
    assert list(header["pixelsize"]) == pytest.approx([1.3, 1.2, 1.1])  # z, y, x
    assert header["voltage"] == pytest.approx(300.0)
    assert header["C3"] == pytest.approx(2.7)
    for key, value in meta.items():
        assert header[key] == value


def test_uint8_counts_read_as_same_values_in_python_mrcz(tmp_path: Path, counts: np.ndarray) -> None:
    path = tmp_path / "a.mrcz"
    mrczio.imwrite(path, counts)
    image, _ = read_with_mrcz(path)
    assert image.dtype == np.int8  # python-mrcz has no uint8; counts < 128 keep their values
    assert np.array_equal(image.astype(np.int16), counts.astype(np.int16))


def test_big_endian_mrczio_output_reads_in_python_mrcz(tmp_path: Path, rng: np.random.Generator) -> None:
    data = rng.normal(size=(2, 10, 12)).astype(np.float32)
    path = tmp_path / "a.mrcz"
    mrczio.imwrite(path, data, byteorder="big")
    image, _ = mrcz.readMRC(str(path), endian="be")
    assert np.array_equal(np.asarray(image).astype(np.float32), data)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", MRCZ_DTYPES)
@pytest.mark.parametrize("codec", CODECS)
def test_python_mrcz_output_reads_in_mrczio(tmp_path: Path, rng: np.random.Generator, codec: str, dtype: str, n_threads: int) -> None:
    data = make(dtype, (3, 16, 20), rng)
    path = tmp_path / "a.mrcz"
    mrcz.writeMRC(data, str(path), compressor=codec, pixelsize=[1.5, 1.2, 1.0], n_threads=n_threads,
                  meta={"foo": "bar", "n": 3}, voltage=300.0)  # fmt: skip
    with mrczio.open(path) as reader:
        assert reader.read().tobytes() == data.tobytes()
        assert reader.voxel_size == pytest.approx((1.0, 1.2, 1.5))
        assert reader.metadata == {"foo": "bar", "n": 3}
        assert float(reader.header["voltage"]) == 300.0


def test_python_mrcz_big_endian_and_blosc2_files(tmp_path: Path, rng: np.random.Generator) -> None:
    data = rng.normal(size=(3, 16, 20)).astype(np.float32)
    big = tmp_path / "be.mrcz"
    mrcz.writeMRC(data, str(big), compressor="zstd", endian="be")
    v5 = tmp_path / "v5.mrcz"
    mrcz.writeMRC(data, str(v5), compressor="zstd", backend="blosc2")
    for path in (big, v5):
        assert np.array_equal(mrczio.imread(path), data)
    with mrczio.open(v5) as reader:
        assert reader.chunk_info(0)["chunk_format"] == "blosc2"


def test_python_mrcz_list_of_frames_and_2d(tmp_path: Path, rng: np.random.Generator) -> None:
    frames = [rng.integers(0, 9, size=(8, 10)).astype(np.int16) for _ in range(4)]
    listed = tmp_path / "list.mrcz"
    mrcz.writeMRC(frames, str(listed), compressor="lz4")
    assert np.array_equal(mrczio.imread(listed), np.stack(frames))
    flat = tmp_path / "flat.mrcz"
    mrcz.writeMRC(frames[0], str(flat), compressor="zstd")
    assert np.array_equal(mrczio.imread(flat), frames[0])


def test_python_mrcz_uncompressed_output(tmp_path: Path, rng: np.random.Generator) -> None:
    data = rng.normal(size=(2, 9, 11)).astype(np.float32)
    path = tmp_path / "plain.mrc"
    mrcz.writeMRC(data, str(path), pixelsize=[2.0, 2.0, 2.0], meta={"k": 1})
    with mrczio.open(path) as reader:
        assert reader.format_name == "mrc"
        assert np.array_equal(reader.read(), data)
        assert reader.metadata == {"k": 1}


def test_mode_word_is_advisory_lz4hc_written_as_2002(tmp_path: Path, rng: np.random.Generator) -> None:
    """python-mrcz <= 0.5.7 wrote lz4hc as compressor id 2; decoding trusts the chunk."""
    data = rng.integers(0, 50, size=(2, 12, 14)).astype(np.int16)
    path = tmp_path / "a.mrcz"
    mrcz.writeMRC(data, str(path), compressor="lz4hc")
    raw = bytearray(path.read_bytes())
    raw[12:16] = np.int32(2001).tobytes()
    path.write_bytes(bytes(raw))
    assert np.array_equal(mrczio.imread(path), data)
