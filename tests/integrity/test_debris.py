"""cleanup_stale_temps removes what killed writers left, and nothing else."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

import mrczio
from mrczio.debris import cleanup_stale_temps, main
from mrczio.publish import TEMP_NAME

WRITER = textwrap.dedent(
    """
    import sys, time, numpy as np, mrczio
    writer = mrczio.open_writer(sys.argv[1], frame_shape=(64, 64), dtype=np.uint16)
    writer.write(np.ones((4, 64, 64), np.uint16))
    open(sys.argv[2], "w").close()
    time.sleep(600)
    """
)


def _start_writer(folder: Path, name: str) -> subprocess.Popen[bytes]:
    ready = folder.parent / f"{name}.ready"
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(folder / name), str(ready)])
    while not ready.exists():
        assert process.poll() is None, "the writer died"
        time.sleep(0.005)
    return process


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if TEMP_NAME.match(p.name))


def test_killed_writers_debris_is_removed_live_writers_kept(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    killed = _start_writer(folder, "killed.mrcz")
    live = _start_writer(folder, "live.tif")
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=60)
        temps = _temps(folder)
        assert len(temps) == 2 and sorted(TEMP_NAME.match(t)["name"] for t in temps) == [
            "killed.mrcz",
            "live.tif",
        ]
        assert cleanup_stale_temps(folder) == []  # both are younger than a minute
        removed = cleanup_stale_temps(folder, min_age=0)
        assert [os.path.basename(p) for p in removed] == [t for t in temps if "killed" in t]
        assert [TEMP_NAME.match(t)["name"] for t in _temps(folder)] == ["live.tif"]
    finally:
        live.send_signal(signal.SIGKILL)
        live.wait(timeout=60)
    assert len(cleanup_stale_temps(folder, min_age=0)) == 1
    assert list(folder.iterdir()) == []


def test_other_files_are_never_touched(tmp_path: Path) -> None:
    keep = {
        "a.mrcz": b"data",
        ".a.mrcz.part": b"not our pattern",
        ".a.mrcz.0123abcd.partial": b"not our pattern",
        "a.mrcz.0123abcd.part": b"not hidden",
        ".a.mrcz.0123ABCD.part": b"upper-case hex",
    }
    for name, data in keep.items():
        (tmp_path / name).write_bytes(data)
    target = tmp_path / "target"
    target.write_bytes(b"precious")
    (tmp_path / ".b.mrc.00000000.part").symlink_to(target)
    (tmp_path / ".c.mrc.11111111.part").mkdir()
    old = time.time() - 3600
    for path in tmp_path.iterdir():
        os.utime(path, (old, old), follow_symlinks=False)
    assert cleanup_stale_temps(tmp_path) == []
    assert {n: (tmp_path / n).read_bytes() for n in keep} == keep
    assert target.read_bytes() == b"precious"


def test_dry_run_and_command_line(tmp_path: Path, capsys: object) -> None:
    stale = tmp_path / ".x.tif.deadbeef.part"
    stale.write_bytes(b"leftover")
    old = time.time() - 120
    os.utime(stale, (old, old))
    assert cleanup_stale_temps(tmp_path, dry_run=True) == [str(stale)]
    assert stale.exists()
    assert main([str(tmp_path)]) == 0
    assert not stale.exists()


def test_finished_writes_leave_nothing_to_clean(tmp_path: Path, counts: np.ndarray) -> None:
    for name in ("a.mrc", "a.mrcz", "a.tif"):
        mrczio.imwrite(tmp_path / name, counts)
    assert cleanup_stale_temps(tmp_path, min_age=0) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mrc", "a.mrcz", "a.tif"]
