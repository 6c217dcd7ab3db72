"""A real full file system (tmpfs) and real SIGKILLs: errors name the file, nothing partial."""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import mrczio
from mrczio.debris import cleanup_stale_temps
from mrczio.errors import DiskFullError
from mrczio.publish import TEMP_NAME

NAMES = ["a.mrc", "a.mrcz", "a.tif"]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted for this test (needs root; CI runs as root)."""
    if os.geteuid() != 0:
        pytest.fail("mounting a 4 MiB tmpfs needs root; run this test as root (CI does)")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def _noise(frames: int) -> np.ndarray:
    return np.random.default_rng(frames).integers(0, 65535, (frames, 256, 256), dtype=np.uint16)


def _assert_no_temp(folder: Path) -> None:
    assert [p.name for p in folder.iterdir() if TEMP_NAME.match(p.name)] == []


@pytest.mark.parametrize("name", NAMES)
def test_full_disk_names_the_file_and_leaves_nothing(small_disk: Path, name: str) -> None:
    path = small_disk / name
    with pytest.raises(DiskFullError) as info:
        mrczio.imwrite(path, _noise(40))  # 5.2 MB of incompressible data on a 4 MiB disk
    error = info.value
    assert isinstance(error, OSError) and error.errno == errno.ENOSPC
    assert error.filename == str(path) and str(path) in str(error) and ".part" not in str(error)
    assert list(small_disk.iterdir()) == []
    disk = os.statvfs(small_disk)
    assert disk.f_bfree * disk.f_frsize > 3_500_000  # the temporary file's space is free again
    mrczio.imwrite(path, _noise(2))
    assert np.array_equal(mrczio.imread(path), _noise(2))


@pytest.mark.parametrize("name", NAMES)
def test_writing_until_full_keeps_every_finished_file(small_disk: Path, name: str) -> None:
    stem, suffix = name.split(".")
    written = []
    with pytest.raises(DiskFullError, match="No space left on device"):
        for k in range(100):
            path = small_disk / f"{stem}{k}.{suffix}"
            mrczio.imwrite(path, _noise(3))
            written.append(path)
    assert written, "the disk filled before the first file"
    _assert_no_temp(small_disk)
    assert sorted(small_disk.iterdir()) == sorted(written)
    for path in written:
        assert np.array_equal(mrczio.imread(path), _noise(3))


@pytest.mark.parametrize("name", NAMES)
def test_failed_replacement_keeps_the_old_file(small_disk: Path, name: str) -> None:
    path = small_disk / name
    mrczio.imwrite(path, _noise(2))
    before = path.read_bytes()
    with pytest.raises(DiskFullError):
        mrczio.imwrite(path, _noise(40), overwrite=True)
    assert path.read_bytes() == before
    _assert_no_temp(small_disk)


def test_convert_onto_a_full_disk(tmp_path: Path, small_disk: Path) -> None:
    source = tmp_path / "big.mrc"
    mrczio.imwrite(source, _noise(40))
    with pytest.raises(DiskFullError, match=str(small_disk / "big.mrcz")):
        mrczio.convert(source, small_disk / "big.mrcz")
    assert list(small_disk.iterdir()) == []


# -- SIGKILL at random moments ----------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys, time, numpy as np, mrczio
    kind, path, source = sys.argv[1:4]
    def tick(k):  # frames arrive over ~1 s, as from a detector, so kills land mid-write
        time.sleep(0.0025)
        if k == 1:
            print("started", flush=True)  # a frame is written: the temporary file exists
    def paced(k):
        tick(k)
        return np.full((64, 128), k % 251, np.uint16)
    if kind == "convert":
        frames = iter(range(1, 401))
        mrczio.convert(source, path, progress=lambda _: tick(next(frames)))
    else:
        mrczio.imwrite(path, (paced(k) for k in range(400)))
    print("done", flush=True)
    """
)


@pytest.mark.parametrize("kind", ["a.mrc", "a.mrcz", "a.tif", "convert"])
def test_sigkill_at_random_moments(tmp_path: Path, kind: str) -> None:
    source = tmp_path / "source.mrc"
    mrczio.imwrite(source, np.full((400, 64, 128), 7, np.uint16))
    out = tmp_path / "out"
    out.mkdir()
    name = "a.mrcz" if kind == "convert" else kind
    chooser = random.Random(f"sigkill-{kind}")
    outcomes = {"killed with debris": 0, "killed clean": 0, "finished": 0}
    for attempt in range(8):
        path = out / f"{attempt}-{name}"
        process = subprocess.Popen(
            [sys.executable, "-c", WRITER, kind, str(path), str(source)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert process.stdout is not None
        assert process.stdout.readline() == "started\n", "the writer ended before its second frame"
        time.sleep(chooser.uniform(0.0, 0.4))
        process.send_signal(signal.SIGKILL)
        stdout, _ = process.communicate(timeout=60)
        if "done" in stdout:  # finished before the kill
            outcomes["finished"] += 1
            assert path.exists()
        if path.exists():  # published before the kill: it must be complete
            assert mrczio.imread(path).shape == (400, 64, 128)
        debris = [p for p in out.iterdir() if TEMP_NAME.match(p.name)]
        removed = cleanup_stale_temps(out, min_age=0)
        assert sorted(removed) == sorted(str(p) for p in debris)
        if not path.exists():
            outcomes["killed with debris" if debris else "killed clean"] += 1
        _assert_no_temp(out)
    print(kind, outcomes)  # shown with -s; the report quotes these counts
    assert outcomes["killed with debris"] > 0, outcomes  # the kills did land mid-write
