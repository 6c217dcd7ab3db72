"""The project's performance goals, each measured side by side in one run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

import mrczio
from benchmarks.contenders import _mrcz_read, _mrcz_writer
from benchmarks.data import entropy_bytes, poisson_stack
from benchmarks.figure2 import encode
from benchmarks.report import Table
from benchmarks.timing import median, remove, seconds

COLUMNS = ["goal", "target", "measured", "met", "detail"]


def _interleaved(actions: dict[Any, Callable[[], object]], reps: int) -> dict[Any, float]:
    """Median seconds of each action, run round-robin so machine noise hits all alike,
    after one untimed warm-up round (first calls pay for thread pools and fresh memory)."""
    for action in actions.values():
        action()
    samples: dict[Any, list[float]] = {name: [] for name in actions}
    for _ in range(reps):
        for name, action in actions.items():
            samples[name].append(seconds(action))
    return {name: median(values) for name, values in samples.items()}


def io_goals(table: Table, stack: np.ndarray, reps: int, directory: str) -> None:
    """Write, read, open and single-frame goals against python-mrcz and bare codecs."""
    ours, theirs = os.path.join(directory, "goal.mrcz"), os.path.join(directory, "goal-mrcz.mrcz")
    write_goals(table, stack, reps, ours, theirs)
    read_goals(table, stack, reps, ours, theirs)
    remove(theirs)
    remove(ours)
    one_frame_goal(table, reps, directory)
    open_goal(table, reps, directory)


def write_goals(table: Table, stack: np.ndarray, reps: int, ours: str, theirs: str) -> None:
    """Default writes with and without fsync against python-mrcz's, interleaved, and
    against frame-parallel compression of the same frames in memory (no file, no stats).

    Both writers make a new file each round (the old one is removed inside the timed
    action, for both). Replacing a file in place is timed separately: on ext4, renaming
    over an existing file starts write-back of the new one (``auto_da_alloc``), which a
    writer that removes the old file first, as python-mrcz's caller must, never pays.
    """
    write_theirs = _mrcz_writer("zstd", 1, fsync=False)
    write_theirs_synced = _mrcz_writer("zstd", 1)
    compress = _bare_compress(stack)
    times = _interleaved({
        "ours": lambda: (remove(ours), mrczio.imwrite(ours, stack)),
        "theirs": lambda: (remove(theirs), write_theirs(theirs, stack)),
        "ours fsync": lambda: (remove(ours), mrczio.imwrite(ours, stack, fsync=True)),
        "theirs fsync": lambda: (remove(theirs), write_theirs_synced(theirs, stack)),
        "ours replacing": lambda: mrczio.imwrite(ours, stack, overwrite=True),
        "bare compress": compress,
    }, reps)  # fmt: skip
    mb = stack.nbytes / 1e6
    load = _load()
    for suffix, label in (("", "no fsync"), (" fsync", "both fsynced")):
        speedup = times["theirs" + suffix] / times["ours" + suffix]
        table.add(
            f"write >= 1.2x python-mrcz (defaults, {label})",
            ">= 1.2",
            speedup,
            speedup >= 1.2,
            f"{mb / times['ours' + suffix]:.0f} vs {mb / times['theirs' + suffix]:.0f} MB/s; bare "
            f"frame-parallel compression in memory {mb / times['bare compress']:.0f} MB/s; {load}",
        )
    replacing = times["theirs"] / times["ours replacing"]
    table.add(
        "write replacing an existing file (overwrite=True), vs python-mrcz writing a new one",
        "(info)",
        replacing,
        True,
        f"{mb / times['ours replacing']:.0f} MB/s; the rename over the old file "
        f"starts write-back on ext4; {load}",
    )
    size_ratio = os.path.getsize(ours) / os.path.getsize(theirs)
    table.add(
        "size <= 0.97x python-mrcz (defaults)",
        "<= 0.97",
        size_ratio,
        size_ratio <= 0.97,
        f"{os.path.getsize(ours) / 1e6:.1f} vs {os.path.getsize(theirs) / 1e6:.1f} MB",
    )


def _bare_compress(stack: np.ndarray) -> Callable[[], object]:
    """Compress every frame in memory as mrczio's writer does (one frame per CPU, one
    codec thread each, same tuned settings), keeping nothing: the codec's own limit."""
    from concurrent.futures import ThreadPoolExecutor

    codec = mrczio.get_registry().codec("zstd").tune(stack[0])
    workers = os.cpu_count() or 1

    def run() -> None:
        with ThreadPoolExecutor(workers) as pool:
            for _ in pool.map(lambda frame: codec.encode(frame, threads=1), stack):
                pass

    return run


