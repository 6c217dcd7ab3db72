"""One mrczio class per kind of damage, across formats; the bare root is never raised."""

from __future__ import annotations

import ast
import errno
import pickle
from pathlib import Path

import numpy as np
import pytest

import mrczio
from mrczio import errors

ROOT = Path(mrczio.__file__).resolve().parent
SOURCES = [ROOT, ROOT.parent / "plugins" / "mrczio_builtin"]


def _raised_names(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            func = node.exc.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            found.append((node.lineno, name))
    return found


def test_the_bare_root_class_is_never_raised() -> None:
    offenders = [
        f"{path.relative_to(ROOT.parent)}:{line}"
        for folder in SOURCES
        for path in sorted(folder.rglob("*.py"))
        for line, name in _raised_names(path)
        if name == "MrczioError"
    ]
    assert offenders == []


def test_every_error_is_an_mrczio_error_with_its_stdlib_base() -> None:
    expected = {
        errors.MissingFileError: FileNotFoundError,
        errors.DirectoryGivenError: IsADirectoryError,
        errors.AccessDeniedError: PermissionError,
        errors.NotRegularFileError: OSError,
        errors.DiskFullError: OSError,
        errors.LockError: TimeoutError,
        errors.PixelBudgetError: MemoryError,
        errors.CorruptFrameError: ValueError,
        errors.ChecksumError: ValueError,
    }
    for cls, base in expected.items():
        assert issubclass(cls, errors.MrczioError) and issubclass(cls, base)
        assert getattr(mrczio, cls.__name__) is cls
    assert issubclass(errors.CorruptFrameError, errors.FormatError)
    assert issubclass(errors.CorruptFrameError, errors.CodecError)


def test_os_errors_keep_errno_path_and_survive_pickling() -> None:
    error = errors.DiskFullError("/data/out.mrcz", "No space left on device (while writing)", errno.ENOSPC)
    copy = pickle.loads(pickle.dumps(error))
    for e in (error, copy):
        assert type(e) is errors.DiskFullError and e.errno == errno.ENOSPC
        assert e.filename == "/data/out.mrcz" and e.path == "/data/out.mrcz"
        assert str(e) == "/data/out.mrcz: No space left on device (while writing)"


def _flip_frame_bytes(path: Path, start: int, stop: int) -> None:
    raw = bytearray(path.read_bytes())
    for i in range(start, stop):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))


def test_damaged_tiff_page_is_a_corrupt_frame(tmp_path: Path, counts: np.ndarray) -> None:
    import tifffile

    path = tmp_path / "a.tif"
    mrczio.imwrite(path, counts)
    with tifffile.TiffFile(path) as tif:
        offset = int(tif.pages[1].dataoffsets[0])
    _flip_frame_bytes(path, offset, offset + 16)
    with mrczio.open(path) as reader:
        assert np.array_equal(reader[0], counts[0])
        with pytest.raises(errors.CorruptFrameError) as info:
            reader[1]
    assert info.value.frame == 1 and str(path) in str(info.value)


def test_damaged_mrcz_chunk_is_the_same_class(tmp_path: Path, counts: np.ndarray) -> None:
    path = tmp_path / "a.mrcz"
    mrczio.imwrite(path, counts, filter="none", level=9)
    _flip_frame_bytes(path, 1024 + 16, 1024 + 40)
    with mrczio.open(path) as reader, pytest.raises(errors.CorruptFrameError) as info:
        reader[0]
    assert info.value.frame == 0
    with mrczio.open(path, verify=False) as reader, pytest.raises(errors.CorruptFrameError) as info:
        reader[0]  # the codec's own failure, past the checksum
    assert info.value.frame == 0 and not isinstance(info.value, errors.ChecksumError)


@pytest.mark.parametrize("name", ["a.mrc", "a.mrcz", "a.tif"])
def test_truncated_frame_data_is_truncation_in_every_format(
    tmp_path: Path, counts: np.ndarray, name: str
) -> None:
    path = tmp_path / name
    mrczio.imwrite(path, counts)
    raw = path.read_bytes()
    # inside the last frames' data (not only a trailer such as a checksum block)
    cut = int(len(raw) * 0.8) if name != "a.tif" else _end_of_page(path, 2) - 10
    path.write_bytes(raw[:cut])
    with pytest.raises(errors.TruncatedFileError, match=str(path)):
        with mrczio.open(path) as reader:
            reader.read()


def _end_of_page(path: Path, k: int) -> int:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[k]
        return int(page.dataoffsets[-1] + page.databytecounts[-1])
