"""Cost of checksum verification on read: ``imread`` with and without ``verify``.

A 20-frame K2-size counting movie (3838 x 3710 uint8, Poisson dose 1) is written once
as MRCZ; then ``imread(verify=True)`` and ``imread(verify=False)`` alternate in one
process and the ratio of medians is reported with the machine's load::

    python -m benchmarks.bench_verify [--rounds 7] [--frames 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

import mrczio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--frames", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    stack = rng.poisson(1.0, (args.frames, 3838, 3710)).astype(np.uint8)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "movie.mrcz")
        mrczio.imwrite(path, stack)
        assert np.array_equal(mrczio.imread(path), stack)
        times: dict[bool, list[float]] = {True: [], False: []}
        load = os.getloadavg()
        for _ in range(args.rounds):
            for verify in (True, False):
                start = time.perf_counter()
                mrczio.imread(path, verify=verify)
                times[verify].append(time.perf_counter() - start)
        size = os.path.getsize(path)
    on, off = statistics.median(times[True]), statistics.median(times[False])
    print(f"load average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after; file {size / 1e6:.0f} MB")
    print(f"imread verify=True  {on * 1000:7.1f} ms  ({stack.nbytes / on / 1e9:.2f} GB/s)")
    print(f"imread verify=False {off * 1000:7.1f} ms  ({stack.nbytes / off / 1e9:.2f} GB/s)")
    print(f"ratio verify/no-verify: {on / off:.3f}")


if __name__ == "__main__":
    main()
