"""Publishing: private temp names, no-replace races, attributes kept on overwrite."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import mrczio
from mrczio import publish
from mrczio.errors import FileAccessError, MissingFileError, OutputExistsError
from mrczio.publish import TEMP_NAME, AtomicFile, create_temp

FORMATS = ["a.mrc", "a.mrcz", "a.tif"]


def test_temp_file_is_new_hidden_locked_and_unpredictable(tmp_path: Path) -> None:
    final = str(tmp_path / "out.mrcz")
    names = set()
    for _ in range(20):
        fd, temp = create_temp(final)
        try:
            name = os.path.basename(temp)
            assert TEMP_NAME.match(name) and TEMP_NAME.match(name)["name"] == "out.mrcz"
            assert os.path.dirname(temp) == str(tmp_path)
            other = os.open(temp, os.O_RDONLY)
            with pytest.raises(BlockingIOError):  # the writer's flock marks it in use
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.close(other)
            names.add(name)
        finally:
            os.close(fd)
            os.unlink(temp)
    assert len(names) == 20


def test_temp_creation_never_follows_a_planted_symlink(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    planted = tmp_path / ".out.mrc.0000beef.part"
    planted.symlink_to(victim)
    tokens = iter(["0000beef", "0000cafe"])
    monkeypatch.setattr(publish, "_random_token", lambda: next(tokens))
    fd, temp = create_temp(str(tmp_path / "out.mrc"))
    os.close(fd)
    assert temp.endswith(".0000cafe.part")  # the symlink's name was skipped, not followed
    assert victim.read_bytes() == b"precious"


@pytest.mark.parametrize("name", FORMATS)
def test_file_that_appears_meanwhile_is_never_replaced(tmp_path: Path, counts: np.ndarray, name: str) -> None:
    path = tmp_path / name
    writer = mrczio.open_writer(path, frame_shape=counts.shape[1:], dtype=counts.dtype)
    writer.write(counts)
    path.write_bytes(b"written by someone else meanwhile")
    with pytest.raises(OutputExistsError, match=str(path)):
        writer.close()
    assert path.read_bytes() == b"written by someone else meanwhile"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


RACE = textwrap.dedent(
    """
    import os, sys, time, numpy as np, mrczio
    path, go = sys.argv[1], sys.argv[2]
    data = np.full((3, 16, 16), int(sys.argv[3]), np.uint16)
    writer = mrczio.open_writer(path, frame_shape=(16, 16), dtype=np.uint16)
    writer.write(data)
    open(go + sys.argv[3], "w").close()
    while not (os.path.exists(go + "1") and os.path.exists(go + "2")):
        time.sleep(0.001)
    try:
        writer.close()
    except mrczio.OutputExistsError:
        print("refused")
    else:
        print("published")
    """
)


@pytest.mark.parametrize("name", FORMATS)
def test_two_processes_writing_one_new_path(tmp_path: Path, name: str) -> None:
    path, go = tmp_path / name, str(tmp_path / "go")
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, str(path), go, str(k)], stdout=subprocess.PIPE, text=True
        )
        for k in (1, 2)
    ]
    outcomes = sorted(run.communicate(timeout=120)[0].strip() for run in runs)
    assert outcomes == ["published", "refused"]
    winner = mrczio.imread(path)
    assert len(np.unique(winner)) == 1 and int(winner.flat[0]) in (1, 2)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("go")) == [name]


@pytest.mark.parametrize("name", FORMATS)
def test_overwrite_keeps_mode_owner_and_xattrs(tmp_path: Path, counts: np.ndarray, name: str) -> None:
    assert os.geteuid() == 0, "this test changes file owners and must run as root (CI does)"
    path = tmp_path / name
    mrczio.imwrite(path, counts)
    os.chmod(path, 0o640)
    os.chown(path, 1234, 5678)
    os.setxattr(path, "user.lab.sample", b"grid 7")
    mrczio.imwrite(path, counts[:2] + 1, overwrite=True)
    info = os.stat(path)
    assert stat.S_IMODE(info.st_mode) == 0o640
    assert (info.st_uid, info.st_gid) == (1234, 5678)
    assert os.getxattr(path, "user.lab.sample") == b"grid 7"
    assert np.array_equal(mrczio.imread(path), counts[:2] + 1)


def test_convert_onto_itself_keeps_attributes(tmp_path: Path, counts: np.ndarray) -> None:
    path = tmp_path / "a.mrc"
    mrczio.imwrite(path, counts)
    os.chmod(path, 0o600)
    os.setxattr(path, "user.checksum", b"abc")
    mrczio.convert(path, path, overwrite=True, format="mrcz")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.getxattr(path, "user.checksum") == b"abc"
    assert np.array_equal(mrczio.imread(path), counts)


def test_copy_of_starts_as_a_copy_and_replaces_on_commit(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"0123456789")
    os.chmod(path, 0o604)
    with AtomicFile(str(path), overwrite=True, copy_of=str(path)) as out:
        assert out.file.read(4) == b"0123"
        out.file.seek(0, os.SEEK_END)
        out.file.write(b"ab")
        assert path.read_bytes() == b"0123456789"  # untouched until commit
    assert path.read_bytes() == b"0123456789ab"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o604
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def _no_hard_links(src: str, dst: str, **kwargs: object) -> None:
    raise OSError(errno.EPERM, "Operation not permitted")


def test_without_hard_links_falls_back_to_rename_noreplace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No link-less file system (vfat, some FUSE) is available in CI, so link() fails as there.
    monkeypatch.setattr(publish.os, "link", _no_hard_links)
    with AtomicFile(str(tmp_path / "new.bin")) as out:
        out.file.write(b"new")
    assert (tmp_path / "new.bin").read_bytes() == b"new"
    out = AtomicFile(str(tmp_path / "late.bin"))
    out.file.write(b"mine")
    (tmp_path / "late.bin").write_bytes(b"theirs")
    with pytest.raises(OutputExistsError):
        out.commit()
    assert (tmp_path / "late.bin").read_bytes() == b"theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["late.bin", "new.bin"]


def test_no_links_and_no_renameat2_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publish.os, "link", _no_hard_links)

    def unsupported(temp: str, final: str) -> None:
        raise FileAccessError(final, "this file system supports neither hard links nor ...", errno.EINVAL)

    monkeypatch.setattr(publish, "_rename_no_replace", unsupported)
    out = AtomicFile(str(tmp_path / "x.bin"))
    out.file.write(b"x")
    with pytest.raises(FileAccessError, match="x.bin"):
        out.commit()
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_names_the_final_file(tmp_path: Path, counts: np.ndarray) -> None:
    path = tmp_path / "no" / "a.mrcz"
    with pytest.raises(MissingFileError) as info:
        mrczio.imwrite(path, counts)
    assert isinstance(info.value, FileNotFoundError) and info.value.errno == errno.ENOENT
    assert str(path) in str(info.value) and ".part" not in str(info.value)


# -- early write-back with fsync -----------------------------------------------------------


def _count_writebacks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record start_writeback calls while still making the real system call."""
    calls: list[int] = []
    real = publish.start_writeback

    def counting(fd: int) -> None:
        calls.append(os.fstat(fd).st_size)
        real(fd)

    monkeypatch.setattr(publish, "start_writeback", counting)
    return calls


@pytest.mark.parametrize("fmt", ["mrcz", "mrc"])
def test_fsync_writes_start_writeback_after_every_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    calls = _count_writebacks(monkeypatch)
    stack = np.random.default_rng(2).poisson(1.0, (5, 64, 80)).astype(np.uint8)
    path = tmp_path / f"synced.{fmt}"
    mrczio.imwrite(path, stack, fsync=True)
    assert len(calls) == 5
    assert calls == sorted(calls) and calls[0] > 1024  # after each frame, the file grows
    np.testing.assert_array_equal(mrczio.imread(path), stack)


def test_writes_without_fsync_leave_writeback_to_the_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_writebacks(monkeypatch)
    mrczio.imwrite(tmp_path / "lazy.mrcz", np.zeros((3, 8, 8), np.uint8))
    assert calls == []


def test_sync_file_range_is_found_on_linux() -> None:
    assert (publish._sync_file_range() is not None) == sys.platform.startswith("linux")
