"""``mrczio watch`` under SIGKILL while a simulated microscope writes movies slowly.

A thread writes plain MRC movies into SRC frame by frame with pauses (half of them with
the final frame count in the header from the start, half with the count raised after
every frame, as some acquisition programs do) plus an ``.mdoc`` sidecar each. Meanwhile
``mrczio watch SRC DEST --delete-source`` runs in a subprocess that is SIGKILLed at
seeded random moments and restarted; a monitor thread checks, every few milliseconds,
that a source never disappears before its output is on disk and decodes to exactly the
movie written. At the end every movie is compressed exactly once, verified, its source
deleted, the journal consistent and nothing half-written is left.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

import mrczio

SEED = 1414
N_MOVIES = 8
FRAMES = 6
SHAPE = (512, 448)
QUIET = 0.6
MIN_KILLS = 16
MAX_KILLS = 200  # each round waits 0.3-2.5 s, so this bounds the loop at a few minutes
WATCH = [sys.executable, "-m", "mrczio", "watch"]


def make_reference(directory: Path) -> list[tuple[str, bytes, np.ndarray]]:
    """(relative path, complete file bytes, pixels) for every movie the microscope writes."""
    rng = np.random.default_rng(SEED)
    movies = []
    for i in range(N_MOVIES):
        dtype = np.uint16 if i % 3 else np.uint8
        data = rng.poisson(2.0, (FRAMES, *SHAPE)).astype(dtype)
        path = directory / f"ref{i}.mrc"
        mrczio.imwrite(path, data, voxel_size=1.06)
        movies.append((f"grid{i % 2}/movie_{i:03d}.mrc", path.read_bytes(), data))
    return movies


class Microscope(threading.Thread):
    """Writes each movie into SRC frame by frame, with pauses, then its .mdoc."""

    def __init__(self, src: Path, movies: list[tuple[str, bytes, np.ndarray]]) -> None:
        super().__init__(daemon=True)
        self.src, self.movies = src, movies
        self.pause = random.Random(SEED)

    def run(self) -> None:
        for number, (rel, content, data) in enumerate(self.movies):
            target = self.src / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            frame_bytes = data[0].nbytes
            header = content[: len(content) - FRAMES * frame_bytes]
            grow_header = number % 2 == 1
            with open(target, "wb") as handle:
                handle.write(_with_nz(header, 0) if grow_header else header)
                for k in range(FRAMES):
                    handle.write(
                        content[len(header) + k * frame_bytes : len(header) + (k + 1) * frame_bytes]
                    )
                    if grow_header:
                        handle.seek(8)
                        handle.write(np.int32(k + 1).tobytes())
                        handle.seek(0, os.SEEK_END)
                    handle.flush()
                    time.sleep(self.pause.uniform(0.01, 0.08))
            assert target.read_bytes() == content
            (self.src / (rel + ".mdoc")).write_text(f"[ZValue = 0]\nMovie = {rel}\n")
            time.sleep(self.pause.uniform(0.05, 0.3))


def _with_nz(header: bytes, nz: int) -> bytes:
    return header[:8] + np.int32(nz).tobytes() + header[12:]


class Monitor(threading.Thread):
    """Watches SRC and DEST while the watcher runs; records every violation."""

    def __init__(self, src: Path, dest: Path, movies: list[tuple[str, bytes, np.ndarray]]) -> None:
        super().__init__(daemon=True)
        self.src, self.dest, self.movies = src, dest, movies
        self.violations: list[str] = []
        self.checked_outputs: set[str] = set()
        self.seen_sources: set[str] = set()
        self.deleted: set[str] = set()
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            for rel, _, data in self.movies:
                self._check(rel, data)
            time.sleep(0.005)

    def _check(self, rel: str, data: np.ndarray) -> None:
        source, output = self.src / rel, self.dest / (rel[: -len(".mrc")] + ".mrcz")
        if source.exists():
            self.seen_sources.add(rel)
        elif rel in self.seen_sources and rel not in self.deleted:
            self.deleted.add(rel)
            if not output.exists():
                self.violations.append(f"{rel}: source deleted while no output exists")
                return
        if output.exists() and rel not in self.checked_outputs:
            self._check_output(rel, output, data)

    def _check_output(self, rel: str, output: Path, data: np.ndarray) -> None:
        try:
            decoded = mrczio.imread(output)
        except mrczio.MrczioError as exc:
            self.violations.append(f"{rel}: output under its final name does not decode: {exc}")
            return
        if not np.array_equal(decoded, data) or decoded.dtype != data.dtype:
            self.violations.append(f"{rel}: output under its final name differs from the movie")
        self.checked_outputs.add(rel)


def start_watch(src: Path, dest: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    args = [
        str(src),
        str(dest),
        "--quiet-seconds",
        str(QUIET),
        "--poll-seconds",
        "0.05",
        "--delete-source",
    ]
    with open(log, "ab") as handle:
        return subprocess.Popen([*WATCH, *args, *extra], stdout=handle, stderr=handle)


def journal_records(dest: Path) -> list[dict[str, object]]:
    lines = (dest / ".mrczio-watch" / "journal.jsonl").read_bytes().splitlines()
    return [json.loads(line) for line in lines]


def test_watch_survives_random_sigkills(tmp_path: Path) -> None:
    src, dest, log = tmp_path / "src", tmp_path / "dest", tmp_path / "watch.log"
    (tmp_path / "ref").mkdir()
    src.mkdir()
    movies = make_reference(tmp_path / "ref")
    microscope, monitor = Microscope(src, movies), Monitor(src, dest, movies)
    microscope.start()
    monitor.start()
    rng, kills = random.Random(SEED), 0
    try:
        while microscope.is_alive() or kills < MIN_KILLS:
            # hang guard: a bounded number of kill rounds, not a speed check
            assert kills < MAX_KILLS, "the microscope never finished while watch was being killed"
            process = start_watch(src, dest, log)
            time.sleep(rng.uniform(0.3, 2.5))
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            kills += 1
        microscope.join(timeout=60)
        final = subprocess.run([*WATCH, str(src), str(dest), "--quiet-seconds", str(QUIET), "--poll-seconds",
                                "0.05", "--delete-source", "--once"], check=False, capture_output=True, timeout=180)  # fmt: skip
    finally:
        monitor.halt.set()
        monitor.join(timeout=30)
    assert final.returncode == 0, final.stderr.decode()
    assert not microscope.is_alive()
    assert monitor.violations == []
    records = journal_records(dest)
    summary = check_outcome(src, dest, movies, records)
    log_text = log.read_text() + final.stderr.decode()
    summary["staging_cleanups"] = log_text.count("unfinished file(s) left in")
    summary["kills"] = kills
    summary["deletions_seen_by_monitor"] = len(monitor.deleted)
    print("\nwatch kill/restart outcome:", json.dumps(summary, sort_keys=True))


def check_outcome(
    src: Path,
    dest: Path,
    movies: list[tuple[str, bytes, np.ndarray]],
    records: list[dict[str, object]],
) -> dict[str, int]:
    """Every movie compressed exactly once, verified, deleted after; sidecars copied."""
    for rel, _, data in movies:
        events = [r["event"] for r in records if r["path"] == rel]
        assert events.count("done") == 1, (rel, events)
        assert events.count("deleted") == 1, (rel, events)
        assert events.index("done") < events.index("deleting") < events.index("deleted"), (rel, events)
        assert "start" not in events[events.index("done") :], (rel, events)
        assert "failed" not in events, (rel, events)
        done = next(r for r in records if r["path"] == rel and r["event"] == "done")
        assert done["checks"] == ["decode", "checksums"]
        output = dest / str(done["output"])
        with mrczio.open(output) as reader:
            assert np.array_equal(reader.read(), data) and reader.dtype == data.dtype
            assert np.allclose(reader.voxel_size, 1.06)
        assert not (src / rel).exists()
        sidecar = src / (rel + ".mdoc")
        assert (dest / (rel + ".mdoc")).read_bytes() == sidecar.read_bytes()
    expected = {str(r["output"]) for r in records if r["event"] in ("done", "copied")}
    present = {
        str(p.relative_to(dest))
        for p in dest.rglob("*")
        if p.is_file() and ".mrczio-watch" not in p.parts
    }
    assert present == expected, present ^ expected
    assert list((dest / ".mrczio-watch" / "staging").iterdir()) == []
    starts = sum(r["event"] == "start" for r in records)
    return {
        "movies": len(movies),
        "starts": starts,
        "interrupted_compressions": starts
        - sum(r["event"] == "done" and not r["adopted"] for r in records),
        "adopted_after_kill": sum(r["event"] == "done" and bool(r["adopted"]) for r in records),
        "abandoned": sum(r["event"] == "abandoned" for r in records),
        "journal_lines": len(records),
    }