def read_goals(table: Table, stack: np.ndarray, reps: int, ours: str, theirs: str) -> None:
    """imread (a fresh array) of mrczio's and python-mrcz's files against python-mrcz's
    readMRC of its own file, and against decoding the same chunks from memory."""
    chunks = _chunks(ours)
    bare = _bare_decode(chunks, stack.shape, stack.dtype)
    times = _interleaved({
        "ours on ours": lambda: mrczio.imread(ours),
        "ours on theirs": lambda: mrczio.imread(theirs),
        "theirs on theirs": lambda: _mrcz_read(theirs, stack.shape),
        "theirs on ours": lambda: _mrcz_read(ours, stack.shape),
        "bare": bare,
    }, reps)  # fmt: skip
    mb = stack.nbytes / 1e6
    load = _load()
    reference = times["theirs on theirs"]
    own = reference / times["ours on ours"]
    table.add(
        "read mrczio's file >= 1.8x python-mrcz",
        ">= 1.8",
        own,
        own >= 1.8,
        f"imread {mb / times['ours on ours']:.0f} MB/s vs python-mrcz on its own file {mb / reference:.0f} "
        f"MB/s (python-mrcz on mrczio's file {mb / times['theirs on ours']:.0f} MB/s); {load}",
    )
    other = reference / times["ours on theirs"]
    table.add(
        "read python-mrcz's file >= 1.4x python-mrcz",
        ">= 1.4",
        other,
        other >= 1.4,
        f"imread {mb / times['ours on theirs']:.0f} vs {mb / reference:.0f} MB/s; {load}",
    )
    overhead = times["ours on ours"] / times["bare"] - 1
    table.add(
        "read within 10% of bare in-memory decode",
        "<= 0.10",
        overhead,
        overhead <= 0.10,
        f"imread {mb / times['ours on ours']:.0f} MB/s vs the same chunks decoded from memory into a "
        f"fresh array, one frame per CPU, {mb / times['bare']:.0f} MB/s; {load}",
    )


def _chunks(path: str) -> list[bytes]:
    with mrczio.open(path) as reader, open(path, "rb") as handle:
        chunks = []
        for offset, length in reader.chunk_spans():
            handle.seek(offset)
            chunks.append(handle.read(length))
    return chunks


def _bare_decode(chunks: list[bytes], shape: tuple[int, ...], dtype: np.dtype[Any]) -> Callable[[], object]:
    """Decode in-memory chunks into a fresh array, one frame per CPU with one blosc thread
    each (the fastest plain use of python-blosc2 found): no file, no checks."""
    from concurrent.futures import ThreadPoolExecutor

    import blosc2

    workers = os.cpu_count() or 1

    def run() -> np.ndarray:
        out = np.empty(shape, dtype=dtype)
        with ThreadPoolExecutor(workers) as pool:
            for _ in pool.map(
                lambda k: blosc2.decompress2(chunks[k], dst=out[k], nthreads=1), range(len(chunks))
            ):
                pass
        return out

    return run


#: The single-frame goal's file: 60 frames of 1024 x 1024 Poisson(1) counts (issue 15).
ONE_FRAME_STACK = (60, 1024, 1024)


