"""Size and speed of 4-bit MRC vs MRCZ vs LZW TIFF on a Poisson counting stack.

Usage: python benchmarks/bench_formats.py [--frames 20] [--ny 3838] [--nx 3710] [--dose 1.0]
       [--repeat 2] [--dir /tmp]

The stack is numpy Poisson(dose) counts as uint8, clipped to 15 so every format holds it
exactly (at dose 1 nothing exceeds 15 in practice). Each case is written and read back
``--repeat`` times with mrczio (reads from the page cache); the best time is reported as
MB/s of uncompressed uint8 pixels (1 MB = 1e6 bytes). Every read is checked bit-exact.
Prints a Markdown table (docs/tiff-and-4bit.md quotes it).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import mrczio

CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("MRC uint8 (mode 0)", ".mrc", {}),
    ("MRC 4-bit (mode 101)", ".mrc", {"packed4bit": True}),
    ("MRCZ zstd-1 (uint8)", ".mrcz", {"codec": "zstd", "level": 1}),
    ("MRCZ lz4-1 (uint8)", ".mrcz", {"codec": "lz4", "level": 1}),
    (
        "MRCZ zstd-1 + 4-bit (mrczio only)",
        ".mrcz",
        {"codec": "zstd", "level": 1, "packed4bit": True},
    ),
    ("TIFF LZW (uint8)", ".tif", {"compression": "lzw"}),
    ("TIFF LZW, SerialEM packed 4-bit", ".tif", {"compression": "lzw", "packed4bit": True}),
    ("TIFF deflate-6 (uint8)", ".tif", {"compression": "deflate", "level": 6}),
]


@dataclass
class Row:
    name: str
    nbytes: int
    write_s: float
    read_s: float


def best_of(repeat: int, action: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(stack: np.ndarray, directory: str, repeat: int) -> list[Row]:
    rows = []
    for name, suffix, options in CASES:
        path = os.path.join(directory, "bench" + suffix)

        def write(path: str = path, options: dict[str, Any] = options) -> None:
            mrczio.imwrite(path, stack, overwrite=True, voxel_size=1.0, **options)

        write_s = best_of(repeat, write)
        read_s = best_of(repeat, lambda path=path: mrczio.imread(path))
        if not np.array_equal(mrczio.imread(path), stack):
            raise SystemExit(f"{name}: read back differs")
        rows.append(Row(name, os.path.getsize(path), write_s, read_s))
        os.unlink(path)
    return rows


def table(rows: list[Row], raw: int) -> str:
    lines = [
        "| case | file bytes | ratio to uint8 | write MB/s | read MB/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.name} | {row.nbytes:,} | {row.nbytes / raw:.3f} | "
            f"{raw / 1e6 / row.write_s:,.0f} | {raw / 1e6 / row.read_s:,.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--ny", type=int, default=3838)
    parser.add_argument("--nx", type=int, default=3710)
    parser.add_argument("--dose", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--dir", default=None, help="scratch folder (default: system temp)")
    args = parser.parse_args()
    rng = np.random.default_rng(2017)
    stack = np.minimum(rng.poisson(args.dose, size=(args.frames, args.ny, args.nx)), 15).astype(
        np.uint8
    )
    raw = stack.nbytes
    print(f"Poisson(dose={args.dose}) counts, {args.frames} x {args.ny} x {args.nx} uint8 "
          f"(max {stack.max()}, mean {stack.mean():.4f}), raw {raw:,} bytes; "
          f"best of {args.repeat}; {os.cpu_count()} CPUs; mrczio {mrczio.__version__}")  # fmt: skip
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="mrczio-bench-") as directory:
        print(table(measure(stack, directory, args.repeat), raw))


if __name__ == "__main__":
    main()
