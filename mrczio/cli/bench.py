"""``mrczio bench``: run benchmarks/run.py from a source checkout."""

from __future__ import annotations

import argparse
import os
import sys

from mrczio.cli.output import log

NAME = "bench"
HELP = "run the benchmark suite (source checkout only; see docs/benchmarks.md)"
DESCRIPTION = """\
Run the benchmarks against python-mrcz, mrcfile, tifffile and the command-line
compressors (benchmarks/ is in the source checkout, not in the wheel). --quick (the
default) takes seconds; --full takes about ten minutes on K2-size data.
"""
EPILOG = """\
examples:
  mrczio bench
  mrczio bench --full --out results/ --docs
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--full", action="store_true", help="K2-size data, three repetitions (default: quick)"
    )
    parser.add_argument("--out", help="results folder (default: a new temporary folder)")
    parser.add_argument("--docs", action="store_true", help="rewrite docs/benchmarks.md and its plots")


def run(args: argparse.Namespace) -> int:
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if not os.path.isfile(os.path.join(root, "benchmarks", "run.py")):
        log.error("benchmarks/ is not installed with the wheel; in a source checkout run "
                  "`python -m benchmarks.run --quick` (or `pip install -e .` there)")  # fmt: skip
        return 1
    command = [sys.executable, "-m", "benchmarks.run", "--full" if args.full else "--quick"]
    command += (["--out", args.out] if args.out else []) + (["--docs"] if args.docs else [])
    return subprocess.run(command, cwd=root, check=False).returncode
