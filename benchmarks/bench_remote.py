"""Remote and lazy access: requests and bytes per open and per frame, dask overhead.

Serves synthetic MRCZ movies from a local Range-honouring HTTP server (127.0.0.1) and
reports, with the machine's load average beside the timings::

    python -m benchmarks.bench_remote [--frames 40] [--rounds 5]

- requests and bytes to open a remote movie and read frame 17, for small chunks (the
  whole file fits the prefix), medium chunks (~25 KB) and large chunks (~1 MB);
- bytes transferred for one frame against that frame's chunk length;
- time per frame of ``array[k].compute()`` on ``reader.to_dask()`` against ``reader[k]``,
  measured interleaved in this process (a ratio; the absolute times depend on the load).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import mrczio
import mrczio.dask
from mrczio.testing.range_server import RangeServer

CASES = {
    "small chunks (64x64 u16)": (64, 1.0),
    "medium chunks (256x256 u16)": (256, 3.0),
    "large chunks (1024x1024 u16)": (1024, 3.0),
}


def remote_costs(server: RangeServer, path: Path) -> dict[str, float]:
    with mrczio.open(path) as local:
        chunk = local.chunk_spans()[17][1]
    server.log.reset()
    with mrczio.open(server.url(path.name)) as reader:
        opened, open_bytes = server.log.requests, server.log.bytes_sent
        reader[17]
    return {
        "file_bytes": path.stat().st_size, "open_requests": opened, "open_bytes": open_bytes,
        "frame_requests": server.log.requests - opened, "frame_bytes": server.log.bytes_sent - open_bytes,
        "chunk_bytes": chunk,
    }  # fmt: skip


def dask_overhead(path: Path, rounds: int) -> tuple[float, float]:
    """Median seconds per frame: reader[k] and to_dask()[k].compute() (threaded scheduler)."""
    plain, lazy = [], []
    with mrczio.open(path) as reader:
        array = reader.to_dask()
        array[0].compute(scheduler="threads")  # warm the per-process reader cache
        for _ in range(rounds):
            for k in range(len(reader)):
                start = time.perf_counter()
                reader[k]
                plain.append(time.perf_counter() - start)
                start = time.perf_counter()
                array[k].compute(scheduler="threads")
                lazy.append(time.perf_counter() - start)
    mrczio.dask.clear_cache()
    return statistics.median(plain), statistics.median(lazy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder, RangeServer(folder) as server:
        print(f"load average before: {os.getloadavg()}")
        print(
            "| movie | file bytes | open: requests | open: bytes | frame 17: requests | frame bytes / chunk bytes |"
        )
        print("|---|---|---|---|---|---|")
        paths = {}
        for label, (size, dose) in CASES.items():
            path = Path(folder) / f"m{size}.mrcz"
            mrczio.imwrite(path, rng.poisson(dose, (args.frames, size, size)).astype(np.uint16))
            paths[label] = path
            c = remote_costs(server, path)
            ratio = c["frame_bytes"] / c["chunk_bytes"]
            print(f"| {label} | {c['file_bytes']:,} | {c['open_requests']} | {c['open_bytes']:,} | "
                  f"{c['frame_requests']} | {c['frame_bytes']:,} / {c['chunk_bytes']:,} = {ratio:.2f} |")  # fmt: skip
        print()
        print("| movie | reader[k] ms | dask [k].compute() ms | overhead ms | ratio |")
        print("|---|---|---|---|---|")
        for label, path in paths.items():
            plain, lazy = dask_overhead(path, args.rounds)
            print(
                f"| {label} | {plain * 1e3:.3f} | {lazy * 1e3:.3f} | {(lazy - plain) * 1e3:.3f} | {lazy / plain:.1f} |"
            )
        print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
