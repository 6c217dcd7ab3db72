"""The append lock: real processes exclude each other; waiting, failing and replaced files."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from mrczio.errors import LockError, MissingFileError, MrczioError
from mrczio.locking import FileLock, lock_file

HOLDER = textwrap.dedent(
    """
    import os, sys, time
    from mrczio.locking import lock_file
    path, ready, release = sys.argv[1:4]
    with lock_file(path):
        open(ready, "w").close()
        while not os.path.exists(release):
            time.sleep(0.005)
    """
)

COUNTER = textwrap.dedent(
    """
    import sys
    from mrczio.locking import FileLock
    path = sys.argv[1]
    for _ in range(int(sys.argv[2])):
        with FileLock(path):
            with open(path, "r+") as handle:  # read-modify-write: loses updates unless excluded
                value = int(handle.read() or 0)
                handle.seek(0)
                handle.write(str(value + 1))
                handle.truncate()
    """
)


def _wait_for(path: Path, process: subprocess.Popen[bytes]) -> None:
    while not path.exists():
        assert process.poll() is None, "the lock holder died"
        time.sleep(0.005)


def test_second_process_fails_fast_or_after_timeout(tmp_path: Path) -> None:
    target, ready, release = tmp_path / "a.mrcz", tmp_path / "ready", tmp_path / "release"
    target.write_bytes(b"x")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(target), str(ready), str(release)])
    try:
        _wait_for(ready, holder)
        with pytest.raises(LockError) as info:
            lock_file(str(target), timeout=0)
        assert isinstance(info.value, TimeoutError) and isinstance(info.value, MrczioError)
        assert str(target) in str(info.value) and "another process" in str(info.value)
        with pytest.raises(LockError, match="after waiting 0.2 s"):
            lock_file(str(target), timeout=0.2)
    finally:
        release.touch()
        assert holder.wait(timeout=60) == 0
    with lock_file(str(target), timeout=0):  # free again once the holder is gone
        pass


def test_waiting_process_gets_the_lock_only_after_release(tmp_path: Path) -> None:
    target, ready, release = tmp_path / "a.mrc", tmp_path / "ready", tmp_path / "release"
    target.write_bytes(b"x")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(target), str(ready), str(release)])
    _wait_for(ready, holder)
    got: list[bool] = []

    def waiter() -> None:
        with FileLock(str(target)):
            got.append(release.exists())

    thread = threading.Thread(target=waiter)
    thread.start()
    thread.join(0.3)
    assert thread.is_alive() and not got  # still waiting while the other process holds it
    release.touch()
    thread.join(60)
    assert got == [True]
    assert holder.wait(timeout=60) == 0


def test_two_processes_never_interleave(tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    counter.write_text("0")
    runs = [
        subprocess.Popen([sys.executable, "-c", COUNTER, str(counter), "300"]) for _ in range(2)
    ]
    assert [run.wait(timeout=300) for run in runs] == [0, 0]
    assert counter.read_text() == "600"


def test_file_replaced_while_waiting_is_locked_afresh(tmp_path: Path) -> None:
    target = tmp_path / "a.mrcz"
    target.write_bytes(b"old")
    first = lock_file(str(target))
    acquired: list[FileLock] = []
    thread = threading.Thread(target=lambda: acquired.append(lock_file(str(target))))
    thread.start()
    thread.join(0.2)
    replacement = tmp_path / "new"
    replacement.write_bytes(b"new")
    os.replace(replacement, target)  # a rewrite through a copy publishes a new inode
    first.release()
    thread.join(60)
    second = acquired[0]
    assert second._fd is not None
    assert os.fstat(second._fd).st_ino == os.stat(target).st_ino
    with pytest.raises(LockError):
        lock_file(str(target), timeout=0)
    second.release()


def test_missing_file_and_double_acquire(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="nothing.mrc"):
        lock_file(str(tmp_path / "nothing.mrc"))
    (tmp_path / "f").write_bytes(b"")
    lock = lock_file(str(tmp_path / "f"))
    with pytest.raises(LockError):
        lock.acquire()
    lock.release()
    assert not lock.held
