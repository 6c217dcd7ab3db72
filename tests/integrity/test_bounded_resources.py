"""Hostile paths and files: refused at once with mrczio errors that keep the stdlib base."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tifffile

import mrczio
import mrczio.limits
from mrczio.errors import (
    DirectoryGivenError,
    FileAccessError,
    MetadataError,
    MissingFileError,
    NotRegularFileError,
    PixelBudgetError,
)

FORMATS = {"mrc": "a.mrc", "mrcz": "a.mrcz", "tiff": "a.tif"}

OPEN_FIFO = textwrap.dedent(
    """
    import sys, mrczio
    from mrczio.errors import NotRegularFileError
    fmt = sys.argv[2] or None
    try:
        mrczio.open(sys.argv[1], format=fmt)
    except NotRegularFileError as exc:
        assert isinstance(exc, OSError) and sys.argv[1] in str(exc), exc
        print("refused")
    """
)


@pytest.mark.parametrize("fmt", ["", "mrc", "mrcz", "tiff"])
def test_fifo_is_refused_at_once(tmp_path: Path, fmt: str) -> None:
    fifo = tmp_path / "movie.mrcz"
    os.mkfifo(fifo)
    # In a child process so that a regression fails the test (timeout) instead of hanging it.
    result = subprocess.run(
        [sys.executable, "-c", OPEN_FIFO, str(fifo), fmt],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip() == "refused", result.stderr


@pytest.mark.parametrize("fmt", [None, "mrc", "mrcz", "tiff"])
def test_device_missing_directory_and_loop(tmp_path: Path, fmt: str | None) -> None:
    with pytest.raises(NotRegularFileError, match="/dev/null: is a device"):
        mrczio.open("/dev/null", format=fmt)
    missing = tmp_path / "missing.mrc"
    with pytest.raises(MissingFileError) as info:
        mrczio.open(missing, format=fmt)
    assert isinstance(info.value, FileNotFoundError) and info.value.errno == errno.ENOENT
    assert info.value.filename == str(missing)
    with pytest.raises(DirectoryGivenError) as dir_info:
        mrczio.open(tmp_path, format=fmt)
    assert isinstance(dir_info.value, IsADirectoryError)
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(FileAccessError, match="symlink loop") as loop:
        mrczio.open(tmp_path / "a", format=fmt)
    assert loop.value.errno == errno.ELOOP and isinstance(loop.value, mrczio.MrczioError)


def test_proc_files(tmp_path: Path) -> None:
    with pytest.raises(mrczio.UnknownFormatError):
        mrczio.imread("/proc/self/status")
    with pytest.raises(mrczio.TruncatedFileError):
        mrczio.imread("/proc/self/status", format="mrc")
    with pytest.raises(FileAccessError) as info:
        mrczio.imread("/proc/self/mem")  # reading at offset 0 fails with EIO
    assert isinstance(info.value, OSError) and info.value.errno == errno.EIO


READ_AS_NOBODY = textwrap.dedent(
    """
    import os, sys, mrczio
    from mrczio.errors import AccessDeniedError
    mrczio.get_registry()  # load plugins while the interpreter's files are still readable
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)  # now an ordinary user: no right to read a 0600 file of root's
    try:
        mrczio.imread(sys.argv[1])
    except AccessDeniedError as exc:
        assert isinstance(exc, PermissionError) and sys.argv[1] in str(exc), exc
        print("denied")
    """
)


def test_permission_denied_in_a_process_without_rights(tmp_path: Path, counts: np.ndarray) -> None:
    assert os.geteuid() == 0, "this test drops to user nobody and must run as root (CI does)"
    path = tmp_path / "private.mrc"
    mrczio.imwrite(path, counts)
    os.chmod(path, 0o600)
    os.chmod(tmp_path, 0o755)
    result = subprocess.run(
        [sys.executable, "-c", READ_AS_NOBODY, str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip() == "denied", result.stderr


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_pixel_budget(
    tmp_path: Path, counts: np.ndarray, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / FORMATS[fmt]
    mrczio.imwrite(path, counts)
    frame = counts.shape[1] * counts.shape[2]
    monkeypatch.setattr(mrczio.limits, "MAX_PIXELS", 2 * frame)
    with pytest.raises(PixelBudgetError, match="MAX_PIXELS") as info:
        mrczio.imread(path)
    assert isinstance(info.value, MemoryError) and str(path) in str(info.value)
    with mrczio.open(path) as reader:
        assert np.array_equal(reader[1:3], counts[1:3])  # within the budget
        assert np.array_equal(np.stack(list(reader)), counts)  # frame by frame
        out = np.empty_like(counts)
        assert np.array_equal(reader.read(out=out), counts)  # caller-owned memory
        with pytest.raises(PixelBudgetError):
            reader[[0, 1, 2]]
    monkeypatch.setattr(mrczio.limits, "MAX_PIXELS", None)
    assert np.array_equal(mrczio.imread(path), counts)


def test_pixel_budget_from_environment(tmp_path: Path, counts: np.ndarray) -> None:
    path = tmp_path / "a.mrcz"
    mrczio.imwrite(path, counts)
    code = "import sys, mrczio, mrczio.limits; print(mrczio.limits.MAX_PIXELS); mrczio.imread(sys.argv[1])"
    small = subprocess.run(
        [sys.executable, "-c", code, str(path)], check=False, capture_output=True, text=True, timeout=120,
        env={**os.environ, "MRCZIO_MAX_PIXELS": "100"},
    )  # fmt: skip
    assert small.stdout.strip() == "100" and "PixelBudgetError" in small.stderr
    off = subprocess.run(
        [sys.executable, "-c", code, str(path)], check=False, capture_output=True, text=True, timeout=120,
        env={**os.environ, "MRCZIO_MAX_PIXELS": "none"},
    )  # fmt: skip
    assert off.returncode == 0 and off.stdout.strip() == "None"


def test_pixel_budget_refuses_before_allocating(tmp_path: Path, counts: np.ndarray) -> None:
    # A reader whose header claims 2**40 pixels under a 512 MiB address-space limit:
    # the budget must refuse it before numpy is asked for the memory.
    code = textwrap.dedent(
        """
        import resource, numpy as np
        import mrczio
        from mrczio.reader import ReaderInfo, StackReader
        from mrczio.errors import PixelBudgetError
        class Liar(StackReader):
            def _read_frames(self, start, stop, out): out[...] = 0
            def close(self): pass
        liar = Liar(ReaderInfo(path="liar.mrc", format_name="mrc", frame_shape=(2**16, 2**16),
                               n_frames=256, dtype=np.dtype("float32")))
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))
        try:
            liar.read()
        except PixelBudgetError as exc:
            print("refused" if "liar.mrc" in str(exc) else exc)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip() == "refused", result.stderr


