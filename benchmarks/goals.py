"""The project's performance goals, each measured side by side in one run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable

import numpy as np

import mrczio
from benchmarks.contenders import _mrcz_read, _mrcz_writer
from benchmarks.data import entropy_bytes, poisson_stack
from benchmarks.figure2 import encode
from benchmarks.report import Table
from benchmarks.timing import median, remove, seconds

COLUMNS = ["goal", "target", "measured", "met", "detail"]


def _interleaved(actions: dict[str, Callable[[], object]], reps: int) -> dict[str, float]:
    """Median seconds of each action, run round-robin so machine noise hits all alike,
    after one untimed warm-up round (first calls pay for thread pools and fresh memory)."""
    for action in actions.values():
        action()
    samples: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(reps):
        for name, action in actions.items():
            samples[name].append(seconds(action))
    return {name: median(values) for name, values in samples.items()}


def io_goals(table: Table, stack: np.ndarray, reps: int, directory: str) -> None:
    """Read/write throughput and size against python-mrcz, and read against bare blosc."""
    import blosc2

    ours, theirs = os.path.join(directory, "goal.mrcz"), os.path.join(directory, "goal-mrcz.mrcz")
    write_theirs = _mrcz_writer("zstd", 1)
    writes = _interleaved({
        "ours": lambda: mrczio.imwrite(ours, stack, fsync=True, overwrite=True),
        "theirs": lambda: (remove(theirs), write_theirs(theirs, stack)),
    }, reps)  # fmt: skip
    with mrczio.open(ours) as reader, open(ours, "rb") as handle:
        chunks = []
        for offset, length in reader.chunk_spans():
            handle.seek(offset)
            chunks.append(handle.read(length))
    out = np.empty_like(stack)

    def bare() -> None:
        for k, chunk in enumerate(chunks):
            blosc2.decompress2(chunk, dst=out[k], nthreads=os.cpu_count() or 1)

    def ours_into_out() -> None:
        with mrczio.open(ours) as reader:
            reader.read(out=out)

    reads = _interleaved({
        "ours": lambda: mrczio.imread(ours),
        "theirs": lambda: _mrcz_read(theirs, stack.shape),
        "bare": bare,
        "ours into out": ours_into_out,
    }, reps)  # fmt: skip
    size_ratio = os.path.getsize(ours) / os.path.getsize(theirs)
    write_speedup = writes["theirs"] / writes["ours"]
    read_speedup = reads["theirs"] / reads["ours"]
    overhead = reads["ours into out"] / reads["bare"] - 1
    mb = stack.nbytes / 1e6
    table.add("read >= 1.5x python-mrcz", ">= 1.5", read_speedup, read_speedup >= 1.5,
              f"{mb / reads['ours']:.0f} vs {mb / reads['theirs']:.0f} MB/s (warm cache)")
    table.add("read within 10% of bare blosc2 decompress", "<= 0.10", overhead, overhead <= 0.10,
              f"open + read(out=) {mb / reads['ours into out']:.0f} MB/s vs bare decompress2 of in-memory "
              f"chunks into the same preallocated stack {mb / reads['bare']:.0f} MB/s; imread (fresh array) "
              f"{mb / reads['ours']:.0f} MB/s")
    table.add("write >= 1.2x python-mrcz (defaults)", ">= 1.2", write_speedup, write_speedup >= 1.2,
              f"{mb / writes['ours']:.0f} vs {mb / writes['theirs']:.0f} MB/s, both fsynced")
    table.add("size <= 0.97x python-mrcz (defaults)", "<= 0.97", size_ratio, size_ratio <= 0.97,
              f"{os.path.getsize(ours) / 1e6:.1f} vs {os.path.getsize(theirs) / 1e6:.1f} MB")
    one_frame_goal(table, ours, reps)
    remove(theirs)
    remove(ours)


def one_frame_goal(table: Table, path: str, reps: int) -> None:
    with mrczio.open(path) as reader:
        count = len(reader)
    middle = count // 2
    times = _interleaved({
        "one": lambda: mrczio.imread(path, middle),
        "all": lambda: mrczio.imread(path),
    }, reps)  # fmt: skip
    fraction = times["one"] / times["all"]
    table.add(f"one frame of {count} costs <= 1/30 of all", "<= 0.033", fraction, fraction <= 1 / 30,
              f"{times['one'] * 1e3:.1f} ms vs {times['all'] * 1e3:.0f} ms (open included)")


def entropy_goals(table: Table, dose_frames: dict[float, np.ndarray], real: np.ndarray | None) -> Table:
    """Default settings against the entropy bound, per dose and on the real frame."""
    detail = Table("entropy", "Default settings (zstd 1, auto) against the entropy bound, size / entropy",
                   ["data", "entropy (MB)", "mrczio default", "python-mrcz rule", "met"])  # fmt: skip
    worst = 0.0
    for dose, frame in dose_frames.items():
        bound = entropy_bytes(frame)
        ours = len(encode(frame)) / bound
        theirs = len(encode(frame, filter="bitshuffle", blocksize=1 << 16)) / bound
        worst = max(worst, ours)
        detail.add(f"Poisson {dose}", bound / 1e6, ours, theirs, ours <= 1.10)
    table.add("Poisson doses: size <= 1.10x entropy", "<= 1.10", worst, worst <= 1.10, "worst dose; see entropy table")
    if real is not None:
        bound = entropy_bytes(real)
        ours = len(encode(real)) / bound
        theirs = len(encode(real, filter="bitshuffle", blocksize=1 << 16)) / bound
        detail.add("real uint16 frame", bound / 1e6, ours, theirs, ours <= 1.03)
        table.add("real uint16 frame: size <= 1.03x entropy", "<= 1.03", ours, ours <= 1.03, f"python-mrcz rule {theirs:.3f}")
    return detail


def thread_goals(table: Table, speed: Table) -> None:
    rows = {row[0]: row for row in speed.rows}
    if 1 not in rows or 2 not in rows:
        return
    for column, label in ((1, "zstd compression"), (2, "zstd decompression")):
        gain = rows[2][column] / rows[1][column]
        blocks = rows[2][column + 2] / rows[1][column + 2]
        table.add(f"2 threads >= 1.6x 1 thread, {label}", ">= 1.6", gain, gain >= 1.6,
                  f"frame-parallel as mrczio does, in memory; blosc block threads: {blocks:.2f}x")


def memory_goal(table: Table, n_frames: int, shape: tuple[int, int], directory: str) -> None:
    """Peak memory of streaming ``n_frames`` from an iterator, in a fresh interpreter."""
    path = os.path.join(directory, "memory.mrcz")
    command = [sys.executable, "-m", "benchmarks.memory_probe", path, str(n_frames), str(shape[0]), str(shape[1])]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=True)
    probe = json.loads(done.stdout)
    frames = probe["traced_peak"] / probe["frame_bytes"]
    table.add(f"streaming {n_frames} frames: peak < 4 frames", "< 4", frames, frames < 4,
              f"tracemalloc peak {probe['traced_peak'] / 1e6:.1f} MB; ru_maxrss growth "
              f"{probe['rss_growth'] / 1e6:.1f} MB ({probe['rss_growth'] / probe['frame_bytes']:.2f} frames)")
    remove(path)


def goals_table() -> Table:
    return Table("goals", "Goals (this machine, same data, same run)", COLUMNS)


def goal_stack(n_frames: int, shape: tuple[int, int]) -> np.ndarray:
    return poisson_stack(n_frames, shape, 1.0, seed=60)
