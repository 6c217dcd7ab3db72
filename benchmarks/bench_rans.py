"""The rANS plugin against issue 15's goals, per dose: size / order-0 entropy bound, and
encode / decode GB/s on one core, beside blosc zstd-1 on one thread measured in the
same loop (the anchor). Needs ``pip install ./plugins/mrczio_rans``.

    python -m benchmarks.bench_rans [--shape 3838 3710] [--reps 7]

Speeds are whole K2-size uint8 frames in memory, medians of interleaved repetitions, as
wall time and as the calling thread's CPU time (which a busy shared machine disturbs
less); the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np

import mrczio
from benchmarks.data import K2_SHAPE, entropy_bytes, poisson_stack
from benchmarks.report import Table
from benchmarks.timing import median

DOSES = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
GOALS = {"size / bound": 1.005, "encode GB/s": 0.6, "decode GB/s": 1.0}


def _timed(action: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, this thread's CPU seconds) of one call."""
    wall, cpu = time.perf_counter(), time.thread_time()
    action()
    return time.perf_counter() - wall, time.thread_time() - cpu


def measure(frame: np.ndarray, reps: int) -> dict[str, float]:
    rans = mrczio.get_registry().codec("rans")
    zstd = mrczio.get_registry().codec("zstd").configured(level=1)
    out = np.empty_like(frame)
    chunks = {"rans": rans.encode(frame), "zstd": zstd.encode(frame, threads=1)}
    rans.decode_into(chunks["rans"], out)
    if not np.array_equal(out, frame):
        raise AssertionError("rANS round trip is not exact")
    samples: dict[str, list[float]] = {}
    for _ in range(reps):
        for name, codec in (("rans", rans), ("zstd", zstd)):
            steps = (
                ("encode", lambda c=codec: c.encode(frame, threads=1)),
                ("decode", lambda c=codec, k=chunks[name]: c.decode_into(k, out, threads=1)),
            )
            for step, action in steps:
                wall, cpu = _timed(action)
                samples.setdefault(f"{name} {step} wall", []).append(frame.nbytes / wall / 1e9)
                samples.setdefault(f"{name} {step} cpu", []).append(
                    frame.nbytes / max(cpu, 1e-9) / 1e9
                )
    result = {key: median(values) for key, values in samples.items()}
    bound = entropy_bytes(frame)
    result["rans size / bound"] = len(chunks["rans"]) / bound
    result["zstd size / bound"] = len(chunks["zstd"]) / bound
    return result


def run(shape: tuple[int, int], reps: int) -> Table:
    columns = [
        "dose", "size / bound", "encode GB/s (cpu)", "decode GB/s (cpu)", "encode GB/s (wall)",
        "decode GB/s (wall)", "zstd-1 size / bound", "zstd-1 encode GB/s (cpu)", "zstd-1 decode GB/s (cpu)",
        "load",
    ]  # fmt: skip
    table = Table(
        "rans", f"rANS plugin on one core, {shape[0]} x {shape[1]} uint8 Poisson frames", columns
    )
    for index, dose in enumerate(DOSES):
        frame = poisson_stack(1, shape, dose, seed=index)[0]
        r = measure(frame, reps)
        table.add(
            dose, f'{r["rans size / bound"]:.4f}', r["rans encode cpu"], r["rans decode cpu"], r["rans encode wall"],
            r["rans decode wall"], f'{r["zstd size / bound"]:.3f}', r["zstd encode cpu"], r["zstd decode cpu"],
            " ".join(f"{x:.2f}" for x in os.getloadavg()),
        )  # fmt: skip
    table.notes.append(
        "Goals (issue 15): size <= 1.005 x bound at every dose; encode >= 0.6 and decode >= 1 GB/s "
        "per core at doses <= 1. Medians of interleaved repetitions; zstd-1 is blosc with one thread."
    )
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=2, default=list(K2_SHAPE))
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args(argv)
    print(run((args.shape[0], args.shape[1]), args.reps).markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