def test_deeply_nested_json_metadata(tmp_path: Path, counts: np.ndarray) -> None:
    path = tmp_path / "deep.mrc"
    mrczio.imwrite(path, counts, metadata={"pad": "x" * 20000})
    raw = bytearray(path.read_bytes())
    begin = raw.index(b'{"pad"')
    end = raw.index(b'"}', begin) + 2
    deep = (b"[" * 5000 + b"]" * 5000).ljust(end - begin, b" ")
    raw[begin:end] = deep
    path.write_bytes(bytes(raw))
    with pytest.raises(MetadataError, match="nests 5000 levels") as info:
        mrczio.imread(path)
    assert str(path) in str(info.value)
    with pytest.warns(mrczio.PermissiveReadWarning), mrczio.open(path, permissive=True) as reader:
        assert reader.metadata == {} and np.array_equal(reader.read(), counts)


def test_huge_json_integer(tmp_path: Path, counts: np.ndarray) -> None:
    path = tmp_path / "int.mrc"
    mrczio.imwrite(path, counts, metadata={"pad": "x" * 5000})
    raw = bytearray(path.read_bytes())
    begin = raw.index(b'{"pad"')
    end = raw.index(b'"}', begin) + 2
    raw[begin:end] = (b'{"n": ' + b"9" * 4000 + b"}").ljust(end - begin, b" ")
    path.write_bytes(bytes(raw))
    with pytest.raises(MetadataError, match="4000 digits"):
        mrczio.imread(path)


def test_metadata_bounds_on_write_and_in_msgpack(tmp_path: Path, counts: np.ndarray) -> None:
    deep: object = 1
    for _ in range(100):
        deep = [deep]
    for fmt in ("json", "msgpack"):
        with pytest.raises(MetadataError, match="MAX_METADATA_DEPTH"):
            mrczio.imwrite(
                tmp_path / f"d-{fmt}.mrc", counts, metadata={"d": deep}, metadata_format=fmt
            )
    with pytest.raises(MetadataError, match="digits"):
        mrczio.imwrite(tmp_path / "big.mrc", counts, metadata={"n": 10**150})
    msgpack = mrczio.get_registry().serializer("msgpack")
    nested = b"\x81\xa1d" + b"\x91" * 100 + b"\xc0"  # {"d": [[[...None...]]]} 100 deep
    with pytest.raises(MetadataError, match="MAX_METADATA_DEPTH"):
        msgpack.loads(nested)
    with pytest.raises(MetadataError):
        msgpack.loads(b"\x81\xa1d" + b"\x91" * 200000 + b"\xc0")  # past msgpack's own stack
    fine = {"d": [[[1]]], "n": 10**50}
    mrczio.imwrite(tmp_path / "ok.mrc", counts, metadata=fine)
    with mrczio.open(tmp_path / "ok.mrc") as reader:
        assert reader.metadata == fine
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.mrc"]


def test_hostile_tiff_description_is_ignored(tmp_path: Path, counts: np.ndarray) -> None:
    path = tmp_path / "deep.tif"
    deep = json.dumps({"mrczio": {"metadata": {"x": 1}}})[:-2] + "[" * 3000 + "]" * 3000 + "}}"
    tifffile.imwrite(path, counts, description=deep, metadata=None, photometric="minisblack")
    with mrczio.open(path) as reader:
        assert reader.metadata == {}
        assert np.array_equal(reader.read(), counts[:, ::-1])
