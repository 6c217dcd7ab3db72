"""``mrczio demo``: a synthetic counting movie in every codec, read back and compared."""

from __future__ import annotations

import argparse

NAME = "demo"
HELP = "write a synthetic counting movie in each codec and compare"
DESCRIPTION = """\
Write a seeded synthetic counting movie (uint8 Poisson counts) as plain MRC and as MRCZ
with each codec into a scratch folder, read every file back bit for bit, print size and
speed against plain MRC, and delete the files. Needs no input files; exit 1 if any file
did not read back identical.
"""
EPILOG = """\
examples:
  mrczio demo
  mrczio demo --frames 4 --size 256
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", type=int, default=24, help="number of frames (default 24)")
    parser.add_argument("--size", type=int, default=1024, help="frame width and height (default 1024)")
    parser.add_argument("--dose", type=float, default=1.0, help="electrons per pixel per frame (default 1)")
    parser.add_argument("--dir", help="scratch folder (default: system temp)")


def run(args: argparse.Namespace) -> int:
    from mrczio.demo import format_rows, run_demo

    shape = (args.size, args.size)
    print(f"Synthetic counting movie: {args.frames} frames of {shape[0]}x{shape[1]} uint8, "
          f"Poisson dose {args.dose} e-/pixel/frame")  # fmt: skip
    rows = run_demo(args.frames, shape, args.dose, directory=args.dir)
    print(format_rows(rows, args.frames * shape[0] * shape[1]))
    return 0 if all(r.identical for r in rows) else 1
