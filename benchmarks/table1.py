"""The paper's Table 1: write time, read time and size of one counting stack per tool."""

from __future__ import annotations

import os

import numpy as np

from benchmarks.contenders import Contender
from benchmarks.report import Table
from benchmarks.timing import evict, median, remove, seconds

COLUMNS = [
    "contender", "size (MB)", "size / raw", "size / entropy", "write (s)",
    "read warm (s)", "read cold (s)", "write MB/s", "read warm MB/s", "identical", "note",
]  # fmt: skip


def run_table1(
    stack: np.ndarray, entropy: float, contenders: list[Contender], reps: int, directory: str, slow_frames: int
) -> Table:
    """Measure every contender ``reps`` times, interleaved, and tabulate medians.

    Slow contenders run once, on the first ``slow_frames`` frames; their times and size
    are scaled to the whole stack (marked in the note column).
    """
    table = Table("table1", f"Table 1: {stack.shape[0]} x {stack.shape[1]} x {stack.shape[2]} uint8 "
                  f"Poisson stack ({stack.nbytes / 1e6:.0f} MB raw)", COLUMNS)  # fmt: skip
    samples: dict[str, dict[str, list[float]]] = {c.name: {"write": [], "warm": [], "cold": []} for c in contenders}
    outcome: dict[str, tuple[int, bool]] = {}
    for rep in range(reps):
        for contender in contenders:
            if contender.missing or (contender.slow and rep > 0):
                continue
            data = stack[:slow_frames] if contender.slow else stack
            scale = len(stack) / len(data)
            path = os.path.join(directory, "table1" + contender.extension)
            write, warm, cold, size, identical = _measure_once(contender, data, path)
            times = samples[contender.name]
            times["write"].append(scale * write)
            times["warm"].append(scale * warm)
            if cold is not None:
                times["cold"].append(scale * cold)
            outcome[contender.name] = (round(scale * size), identical)
    megabytes = stack.nbytes / 1e6
    for contender in contenders:
        if contender.missing:
            table.add(contender.name, *[None] * (len(COLUMNS) - 2), f"skipped: {contender.missing}")
            continue
        size, identical = outcome[contender.name]
        times = samples[contender.name]
        write, warm, cold = median(times["write"]), median(times["warm"]), median(times["cold"])
        note = f"{len(times['write'])} run(s)"
        if contender.slow and slow_frames < len(stack):
            note += f"; measured on {slow_frames} frames, scaled x{len(stack) / slow_frames:g}"
        table.add(
            contender.name, size / 1e6, size / stack.nbytes, size / entropy, write, warm, cold,
            megabytes / write, megabytes / warm, identical, note,
        )  # fmt: skip
    table.notes.append(
        f"Entropy bound (order-0 Shannon, i.i.d. counts): {entropy / 1e6:.1f} MB. Times are medians; "
        "writes include fsync; 'cold' reads follow posix_fadvise(DONTNEED) of the file."
    )
    return table


def _measure_once(contender: Contender, data: np.ndarray, path: str) -> tuple[float, float, float | None, int, bool]:
    """(write s, warm read s, cold read s or None, file size, read back identical)."""
    remove(path)
    write = seconds(lambda: contender.write(path, data))
    warm = seconds(lambda: contender.read(path, data.shape))
    evicted = evict(path)
    result: list[np.ndarray] = []
    cold = seconds(lambda: result.append(contender.read(path, data.shape)))
    size = os.path.getsize(path)
    remove(path)
    return write, warm, cold if evicted else None, size, _identical(result[0], data)


def _identical(read: np.ndarray, stack: np.ndarray) -> bool:
    read = np.asarray(read).reshape(stack.shape)
    return bool(np.array_equal(read.view(np.uint8) if read.dtype.itemsize == 1 else read, stack))
