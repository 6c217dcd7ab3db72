"""Bit-exact round trips through plain MRC and every MRCZ codec, for every dtype."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mrczio

CODECS = ["blosclz", "lz4", "lz4hc", "zlib", "zstd"]
DTYPES = ["int8", "uint8", "int16", "uint16", "int32", "uint32", "float16", "float32", "complex64"]


def sample(dtype: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    dt = np.dtype(dtype)
    if dt.kind == "c":
        return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(dt)
    if dt.kind == "f":
        return rng.normal(size=shape).astype(dt)
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dt)


@pytest.mark.parametrize("shape", [(29, 31), (3, 29, 31)], ids=["2d", "3d"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("codec", ["plain", *CODECS])
def test_round_trip_is_bit_exact(tmp_path: Path, rng: np.random.Generator, codec: str, dtype: str, shape: tuple[int, ...]) -> None:
    data = sample(dtype, shape, rng)
    path = tmp_path / ("a.mrc" if codec == "plain" else "a.mrcz")
    options = {} if codec == "plain" else {"codec": codec}
    mrczio.imwrite(path, data, voxel_size=(1.25, 1.5, 2.0), **options)
    back = mrczio.imread(path)
    assert back.dtype == data.dtype
    assert back.shape == data.shape
    assert back.tobytes() == data.tobytes()
    with mrczio.open(path) as reader:
        assert reader.voxel_size == pytest.approx((1.25, 1.5, 2.0))
        assert reader.format_name == ("mrc" if codec == "plain" else "mrcz")


@pytest.mark.parametrize("byteorder", ["little", "big"])
@pytest.mark.parametrize("suffix", [".mrc", ".mrcz"])
def test_both_byte_orders(tmp_path: Path, rng: np.random.Generator, byteorder: str, suffix: str) -> None:
    data = rng.normal(size=(3, 16, 20)).astype(np.float32)
    path = tmp_path / f"a{suffix}"
    mrczio.imwrite(path, data, byteorder=byteorder)
    with mrczio.open(path) as reader:
        assert (reader.header.dtype["nx"].byteorder == ">") == (byteorder == "big")
        assert np.array_equal(reader.read(), data)
    stamp = path.read_bytes()[212:214]
    assert stamp == (b"\x44\x44" if byteorder == "little" else b"\x11\x11")


@pytest.mark.parametrize("level", [0, 5, 9])
@pytest.mark.parametrize("shuffle", ["bitshuffle", "shuffle", "none", "auto"])
def test_codec_settings_round_trip(tmp_path: Path, counts: np.ndarray, level: int, shuffle: str) -> None:
    path = tmp_path / "a.mrcz"
    mrczio.imwrite(path, counts, codec="zstd", level=level, filter=shuffle, blocksize=4096, threads=1)
    assert np.array_equal(mrczio.imread(path), counts)


def test_blosc2_chunks_round_trip(tmp_path: Path, counts: np.ndarray) -> None:
    path = tmp_path / "a.mrcz"
    mrczio.imwrite(path, counts, chunk_format="blosc2")
    with mrczio.open(path) as reader:
        assert reader.chunk_info(0)["chunk_format"] == "blosc2"
        assert np.array_equal(reader.read(), counts)


def test_random_access_reads_only_requested_frames(tmp_path: Path, rng: np.random.Generator) -> None:
    data = rng.poisson(2.0, size=(12, 40, 50)).astype(np.uint16)
    path = tmp_path / "a.mrcz"
    mrczio.imwrite(path, data)
    with mrczio.open(path) as reader:
        decoded: list[int] = []
        original = reader._decode_frame

        def spy(chunk: bytes, out: np.ndarray, k: int) -> None:
            decoded.append(k)
            original(chunk, out, k)

        reader._decode_frame = spy  # type: ignore[method-assign]
        assert np.array_equal(reader[7], data[7])
        assert decoded == [7]
        assert np.array_equal(reader[-1], data[-1])
        assert np.array_equal(reader[2:5], data[2:5])
        assert np.array_equal(reader[::4], data[::4])
        assert np.array_equal(reader[[3, 1]], data[[3, 1]])
        assert np.array_equal(reader[5, 10:20, 3], data[5, 10:20, 3])
        assert len(decoded) == 1 + 1 + 3 + 3 + 2 + 1
        assert len(reader) == 12
        assert [f.sum() for f in reader] == [f.sum() for f in data]
        assert [f.sum() for f in reader.iter_frames(9, 99)] == [f.sum() for f in data[9:]]


def test_index_errors_are_index_and_value_errors(tmp_path: Path, counts: np.ndarray) -> None:
    path = tmp_path / "a.mrcz"
    mrczio.imwrite(path, counts)
    with mrczio.open(path) as reader:
        with pytest.raises(IndexError):
            reader[len(counts)]
        with pytest.raises(ValueError):
            reader[-len(counts) - 1]
        with pytest.raises(mrczio.FrameIndexError):
            reader["a"]  # type: ignore[index]


def test_imread_index_matches_numpy(tmp_path: Path, counts: np.ndarray) -> None:
    path = tmp_path / "a.mrc"
    mrczio.imwrite(path, counts)
    assert np.array_equal(mrczio.imread(path, index=2), counts[2])
    assert np.array_equal(mrczio.imread(path, index=slice(1, 3)), counts[1:3])
    assert np.array_equal(mrczio.imread(path, index=...), counts)


def test_read_into_preallocated_array(tmp_path: Path, counts: np.ndarray) -> None:
    path = tmp_path / "a.mrcz"
    mrczio.imwrite(path, counts)
    out = np.zeros_like(counts)
    with mrczio.open(path) as reader:
        result = reader.read(out=out)
    assert np.shares_memory(result, out)
    assert np.array_equal(out, counts)


@pytest.mark.parametrize("suffix", [".mrc", ".mrcz"])
def test_streaming_write_from_iterator(tmp_path: Path, rng: np.random.Generator, suffix: str) -> None:
    frames = [rng.poisson(1.0, size=(20, 30)).astype(np.uint8) for _ in range(7)]
    path = tmp_path / f"a{suffix}"
    mrczio.imwrite(path, iter(frames))
    assert np.array_equal(mrczio.imread(path), np.stack(frames))
    assert [f.tolist() for f in mrczio.imiter(path)] == [f.tolist() for f in frames]


def test_open_writer_streams_blocks(tmp_path: Path, counts: np.ndarray) -> None:
    path = tmp_path / "a.mrcz"
    with mrczio.open_writer(path, counts.shape[1:], counts.dtype, codec="lz4") as writer:
        writer.write(counts[:1])
        writer.write(counts[1])
        writer.write(list(counts[2:]))
        assert not path.exists()  # nothing under the final name until close
    assert np.array_equal(mrczio.imread(path), counts)


@pytest.mark.parametrize("suffix", [".mrc", ".mrcz"])
@pytest.mark.parametrize("placement", ["extended", "footer"])
def test_append_frames(tmp_path: Path, counts: np.ndarray, suffix: str, placement: str) -> None:
    path = tmp_path / f"a{suffix}"
    mrczio.imwrite(path, counts[:2], voxel_size=1.5, metadata={"dose": 1.0}, metadata_placement=placement)
    assert mrczio.append(path, counts[2:]) == len(counts)
    with mrczio.open(path) as reader:
        assert np.array_equal(reader.read(), counts)
        assert reader.metadata == {"dose": 1.0}
        assert reader.voxel_size == pytest.approx((1.5, 1.5, 1.5))
        assert float(reader.header["dmax"]) == counts.max()
        assert float(reader.header["dmean"]) == pytest.approx(counts.mean(), rel=1e-6)
        assert float(reader.header["rms"]) == pytest.approx(counts.std(), rel=1e-5)


def test_failed_append_restores_the_file(tmp_path: Path, counts: np.ndarray) -> None:
    path = tmp_path / "a.mrcz"
    mrczio.imwrite(path, counts[:2])
    before = path.read_bytes()

    def frames():
        yield counts[2]
        raise RuntimeError("acquisition stopped")

    with pytest.raises(RuntimeError):
        mrczio.append(path, frames())
    assert path.read_bytes() == before


def test_append_refuses_another_dtype(tmp_path: Path, counts: np.ndarray) -> None:
    path = tmp_path / "a.mrc"
    mrczio.imwrite(path, counts)
    with pytest.raises(mrczio.DataTypeError):
        mrczio.append(path, counts.astype(np.float32))
    assert np.array_equal(mrczio.imread(path), counts)
