"""SIGKILL ``mrczio watch`` at each step of its work, deterministically, then restart.

A small driver runs the real CLI in a subprocess with one function wrapped so that the
process kills itself right after (or, for the journal, in the middle of) that step.
A second, ordinary ``mrczio watch --once --delete-source`` must then finish the job:
the output exists once and decodes to the source's pixels, the source is deleted only
after a "done" record, the journal parses, staging is empty.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mrczio

DRIVER = r"""
import os, signal, sys
import mrczio
import mrczio.watch.journal as journal
import mrczio.watch.watcher as watcher
from mrczio.cli import main

point, src, dest = sys.argv[1:4]

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def after(function, when=lambda *a, **k: True):
    def wrapper(*args, **kwargs):
        result = function(*args, **kwargs)
        if when(*args, **kwargs):
            die()
        return result
    return wrapper

if point == "after_start_record":
    journal.Journal.record = after(journal.Journal.record, lambda self, event, *a, **k: event == "start")
elif point == "after_convert":
    mrczio.convert = after(mrczio.convert)
elif point == "after_publish":
    watcher.publish = after(watcher.publish, lambda staged, final, **k: final.endswith(".mrcz"))
elif point == "after_remove_source":
    watcher.remove_source = after(watcher.remove_source)
elif point == "half_done_line":
    real_write = os.write
    def half(fd, data):
        if b'"event": "done"' in data:
            real_write(fd, data[: len(data) // 2])
            die()
        return real_write(fd, data)
    journal.os.write = half
sys.exit(main(["watch", src, dest, "--once", "--quiet-seconds", "0.2", "--poll-seconds", "0.05",
               "--delete-source"]))
"""
POINTS = [
    "after_start_record",
    "after_convert",
    "after_publish",
    "after_remove_source",
    "half_done_line",
]


def watch_once(src: Path, dest: Path) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-m", "mrczio", "watch", str(src), str(dest), "--once", "--quiet-seconds",
               "0.2", "--poll-seconds", "0.05", "--delete-source"]  # fmt: skip
    return subprocess.run(command, check=False, capture_output=True, timeout=120)


@pytest.mark.parametrize("point", POINTS)
def test_kill_at_each_step_then_restart(tmp_path: Path, point: str) -> None:
    src, dest = tmp_path / "src", tmp_path / "dest"
    (src / "sq").mkdir(parents=True)
    data = np.random.default_rng(3).poisson(1.5, (5, 64, 72)).astype(np.uint16)
    mrczio.imwrite(src / "sq" / "m.mrc", data, voxel_size=0.83, metadata={"dose": 1.5})
    (src / "sq" / "m.mrc.mdoc").write_text("[ZValue = 0]\n")
    crashed = subprocess.run([sys.executable, "-c", DRIVER, point, str(src), str(dest)],
                             check=False, capture_output=True, timeout=120)  # fmt: skip
    assert crashed.returncode == -9, crashed.stderr.decode()
    output = dest / "sq" / "m.mrcz"
    if not (src / "sq" / "m.mrc").exists():  # deleted just before the kill
        assert point == "after_remove_source"
        assert np.array_equal(mrczio.imread(output), data)
    finished = watch_once(src, dest)
    assert finished.returncode == 0, finished.stderr.decode()
    assert not (src / "sq" / "m.mrc").exists()
    with mrczio.open(output) as reader:
        assert np.array_equal(reader.read(), data)
        assert reader.metadata == {"dose": 1.5}
    records = [
        json.loads(line)
        for line in (dest / ".mrczio-watch" / "journal.jsonl").read_bytes().splitlines()
    ]
    events = [r["event"] for r in records if r["path"] == "sq/m.mrc"]
    assert events.count("done") == 1, events
    assert events.count("deleted") == 1 and events[-1] == "deleted", events
    assert events.index("done") < events.index("deleting") < events.index("deleted"), events
    done = next(r for r in records if r["event"] == "done")
    assert done["adopted"] == (point in ("after_publish", "half_done_line")), done
    assert list((dest / ".mrczio-watch" / "staging").iterdir()) == []
    assert sorted(p.name for p in (dest / "sq").iterdir()) == ["m.mrc.mdoc", "m.mrcz"]
