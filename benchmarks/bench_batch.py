"""Facility throughput and latency: batch compression on dask workers vs a CLI loop, and
``mrczio watch`` latency from "file complete" to "verified output".

Throughput: N K2-size movies (3838 x 3710 uint8, Poisson dose 1) compressed to MRCZ
(a) by a shell-style loop running ``mrczio compress FILE -o DIR/`` once per file,
(b) by :func:`mrczio.batch.run_batch` on a dask LocalCluster with 1 worker process and
(c) with 2 worker processes (each job gets CPUs/workers compression threads). Cluster
start-up is reported apart from the batch time; rounds are interleaved, medians shown.
Reported: files/s, GB/s of input, each against the CLI loop measured in the same
process, compression ratio, and the load average.

Latency: a writer thread produces a movie every few seconds, frame by frame, while
``mrczio watch`` runs in a subprocess; latency = journal "done" time minus the time the
writer closed the file (same clock), shown with and without the quiet period.

    python -m benchmarks.bench_batch                 # 8 movies x 4 frames, 4 watch movies
    python -m benchmarks.bench_batch --movies 4 --frames 2 --watch-movies 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

import mrczio
from mrczio.batch import BatchJob, run_batch
from mrczio.cluster import open_executor

K2 = (3838, 3710)


def make_movies(folder: Path, count: int, frames: int) -> list[Path]:
    """``count`` distinct movies from one Poisson block (rolled per movie: same statistics)."""
    folder.mkdir(parents=True, exist_ok=True)
    block = np.random.default_rng(0).poisson(1.0, (frames, *K2)).astype(np.uint8)
    paths = []
    for i in range(count):
        path = folder / f"movie_{i:03d}.mrc"
        mrczio.imwrite(path, np.roll(block, 97 * i, axis=2), voxel_size=1.06)
        paths.append(path)
    return paths


def cli_loop(movies: list[Path], out: Path) -> float:
    out.mkdir()
    started = time.perf_counter()
    for movie in movies:
        command = [sys.executable, "-m", "mrczio", "compress", str(movie), "-o", f"{out}/", "-q"]
        subprocess.run(command, check=True)
    return time.perf_counter() - started


def dask_batch(movies: list[Path], out: Path, workers: int) -> tuple[float, float]:
    """(cluster start-up seconds, batch seconds)."""
    out.mkdir()
    threads = {"threads": max(1, (os.cpu_count() or 1) // workers)}  # no oversubscription
    jobs = [BatchJob(str(m), str(out / (m.stem + ".mrcz")), options=threads) for m in movies]
    started = time.perf_counter()
    with open_executor(cluster=f"local:{workers}") as executor:
        ready = time.perf_counter()
        reports = run_batch(jobs, executor, retries=0)
        done = time.perf_counter()
    failed = [r for r in reports if r.status != "ok"]
    if failed:
        raise SystemExit(f"batch failed: {failed[0].error}")
    return ready - started, done - ready


def throughput(movies: list[Path], work: Path, rounds: int) -> dict[str, Any]:
    """Median seconds over ``rounds`` interleaved rounds of the three ways."""
    size = sum(m.stat().st_size for m in movies)
    rows: dict[str, Any] = {
        "movies": len(movies),
        "input_gb": size / 1e9,
        "load_before": os.getloadavg(),
    }
    times: dict[str, list[float]] = {
        "cli_loop": [],
        "dask1": [],
        "dask2": [],
        "dask1_startup": [],
        "dask2_startup": [],
    }
    for r in range(rounds):
        times["cli_loop"].append(cli_loop(movies, work / f"cli{r}"))
        for workers in (1, 2):
            startup, batch = dask_batch(movies, work / f"dask{workers}_{r}", workers)
            times[f"dask{workers}_startup"].append(startup)
            times[f"dask{workers}"].append(batch)
        out_size = sum(p.stat().st_size for p in (work / f"dask2_{r}").iterdir())
        for folder in (f"cli{r}", f"dask1_{r}", f"dask2_{r}"):
            shutil.rmtree(work / folder)
    rows.update({f"{name}_s": float(np.median(values)) for name, values in times.items()})
    rows["rounds"] = {name: [round(v, 2) for v in values] for name, values in times.items()}
    rows["compression_ratio"] = size / out_size
    for name in ("cli_loop", "dask1", "dask2"):
        rows[f"{name}_files_per_s"] = len(movies) / rows[f"{name}_s"]
        rows[f"{name}_gb_per_s"] = size / 1e9 / rows[f"{name}_s"]
        rows[f"{name}_vs_cli_loop"] = rows["cli_loop_s"] / rows[f"{name}_s"]
    rows["load_after"] = os.getloadavg()
    return rows


class Acquisition(threading.Thread):
    """Writes ``count`` movies, frame by frame, one every ``every`` seconds."""

    def __init__(self, src: Path, template: Path, count: int, frames: int, every: float) -> None:
        super().__init__(daemon=True)
        self.src, self.content = src, template.read_bytes()
        self.count, self.frames, self.every = count, frames, every
        self.closed: dict[str, float] = {}

    def run(self) -> None:
        frame = K2[0] * K2[1]
        header = self.content[: len(self.content) - self.frames * frame]
        for i in range(self.count):
            started = time.time()
            path = self.src / f"acq_{i:03d}.mrc"
            with open(path, "wb") as handle:
                handle.write(header)
                for k in range(self.frames):
                    handle.write(
                        self.content[len(header) + k * frame : len(header) + (k + 1) * frame]
                    )
                    handle.flush()
                    time.sleep(0.1)
            self.closed[path.name] = time.time()
            time.sleep(max(0.0, self.every - (time.time() - started)))


def watch_latency(
    template: Path, work: Path, count: int, frames: int, quiet: float
) -> dict[str, Any]:
    src, dest = work / "acq", work / "archive"
    src.mkdir()
    command = [sys.executable, "-m", "mrczio", "watch", str(src), str(dest), "--quiet-seconds", str(quiet),
               "--poll-seconds", "0.2", "--delete-source", "-q"]  # fmt: skip
    watcher = subprocess.Popen(command)
    writer = Acquisition(src, template, count, frames, every=4.0)
    load_before = os.getloadavg()
    writer.start()
    journal = dest / ".mrczio-watch" / "journal.jsonl"
    deadline = time.time() + 120 + count * 10
    done: dict[str, dict[str, Any]] = {}
    try:
        while len(done) < count and time.time() < deadline:
            time.sleep(0.2)
            if journal.exists():
                records = [json.loads(line) for line in journal.read_text().splitlines()]
                done = {r["path"]: r for r in records if r["event"] == "done"}
    finally:
        watcher.terminate()
        watcher.wait(timeout=60)
    writer.join(timeout=60)
    latencies = [done[name]["time"] - writer.closed[name] for name in sorted(done)]
    return {
        "movies": count,
        "frames": frames,
        "quiet_seconds": quiet,
        "load_before": load_before,
        "latency_s": [round(x, 2) for x in latencies],
        "latency_minus_quiet_s": [round(x - quiet, 2) for x in latencies],
        "compress_verify_s": [done[name]["seconds"] for name in sorted(done)],
        "load_after": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--movies", type=int, default=8)
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--watch-movies", type=int, default=4)
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds (median reported)"
    )
    parser.add_argument("--quiet", type=float, default=1.0, help="watch --quiet-seconds")
    parser.add_argument("--dir", help="scratch folder (default: a new temporary folder)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_batch_", dir=args.dir))
    try:
        movies = make_movies(work / "in", args.movies, args.frames)
        result = {"throughput": throughput(movies, work, args.rounds), "cpus": os.cpu_count()}
        result["watch"] = watch_latency(movies[0], work, args.watch_movies, args.frames, args.quiet)
        print(
            json.dumps(
                result, indent=2, default=lambda v: round(v, 3) if isinstance(v, float) else v
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
