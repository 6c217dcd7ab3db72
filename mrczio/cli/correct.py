"""``mrczio correct``: detector corrections (gain, outliers, KOMA) applied to files."""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np

from mrczio import api
from mrczio.cli.messages import WRITTEN, UsageError
from mrczio.cli.options import add_write_options, progress_wanted, write_options
from mrczio.cli.output import log
from mrczio.progress import Progress

NAME = "correct"
HELP = "apply detector corrections (gain, outliers, koma) to files"
DESCRIPTION = """\
Apply correction filters, in the order given by --filters, to each input and write the
corrected stacks into the folder -o DIR (created if missing) as NAME + --suffix
(default .mrcz). References and parameters not given as options are taken from each
file's metadata. koma needs the inputs in acquisition order.
"""
EPILOG = """\
examples:
  mrczio correct movie.mrcz -o corrected/ --gain gain.mrc
  mrczio correct *.mrcz -o corrected/ --filters outliers,koma --koma-radius 2
  mrczio correct *.mrcz -o corrected/ --filters outliers,koma --koma-model
  mrczio correct superres.mrcz -o corrected/ --filters outliers --superres 2
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="IN", help="stacks, in acquisition order for koma")
    parser.add_argument(
        "-o", "--output-dir", required=True, metavar="DIR", help="folder for the corrected stacks"
    )
    parser.add_argument("--filters", default="gain,outliers", help="filters in order (default gain,outliers)")
    parser.add_argument("--gain", help="gain reference file (else the one stored in each file's metadata)")
    parser.add_argument("--dark", help="dark reference file")
    parser.add_argument("--dose-rate", type=float, help="dose rate (e-/pixel/s) for the gamma of eq. 11")
    parser.add_argument("--outlier-mode", choices=("default", "paper"))
    parser.add_argument(
        "--superres", type=int, metavar="N",
        help="super-resolution movie: detect outliers on NxN-binned sub-pixels (default 1, off)",
    )  # fmt: skip
    parser.add_argument("--koma-radius", type=int, default=2, help="KOMA radius a (default 2)")
    parser.add_argument("--koma-mode", choices=("multiply", "subtract"), default="multiply")
    parser.add_argument(
        "--koma-model", action="store_true",
        help="replace each KOMA reference by its low-noise model (row, column, block, low-pass terms)",
    )  # fmt: skip
    parser.add_argument("--suffix", default=".mrcz", help="output extension (default .mrcz)")
    parser.add_argument(
        "--dtype", default="auto", choices=("auto", "input", "float16", "float32"),
        help="output type (default auto: the input's integers when only outliers runs, else float32)",
    )  # fmt: skip
    add_write_options(parser, with_format=False)


def _correction_params(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    params: dict[str, dict[str, Any]] = {"gain": {}, "outliers": {}}
    if args.gain:
        params["gain"]["gain"] = api.imread(args.gain).astype(np.float32)
    if args.dark:
        params["gain"]["dark"] = api.imread(args.dark).astype(np.float32)
    if args.dose_rate is not None:
        params["gain"]["dose_rate"] = args.dose_rate
    if args.outlier_mode:
        params["outliers"]["mode"] = args.outlier_mode
    if args.superres is not None:
        params["outliers"]["superres"] = args.superres
    if args.koma_model:
        params["koma"] = {"model": True}
    return params


#: Options that only mean something to one filter: (flag, attribute, filter).
FILTER_OPTIONS = (
    ("--outlier-mode", "outlier_mode", "outliers"),
    ("--superres", "superres", "outliers"),
    ("--koma-model", "koma_model", "koma"),
)


def _check_filter_options(args: argparse.Namespace, names: list[str]) -> None:
    """Refuse an option whose filter is not run, instead of ignoring it."""
    running = {n.lower() for n in names}
    for flag, attribute, name in FILTER_OPTIONS:
        value = getattr(args, attribute, None)
        if value is not None and value is not False and name not in running:
            raise UsageError(
                f"{flag} applies to the {name} filter, which --filters {args.filters} does not run"
            )


def run(args: argparse.Namespace) -> int:
    from mrczio.correct import correct_files

    names = [n.strip() for n in args.filters.split(",") if n.strip()]
    _check_filter_options(args, names)
    os.makedirs(args.output_dir, exist_ok=True)
    with Progress(len(args.inputs), "correct", enabled=progress_wanted(args), clear=True) as bar:
        reports = correct_files(
            args.inputs, args.output_dir, names, params=_correction_params(args),
            koma_radius=args.koma_radius, koma_mode=args.koma_mode, suffix=args.suffix,
            overwrite=args.overwrite, dtype=args.dtype, progress=bar, **write_options(args),
        )  # fmt: skip
    for report in reports:
        WRITTEN.add(report["output"])
        log.info("%s -> %s", report["source"], report["output"])
    return 0
