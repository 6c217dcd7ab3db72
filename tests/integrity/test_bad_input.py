"""Damaged and lying files give mrczio errors naming the file; writers never leave debris."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import mrczio


def write(tmp_path: Path, name: str, data: np.ndarray, **options: object) -> Path:
    path = tmp_path / name
    mrczio.imwrite(path, data, **options)  # type: ignore[arg-type]
    return path


def patch(path: Path, offset: int, value: bytes) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset : offset + len(value)] = value
    path.write_bytes(bytes(raw))


def expect_error(path: Path, error: type[Exception] = mrczio.MrczioError) -> Exception:
    with pytest.raises(error) as info:
        mrczio.imread(path)
    assert str(path) in str(info.value)
    return info.value


@pytest.mark.parametrize("suffix", [".mrc", ".mrcz"])
@pytest.mark.parametrize("keep", [0, 1, 100, 1023, 1024, 1030, -1])
def test_truncated_files(tmp_path: Path, counts: np.ndarray, suffix: str, keep: int) -> None:
    path = write(tmp_path, f"a{suffix}", counts)
    raw = path.read_bytes()
    path.write_bytes(raw[:keep] if keep >= 0 else raw[:-1])
    expect_error(path)


def test_empty_file_and_directory(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mrc"
    empty.write_bytes(b"")
    expect_error(empty, mrczio.UnknownFormatError)
    with pytest.raises(mrczio.MrczioError):
        mrczio.imread(tmp_path)


def test_not_an_mrc_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.mrc"
    path.write_bytes(b"hello world\n" * 200)
    expect_error(path, mrczio.UnknownFormatError)
    with pytest.raises(mrczio.FormatError):
        mrczio.open(path, format="mrc")


def test_lying_dimensions_do_not_allocate(tmp_path: Path, counts: np.ndarray) -> None:
    path = write(tmp_path, "a.mrc", counts)
    patch(path, 0, np.array([1 << 24, 1 << 24, 1 << 20], "<i4").tobytes())
    tracemalloc.start()
    try:
        expect_error(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * path.stat().st_size + (1 << 20)


def test_chunk_length_that_lies(tmp_path: Path, counts: np.ndarray) -> None:
    path = write(tmp_path, "a.mrcz", counts, checksums=False)  # found by the chunk walk
    patch(path, 1024 + 12, np.uint32(0x7FFFFFF0).tobytes())
    error = expect_error(path, mrczio.TruncatedFileError)
    assert "frame 0" in str(error)
    indexed = write(tmp_path, "b.mrcz", counts)  # found by the frame's checksum
    patch(indexed, 1024 + 12, np.uint32(0x7FFFFFF0).tobytes())
    assert expect_error(indexed, mrczio.ChecksumError).frame == 0  # type: ignore[attr-defined]


def test_chunk_that_does_not_decode(tmp_path: Path, counts: np.ndarray) -> None:
    path = write(tmp_path, "a.mrcz", counts, filter="none", level=9)
    raw = bytearray(path.read_bytes())
    for i in range(1024 + 16, 1024 + 40):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))
    with mrczio.open(path) as reader:
        assert np.array_equal(reader[1], counts[1])  # other frames stay readable
        with pytest.raises(mrczio.MrczioError):
            reader[0]


def test_unknown_mode_and_compressor(tmp_path: Path, counts: np.ndarray) -> None:
    path = write(tmp_path, "a.mrc", counts)
    patch(path, 12, np.int32(5).tobytes())
    expect_error(path, mrczio.UnsupportedModeError)
    framed = write(tmp_path, "b.mrcz", counts, checksums=False)
    patch(framed, 1024, bytes([0xC7]))  # a non-blosc chunk for compressor id 6 ...
    patch(framed, 12, np.int32(77000).tobytes())  # ... under an id no plugin knows
    expect_error(framed, mrczio.UnknownCodecError)
    summed = write(tmp_path, "c.mrcz", counts)
    patch(summed, 12, np.int32(77000).tobytes())  # a changed header fails its checksum
    expect_error(summed, mrczio.ChecksumError)


def test_nsymbt_past_the_end(tmp_path: Path, counts: np.ndarray) -> None:
    path = write(tmp_path, "a.mrc", counts)
    patch(path, 92, np.int32(1 << 30).tobytes())
    expect_error(path, mrczio.TruncatedFileError)


@pytest.mark.parametrize("fmt", ["json", "msgpack"])
def test_garbage_metadata(tmp_path: Path, counts: np.ndarray, fmt: str) -> None:
    path = write(tmp_path, "a.mrc", counts, metadata={"a": 1}, metadata_format=fmt)
    patch(path, 1024, b"\xc1\xff{")
    expect_error(path, mrczio.MetadataError)
    with pytest.warns(mrczio.PermissiveReadWarning):
        with mrczio.open(path, permissive=True) as reader:
            assert reader.metadata == {}
            assert np.array_equal(reader.read(), counts)


def test_permissive_mode_rescues_whole_frames(tmp_path: Path, counts: np.ndarray) -> None:
    for suffix in (".mrc", ".mrcz"):
        path = write(tmp_path, f"a{suffix}", counts, checksums=False)
        raw = path.read_bytes()
        path.write_bytes(raw[:-10])
        with pytest.warns(mrczio.PermissiveReadWarning):
            with mrczio.open(path, permissive=True) as reader:
                assert len(reader) == len(counts) - 1
                assert np.array_equal(reader.read(), counts[:-1])


def test_truncated_checksum_block_is_damage_not_absence(tmp_path: Path, counts: np.ndarray) -> None:
    path = write(tmp_path, "a.mrcz", counts)
    path.write_bytes(path.read_bytes()[:-10])  # the frames are intact, the block is not
    expect_error(path, mrczio.ChecksumError)
    with pytest.warns(mrczio.PermissiveReadWarning, match="checksum block"):
        with mrczio.open(path, permissive=True) as reader:
            assert np.array_equal(reader.read(), counts)


def test_writer_failure_leaves_nothing(tmp_path: Path, counts: np.ndarray) -> None:
    def frames():
        yield counts[0]
        raise RuntimeError("detector unplugged")

    with pytest.raises(RuntimeError):
        mrczio.imwrite(tmp_path / "a.mrcz", frames())
    assert list(tmp_path.iterdir()) == []


def test_never_overwrites_unless_asked(tmp_path: Path, counts: np.ndarray) -> None:
    path = write(tmp_path, "a.mrc", counts)
    before = path.read_bytes()
    with pytest.raises(mrczio.OutputExistsError):
        mrczio.imwrite(path, counts[:1])
    with pytest.raises(FileExistsError):
        mrczio.convert(path, path)
    assert path.read_bytes() == before
    mrczio.imwrite(path, counts[:1], overwrite=True)
    assert np.array_equal(mrczio.imread(path), counts[0])


def test_convert_in_place_when_asked(tmp_path: Path, counts: np.ndarray) -> None:
    path = write(tmp_path, "a.mrc", counts)
    mrczio.convert(path, path, overwrite=True, format="mrcz")
    with mrczio.open(path) as reader:
        assert reader.format_name == "mrcz"
        assert np.array_equal(reader.read(), counts)


def test_unwritable_dtype_and_shape(tmp_path: Path) -> None:
    with pytest.raises(mrczio.DataTypeError, match="float32"):
        mrczio.imwrite(tmp_path / "a.mrc", np.zeros((4, 4), np.float64))
    mrczio.imwrite(tmp_path / "b.mrc", np.zeros((4, 4), np.float64), dtype="float32")
    with pytest.raises(mrczio.DataTypeError):
        mrczio.imwrite(tmp_path / "c.mrc", np.zeros(5, np.float32))
    with pytest.raises(mrczio.OptionError):
        mrczio.imwrite(tmp_path / "d.mrc", np.zeros((4, 4), np.float32), codec="zstd")
    with pytest.raises(mrczio.UnknownCodecError):
        mrczio.imwrite(tmp_path / "e.mrcz", np.zeros((4, 4), np.float32), codec="snappy")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.mrc"]


def test_blosc_environment_variables_do_not_change_output(tmp_path: Path, counts: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    clean = write(tmp_path, "clean.mrcz", counts, codec="zstd", threads=1)
    monkeypatch.setenv("BLOSC_COMPRESSOR", "lz4")
    monkeypatch.setenv("BLOSC_CLEVEL", "9")
    with pytest.warns(mrczio.MrczioWarning, match="BLOSC_"):
        dirty = write(tmp_path, "dirty.mrcz", counts, codec="zstd", threads=1)
    assert clean.read_bytes()[1024:] == dirty.read_bytes()[1024:]