def one_frame_goal(table: Table, reps: int, directory: str) -> None:
    """imread of the middle frame against imread of all frames (opening included)."""
    path = os.path.join(directory, "one-frame.mrcz")
    count, ny, nx = ONE_FRAME_STACK
    mrczio.imwrite(path, poisson_stack(count, (ny, nx), 1.0, seed=61), overwrite=True)
    times = _interleaved({
        "one": lambda: mrczio.imread(path, count // 2),
        "all": lambda: mrczio.imread(path),
    }, max(reps, 3) * 3)  # fmt: skip
    fraction = times["one"] / times["all"]
    workers = os.cpu_count() or 1
    table.add(
        f"one frame of {count} costs <= 1/40 of all",
        "<= 0.025",
        fraction,
        fraction <= 1 / 40,
        f"{times['one'] * 1e3:.2f} ms vs {times['all'] * 1e3:.1f} ms ({ny}x{nx} frames, open included; "
        f"1/{1 / fraction:.0f}). A frame is one codec block decoded on one thread, while all frames "
        f"decode on {workers} CPUs: the bound without opening costs is 1/{count // workers}; {_load()}",
    )
    remove(path)


#: Frame shape of the open-time goal: small, so the 2000-frame file is quick to write.
OPEN_SHAPE = (64, 64)


def open_goal(table: Table, reps: int, directory: str) -> None:
    """Opening (and closing) a 2000-frame MRCZ file against a 20-frame one."""
    paths = {}
    rng = np.random.default_rng(5)
    for count in (20, 2000):
        paths[count] = os.path.join(directory, f"open-{count}.mrcz")
        mrczio.imwrite(paths[count], rng.poisson(1.0, (count, *OPEN_SHAPE)).astype(np.uint8), overwrite=True)

    def opened(path: str) -> Callable[[], object]:
        def run() -> None:
            with mrczio.open(path):
                pass

        return run

    many = max(reps, 3) * 20  # opens take ~1 ms: many rounds for a stable median
    times = _interleaved({count: opened(path) for count, path in paths.items()}, many)
    ratio = times[2000] / times[20]
    table.add(
        "open 2000 frames <= 2x open 20 frames",
        "<= 2",
        ratio,
        ratio <= 2,
        f"{times[2000] * 1e3:.2f} vs {times[20] * 1e3:.2f} ms ({OPEN_SHAPE[0]}x{OPEN_SHAPE[1]} frames, "
        f"chunk index in the checksum block); {_load()}",
    )
    for path in paths.values():
        remove(path)


def _load() -> str:
    return "load " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


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
    table.add(
        "Poisson doses: size <= 1.10x entropy",
        "<= 1.10",
        worst,
        worst <= 1.10,
        "worst dose; see entropy table",
    )
    if real is not None:
        bound = entropy_bytes(real)
        ours = len(encode(real)) / bound
        theirs = len(encode(real, filter="bitshuffle", blocksize=1 << 16)) / bound
        detail.add("real uint16 frame", bound / 1e6, ours, theirs, ours <= 1.03)
        table.add(
            "real uint16 frame: size <= 1.03x entropy",
            "<= 1.03",
            ours,
            ours <= 1.03,
            f"python-mrcz rule {theirs:.3f}",
        )
    return detail


def thread_goals(table: Table, speed: Table) -> None:
    rows = {row[0]: row for row in speed.rows}
    if 1 not in rows or 2 not in rows:
        return
    for column, label in ((1, "zstd compression"), (2, "zstd decompression")):
        gain = rows[2][column] / rows[1][column]
        blocks = rows[2][column + 2] / rows[1][column + 2]
        table.add(
            f"2 threads >= 1.6x 1 thread, {label}",
            ">= 1.6",
            gain,
            gain >= 1.6,
            f"frame-parallel as mrczio does, in memory; blosc block threads: {blocks:.2f}x",
        )


def memory_goal(table: Table, n_frames: int, shape: tuple[int, int], directory: str) -> None:
    """Peak memory of streaming ``n_frames`` from an iterator, in a fresh interpreter."""
    path = os.path.join(directory, "memory.mrcz")
    command = [
        sys.executable,
        "-m",
        "benchmarks.memory_probe",
        path,
        str(n_frames),
        str(shape[0]),
        str(shape[1]),
    ]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=True)
    probe = json.loads(done.stdout)
    frames = probe["traced_peak"] / probe["frame_bytes"]
    table.add(
        f"streaming {n_frames} frames: peak < 4 frames",
        "< 4",
        frames,
        frames < 4,
        f"tracemalloc peak {probe['traced_peak'] / 1e6:.1f} MB; ru_maxrss growth "
        f"{probe['rss_growth'] / 1e6:.1f} MB ({probe['rss_growth'] / probe['frame_bytes']:.2f} frames)",
    )
    remove(path)


def goals_table() -> Table:
    return Table("goals", "Goals (this machine, same data, same run)", COLUMNS)


def goal_stack(n_frames: int, shape: tuple[int, int]) -> np.ndarray:
    return poisson_stack(n_frames, shape, 1.0, seed=60)


def main(argv: list[str] | None = None) -> int:
    """Only the I/O goals: ``python -m benchmarks.goals [--frames 20] [--reps 5]``."""
    import argparse
    import tempfile

    from benchmarks.data import K2_SHAPE

    parser = argparse.ArgumentParser(prog="python -m benchmarks.goals", description=main.__doc__)
    parser.add_argument("--frames", type=int, default=20, help="K2-size Poisson(1) frames (default 20)")
    parser.add_argument("--reps", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument(
        "--memory", action="store_true", help="also the streaming-write and imread memory goals"
    )
    args = parser.parse_args(argv)
    table = goals_table()
    with tempfile.TemporaryDirectory(prefix="mrczio-goals-") as directory:
        io_goals(table, goal_stack(args.frames, K2_SHAPE), args.reps, directory)
        if args.memory:
            memory_goal(table, args.frames, K2_SHAPE, directory)
    print(table.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
